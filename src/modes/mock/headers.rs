//! Just enough of RFC 5322 to read the headers the relay's checks need.

/// The unfolded value of the first header called `name` (case-insensitive),
/// looking only at the header section of `message`.
pub fn header(message: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(header_section(message));
    let mut found: Option<String> = None;
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with([' ', '\t']) {
            if let Some(v) = found.as_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        if found.is_some() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.trim().eq_ignore_ascii_case(name)
        {
            found = Some(v.trim().to_string());
        }
    }
    found
}

fn header_section(message: &[u8]) -> &[u8] {
    let end = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .or_else(|| message.windows(2).position(|w| w == b"\n\n"))
        .unwrap_or(message.len());
    &message[..end]
}

/// The address in a From-style value: `Name <a@b>` or `a@b`; the first one
/// of a list. `None` when there is none.
pub fn first_address(value: &str) -> Option<String> {
    let value = value.trim();
    if let Some(open) = value.rfind('<') {
        let rest = &value[open + 1..];
        let close = rest.find('>')?;
        return Some(rest[..close].trim().to_string());
    }
    let first = value.split(',').next()?.trim();
    (!first.is_empty()).then(|| first.to_string())
}

/// The domain of an address, lower-cased.
pub fn domain_of(addr: &str) -> Option<String> {
    addr.rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('.').to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_addresses() {
        let m = b"Subject: hi\r\nFrom: \"Acme, Inc\"\r\n <billing@acme.com>\r\nTo: x@y.z\r\n\r\nFrom: body@not.header\r\n";
        assert_eq!(
            header(m, "from").as_deref(),
            Some("\"Acme, Inc\" <billing@acme.com>")
        );
        assert_eq!(
            first_address(&header(m, "FROM").unwrap()).as_deref(),
            Some("billing@acme.com")
        );
        assert_eq!(header(m, "cc"), None);
        assert_eq!(header(b"To: a\n\nFrom: b@c.d\n", "from"), None);
        assert_eq!(first_address("a@b.c, d@e.f").as_deref(), Some("a@b.c"));
        assert_eq!(first_address("Broken <a@b.c").as_deref(), None);
        assert_eq!(domain_of("A@Example.COM").as_deref(), Some("example.com"));
    }
}
