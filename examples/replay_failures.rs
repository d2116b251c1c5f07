//! Reproducing Resend's failures in a Rust test suite with the shipped tapes,
//! no network and no API key. `cargo test` runs these (the example is built
//! with `test = true`); `cargo run --example replay_failures` prints what an
//! app sees for each tape.
//!
//! The pattern for your own tests:
//!
//! ```no_run
//! # async fn t() {
//! let replay = mailtape::ReplayServer::builder("builtin:sandbox").start().await.unwrap();
//! // point your mailer at replay.plain_addr() (or smtps/starttls with replay.ca_pem())
//! // … send …
//! let outcome = replay.shutdown().await;
//! assert!(outcome.ok(), "{outcome}");
//! # }
//! ```

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::Tls;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use mailtape::ReplayServer;

/// Sends the message a tape was recorded with, the way an app would, and
/// returns what the app's mailer reports.
async fn send_through(tape: &str, user: &str, from: &str, to: &str) -> Result<String, String> {
    let replay = ReplayServer::builder(tape)
        .start()
        .await
        .map_err(|e| e.to_string())?;
    let addr = replay.plain_addr().ok_or("no plain listener")?;
    let mailer = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(addr.ip().to_string())
        .port(addr.port())
        .tls(Tls::None)
        .credentials(Credentials::new(user.into(), "re_any_key_will_do".into()))
        .build();
    let msg = Message::builder()
        .from(from.parse().map_err(|e| format!("{e}"))?)
        .to(to.parse().map_err(|e| format!("{e}"))?)
        .subject("Order confirmation")
        .body(String::from("Thanks!\n"))
        .map_err(|e| e.to_string())?;
    let result = mailer
        .send(msg)
        .await
        .map(|r| r.code().to_string())
        .map_err(|e| e.to_string());
    drop(mailer);
    let outcome = replay.shutdown().await;
    assert!(outcome.divergences.is_empty(), "{tape}: {outcome}");
    result
}

/// Tape, user, from, to, and what the app's mailer reports.
type Case = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Result<&'static str, &'static str>,
);

const CASES: &[Case] = &[
    (
        "builtin:success-plain",
        "resend",
        "billing@yourcompany.com",
        "delivered@resend.dev",
        Ok("250"),
    ),
    (
        "builtin:wrong-username",
        "me@yourcompany.com",
        "billing@yourcompany.com",
        "delivered@resend.dev",
        Err("permanent error (535): Invalid username"),
    ),
    (
        "builtin:wrong-key",
        "resend",
        "billing@yourcompany.com",
        "delivered@resend.dev",
        Err("permanent error (535): Authentication credentials invalid"),
    ),
    (
        "builtin:unverified-domain",
        "resend",
        "billing@yourcompany.com",
        "delivered@resend.dev",
        Err(
            "permanent error (550): The yourcompany.com domain is not verified. Please, add and verify your domain on https://resend.com/domains",
        ),
    ),
    (
        "builtin:sandbox",
        "resend",
        "onboarding@resend.dev",
        "someone@gmail.com",
        Err(
            "permanent error (550): You can only send testing emails to your own email address (you@yourcompany.com). To send emails to other recipients, please verify a domain at resend.com/domains",
        ),
    ),
    (
        "builtin:reserved-test-domain",
        "resend",
        "billing@yourcompany.com",
        "user@example.com",
        Err(
            "permanent error (550): Invalid `to` field. Please use our testing email address instead of domains like `example.com`.",
        ),
    ),
    (
        "builtin:rate-limited",
        "resend",
        "billing@yourcompany.com",
        "delivered@resend.dev",
        Err("permanent error (550): Too many requests. You can only make 2 requests per second."),
    ),
    (
        "builtin:rate-limited-421",
        "resend",
        "billing@yourcompany.com",
        "delivered@resend.dev",
        Err(
            "transient error (421): Too many requests. You can only make 2 requests per second. Please retry after a brief pause.",
        ),
    ),
    (
        "builtin:daily-quota",
        "resend",
        "billing@yourcompany.com",
        "delivered@resend.dev",
        Err("permanent error (550): You have exceeded your daily email sending quota."),
    ),
    (
        "builtin:monthly-quota",
        "resend",
        "billing@yourcompany.com",
        "delivered@resend.dev",
        Err("permanent error (550): You have exceeded your monthly email sending quota."),
    ),
    (
        "builtin:auth-before-starttls",
        "resend",
        "billing@yourcompany.com",
        "delivered@resend.dev",
        Err("permanent error (538): Error: Must issue a STARTTLS command first"),
    ),
];

#[tokio::main]
async fn main() {
    for (tape, user, from, to, _) in CASES {
        println!("{tape:<32} {:?}", send_through(tape, user, from, to).await);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_failure_tape_fails_the_app_the_way_resend_does() {
        for (tape, user, from, to, want) in CASES {
            let got = send_through(tape, user, from, to).await;
            assert_eq!(
                got,
                want.map(str::to_string).map_err(str::to_string),
                "{tape}"
            );
        }
    }

    #[tokio::test]
    async fn invalid_from_is_refused_at_mail() {
        let replay = ReplayServer::builder("builtin:invalid-from")
            .start()
            .await
            .unwrap();
        let addr = replay.plain_addr().unwrap();
        let mailer = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(addr.ip().to_string())
            .port(addr.port())
            .tls(Tls::None)
            .credentials(Credentials::new("resend".into(), "re_whatever_key".into()))
            .build();
        let env =
            lettre::address::Envelope::new(None, vec!["delivered@resend.dev".parse().unwrap()])
                .unwrap();
        let err = mailer
            .send_raw(&env, b"Subject: x\r\n\r\nx\r\n")
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("permanent error (550): Invalid `from` field."),
            "{err}"
        );
    }
}
