//! Certificates and TLS configuration for the listeners.
//!
//! On first run a local CA and a server certificate signed by it are written
//! to the certs folder; later runs reuse them, so a user trusts the CA once.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::Error;
use crate::fsutil::write_atomic;

/// Why a server-side TLS handshake did not complete.
#[derive(Debug)]
pub(crate) enum AcceptError {
    /// The handshake failed (the client refused the certificate, spoke
    /// something else).
    Failed(std::io::Error),
    /// The client did not finish it in time.
    TimedOut,
}

/// The TLS handshake as the server, within `timeout`: the one place both
/// the implicit-TLS listener and STARTTLS run it.
pub(crate) async fn accept(
    acceptor: &tokio_rustls::TlsAcceptor,
    io: Box<dyn super::Io>,
    timeout: Duration,
) -> Result<super::Stream, AcceptError> {
    match tokio::time::timeout(timeout, acceptor.accept(io)).await {
        Ok(Ok(tls)) => Ok(super::Stream::Tls(Box::new(tls))),
        Ok(Err(e)) => Err(AcceptError::Failed(e)),
        Err(_) => Err(AcceptError::TimedOut),
    }
}

/// Names the generated server certificate is valid for.
pub const SERVER_NAMES: &[&str] = &["localhost", "127.0.0.1", "::1", "smtp.resend.com"];

const CA_FILE: &str = "ca.pem";
const CA_KEY_FILE: &str = "ca-key.pem";
const SERVER_FILE: &str = "server.pem";
const SERVER_KEY_FILE: &str = "server-key.pem";
/// Browsers and Apple's TLS stack refuse leaf certificates valid for longer.
const SERVER_DAYS: i64 = 825;
/// The server certificate is renewed once it is this old.
const SERVER_RENEW_AFTER: Duration = Duration::from_secs(700 * 86_400);
const CA_DAYS: i64 = 3650;

/// Where the server's certificate comes from.
#[derive(Debug, Clone)]
pub enum CertSource {
    /// A folder holding (or about to hold) mailtape's own CA and server certificate.
    Generated(PathBuf),
    /// A certificate chain and key the user brings (PEM files).
    Files {
        /// The certificate chain, leaf first.
        cert: PathBuf,
        /// The private key.
        key: PathBuf,
    },
}

/// The TLS material a server runs with.
#[derive(Clone)]
pub struct Tls {
    /// The rustls configuration, built with the ring provider.
    pub config: Arc<rustls::ServerConfig>,
    /// The CA certificate clients should trust, in PEM (for generated certificates).
    pub ca_pem: Option<String>,
    /// Where that CA certificate is on disk.
    pub ca_path: Option<PathBuf>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("ca_path", &self.ca_path)
            .finish_non_exhaustive()
    }
}

/// The crypto provider every rustls object here is built with. Named
/// explicitly: with two providers in a dependency tree, the process default
/// is ambiguous and rustls panics.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(ring_provider())
}

/// rustls's *ring* provider. rustls 0.23.48 deprecated it for lacking
/// post-quantum key exchange, which a loopback mock does not need; *ring*
/// is kept because it builds with a C compiler alone (aws-lc-rs wants more).
/// Allowed here, in one place, so that a crate depending on mailtape builds
/// with `-D warnings` (issue 21; `tests/downstream`).
#[allow(deprecated)]
fn ring_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// The negotiated version (`TLSv1.3`) and cipher suite of a connection,
/// server or client side, as transcripts and `check` show them.
pub fn version_and_suite(conn: &rustls::CommonState) -> (String, String) {
    let version = conn
        .protocol_version()
        .map(|v| format!("{v:?}").replace('_', "."))
        .unwrap_or_default();
    let suite = conn
        .negotiated_cipher_suite()
        .map(|s| format!("{:?}", s.suite()))
        .unwrap_or_default();
    (version, suite)
}

impl Tls {
    /// Loads or creates the certificates and builds the server configuration.
    pub fn load(source: &CertSource) -> Result<Tls, Error> {
        match source {
            CertSource::Generated(dir) => {
                let (ca_pem, chain, key) = load_or_generate(dir)?;
                Ok(Tls {
                    config: server_config(chain, key)?,
                    ca_pem: Some(ca_pem),
                    ca_path: Some(dir.join(CA_FILE)),
                })
            }
            CertSource::Files { cert, key } => {
                let chain = read_chain(cert)?;
                let key = PrivateKeyDer::from_pem_file(key).map_err(|e| Error::Certificate {
                    path: key.clone(),
                    reason: format!("no usable private key in this PEM file: {e}"),
                })?;
                Ok(Tls {
                    config: server_config(chain, key)?,
                    ca_pem: None,
                    ca_path: None,
                })
            }
        }
    }
}

/// The TLS client configuration for an upstream relay: the public web roots
/// (webpki-roots), plus the CA certificates in `extra_ca` if given (tests
/// use mailtape's own CA). Verification cannot be turned off.
pub fn client_config(extra_ca: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, Error> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = extra_ca {
        for cert in read_chain(path)? {
            roots.add(cert).map_err(|e| Error::Certificate {
                path: path.to_path_buf(),
                reason: format!("not a usable CA certificate: {e}"),
            })?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(format!("cannot build the TLS client configuration: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let bad = |reason: String| Error::Certificate {
        path: path.to_path_buf(),
        reason,
    };
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(format!("cannot read: {e}")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("not a PEM certificate file: {e}")))?;
    if chain.is_empty() {
        return Err(bad("no certificate in this PEM file".into()));
    }
    Ok(chain)
}

fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<rustls::ServerConfig>, Error> {
    // The server picks the suite: AES-128-GCM with SHA-256 first. Its key
    // schedule runs on the CPU's SHA extensions, where SHA-384's does not;
    // handshakes (one per message for many apps) cost noticeably less.
    let mut p = ring_provider();
    p.cipher_suites.sort_by_key(|s| {
        let name = format!("{:?}", s.suite());
        !(name.contains("AES_128_GCM") && name.contains("SHA256"))
    });
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(p))
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(chain, key))
        .map_err(|e| Error::Tls(format!("cannot build the TLS server configuration: {e}")))?;
    config.ignore_client_order = true;
    Ok(Arc::new(config))
}

fn ca_params() -> Result<CertificateParams, rcgen::Error> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(DnType::CommonName, "mailtape local CA");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "mailtape");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.use_authority_key_identifier_extension = false;
    Ok(params)
}

fn validity(params: &mut CertificateParams, days: i64) {
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(days);
}

type Material = (String, Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

fn load_or_generate(dir: &Path) -> Result<Material, Error> {
    let io = |what: &str, path: &Path, e: std::io::Error| Error::Io {
        action: format!("{what} {}", path.display()),
        source: e,
    };
    fs::create_dir_all(dir).map_err(|e| io("create the certs folder", dir, e))?;
    let _lock = DirLock::acquire(dir)?;
    let ca_path = dir.join(CA_FILE);
    let ca_key_path = dir.join(CA_KEY_FILE);
    let gen_err = |e: rcgen::Error| Error::Tls(format!("cannot generate a certificate: {e}"));

    // The CA: reuse it when both halves exist, else make a new one.
    let (ca_pem, ca_key) = if ca_path.exists() && ca_key_path.exists() {
        let pem = fs::read_to_string(&ca_path).map_err(|e| io("read", &ca_path, e))?;
        let key_pem = fs::read_to_string(&ca_key_path).map_err(|e| io("read", &ca_key_path, e))?;
        let key = KeyPair::from_pem(&key_pem).map_err(|e| Error::Certificate {
            path: ca_key_path.clone(),
            reason: format!(
                "not a usable private key ({e}); delete the certs folder to make a new CA"
            ),
        })?;
        (pem, key)
    } else {
        let key = KeyPair::generate().map_err(gen_err)?;
        let mut params = ca_params().map_err(gen_err)?;
        validity(&mut params, CA_DAYS);
        let cert = params.self_signed(&key).map_err(gen_err)?;
        write_atomic(&ca_key_path, key.serialize_pem().as_bytes(), true)
            .map_err(|e| io("write", &ca_key_path, e))?;
        write_atomic(&ca_path, cert.pem().as_bytes(), false)
            .map_err(|e| io("write", &ca_path, e))?;
        // A new CA invalidates any server certificate signed by the old one.
        let _ = fs::remove_file(dir.join(SERVER_FILE));
        (cert.pem(), key)
    };

    let server_path = dir.join(SERVER_FILE);
    let server_key_path = dir.join(SERVER_KEY_FILE);
    let fresh = fs::metadata(&server_path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age < SERVER_RENEW_AFTER);
    if !(fresh && server_key_path.exists()) {
        let key = KeyPair::generate().map_err(gen_err)?;
        let mut params = CertificateParams::new(
            SERVER_NAMES
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>(),
        )
        .map_err(gen_err)?;
        params
            .distinguished_name
            .push(DnType::CommonName, "mailtape local SMTP server");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.use_authority_key_identifier_extension = true;
        validity(&mut params, SERVER_DAYS);
        // The issuer is rebuilt from the same parameters and key, so its
        // subject and key identifier match the CA certificate on disk.
        let issuer = Issuer::new(ca_params().map_err(gen_err)?, ca_key);
        let cert = params.signed_by(&key, &issuer).map_err(gen_err)?;
        write_atomic(&server_key_path, key.serialize_pem().as_bytes(), true)
            .map_err(|e| io("write", &server_key_path, e))?;
        write_atomic(&server_path, cert.pem().as_bytes(), false)
            .map_err(|e| io("write", &server_path, e))?;
    }
    let chain = read_chain(&server_path)?;
    let key = PrivateKeyDer::from_pem_file(&server_key_path).map_err(|e| Error::Certificate {
        path: server_key_path.clone(),
        reason: format!("no usable private key ({e}); delete it to make a new one"),
    })?;
    Ok((ca_pem, chain, key))
}

/// Serialises certificate generation between processes sharing a folder.
struct DirLock(PathBuf);

impl DirLock {
    fn acquire(dir: &Path) -> Result<DirLock, Error> {
        let path = dir.join(".lock");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(_) => return Ok(DirLock(path)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    // A lock older than the wait is left from a crash.
                    let stale = fs::metadata(&path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| SystemTime::now().duration_since(t).ok())
                        .is_some_and(|age| age > Duration::from_secs(10));
                    if stale || std::time::Instant::now() > deadline {
                        let _ = fs::remove_file(&path);
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => {
                    return Err(Error::Io {
                        action: format!("lock the certs folder {}", dir.display()),
                        source: e,
                    });
                }
            }
        }
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_then_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let a = Tls::load(&CertSource::Generated(dir.path().into())).unwrap();
        let key_meta = fs::metadata(dir.path().join(CA_KEY_FILE)).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(key_meta.permissions().mode() & 0o777, 0o600);
            let skey = fs::metadata(dir.path().join(SERVER_KEY_FILE)).unwrap();
            assert_eq!(skey.permissions().mode() & 0o777, 0o600);
        }
        let server_before = fs::read(dir.path().join(SERVER_FILE)).unwrap();
        let b = Tls::load(&CertSource::Generated(dir.path().into())).unwrap();
        assert_eq!(a.ca_pem, b.ca_pem);
        assert_eq!(
            server_before,
            fs::read(dir.path().join(SERVER_FILE)).unwrap()
        );
        assert!(!dir.path().join(".lock").exists());
    }

    #[test]
    fn renews_server_cert_with_same_ca() {
        let dir = tempfile::tempdir().unwrap();
        let a = Tls::load(&CertSource::Generated(dir.path().into())).unwrap();
        fs::remove_file(dir.path().join(SERVER_FILE)).unwrap();
        let b = Tls::load(&CertSource::Generated(dir.path().into())).unwrap();
        assert_eq!(a.ca_pem, b.ca_pem);
        assert!(dir.path().join(SERVER_FILE).exists());
    }

    #[test]
    fn bad_files_say_which() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("c.pem");
        fs::write(&cert, "nonsense").unwrap();
        let err = Tls::load(&CertSource::Files {
            cert: cert.clone(),
            key: cert.clone(),
        })
        .unwrap_err();
        assert!(err.to_string().contains("c.pem"), "{err}");
    }
}
