//! The docs are tested (issue 15): every `console` example in README.md and
//! docs/*.md runs and must print what the page shows (trycmd), the Quick
//! start runs as written, every other `mailtape …` line parses, every link
//! between the pages and every `#anchor` resolves, and the README's Rust
//! snapshot example is the test that runs it.
//!
//! A `console` block is a command (`$ mailtape …`), its exit status if not 0
//! (`? 2`), then stdout and stderr as printed; `...` stands for any lines and
//! `[..]` for the rest of a line. Examples that need a running server are
//! `sh` or `text` blocks: each names, beside it, the test that covers it.
//! After a change of output, `TRYCMD=overwrite cargo test --test docs`
//! rewrites the blocks; read the diff before committing it.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::cli::{BIN, Running, parses};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The pages: README.md and every docs/*.md.
fn pages() -> Vec<PathBuf> {
    let root = Path::new(ROOT);
    let mut pages = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

#[test]
fn cli_examples_print_what_the_docs_say() {
    let cases = trycmd::TestCases::new();
    cases
        .register_bin("mailtape", Path::new(env!("CARGO_BIN_EXE_mailtape")))
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100");
    for page in pages() {
        cases.case(page);
    }
    cases.run();
}

/// Files a page may link to before they exist on this branch, with the
/// branch that brings each. Once the file is there it is checked like any
/// other (anchors included), and its entry can go.
const MERGING: &[(&str, &str)] = &[];

#[test]
fn every_link_and_anchor_between_the_pages_resolves() {
    let root = Path::new(ROOT);
    let mut broken = Vec::new();
    let mut checked = 0;
    for page in pages() {
        let text = std::fs::read_to_string(&page).expect("page");
        let dir = page.parent().expect("parent");
        for (line, target) in links(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (path, anchor) = match target.split_once('#') {
                Some((p, a)) => (p, Some(a)),
                None => (target.as_str(), None),
            };
            let file = if path.is_empty() {
                page.clone()
            } else {
                dir.join(path)
            };
            let rel = file
                .strip_prefix(root)
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            let at = format!("{}:{line}: ({target})", page.display());
            if !file.exists() {
                let pending = MERGING.iter().any(|(f, _)| rel == *f);
                if !pending {
                    broken.push(format!("{at}: no such file"));
                }
                continue;
            }
            if let Some(anchor) = anchor {
                if file.extension().is_none_or(|x| x != "md") {
                    broken.push(format!("{at}: an anchor into a file that is not Markdown"));
                    continue;
                }
                let target_text = std::fs::read_to_string(&file).expect("target page");
                if !anchors(&target_text).contains(anchor) {
                    broken.push(format!("{at}: no heading makes #{anchor}"));
                }
            }
        }
    }
    assert!(
        checked > 50,
        "only {checked} links found: is the parser right?"
    );
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// Lines of a page outside fenced code blocks, with their numbers (from 1).
fn prose(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut fence: Option<&str> = None;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        match fence {
            Some(f) if t.starts_with(f) => fence = None,
            Some(_) => {}
            None if t.starts_with("```") => fence = Some("```"),
            None if t.starts_with("~~~") => fence = Some("~~~"),
            None => out.push((i + 1, line)),
        }
    }
    out
}

/// Drops `code spans`, where brackets are not links.
fn without_code(line: &str) -> String {
    let mut out = String::new();
    let mut in_code = false;
    for c in line.chars() {
        if c == '`' {
            in_code = !in_code;
        } else if !in_code {
            out.push(c);
        }
    }
    out
}

/// Every inline link target `[text](target)` outside code, with its line.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in prose(text) {
        let line = without_code(line);
        let mut rest = line.as_str();
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            let Some(end) = after.find(')') else { break };
            let target = after[..end].split_whitespace().next().unwrap_or("");
            out.push((n, target.trim_matches(['<', '>']).to_string()));
            rest = &after[end..];
        }
    }
    out
}

/// The anchors GitHub makes for a page's headings: lower case, punctuation
/// dropped (but `-` and `_`), spaces to `-`, `-1`, `-2` for repeats.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for (_, line) in prose(text) {
        let Some(title) = line.strip_prefix('#') else {
            continue;
        };
        let title = title.trim_start_matches('#');
        if !title.starts_with(' ') {
            continue;
        }
        // [text](url) in a heading counts as its text
        let mut plain = String::new();
        let mut rest = title.trim();
        while let Some(open) = rest.find('[') {
            let Some(mid) = rest[open..].find("](") else {
                break;
            };
            let Some(close) = rest[open + mid..].find(')') else {
                break;
            };
            plain.push_str(&rest[..open]);
            plain.push_str(&rest[open + 1..open + mid]);
            rest = &rest[open + mid + close + 1..];
        }
        plain.push_str(rest);
        let slug: String = plain
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let mut unique = slug.clone();
        let mut n = 0;
        while seen.contains(&unique) {
            n += 1;
            unique = format!("{slug}-{n}");
        }
        seen.insert(unique);
    }
    seen
}

#[test]
fn the_anchor_rules_are_githubs() {
    let a = anchors(
        "# mailtape\n## Quick start\n### `--json`\n## Secrets\n## Secrets\n```\n# not a heading\n```\n### Python smtplib (tested by tests/clients/matrix.py, Python 3.11)\n## [Link](x.md) here\n",
    );
    for want in [
        "mailtape",
        "quick-start",
        "--json",
        "secrets",
        "secrets-1",
        "python-smtplib-tested-by-testsclientsmatrixpy-python-311",
        "link-here",
    ] {
        assert!(a.contains(want), "{want} in {a:?}");
    }
    assert!(!a.contains("not-a-heading"));
    let l = links("see [a](b.md#c) and `[x](y)`\n```\n[no](link)\n```\n[t](<u.md> \"title\")\n");
    assert_eq!(l, vec![(1, "b.md#c".to_string()), (5, "u.md".to_string())]);
}

/// The README's Rust example is `tests/readme_snapshot.rs`, byte for byte,
/// and the snapshot it shows is the one that test keeps. With
/// `TRYCMD=overwrite` the README's two blocks are rewritten from the files
/// (after `INSTA_UPDATE=always cargo test --test readme_snapshot` where the
/// replies changed).
#[test]
fn the_readme_rust_example_is_the_test_that_runs() {
    let path = Path::new(ROOT).join("README.md");
    let mut readme = std::fs::read_to_string(&path).unwrap();
    let example =
        std::fs::read_to_string(Path::new(ROOT).join("tests/readme_snapshot.rs")).unwrap();
    let snap = std::fs::read_to_string(
        Path::new(ROOT).join("tests/snapshots/readme_snapshot__sandbox_refuses_strangers.snap"),
    )
    .unwrap();
    let body = snap.splitn(3, "---\n").nth(2).expect("a snapshot body");
    if std::env::var("TRYCMD").is_ok_and(|v| v == "overwrite") {
        readme = replace_block(&readme, "`tests/sandbox.rs`:\n\n```rust\n", &example);
        readme = replace_block(&readme, "the test above:\n\n```text\n", body);
        std::fs::write(&path, &readme).unwrap();
    }
    assert!(
        fenced(&readme, "rust").contains(&example),
        "README.md has no ```rust block equal to tests/readme_snapshot.rs"
    );
    assert!(
        fenced(&readme, "text").iter().any(|b| b == body),
        "README.md does not show the stored snapshot as it is:\n{body}"
    );
}

/// `text` with the block that follows `opening` holding `body` instead.
fn replace_block(text: &str, opening: &str, body: &str) -> String {
    let start = text.find(opening).expect("the block's opening") + opening.len();
    let end = start + text[start..].find("```\n").expect("the block's end");
    format!("{}{body}{}", &text[..start], &text[end..])
}

/// The contents of the fenced blocks with this info string.
fn fenced(text: &str, lang: &str) -> Vec<String> {
    blocks(text)
        .into_iter()
        .filter(|(l, _)| l == lang)
        .map(|(_, body)| body)
        .collect()
}

/// The Quick start, followed literally: each `cargo run --release -- …`
/// block (re)starts the binary with those arguments (on free ports, in a
/// fresh folder), and the `text` block after it must be its banner (the
/// folder put in for `/home/you/mailtape`); each other `sh` block runs in
/// `sh` with the ports put in, and the `text` block right after it must show
/// up in what it printed; a `text` block of `#1` lines must show up in the
/// live view. Line by line, in order, `…` standing for lines left out. Needs
/// curl; without it the test says so and passes.
#[test]
fn the_quick_start_runs_as_written() {
    if no_curl("the Quick start") {
        return;
    }
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let start = readme.find("\n## Quick start\n").expect("a Quick start");
    let section = &readme[start + 1..];
    let section = &section[..section[1..].find("\n## ").map_or(section.len(), |i| i + 1)];
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().canonicalize().unwrap().display().to_string();
    let mut mock: Option<(Running, Vec<String>)> = None;
    // the README's addresses, by banner row (smtps → 127.0.0.1:2465, …)
    let mut shown_addrs: Vec<(String, String)> = Vec::new();
    let mut printed = String::new();
    let listeners = listener_flags();
    let (mut ran, mut compared) = (0, 0);
    let mut after = "";
    for (lang, body) in blocks(section) {
        let mut kind = "";
        if lang == "sh" {
            if let Some(args) = body.trim().strip_prefix("cargo run --release -- ") {
                if let Some((m, _)) = mock.take() {
                    m.term();
                }
                let mut argv: Vec<String> = args.split_whitespace().map(String::from).collect();
                for l in &listeners {
                    argv.extend([l.to_string(), "127.0.0.1:0".to_string()]);
                }
                let mut cmd = Command::new(BIN);
                cmd.current_dir(dir.path());
                let mut m = Running::start_with(&argv, cmd);
                m.err_until(|l| l.trim_start().starts_with("login"));
                let banner = m.stderr.clone();
                mock = Some((m, banner));
                kind = "started";
            } else {
                let (_, banner) = mock.as_ref().expect("the mock is started first");
                let mut script = body.clone();
                let running = addresses(&banner.join("\n"));
                for (name, shown) in &shown_addrs {
                    if let Some((_, addr)) = running.iter().find(|(n, _)| n == name) {
                        script = script.replace(shown.as_str(), addr);
                    }
                }
                let out = Command::new("sh")
                    .arg("-c")
                    .arg(format!("{{\n{script}\n}} 2>&1"))
                    .current_dir(dir.path())
                    .output()
                    .unwrap();
                printed = String::from_utf8_lossy(&out.stdout).into_owned();
                ran += 1;
                kind = "ran";
            }
        } else if lang == "text" {
            let (m, banner) = mock.as_mut().expect("the mock is started first");
            if body.starts_with("#1 ") {
                m.until(|l| l.starts_with("#1 ── closed by"));
                shows(&body, &m.stdout.join("\n"), "the live view");
            } else if after == "started" {
                // the README's banner has the default ports and folder; the
                // test's are free ones and a temporary folder: addresses are
                // compared as such, the rest word for word
                shown_addrs = addresses(&body);
                let want = body.replace("/home/you/mailtape", &folder);
                let words = |text: &str| -> Vec<String> {
                    text.split_whitespace().map(without_ports).collect()
                };
                assert_eq!(
                    words(&banner.join("\n")),
                    words(&want),
                    "the banner, as the Quick start shows it:\n{}",
                    banner.join("\n")
                );
            } else if after == "ran" {
                shows(&body, &printed, "the command before it");
            } else {
                panic!("a text block the test cannot place:\n{body}");
            }
            compared += 1;
        }
        after = kind;
    }
    assert!(
        ran >= 2 && compared >= 5,
        "only {ran} commands run and {compared} outputs compared from the Quick start"
    );
    if let Some((m, _)) = mock {
        let (code, _, err) = m.term();
        assert_eq!(code, 0, "{err}");
    }
}

/// Whether curl is missing (then `what` is said not to have run).
fn no_curl(what: &str) -> bool {
    let missing = Command::new("curl").arg("--version").output().is_err();
    if missing {
        eprintln!("curl is not installed: {what} was not run");
    }
    missing
}

/// The listener flags of `mock` (the inbox's too, where there is one): the
/// docs tests put each on a free port.
fn listener_flags() -> Vec<&'static str> {
    let help = Command::new(BIN).args(["mock", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    ["--smtps", "--starttls", "--plain", "--ui"]
        .into_iter()
        .filter(|f| help.contains(&format!("{f} <")))
        .collect()
}

/// A word with each `127.0.0.1:PORT` in it made `127.0.0.1:[port]`.
fn without_ports(word: &str) -> String {
    let mut out = String::new();
    let mut rest = word;
    while let Some(i) = rest.find("127.0.0.1:") {
        let after = &rest[i + "127.0.0.1:".len()..];
        let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        out.push_str(&rest[..i]);
        out.push_str("127.0.0.1:");
        out.push_str(if digits > 0 { "[port]" } else { "" });
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

/// The rows of a banner that name an address: (`smtps`, `127.0.0.1:2465`).
fn addresses(banner: &str) -> Vec<(String, String)> {
    banner
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let (name, addr) = (w.next()?, w.next()?);
            addr.parse::<std::net::SocketAddr>()
                .ok()
                .map(|_| (name.to_string(), addr.to_string()))
        })
        .collect()
}

/// Every line of `shown` but `…` is a line of `printed`, in order (message
/// ids, which change from run to run, aside).
fn shows(shown: &str, printed: &str, what: &str) {
    let mut rest = printed.lines().map(|l| mask_ids(l.trim_end()));
    for want in shown.lines().map(str::trim_end).filter(|l| *l != "…") {
        let want = mask_ids(want);
        assert!(
            rest.any(|l| l == want),
            "the Quick start shows `{want}`, which {what} did not print (or not in this order):\n{printed}"
        );
    }
}

/// Replaces each UUID (a message id) with `[id]`.
fn mask_ids(line: &str) -> String {
    let shape = [8, 4, 4, 4, 12];
    let mut out = String::new();
    let mut rest = line;
    'scan: while !rest.is_empty() {
        let mut at = 0;
        for (i, n) in shape.iter().enumerate() {
            let part = rest.get(at..at + n);
            if !part.is_some_and(|p| p.bytes().all(|b| b.is_ascii_hexdigit())) {
                let c = rest.chars().next().unwrap_or(' ');
                out.push(c);
                rest = &rest[c.len_utf8()..];
                continue 'scan;
            }
            at += n;
            if i < 4 {
                if rest.get(at..at + 1) != Some("-") {
                    let c = rest.chars().next().unwrap_or(' ');
                    out.push(c);
                    rest = &rest[c.len_utf8()..];
                    continue 'scan;
                }
                at += 1;
            }
        }
        out.push_str("[id]");
        rest = &rest[at..];
    }
    out
}

/// Every fenced block of a text: its info string and its contents.
fn blocks(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in text.lines() {
        match &mut current {
            Some(_) if line.trim_start() == "```" => out.extend(current.take()),
            Some((_, body)) => {
                body.push_str(line);
                body.push('\n');
            }
            None => {
                if let Some(lang) = line.trim_start().strip_prefix("```") {
                    current = Some((lang.trim().to_string(), String::new()));
                }
            }
        }
    }
    out
}

/// Every `mailtape …` (or `cargo run --release -- …`) line of a `sh` block
/// in the pages parses: its subcommand and flags exist and its values are
/// accepted (`--help` is put last, so clap checks the line and stops).
#[test]
fn every_mailtape_command_in_the_docs_parses() {
    let mut checked = 0;
    let mut wrong = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        for (lang, body) in blocks(&text) {
            if lang != "sh" {
                continue;
            }
            let joined = body.replace("\\\n", " ");
            for line in joined.lines() {
                let line = line.trim();
                let rest = line
                    .strip_prefix("mailtape ")
                    .or_else(|| line.strip_prefix("cargo run --release -- "))
                    .or_else(|| {
                        line.find(" mailtape ")
                            .filter(|_| line.starts_with("cat ") || line.contains("| mailtape"))
                            .map(|i| &line[i + " mailtape ".len()..])
                    });
                let Some(rest) = rest else { continue };
                checked += 1;
                if let Err(e) = parses(rest) {
                    wrong.push(format!("{}: `{line}`: {e}", page.display()));
                }
            }
        }
    }
    assert!(checked > 20, "only {checked} commands found");
    assert!(
        wrong.is_empty(),
        "commands in the docs that do not parse:\n{}",
        wrong.join("\n")
    );
}

/// The README's record-and-replay recipe, as written: the mock as the relay,
/// the recorder in front of it, the Quick start's first curl through it, then
/// a replay of the tape answering the same curl. Ports are free ones (the
/// mock's put into the recorder's `--upstream`). Needs curl.
#[test]
fn record_and_replay_run_as_written() {
    if no_curl("the record and replay recipe") {
        return;
    }
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let sh: Vec<String> = blocks(&readme)
        .into_iter()
        .filter(|(lang, _)| lang == "sh")
        .map(|(_, body)| body)
        .collect();
    let line = |prefix: &str| -> Vec<String> {
        let l = sh
            .iter()
            .flat_map(|b| b.lines())
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}…` line in the README"));
        l.split_whitespace().skip(1).map(String::from).collect()
    };
    let quick = readme.find("\n## Quick start\n").unwrap();
    let curl = blocks(&readme[quick..])
        .into_iter()
        .find(|(lang, body)| lang == "sh" && body.contains("curl "))
        .expect("the Quick start's first curl")
        .1;
    let dir = tempfile::tempdir().unwrap();
    // every listener on a free port, but those the line turns off
    let listeners = listener_flags();
    let free = |mut argv: Vec<String>| {
        for &l in &listeners {
            match argv.iter().position(|a| a == l) {
                Some(i) if argv[i + 1] != "off" => argv[i + 1] = "127.0.0.1:0".into(),
                Some(_) => {}
                None => argv.extend([l.to_string(), "127.0.0.1:0".to_string()]),
            }
        }
        argv
    };
    let start = |argv: Vec<String>| {
        let mut cmd = Command::new(BIN);
        cmd.current_dir(dir.path());
        let mut m = Running::start_with(&argv, cmd);
        m.err_until(|l| l.trim_start().starts_with("login"));
        let addrs = addresses(&m.stderr.join("\n"));
        (m, addrs)
    };
    let smtps = |addrs: &[(String, String)]| {
        addrs
            .iter()
            .find(|(n, _)| n == "smtps")
            .map(|(_, a)| a.clone())
            .expect("an smtps listener")
    };
    let send = |to: &str| {
        let out = Command::new("sh")
            .arg("-c")
            .arg(curl.replace("127.0.0.1:2465", to))
            .current_dir(dir.path())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };

    let mock_line = line("mailtape mock --smtps 127.0.0.1:3465");
    let (mock, mock_addrs) = start(free(mock_line));
    let mut record_line = line("mailtape record --tape mine.tape");
    let shown_upstream = "127.0.0.1:3465";
    for a in &mut record_line {
        if a == shown_upstream {
            *a = smtps(&mock_addrs);
        }
    }
    let (recorder, record_addrs) = start(free(record_line));
    assert_eq!(send(&smtps(&record_addrs)), "250", "through the recorder");
    let (code, _, err) = recorder.term();
    assert_eq!(code, 0, "{err}");
    mock.term();
    let tape = std::fs::read_to_string(dir.path().join("mine.tape")).unwrap();
    assert!(tape.contains("C: <redacted user=resend key=re_…"), "{tape}");
    assert!(!tape.contains("re_123456789_abcdefghijkl"));

    let (replay, replay_addrs) = start(free(line("mailtape replay mine.tape")));
    assert_eq!(send(&smtps(&replay_addrs)), "250", "from the replay");
    let (code, _, err) = replay.term();
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("mailtape: replay: 1 of 1 session played"),
        "{err}"
    );
}
