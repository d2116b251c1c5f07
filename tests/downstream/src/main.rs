//! Starts mailtape's mock from another crate and prints where it listens:
//! what a user's test harness does. CI builds it with RUSTFLAGS="-D warnings"
//! against the newest versions of mailtape's dependencies (issue 21), so a
//! deprecation in one of them cannot break a user's build unseen.

#[tokio::main]
async fn main() -> Result<(), mailtape::Error> {
    let server = mailtape::MockServer::builder().start().await?;
    if let Some(addr) = server.plain_addr() {
        println!("mailtape mock on {addr}");
    }
    server.shutdown().await;
    Ok(())
}
