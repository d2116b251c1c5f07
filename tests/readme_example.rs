//! The snapshot example from the README, verbatim, so it keeps compiling
//! and keeps telling the truth.

use std::time::Duration;

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::Tls;
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use mailtape::MockServer;

#[tokio::test]
async fn sandbox_refuses_strangers() {
    let server = MockServer::builder()
        .scenario("sandbox")
        .start()
        .await
        .unwrap();
    let addr = server.plain_addr().unwrap();

    let mailer = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(addr.ip().to_string())
        .port(addr.port())
        .tls(Tls::None)
        .hello_name(ClientId::Domain("app.local".into()))
        .credentials(Credentials::new(
            "resend".into(),
            "re_Test1234_abcdEFGH5678".into(),
        ))
        .authentication(vec![Mechanism::Plain])
        .build();
    let msg = Message::builder()
        .from("onboarding@resend.dev".parse::<Mailbox>().unwrap())
        .subject("Hello from mailtape tests")
        .to("someone@gmail.com".parse::<Mailbox>().unwrap())
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
