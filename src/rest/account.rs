//! The account through the API, as a real one is: domains (list, create,
//! get, update, verify, delete) and API keys (list, create, delete). What
//! the mock started with (its verified domains and listed keys) is listed
//! beside what the API made; changes go to the shared
//! [`Directory`](crate::resend::directory::Directory), so a key created
//! here logs in over SMTP at once, and a deleted one is refused on both
//! doors at once. Every call needs a full-access key and counts against
//! the rate.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::Rest;
use super::reject::Ids;
use crate::modes::mock::responder::MockShared;
use crate::resend::account::Permission;
use crate::resend::directory::{self, ApiKey, Domain, DomainStatus, Verification};
use crate::resend::emails::api_time;
use crate::resend::new_id;
use crate::tape::redact::redact_secret;

/// The regions Resend sends from.
pub const REGIONS: &[&str] = &["us-east-1", "eu-west-1", "sa-east-1", "ap-northeast-1"];

/// The longest API key name Resend takes.
pub const MAX_KEY_NAME: usize = 50;

/// Marks a response that carries a secret on purpose (a new key's token):
/// the client gets it as it is; the transcript still shows a fingerprint.
#[derive(Debug, Clone, Copy)]
pub struct CarriesSecret;

/// Authorizes a call that needs a full-access key and counts it.
#[allow(clippy::result_large_err)]
fn admitted(rest: &Rest, headers: &HeaderMap) -> Result<(), Response> {
    rest.authorize(headers, false)?;
    rest.count_call()
}

/// Every domain of the account, newest first: those the API created or
/// changed, then those the mock started with (its verified domains, and
/// any domain a key is tied to that is not verified), less the deleted.
pub fn all_domains(shared: &MockShared) -> Vec<Domain> {
    let st = shared.settings();
    let dir = shared.directory();
    let mut out: Vec<Domain> = dir.domains().iter().rev().cloned().collect();
    let mut start: Vec<(String, DomainStatus)> = Vec::new();
    for d in st.account.verified_domains.iter().flatten() {
        start.push((d.clone(), DomainStatus::Verified));
    }
    let key_domains = st
        .account
        .keys
        .iter()
        .filter_map(|k| k.domain.clone())
        .chain(st.account.unlisted_key_domain.clone());
    for d in key_domains {
        if !st.account.domain_verified(&d, &st.profile.shared_domains) {
            start.push((d, DomainStatus::NotStarted));
        }
    }
    for (name, status) in start {
        let name = name.to_ascii_lowercase();
        if out.iter().any(|d| d.name == name) || dir.is_domain_deleted(&name) {
            continue;
        }
        let mut d = Domain::new(stable_id("domain", &name), &name, "us-east-1", dir.started);
        d.status = status;
        out.push(d);
    }
    out
}

/// A stable id for a name (a domain, a key): UUID-shaped, from its hash, so
/// that the same account lists the same ids on every run.
pub fn stable_id(kind: &str, name: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, format!("{kind}:{name}").as_bytes());
    let h: String = d.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(
        "{}-{}-4{}-8{}-{}",
        &h[..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// The request body as a JSON object, or the API's 422.
#[allow(clippy::result_large_err)]
fn object(rest: &Rest, body: &[u8]) -> Result<Map<String, Value>, Response> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(rest.error("invalid_body", &[("detail", "expected a JSON object")])),
        Err(e) => Err(rest.error("invalid_body", &[("detail", &e.to_string())])),
    }
}

/// The required `name` of a domain or a key, trimmed; absent or blank is
/// `missing_required_field`.
#[allow(clippy::result_large_err)]
fn required_name<'a>(rest: &Rest, m: &'a Map<String, Value>) -> Result<&'a str, Response> {
    match field(rest, m, "name", "string")?.and_then(Value::as_str) {
        Some(n) if !n.trim().is_empty() => Ok(n.trim()),
        _ => Err(rest.error("missing_required_field", &[("field", "name")])),
    }
}

/// An optional field of a given JSON type; a wrong type is a 422 naming it.
#[allow(clippy::result_large_err)]
fn field<'a>(
    rest: &Rest,
    m: &'a Map<String, Value>,
    name: &str,
    kind: &str,
) -> Result<Option<&'a Value>, Response> {
    let Some(v) = m.get(name) else {
        return Ok(None);
    };
    let ok = match kind {
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        _ => false,
    };
    if ok {
        Ok(Some(v))
    } else {
        Err(rest.error(
            "invalid_body",
            &[("detail", &format!("`{name}` must be a {kind}"))],
        ))
    }
}

/// A string field that must be one of `allowed`.
#[allow(clippy::result_large_err)]
fn one_of(
    rest: &Rest,
    m: &Map<String, Value>,
    name: &str,
    allowed: &[&str],
) -> Result<Option<String>, Response> {
    match field(rest, m, name, "string")?.and_then(Value::as_str) {
        None => Ok(None),
        Some(v) if allowed.contains(&v) => Ok(Some(v.to_string())),
        Some(_) => Err(rest.error(
            "invalid_body",
            &[(
                "detail",
                &format!("`{name}` must be one of: {}", allowed.join(", ")),
            )],
        )),
    }
}

/// Applies the settings `POST` and `PATCH` share to a domain.
#[allow(clippy::result_large_err)]
fn apply_settings(rest: &Rest, m: &Map<String, Value>, d: &mut Domain) -> Result<(), Response> {
    if let Some(v) = field(rest, m, "open_tracking", "boolean")?.and_then(Value::as_bool) {
        d.open_tracking = v;
    }
    if let Some(v) = field(rest, m, "click_tracking", "boolean")?.and_then(Value::as_bool) {
        d.click_tracking = v;
    }
    if let Some(v) = one_of(rest, m, "tls", &["opportunistic", "enforced"])? {
        d.tls = v;
    }
    if let Some(v) = field(rest, m, "tracking_subdomain", "string")?.and_then(Value::as_str) {
        d.tracking_subdomain = Some(v.to_string());
    }
    if let Some(Value::Object(caps)) = field(rest, m, "capabilities", "object")? {
        if let Some(v) = one_of(rest, caps, "sending", &["enabled", "disabled"])? {
            d.sending = v;
        }
        if let Some(v) = one_of(rest, caps, "receiving", &["enabled", "disabled"])? {
            d.receiving = v;
        }
    }
    Ok(())
}

/// Whether `name` is a domain name Resend would take: dot-separated labels
/// of letters, digits and inner dashes, at least two of them.
fn is_domain_name(name: &str) -> bool {
    let labels: Vec<&str> = name.split('.').collect();
    name.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// `GET /domains`.
pub async fn list_domains(State(rest): State<Arc<Rest>>, uri: Uri, headers: HeaderMap) -> Response {
    if let Err(r) = admitted(&rest, &headers) {
        return r;
    }
    let paging = match rest.paging(&uri) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let now = OffsetDateTime::now_utc();
    let items = all_domains(&rest.shared)
        .iter()
        .map(|d| d.summary_json(now))
        .collect();
    list(&rest, &paging, items, "Domain")
}

fn list(rest: &Rest, paging: &super::reject::Paging, items: Vec<Value>, what: &str) -> Response {
    match paging.page(items) {
        Some((data, has_more)) => {
            axum::Json(json!({"object": "list", "has_more": has_more, "data": data}))
                .into_response()
        }
        None => rest.error("not_found", &[("what", what)]),
    }
}

/// The domain a path names, or the answer.
#[allow(clippy::result_large_err)]
fn find_domain(rest: &Rest, ids: &Ids) -> Result<Domain, Response> {
    let id = rest.uuid(ids, 0, "domain_id")?;
    all_domains(&rest.shared)
        .into_iter()
        .find(|d| d.id == id)
        .ok_or_else(|| rest.error("not_found", &[("what", "Domain")]))
}

/// `GET /domains/{domain_id}`.
pub async fn get_domain(State(rest): State<Arc<Rest>>, ids: Ids, headers: HeaderMap) -> Response {
    if let Err(r) = admitted(&rest, &headers) {
        return r;
    }
    match find_domain(&rest, &ids) {
        Ok(d) => axum::Json(d.to_json(OffsetDateTime::now_utc())).into_response(),
        Err(r) => r,
    }
}

/// `POST /domains`: 201, `not_started`, with the DNS records to add.
pub async fn create_domain(
    State(rest): State<Arc<Rest>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = admitted(&rest, &headers) {
        return r;
    }
    #[allow(clippy::result_large_err)]
    let made = (|| {
        let m = object(&rest, &body)?;
        let name = required_name(&rest, &m)?.to_ascii_lowercase();
        if !is_domain_name(&name) {
            return Err(rest.error(
                "invalid_body",
                &[(
                    "detail",
                    "`name` must be a domain name, such as example.com",
                )],
            ));
        }
        let region = one_of(&rest, &m, "region", REGIONS)?.unwrap_or_else(|| "us-east-1".into());
        field(&rest, &m, "custom_return_path", "string")?;
        if all_domains(&rest.shared).iter().any(|d| d.name == name) {
            return Err(rest.error("domain_exists", &[("domain", &name)]));
        }
        let now = OffsetDateTime::now_utc();
        let mut d = Domain::new(new_id(), &name, &region, now);
        apply_settings(&rest, &m, &mut d)?;
        rest.shared.directory().put_domain(d.clone());
        rest.shared
            .account_event("domain.created", d.event_json(now));
        let mut v = d.to_json(now);
        if let Some(o) = v.as_object_mut() {
            o.remove("object");
            o.remove("tls");
        }
        Ok(v)
    })();
    match made {
        Ok(v) => (StatusCode::CREATED, axum::Json(v)).into_response(),
        Err(r) => r,
    }
}

/// `PATCH /domains/{domain_id}`: tracking, TLS, capabilities.
pub async fn update_domain(
    State(rest): State<Arc<Rest>>,
    ids: Ids,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = admitted(&rest, &headers) {
        return r;
    }
    #[allow(clippy::result_large_err)]
    let done = (|| {
        let mut d = find_domain(&rest, &ids)?;
        let m = object(&rest, &body)?;
        apply_settings(&rest, &m, &mut d)?;
        let id = d.id.clone();
        let data = d.event_json(OffsetDateTime::now_utc());
        rest.shared.directory().put_domain(d);
        rest.shared.account_event("domain.updated", data);
        Ok(id)
    })();
    match done {
        Ok(id) => axum::Json(json!({"object": "domain", "id": id})).into_response(),
        Err(r) => r,
    }
}

/// `POST /domains/{domain_id}/verify`: verified at once, after a delay, or
/// never, as the scenario says (`domains-verify-slowly`, `domains-never-verify`).
pub async fn verify_domain(
    State(rest): State<Arc<Rest>>,
    ids: Ids,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = admitted(&rest, &headers) {
        return r;
    }
    let mut d = match find_domain(&rest, &ids) {
        Ok(d) => d,
        Err(r) => return r,
    };
    let now = OffsetDateTime::now_utc();
    let before = d.status_at(now);
    if before != DomainStatus::Verified {
        match rest.shared.settings().behaviour.domain_verification {
            Verification::AtOnce => d.status = DomainStatus::Verified,
            Verification::After(wait) => {
                // Asking again does not start the wait over.
                if d.status != DomainStatus::Pending || d.verified_at.is_none() {
                    d.status = DomainStatus::Pending;
                    d.verified_at = Some(now + wait);
                }
            }
            Verification::Never => {
                d.status = DomainStatus::Pending;
                d.verified_at = None;
            }
        }
    }
    let id = d.id.clone();
    let (status, verified_at) = (d.status_at(now), d.verified_at);
    let data = d.event_json(now);
    rest.shared.directory().put_domain(d);
    if status != before {
        rest.shared.account_event("domain.updated", data);
    }
    // A verification that comes through later is a change too: said then.
    if status == DomainStatus::Pending
        && let Some(at) = verified_at
    {
        let (shared, id) = (rest.shared.clone(), id.clone());
        let wait = (at - now).max(time::Duration::ZERO);
        tokio::spawn(async move {
            tokio::time::sleep(wait.unsigned_abs()).await;
            let now = OffsetDateTime::now_utc();
            let done = all_domains(&shared)
                .into_iter()
                .find(|d| d.id == id && d.verified_at == Some(at));
            if let Some(d) = done
                && d.status_at(now) == DomainStatus::Verified
            {
                shared.account_event("domain.updated", d.event_json(now));
            }
        });
    }
    axum::Json(json!({"object": "domain", "id": id})).into_response()
}

/// `DELETE /domains/{domain_id}`: mail from it is refused as unverified.
pub async fn delete_domain(
    State(rest): State<Arc<Rest>>,
    ids: Ids,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = admitted(&rest, &headers) {
        return r;
    }
    let d = match find_domain(&rest, &ids) {
        Ok(d) => d,
        Err(r) => return r,
    };
    rest.shared.directory().delete_domain(&d.name);
    rest.shared
        .account_event("domain.deleted", d.event_json(OffsetDateTime::now_utc()));
    axum::Json(json!({"object": "domain", "id": d.id, "deleted": true})).into_response()
}

/// A key of the account as listed: its id, digest, its JSON for the API,
/// and what the inbox shows of it.
struct KeyRow {
    id: String,
    digest: directory::KeyDigest,
    json: Value,
    view: Value,
}

/// Every key of the account, newest first: those the API created, then
/// those the mock started with that are neither revoked nor deleted
/// (named by fingerprint: the key itself is never shown).
fn all_keys(shared: &MockShared) -> Vec<KeyRow> {
    let st = shared.settings();
    let dir = shared.directory();
    let mut out: Vec<KeyRow> = dir
        .keys()
        .iter()
        .rev()
        .map(|k| KeyRow {
            id: k.id.clone(),
            digest: k.digest,
            json: json!({
                "id": k.id,
                "name": k.name,
                "created_at": api_time(k.created_at),
                "last_used_at": k.last_used_at.map(api_time),
            }),
            view: json!({
                "id": k.id,
                "name": k.name,
                "fingerprint": k.shown,
                "permission": k.permission,
                "domain": k.domain,
                "created_at": api_time(k.created_at),
                "last_used_at": k.last_used_at.map(api_time),
                "origin": "api",
            }),
        })
        .collect();
    for k in st.account.keys.iter().filter(|k| !k.revoked) {
        let digest = directory::digest(k.key.as_bytes());
        if dir.is_deleted(&digest) {
            continue;
        }
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        let id = stable_id("key", &hex);
        let shown = redact_secret(k.key.as_bytes());
        out.push(KeyRow {
            json: json!({
                "id": id,
                "name": shown,
                "created_at": api_time(dir.started),
                "last_used_at": null,
            }),
            view: json!({
                "id": id,
                "name": shown,
                "fingerprint": shown,
                "permission": k.permission,
                "domain": k.domain,
                "created_at": api_time(dir.started),
                "last_used_at": null,
                "origin": "start",
            }),
            id,
            digest,
        });
    }
    out
}

/// The account as the inbox shows it (`GET /api/account`): every key by
/// fingerprint with its permission and domain, every domain with its
/// status; the keys never appear.
pub fn view(shared: &MockShared) -> Value {
    let now = OffsetDateTime::now_utc();
    let keys: Vec<Value> = all_keys(shared).into_iter().map(|k| k.view).collect();
    let domains: Vec<Value> = all_domains(shared)
        .iter()
        .map(|d| d.summary_json(now))
        .collect();
    let st = shared.settings();
    json!({
        "keys": keys,
        // Keys not listed are accepted when none is (the default account).
        "unlisted_keys": match st.account.unlisted_keys {
            Some(crate::resend::KeyPolicy::Reject) => "rejected",
            Some(crate::resend::KeyPolicy::Accept) => "accepted",
            None if st.account.keys.is_empty() => "accepted",
            None => "rejected",
        },
        "domains": domains,
        "every_domain_verified": st.account.verified_domains.is_none(),
    })
}

/// `GET /api-keys`.
pub async fn list_keys(State(rest): State<Arc<Rest>>, uri: Uri, headers: HeaderMap) -> Response {
    if let Err(r) = admitted(&rest, &headers) {
        return r;
    }
    let paging = match rest.paging(&uri) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let items = all_keys(&rest.shared).into_iter().map(|k| k.json).collect();
    list(&rest, &paging, items, "API key")
}

/// A new key's token: `re_`, 8 characters, `_`, 24 characters, as Resend's
/// keys look.
fn new_token() -> String {
    use ring::rand::SecureRandom;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut raw = [0u8; 32];
    if ring::rand::SystemRandom::new().fill(&mut raw).is_err() {
        // No system randomness: a fresh UUID's hash still differs each call.
        let d = ring::digest::digest(&ring::digest::SHA256, new_id().as_bytes());
        raw.copy_from_slice(d.as_ref());
    }
    let chars: String = raw[..32]
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    format!("re_{}_{}", &chars[..8], &chars[8..32])
}

/// `POST /api-keys`: 201 `{id, token}`; the token works over SMTP and REST
/// at once, with its permission and domain.
pub async fn create_key(
    State(rest): State<Arc<Rest>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = admitted(&rest, &headers) {
        return r;
    }
    #[allow(clippy::result_large_err)]
    let made = (|| {
        let m = object(&rest, &body)?;
        let name = required_name(&rest, &m)?.to_string();
        if name.chars().count() > MAX_KEY_NAME {
            return Err(rest.error(
                "invalid_body",
                &[("detail", "`name` must be at most 50 characters")],
            ));
        }
        let permission =
            match one_of(&rest, &m, "permission", &["full_access", "sending_access"])?.as_deref() {
                Some("sending_access") => Permission::SendingAccess,
                _ => Permission::FullAccess,
            };
        let domain = match field(&rest, &m, "domain_id", "string")?.and_then(Value::as_str) {
            None => None,
            Some(id) => {
                if !super::reject::is_uuid(id) {
                    return Err(rest.error("invalid_parameter", &[("param", "domain_id")]));
                }
                let id = id.to_ascii_lowercase();
                match all_domains(&rest.shared).into_iter().find(|d| d.id == id) {
                    Some(d) => Some(d.name),
                    None => return Err(rest.error("not_found", &[("what", "Domain")])),
                }
            }
        };
        let token = new_token();
        let key = ApiKey {
            id: new_id(),
            name,
            digest: directory::digest(token.as_bytes()),
            shown: redact_secret(token.as_bytes()),
            permission,
            // A full-access key sends from any domain; the tie is for sending keys.
            domain: domain.filter(|_| permission == Permission::SendingAccess),
            created_at: OffsetDateTime::now_utc(),
            last_used_at: None,
        };
        let id = key.id.clone();
        rest.shared.directory().add_key(key);
        Ok((id, token))
    })();
    match made {
        Ok((id, token)) => {
            let mut resp = (
                StatusCode::CREATED,
                axum::Json(json!({"id": id, "token": token})),
            )
                .into_response();
            resp.extensions_mut().insert(CarriesSecret);
            resp
        }
        Err(r) => r,
    }
}

/// `DELETE /api-keys/{api_key_id}`: the key stops working on both doors
/// at once (a session logged in with it is refused at its next message).
pub async fn delete_key(State(rest): State<Arc<Rest>>, ids: Ids, headers: HeaderMap) -> Response {
    if let Err(r) = admitted(&rest, &headers) {
        return r;
    }
    let id = match rest.uuid(&ids, 0, "api_key_id") {
        Ok(id) => id,
        Err(r) => return r,
    };
    let Some(row) = all_keys(&rest.shared).into_iter().find(|k| k.id == id) else {
        return rest.error("not_found", &[("what", "API key")]);
    };
    rest.shared.directory().delete_key(row.digest);
    axum::Json(json!({"object": "api_key", "id": row.id, "deleted": true})).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_ids_are_uuid_shaped_and_stable() {
        let a = stable_id("domain", "acme.com");
        assert!(super::super::reject::is_uuid(&a));
        assert_eq!(a, stable_id("domain", "acme.com"));
        assert_ne!(a, stable_id("domain", "acme.io"));
    }

    #[test]
    fn tokens_look_like_keys() {
        let t = new_token();
        assert!(crate::resend::account::is_well_formed_key(&t), "{t}");
        assert_eq!(t.len(), 3 + 8 + 1 + 24);
        assert_ne!(t, new_token());
    }

    #[test]
    fn domain_names() {
        assert!(is_domain_name("acme.com"));
        assert!(is_domain_name("mail.acme-corp.co.uk"));
        assert!(!is_domain_name("acme"));
        assert!(!is_domain_name("-acme.com"));
        assert!(!is_domain_name("ac me.com"));
        assert!(!is_domain_name("acme..com"));
    }
}
