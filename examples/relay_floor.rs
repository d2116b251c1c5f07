//! The floor for any SMTP proxy on this machine: a relay that copies bytes
//! both ways and does nothing else — no parsing, no transcript, no disk.
//! `benches/compare.sh` runs the load generator through it, beside `mailtape
//! record`, so the proxy's cost can be read against what relaying alone costs.
//!
//! ```sh
//! cargo run --release --example relay_floor -- 127.0.0.1:3925 127.0.0.1:3625
//! cargo run --release --example relay_floor -- 127.0.0.1:3926 127.0.0.1:3465 --tls-ca certs/ca.pem
//! ```
//!
//! With `--tls-ca`, the upstream leg is implicit TLS verified against that CA
//! (for the upstream's host), as `record --upstream-tls implicit` does it.

use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(listen), Some(upstream)) = (args.first(), args.get(1)) else {
        return Err("usage: relay_floor LISTEN UPSTREAM [--tls-ca CA.pem]".into());
    };
    let tls = match args.get(2).map(String::as_str) {
        Some("--tls-ca") => {
            let ca = args.get(3).ok_or("--tls-ca needs a file")?;
            Some(tokio_rustls::TlsConnector::from(
                mailtape::tls_client_config(Some(std::path::Path::new(ca)))?,
            ))
        }
        _ => None,
    };
    let listener = TcpListener::bind(listen).await?;
    let upstream = Arc::new(upstream.clone());
    loop {
        let (mut client, _) = listener.accept().await?;
        let upstream = upstream.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _ = client.set_nodelay(true);
            let Ok(up) = TcpStream::connect(upstream.as_str()).await else {
                return;
            };
            let _ = up.set_nodelay(true);
            match tls {
                None => {
                    let mut up = up;
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut up).await;
                }
                Some(tls) => {
                    let host = upstream.rsplit_once(':').map_or(upstream.as_str(), |h| h.0);
                    let Ok(name) = rustls::pki_types::ServerName::try_from(host.to_string()) else {
                        return;
                    };
                    if let Ok(mut up) = tls.connect(name, up).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut up).await;
                    }
                }
            }
        });
    }
}
