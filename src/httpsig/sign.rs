//! Signing outgoing requests: `(request-target) host date digest content-type` on POST,
//! `(request-target) host date accept` on GET, `rsa-sha256`, key id `<actor>#main-key`.

use base64::{Engine, engine::general_purpose::STANDARD};
use url::Url;

use super::{KeyPair, digest_header, http_date, keys::KeyError};

/// `Content-Type` of every ActivityPub POST we send.
pub const ACTIVITY_CONTENT_TYPE: &str = "application/activity+json";
/// `Accept` of every ActivityPub GET we send.
pub const ACTIVITY_ACCEPT: &str =
    "application/activity+json, application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"";

/// Headers to add to a request: `(name, value)` pairs, the `Signature` last.
pub type Headers = Vec<(&'static str, String)>;

/// Signs a POST of `body` to `url`.
pub fn sign_post(key: &KeyPair, key_id: &str, url: &Url, body: &[u8], now_ms: i64) -> Result<Headers, KeyError> {
    let date = http_date(now_ms);
    let digest = digest_header(body);
    let host = host_of(url);
    let text = format!(
        "(request-target): post {}\nhost: {host}\ndate: {date}\ndigest: {digest}\ncontent-type: {ACTIVITY_CONTENT_TYPE}",
        target_of(url)
    );
    let signature = header(key, key_id, "(request-target) host date digest content-type", &text)?;
    Ok(vec![
        ("host", host),
        ("date", date),
        ("digest", digest),
        ("content-type", ACTIVITY_CONTENT_TYPE.to_owned()),
        ("signature", signature),
    ])
}

/// Signs a GET of `url` asking for ActivityPub JSON (or `accept` when given).
pub fn sign_get(key: &KeyPair, key_id: &str, url: &Url, accept: &str, now_ms: i64) -> Result<Headers, KeyError> {
    let date = http_date(now_ms);
    let host = host_of(url);
    let text = format!(
        "(request-target): get {}\nhost: {host}\ndate: {date}\naccept: {accept}",
        target_of(url)
    );
    let signature = header(key, key_id, "(request-target) host date accept", &text)?;
    Ok(vec![
        ("host", host),
        ("date", date),
        ("accept", accept.to_owned()),
        ("signature", signature),
    ])
}

fn header(key: &KeyPair, key_id: &str, headers: &str, text: &str) -> Result<String, KeyError> {
    let sig = STANDARD.encode(key.sign(text.as_bytes())?);
    Ok(format!(
        "keyId=\"{key_id}\",algorithm=\"rsa-sha256\",headers=\"{headers}\",signature=\"{sig}\""
    ))
}

/// `host[:port]` as the `Host` header carries it.
pub fn host_of(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// Path and query: the `(request-target)` after the method.
pub fn target_of(url: &Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    }
}
