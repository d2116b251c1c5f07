//! Mistakes visible before connecting: a user name other than `resend`, a
//! key of the wrong shape, port 25, a TLS mode that does not fit the port.

use super::CheckOptions;
use crate::net::client::UpstreamTls;

/// Mistakes visible before connecting.
pub fn warnings(o: &CheckOptions) -> Vec<String> {
    let mut w = Vec::new();
    if o.user != crate::resend::account::USERNAME {
        w.push(format!(
            "the user name is {:?}: Resend expects the literal lowercase `resend`",
            o.user
        ));
    }
    if let Some(problem) = crate::resend::account::key_problem(&o.key) {
        w.push(format!(
            "the key is not shaped like a Resend API key: {problem}; Resend will refuse it with 535"
        ));
    }
    if o.port == 25 {
        w.push(
            "port 25: Resend does not support it, and many networks block it; use 465 or 587"
                .into(),
        );
    }
    match (o.tls, o.port) {
        (Some(UpstreamTls::Implicit), 587 | 2587) => w.push(format!(
            "implicit TLS on port {}: that port expects STARTTLS (--tls starttls)",
            o.port
        )),
        (Some(UpstreamTls::Starttls), 465 | 2465) => w.push(format!(
            "STARTTLS on port {}: that port expects implicit TLS (--tls implicit)",
            o.port
        )),
        _ => {}
    }
    w
}
