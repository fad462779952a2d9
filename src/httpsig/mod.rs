//! HTTP signatures (draft-cavage-12) with RSA-2048 keys from aws-lc-rs.
//!
//! We sign every outgoing request at send time and verify every incoming one ourselves:
//! the crate's verification is private on axum and its signer uses the slower, unblinded `rsa`
//! crate (DESIGN.md section 2).

pub mod keys;
pub mod rfc9421;
pub mod sign;
pub mod verify;

pub use keys::{KeyPair, PublicKey};
pub use sign::{sign_get, sign_post};
pub use verify::{SignatureHeader, VerifyError};

use aws_lc_rs::digest;
use base64::{Engine, engine::general_purpose::STANDARD};

/// The `Digest` header value of a body: `SHA-256=<base64>`.
pub fn digest_header(body: &[u8]) -> String {
    format!("SHA-256={}", STANDARD.encode(digest::digest(&digest::SHA256, body)))
}

/// An HTTP date (`Date` header) for Unix milliseconds.
pub fn http_date(ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// A header map from pairs, for the signature tests.
#[cfg(test)]
pub(crate) fn headers_of(pairs: &[(&'static str, String)]) -> http::HeaderMap {
    let mut map = http::HeaderMap::new();
    for (k, v) in pairs {
        map.append(*k, v.parse().unwrap());
    }
    map
}
