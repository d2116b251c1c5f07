use std::time::Duration;

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use mailtape::MockServer;

#[tokio::test]
async fn sandbox_refuses_strangers() {
    // Resend as a new account: it may send only to its owner, you@yourcompany.com.
    let server = MockServer::builder()
        .scenario("sandbox")
        .start()
        .await
        .unwrap();
    let addr = server.smtps_addr().unwrap(); // implicit TLS, like smtp.resend.com:465

    // Trust the mock's own CA; certificate verification stays on.
    let ca = Certificate::from_pem(server.ca_pem().unwrap().as_bytes()).unwrap();
    let tls = TlsParameters::builder("localhost".into())
        .add_root_certificate(ca)
        .build_rustls()
        .unwrap();
    // (`builder_dangerous` only means "no TLS unless told": it is told here.)
    let mailer = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(addr.ip().to_string())
        .port(addr.port())
        .tls(Tls::Wrapper(tls))
        .hello_name(ClientId::Domain("app.local".into()))
        .credentials(Credentials::new(
            "resend".into(),
            "re_Test1234_abcdEFGH5678".into(),
        ))
        .authentication(vec![Mechanism::Plain])
        .build();
    let msg = Message::builder()
        .from("onboarding@resend.dev".parse::<Mailbox>().unwrap())
        .to("someone@gmail.com".parse::<Mailbox>().unwrap())
        .subject("Hello from mailtape tests")
        .header(ContentType::TEXT_PLAIN)
        .body(String::from("Hi,\nthis is a test.\n"))
        .unwrap();

    let err = mailer.send(msg).await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("permanent error (550): You can only send testing emails")
    );

    assert!(server.wait_for_sessions(1, Duration::from_secs(5)).await);
    insta::assert_snapshot!(server.transcripts()[0].snapshot());
    assert!(server.messages().is_empty()); // nothing was accepted
}
