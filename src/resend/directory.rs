//! The account's API keys and domains as the API changes them: keys created
//! (`POST /api-keys`) and deleted, domains created, verified, changed and
//! deleted. The account the mock was started with (its keys and verified
//! domains, from the scenario and flags) stays as it was; this is what
//! happened on top of it, and both doors ask it first.
//!
//! A created key's token is never kept: only its SHA-256, which a login
//! compares with, and its fingerprint (`re_…8ed6`) to show.

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::account::{Grant, Permission};
pub use super::account::{KeyDigest, digest};
use super::emails::api_time;

/// A key created through the API.
#[derive(Debug, Clone)]
pub struct ApiKey {
    /// Its id (a UUID).
    pub id: String,
    /// The name it was given.
    pub name: String,
    /// The token's SHA-256.
    pub digest: KeyDigest,
    /// The token's fingerprint, `re_…8ed6`.
    pub shown: String,
    /// What it may do.
    pub permission: Permission,
    /// The one domain a sending key may send from.
    pub domain: Option<String>,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When it last opened a session or made a call.
    pub last_used_at: Option<OffsetDateTime>,
}

/// Where a domain's verification stands (Resend's `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainStatus {
    /// Created, verification not asked for.
    NotStarted,
    /// Verification asked for, the records not found yet.
    Pending,
    /// Verified: mail may be sent from it.
    Verified,
}

impl DomainStatus {
    /// The API's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            DomainStatus::NotStarted => "not_started",
            DomainStatus::Pending => "pending",
            DomainStatus::Verified => "verified",
        }
    }
}

/// How `POST /domains/{id}/verify` goes, by scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Verification {
    /// Verified at once.
    #[default]
    AtOnce,
    /// `pending`, then verified after this long.
    After(std::time::Duration),
    /// `pending` for good (the DNS records are never found).
    Never,
}

/// A domain of the account that the API created or changed.
#[derive(Debug, Clone)]
pub struct Domain {
    /// Its id (a UUID).
    pub id: String,
    /// The domain name, lower case.
    pub name: String,
    /// `us-east-1`, `eu-west-1`, `sa-east-1` or `ap-northeast-1`.
    pub region: String,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// Where verification stands, before `verified_at` is reached.
    pub status: DomainStatus,
    /// When a pending verification succeeds, if it will.
    pub verified_at: Option<OffsetDateTime>,
    /// Open tracking.
    pub open_tracking: bool,
    /// Click tracking.
    pub click_tracking: bool,
    /// `opportunistic` or `enforced`.
    pub tls: String,
    /// Sending capability, `enabled` or `disabled`.
    pub sending: String,
    /// Receiving capability.
    pub receiving: String,
    /// The tracking subdomain, if set.
    pub tracking_subdomain: Option<String>,
}

impl Domain {
    /// A domain as the API creates it: `not_started`, sending enabled.
    pub fn new(id: String, name: &str, region: &str, now: OffsetDateTime) -> Domain {
        Domain {
            id,
            name: name.to_ascii_lowercase(),
            region: region.to_string(),
            created_at: now,
            status: DomainStatus::NotStarted,
            verified_at: None,
            open_tracking: false,
            click_tracking: false,
            tls: "opportunistic".into(),
            sending: "enabled".into(),
            receiving: "disabled".into(),
            tracking_subdomain: None,
        }
    }

    /// Its status at `now` (a pending verification may have come through).
    pub fn status_at(&self, now: OffsetDateTime) -> DomainStatus {
        match (self.status, self.verified_at) {
            (DomainStatus::Pending, Some(t)) if t <= now => DomainStatus::Verified,
            (s, _) => s,
        }
    }

    /// The domain as `GET /domains/{id}` gives it, DNS records included.
    pub fn to_json(&self, now: OffsetDateTime) -> Value {
        let status = self.status_at(now);
        let mut v = self.summary_json(now);
        v["object"] = json!("domain");
        v["tls"] = json!(self.tls);
        if let Some(t) = &self.tracking_subdomain {
            v["tracking_subdomain"] = json!(t);
        }
        v["records"] = Value::Array(records(&self.name, &self.region, status));
        v
    }

    /// The domain as a `domain.*` webhook event's `data` gives it: `id`,
    /// `name`, `status`, `created_at` (`2023-10-06T23:47:56.678Z`),
    /// `region`, `records`.
    pub fn event_json(&self, now: OffsetDateTime) -> Value {
        let status = self.status_at(now);
        let t = self.created_at.to_offset(time::UtcOffset::UTC);
        let created = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        );
        json!({
            "id": self.id,
            "name": self.name,
            "status": status.as_str(),
            "created_at": created,
            "region": self.region,
            "records": records(&self.name, &self.region, status),
        })
    }

    /// The domain as `GET /domains` lists it.
    pub fn summary_json(&self, now: OffsetDateTime) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "status": self.status_at(now).as_str(),
            "created_at": api_time(self.created_at),
            "region": self.region,
            "open_tracking": self.open_tracking,
            "click_tracking": self.click_tracking,
            "capabilities": {"sending": self.sending, "receiving": self.receiving},
        })
    }
}

/// The DNS records Resend asks for, shaped as its API gives them: the
/// return path's MX and SPF TXT on `send.<domain>`, and the DKIM key on
/// `resend._domainkey.<domain>`. Names are relative to the registered
/// domain, as Resend writes them for a subdomain (`send.mail`). The DKIM
/// key is made from the domain's hash: stable, RSA-shaped, never a real key.
pub fn records(name: &str, region: &str, status: DomainStatus) -> Vec<Value> {
    let sub = registered_prefix(name);
    let at = |label: &str| match &sub {
        Some(s) => format!("{label}.{s}"),
        None => label.to_string(),
    };
    let status = status.as_str();
    vec![
        json!({
            "record": "SPF", "name": at("send"), "type": "MX", "ttl": "Auto", "status": status,
            "value": format!("feedback-smtp.{region}.amazonses.com"), "priority": 10,
        }),
        json!({
            "record": "SPF", "name": at("send"), "type": "TXT", "ttl": "Auto", "status": status,
            "value": "\"v=spf1 include:amazonses.com ~all\"",
        }),
        json!({
            "record": "DKIM", "name": at("resend._domainkey"), "type": "TXT", "ttl": "Auto",
            "status": status, "value": dkim_value(name),
        }),
    ]
}

/// The labels before the registered domain (`mail` of `mail.acme.com`),
/// taking the last two labels as the registered domain.
fn registered_prefix(name: &str) -> Option<String> {
    let labels: Vec<&str> = name.split('.').collect();
    (labels.len() > 2).then(|| labels[..labels.len() - 2].join("."))
}

fn dkim_value(name: &str) -> String {
    use base64::Engine;
    // SubjectPublicKeyInfo of a 1024-bit RSA key: header, modulus, exponent.
    let mut der = vec![
        0x30, 0x81, 0x9f, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01,
        0x01, 0x05, 0x00, 0x03, 0x81, 0x8d, 0x00, 0x30, 0x81, 0x89, 0x02, 0x81, 0x81, 0x00,
    ];
    let mut block = ring::digest::digest(&ring::digest::SHA256, name.as_bytes());
    for _ in 0..4 {
        der.extend_from_slice(block.as_ref());
        block = ring::digest::digest(&ring::digest::SHA256, block.as_ref());
    }
    der[29] |= 0x80; // the modulus's top bit is set, as a real one's is
    der.extend_from_slice(&[0x02, 0x03, 0x01, 0x00, 0x01]);
    format!(
        "p={}",
        base64::engine::general_purpose::STANDARD.encode(&der)
    )
}

/// What the directory says about a key presented at login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyVerdict {
    /// A key created through the API: what it may do.
    Created(Grant),
    /// A key deleted through the API.
    Deleted,
    /// Not one the API touched: the account decides.
    Unknown,
}

/// What the directory says about a sender domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainVerdict {
    /// An API-made (or changed) domain, verified.
    Verified,
    /// An API-made domain not verified yet, or one deleted.
    NotVerified,
    /// Not one the API touched: the account decides.
    Unknown,
}

/// The changes the API made to the account.
#[derive(Debug)]
pub struct Directory {
    /// When the server started: the `created_at` of what it started with.
    pub started: OffsetDateTime,
    keys: Vec<ApiKey>,
    deleted_keys: Vec<KeyDigest>,
    domains: Vec<Domain>,
    deleted_domains: Vec<String>,
}

impl Default for Directory {
    fn default() -> Directory {
        Directory {
            started: OffsetDateTime::now_utc(),
            keys: Vec::new(),
            deleted_keys: Vec::new(),
            domains: Vec::new(),
            deleted_domains: Vec::new(),
        }
    }
}

impl Directory {
    /// What a key presented at login is, as far as the API changed things.
    pub fn key(&self, key: &[u8]) -> KeyVerdict {
        let d = digest(key);
        if self.deleted_keys.contains(&d) {
            return KeyVerdict::Deleted;
        }
        match self.keys.iter().find(|k| k.digest == d) {
            Some(k) => KeyVerdict::Created(Grant {
                domain: match k.permission {
                    Permission::FullAccess => None,
                    Permission::SendingAccess => k.domain.clone(),
                },
                sending_only: k.permission == Permission::SendingAccess,
                digest: d,
            }),
            None => KeyVerdict::Unknown,
        }
    }

    /// Whether a key was deleted through the API (a session that logged in
    /// with it before is refused at its next message).
    pub fn is_deleted(&self, d: &KeyDigest) -> bool {
        self.deleted_keys.contains(d)
    }

    /// Notes that a created key was used.
    pub fn touch(&mut self, d: &KeyDigest, now: OffsetDateTime) {
        if let Some(k) = self.keys.iter_mut().find(|k| k.digest == *d) {
            k.last_used_at = Some(now);
        }
    }

    /// Keeps a created key.
    pub fn add_key(&mut self, key: ApiKey) {
        self.keys.push(key);
    }

    /// The keys created and not deleted, oldest first.
    pub fn keys(&self) -> &[ApiKey] {
        &self.keys
    }

    /// Deletes a key: a created one by its id goes; any key by digest stops
    /// working on both doors.
    pub fn delete_key(&mut self, d: KeyDigest) {
        self.keys.retain(|k| k.digest != d);
        if !self.deleted_keys.contains(&d) {
            self.deleted_keys.push(d);
        }
    }

    /// What the API made of a sender domain (or the domain it is under).
    pub fn domain(&self, name: &str, now: OffsetDateTime) -> DomainVerdict {
        let name = name.to_ascii_lowercase();
        let covers = |d: &str| name == d || name.ends_with(&format!(".{d}"));
        // The most specific entry decides: `mail.acme.com` over `acme.com`.
        let entry = self
            .domains
            .iter()
            .filter(|d| covers(&d.name))
            .max_by_key(|d| d.name.len());
        let deleted = self
            .deleted_domains
            .iter()
            .filter(|d| covers(d))
            .map(String::len)
            .max();
        match (entry, deleted) {
            (Some(e), del) if del.is_none_or(|n| e.name.len() >= n) => {
                if e.status_at(now) == DomainStatus::Verified && e.sending == "enabled" {
                    DomainVerdict::Verified
                } else {
                    DomainVerdict::NotVerified
                }
            }
            (None, None) => DomainVerdict::Unknown,
            // Deleted, and not created again since.
            _ => DomainVerdict::NotVerified,
        }
    }

    /// The domains the API created or changed, oldest first.
    pub fn domains(&self) -> &[Domain] {
        &self.domains
    }

    /// One of them, to change.
    pub fn domain_mut(&mut self, id: &str) -> Option<&mut Domain> {
        self.domains.iter_mut().find(|d| d.id == id)
    }

    /// Keeps a domain (a new one, or one of the start's, now changed).
    pub fn put_domain(&mut self, d: Domain) {
        self.deleted_domains.retain(|n| *n != d.name);
        match self.domains.iter_mut().find(|x| x.id == d.id) {
            Some(slot) => *slot = d,
            None => self.domains.push(d),
        }
    }

    /// Whether a domain name was deleted through the API.
    pub fn is_domain_deleted(&self, name: &str) -> bool {
        self.deleted_domains.iter().any(|d| d == name)
    }

    /// Deletes a domain by name: mail from it is refused as unverified.
    pub fn delete_domain(&mut self, name: &str) {
        self.domains.retain(|d| d.name != name);
        if !self.is_domain_deleted(name) {
            self.deleted_domains.push(name.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    #[test]
    fn created_keys_log_in_and_deleted_ones_never_again() {
        let mut dir = Directory::default();
        let token = b"re_abcdefgh_created_key_123";
        assert_eq!(dir.key(token), KeyVerdict::Unknown);
        dir.add_key(ApiKey {
            id: "k1".into(),
            name: "ci".into(),
            digest: digest(token),
            shown: "re_…0000".into(),
            permission: Permission::SendingAccess,
            domain: Some("acme.com".into()),
            created_at: now(),
            last_used_at: None,
        });
        match dir.key(token) {
            KeyVerdict::Created(g) => {
                assert_eq!(g.domain.as_deref(), Some("acme.com"));
                assert!(g.sending_only);
            }
            other => panic!("{other:?}"),
        }
        dir.delete_key(digest(token));
        assert_eq!(dir.key(token), KeyVerdict::Deleted);
        assert!(dir.keys().is_empty());
    }

    #[test]
    fn domains_verify_and_delete() {
        let mut dir = Directory::default();
        let t = now();
        let mut d = Domain::new("d1".into(), "Acme.com", "us-east-1", t);
        assert_eq!(dir.domain("acme.com", t), DomainVerdict::Unknown);
        dir.put_domain(d.clone());
        assert_eq!(dir.domain("mail.acme.com", t), DomainVerdict::NotVerified);
        d.status = DomainStatus::Pending;
        d.verified_at = Some(t + time::Duration::seconds(5));
        dir.put_domain(d);
        assert_eq!(dir.domain("acme.com", t), DomainVerdict::NotVerified);
        let later = t + time::Duration::seconds(6);
        assert_eq!(dir.domain("acme.com", later), DomainVerdict::Verified);
        assert_eq!(dir.domains()[0].to_json(later)["status"], "verified");
        dir.delete_domain("acme.com");
        assert_eq!(dir.domain("acme.com", later), DomainVerdict::NotVerified);
    }

    #[test]
    fn records_are_shaped_as_resends() {
        let r = records("mail.acme.com", "eu-west-1", DomainStatus::NotStarted);
        assert_eq!(r.len(), 3);
        assert_eq!(r[0]["name"], "send.mail");
        assert_eq!(r[0]["value"], "feedback-smtp.eu-west-1.amazonses.com");
        assert_eq!(r[0]["priority"], 10);
        assert_eq!(r[2]["name"], "resend._domainkey.mail");
        let dkim = r[2]["value"].as_str().unwrap();
        assert!(
            dkim.starts_with("p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQ"),
            "{dkim}"
        );
        assert_eq!(
            records("acme.com", "us-east-1", DomainStatus::Verified)[1]["name"],
            "send"
        );
    }
}
