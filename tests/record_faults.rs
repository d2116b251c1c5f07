//! Record mode when the upstream misbehaves (issue 3): refused, untrusted or
//! expired certificate, stalls, drops, overlong and unparseable replies. The
//! client always gets a 421 (or 451 mid-transaction) that says what
//! happened, the tape records it, and nothing hangs past the timeout.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::Raw;
use mailtape::UpstreamTls;
use mailtape::tape::Tape;
use mailtape::{MockServer, RecordServer};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// What the fake upstream does at one point of the session.
#[derive(Clone, Copy)]
enum Act {
    Say(&'static str),
    SayOwned(usize),
    Stall,
    Close,
}

/// A scripted upstream: the greeting, then a reply per command verb, and one
/// after the final dot.
#[derive(Clone, Copy)]
struct Script {
    greeting: Act,
    ehlo: Act,
    mail: Act,
    rcpt: Act,
    data_end: Act,
}

const FINE: Script = Script {
    greeting: Act::Say("220 fake.test ESMTP\r\n"),
    ehlo: Act::Say("250-fake.test\r\n250 PIPELINING\r\n"),
    mail: Act::Say("250 ok\r\n"),
    rcpt: Act::Say("250 ok\r\n"),
    data_end: Act::Say("250 queued\r\n"),
};

/// Does one act; false when the connection is to be closed.
async fn perform(a: Act, w: &mut tokio::net::tcp::OwnedWriteHalf) -> bool {
    let bytes = match a {
        Act::Say(s) => s.as_bytes().to_vec(),
        Act::SayOwned(n) => format!("250 {}\r\n", "x".repeat(n)).into_bytes(),
        Act::Stall => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return false;
        }
        Act::Close => return false,
    };
    w.write_all(&bytes).await.is_ok()
}

async fn fake(script: Script) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut r = BufReader::new(r);
                if !perform(script.greeting, &mut w).await {
                    return;
                }
                let mut line = String::new();
                let mut in_data = false;
                loop {
                    line.clear();
                    if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let verb = line
                        .split_whitespace()
                        .next()
                        .unwrap_or("")
                        .to_ascii_uppercase();
                    let a = if in_data {
                        if line != ".\r\n" {
                            continue;
                        }
                        in_data = false;
                        script.data_end
                    } else {
                        match verb.as_str() {
                            "EHLO" => script.ehlo,
                            "MAIL" => script.mail,
                            "RCPT" => script.rcpt,
                            "DATA" => {
                                in_data = true;
                                Act::Say("354 go ahead\r\n")
                            }
                            "QUIT" => Act::Say("221 bye\r\n"),
                            _ => Act::Say("250 ok\r\n"),
                        }
                    };
                    if !perform(a, &mut w).await {
                        return;
                    }
                }
            });
        }
    });
    addr
}

struct Proxy {
    server: RecordServer,
    tape: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

async fn proxy_to(addr: String, tls: UpstreamTls, ca: Option<&std::path::Path>) -> Proxy {
    let dir = tempfile::tempdir().unwrap();
    let tape = dir.path().join("faults.tape");
    let mut b = RecordServer::builder()
        .upstream(addr)
        .upstream_tls(tls)
        .tape_file(&tape)
        .reply_timeout(Duration::from_secs(1))
        .connect_timeout(Duration::from_secs(2));
    if let Some(ca) = ca {
        b = b.upstream_ca(ca);
    }
    Proxy {
        server: b.start().await.unwrap(),
        tape,
        _dir: dir,
    }
}

impl Proxy {
    async fn client(&self) -> Raw {
        Raw::connect(self.server.plain_addr().unwrap()).await
    }

    /// The tape after the sessions so far have ended.
    async fn tape(self, sessions: usize) -> String {
        assert!(
            self.server
                .wait_for_sessions(sessions, Duration::from_secs(5))
                .await
        );
        self.server.shutdown().await;
        let text = std::fs::read_to_string(&self.tape).unwrap();
        Tape::parse(&text, "faults.tape").unwrap();
        text
    }
}

/// Runs a client step with a hard bound, so a hang fails the test.
async fn bounded<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(8), f)
        .await
        .expect("nothing hangs")
}

async fn greeting_fault(p: &Proxy) -> String {
    bounded(async {
        let mut c = p.client().await;
        let r = c.reply().await.to_string();
        assert!(c.closed().await, "closed after the 421");
        r
    })
    .await
}

#[tokio::test]
async fn upstream_refuses_the_connection() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let p = proxy_to(port.to_string(), UpstreamTls::None, None).await;
    let r = greeting_fault(&p).await;
    assert!(
        r.starts_with(&format!(
            "421 mailtape: upstream {port} cannot be reached: "
        )),
        "{r}"
    );
    assert!(r.contains("refused"), "{r}");
    let tape = p.tape(1).await;
    assert!(
        tape.contains("*: upstream fault: cannot be reached"),
        "{tape}"
    );
}

#[tokio::test]
async fn upstream_certificate_not_trusted() {
    let upstream = MockServer::builder().start().await.unwrap();
    let p = proxy_to(
        upstream.smtps_addr().unwrap().to_string(),
        UpstreamTls::Implicit,
        None,
    )
    .await;
    let r = greeting_fault(&p).await;
    assert!(
        r.contains("failed the TLS handshake: invalid peer certificate: UnknownIssuer"),
        "{r}"
    );
    assert!(
        p.tape(1)
            .await
            .contains("upstream fault: failed the TLS handshake")
    );
}

#[tokio::test]
async fn upstream_certificate_expired() {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let dir = tempfile::tempdir().unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    let cert = params
        .signed_by(&key, &Issuer::new(ca_params, ca_key))
        .unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.path().join("old.pem"), cert.pem()).unwrap();
    std::fs::write(dir.path().join("old-key.pem"), key.serialize_pem()).unwrap();
    let (c, k) = (dir.path().join("old.pem"), dir.path().join("old-key.pem"));
    let upstream = MockServer::builder()
        .config(move |m| m.service.certs = mailtape::CertSource::Files { cert: c, key: k })
        .start()
        .await
        .unwrap();
    let p = proxy_to(
        upstream.smtps_addr().unwrap().to_string(),
        UpstreamTls::Implicit,
        Some(&dir.path().join("ca.pem")),
    )
    .await;
    let r = greeting_fault(&p).await;
    assert!(
        r.contains("failed the TLS handshake: invalid peer certificate: certificate expired"),
        "{r}"
    );
}

#[tokio::test]
async fn upstream_stalls_in_the_greeting() {
    let up = fake(Script {
        greeting: Act::Stall,
        ..FINE
    })
    .await;
    let p = proxy_to(up.to_string(), UpstreamTls::None, None).await;
    let r = greeting_fault(&p).await;
    assert_eq!(
        r,
        format!(
            "421 mailtape: upstream {up} did not reply within 1s (a port that expects TLS first stays silent: try --upstream-tls implicit)"
        )
    );
    assert!(
        p.tape(1)
            .await
            .contains("*: upstream fault: did not reply within 1s")
    );
}

#[tokio::test]
async fn upstream_stalls_after_data() {
    let up = fake(Script {
        data_end: Act::Stall,
        ..FINE
    })
    .await;
    let p = proxy_to(up.to_string(), UpstreamTls::None, None).await;
    bounded(async {
        let mut c = p.client().await;
        assert_eq!(c.reply().await.code, 220);
        assert_eq!(c.cmd("EHLO app.local").await, "250 PIPELINING");
        assert_eq!(c.cmd("MAIL FROM:<a@acme.com>").await, "250 ok");
        assert_eq!(c.cmd("RCPT TO:<b@acme.com>").await, "250 ok");
        assert_eq!(c.cmd("DATA").await, "354 go ahead");
        c.write(b"Subject: x\r\n\r\nhi\r\n.\r\n").await;
        assert_eq!(
            c.reply().await.to_string(),
            format!("451 mailtape: upstream {up} did not reply within 1s")
        );
        // the upstream is gone for this session: the next command gets 421
        assert_eq!(
            c.cmd("NOOP").await,
            format!(
                "421 mailtape: upstream {}:{} is gone for this session",
                up.ip(),
                up.port()
            )
        );
        assert!(c.closed().await);
    })
    .await;
    let tape = p.tape(1).await;
    assert!(tape.contains("S: 451 mailtape: upstream"), "{tape}");
}

#[tokio::test]
async fn upstream_drops_the_connection() {
    // before a transaction: 421 and close
    let up = fake(Script {
        mail: Act::Close,
        ..FINE
    })
    .await;
    let p = proxy_to(up.to_string(), UpstreamTls::None, None).await;
    bounded(async {
        let mut c = p.client().await;
        c.reply().await;
        c.cmd("EHLO app.local").await;
        assert_eq!(
            c.cmd("MAIL FROM:<a@acme.com>").await,
            format!("421 mailtape: upstream {up} closed the connection")
        );
        assert!(c.closed().await);
    })
    .await;
    assert!(
        p.tape(1)
            .await
            .contains("*: upstream fault: closed the connection")
    );
    // mid-transaction: 451, and QUIT still gets its 221
    let up = fake(Script {
        rcpt: Act::Close,
        ..FINE
    })
    .await;
    let p = proxy_to(up.to_string(), UpstreamTls::None, None).await;
    bounded(async {
        let mut c = p.client().await;
        c.reply().await;
        c.cmd("EHLO app.local").await;
        c.cmd("MAIL FROM:<a@acme.com>").await;
        assert_eq!(
            c.cmd("RCPT TO:<b@acme.com>").await,
            format!("451 mailtape: upstream {up} closed the connection")
        );
        assert_eq!(c.cmd("QUIT").await, "221 Bye");
    })
    .await;
}

#[tokio::test]
async fn upstream_reply_line_over_512_octets() {
    let up = fake(Script {
        ehlo: Act::SayOwned(600),
        ..FINE
    })
    .await;
    let p = proxy_to(up.to_string(), UpstreamTls::None, None).await;
    bounded(async {
        let mut c = p.client().await;
        c.reply().await;
        assert_eq!(
            c.cmd("EHLO app.local").await,
            format!("421 mailtape: upstream {up} sent a malformed reply: reply line longer than 512 octets")
        );
        assert!(c.closed().await);
    })
    .await;
    assert!(
        p.tape(1)
            .await
            .contains("upstream fault: sent a malformed reply")
    );
}

#[tokio::test]
async fn upstream_reply_unparseable() {
    let up = fake(Script {
        greeting: Act::Say("hello there\r\n"),
        ..FINE
    })
    .await;
    let p = proxy_to(up.to_string(), UpstreamTls::None, None).await;
    let r = greeting_fault(&p).await;
    assert_eq!(
        r,
        format!(
            "421 mailtape: upstream {up} sent a malformed reply: malformed reply line \"hello there\""
        )
    );
}

#[tokio::test]
async fn upstream_without_starttls_when_it_is_required() {
    let up = fake(FINE).await;
    let p = proxy_to(up.to_string(), UpstreamTls::Starttls, None).await;
    let r = greeting_fault(&p).await;
    assert_eq!(
        r,
        format!(
            "421 mailtape: upstream {up} does not offer STARTTLS; use --upstream-tls implicit or none"
        )
    );
}
