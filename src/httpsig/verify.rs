//! Verifying incoming signatures: parse the header, check strength and freshness, then the RSA
//! signature with and without the query string (Misskey signs the path only).

use base64::{Engine, engine::general_purpose::STANDARD};
use http::HeaderMap;

use super::PublicKey;

/// Largest accepted clock difference between a signer and us, both ways (Mastodon: 1 hour).
pub const MAX_CLOCK_SKEW_MS: i64 = 3600 * 1000;
/// Longest `Signature` header we parse.
const MAX_HEADER_LEN: usize = 8 * 1024;

/// Why a signature was refused. Every variant maps to 401.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    /// No `Signature` (or `Authorization: Signature`) header.
    #[error("request is not signed")]
    Missing,
    /// The header could not be parsed.
    #[error("malformed signature header: {0}")]
    Malformed(&'static str),
    /// An algorithm other than rsa-sha256 / hs2019.
    #[error("unsupported signature algorithm {0:?}")]
    Algorithm(String),
    /// A required header is not covered by the signature.
    #[error("signature must cover {0}")]
    Weak(&'static str),
    /// A header named in `headers=` is absent.
    #[error("signed header {0:?} is missing from the request")]
    MissingHeader(String),
    /// Date, created or expires outside the accepted window.
    #[error("signature is not fresh: {0}")]
    Stale(&'static str),
    /// The body does not match `Digest`.
    #[error("digest does not match the body")]
    Digest,
    /// The RSA check failed.
    #[error("signature does not verify")]
    Invalid,
    /// The signing key could not be found or fetched.
    #[error("cannot find the signing key: {0}")]
    Unknown(String),
}

/// A parsed `Signature` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeader {
    /// `keyId`.
    pub key_id: String,
    /// `algorithm`, if given.
    pub algorithm: Option<String>,
    /// Lowercased names from `headers` (default `date`).
    pub headers: Vec<String>,
    /// Decoded signature bytes.
    pub signature: Vec<u8>,
    /// `created`, Unix seconds.
    pub created: Option<i64>,
    /// `expires`, Unix seconds.
    pub expires: Option<i64>,
}

/// The parts of a request the signing string is built from.
pub struct RequestParts<'a> {
    /// Lowercase method.
    pub method: &'a str,
    /// Path without query.
    pub path: &'a str,
    /// Query, if any.
    pub query: Option<&'a str>,
    /// Request headers.
    pub headers: &'a HeaderMap,
    /// `Host` to assume when the request has none (HTTP/2).
    pub host_fallback: &'a str,
}

impl SignatureHeader {
    /// Finds and parses the signature of a request.
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, VerifyError> {
        if let Some(v) = headers.get("signature") {
            return Self::parse(v.to_str().map_err(|_| VerifyError::Malformed("not ASCII"))?);
        }
        match headers.get("authorization").and_then(|v| v.to_str().ok()) {
            Some(v) if v.starts_with("Signature ") => Self::parse(&v["Signature ".len()..]),
            _ => Err(VerifyError::Missing),
        }
    }

    /// Parses `keyId="..",algorithm="..",headers="..",signature="..",created=..,expires=..`.
    pub fn parse(raw: &str) -> Result<Self, VerifyError> {
        if raw.len() > MAX_HEADER_LEN {
            return Err(VerifyError::Malformed("too long"));
        }
        let (mut key_id, mut algorithm, mut headers, mut signature, mut created, mut expires) =
            (None, None, None, None, None, None);
        let mut rest = raw.trim();
        while !rest.is_empty() {
            let eq = rest.find('=').ok_or(VerifyError::Malformed("parameter without ="))?;
            let name = rest[..eq].trim().to_ascii_lowercase();
            rest = &rest[eq + 1..];
            let value;
            if let Some(quoted) = rest.strip_prefix('"') {
                let close = quoted.find('"').ok_or(VerifyError::Malformed("unterminated quote"))?;
                value = &quoted[..close];
                rest = &quoted[close + 1..];
            } else {
                let end = rest.find(',').unwrap_or(rest.len());
                value = rest[..end].trim();
                rest = &rest[end..];
            }
            rest = rest.trim_start();
            if let Some(r) = rest.strip_prefix(',') {
                rest = r.trim_start();
            } else if !rest.is_empty() {
                return Err(VerifyError::Malformed("expected ,"));
            }
            let number = |v: &str| v.parse::<i64>().map_err(|_| VerifyError::Malformed("bad number"));
            match name.as_str() {
                "keyid" => key_id = Some(value.to_owned()),
                "algorithm" => algorithm = Some(value.to_ascii_lowercase()),
                "headers" => headers = Some(value.to_ascii_lowercase()),
                "signature" => signature = Some(value.to_owned()),
                "created" => created = Some(number(value)?),
                "expires" => expires = Some(number(value)?),
                _ => {}
            }
        }
        let key_id = key_id
            .filter(|k| !k.is_empty())
            .ok_or(VerifyError::Malformed("no keyId"))?;
        let signature = STANDARD
            .decode(signature.ok_or(VerifyError::Malformed("no signature"))?)
            .map_err(|_| VerifyError::Malformed("signature is not base64"))?;
        if let Some(alg) = &algorithm
            && alg != "rsa-sha256"
            && alg != "hs2019"
        {
            return Err(VerifyError::Algorithm(alg.clone()));
        }
        let headers = headers
            .unwrap_or_else(|| "date".into())
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        Ok(Self {
            key_id,
            algorithm,
            headers,
            signature,
            created,
            expires,
        })
    }

    fn covers(&self, name: &str) -> bool {
        self.headers.iter().any(|h| h == name)
    }

    /// A date or `(created)`; `(request-target)` and `host` (so a captured request cannot be
    /// replayed to another path or server: every server in the zoo signs both); on POST the
    /// digest. Stricter than Mastodon, which accepts `digest` in place of `(request-target)`.
    pub fn check_strength(&self, is_post: bool) -> Result<(), VerifyError> {
        if !self.covers("date") && !self.covers("(created)") {
            return Err(VerifyError::Weak("date or (created)"));
        }
        if !self.covers("(request-target)") {
            return Err(VerifyError::Weak("(request-target)"));
        }
        if !self.covers("host") {
            return Err(VerifyError::Weak("host"));
        }
        if is_post && !self.covers("digest") {
            return Err(VerifyError::Weak("digest"));
        }
        Ok(())
    }

    /// Refuses a `Date` or `(created)` more than [`MAX_CLOCK_SKEW_MS`] away from `now_ms` in
    /// either direction, and an `(expires)` in the past.
    pub fn check_freshness(&self, headers: &HeaderMap, now_ms: i64) -> Result<(), VerifyError> {
        if self.covers("date") {
            let raw = headers
                .get("date")
                .and_then(|v| v.to_str().ok())
                .ok_or(VerifyError::MissingHeader("date".into()))?;
            let date = chrono::DateTime::parse_from_rfc2822(raw).map_err(|_| VerifyError::Stale("unreadable Date"))?;
            if (date.timestamp_millis() - now_ms).abs() > MAX_CLOCK_SKEW_MS {
                return Err(VerifyError::Stale("Date is more than an hour away"));
            }
        }
        if let Some(created) = self.created
            && (created * 1000 - now_ms).abs() > MAX_CLOCK_SKEW_MS
        {
            return Err(VerifyError::Stale("(created) is more than an hour away"));
        }
        if let Some(expires) = self.expires
            && expires * 1000 < now_ms
        {
            return Err(VerifyError::Stale("signature expired"));
        }
        Ok(())
    }

    /// Checks the RSA signature, first over the path with its query, then over the path alone.
    pub fn verify(&self, parts: &RequestParts<'_>, key: &PublicKey) -> Result<(), VerifyError> {
        let with_query = self.signing_string(parts, true)?;
        if key.verify(with_query.as_bytes(), &self.signature) {
            return Ok(());
        }
        if parts.query.is_some() {
            let without = self.signing_string(parts, false)?;
            if key.verify(without.as_bytes(), &self.signature) {
                return Ok(());
            }
        }
        Err(VerifyError::Invalid)
    }

    fn signing_string(&self, parts: &RequestParts<'_>, with_query: bool) -> Result<String, VerifyError> {
        let mut lines = Vec::with_capacity(self.headers.len());
        for name in &self.headers {
            let value = match name.as_str() {
                "(request-target)" => match (with_query, parts.query) {
                    (true, Some(q)) => format!("{} {}?{q}", parts.method, parts.path),
                    _ => format!("{} {}", parts.method, parts.path),
                },
                "(created)" => self
                    .created
                    .ok_or(VerifyError::MissingHeader(name.clone()))?
                    .to_string(),
                "(expires)" => self
                    .expires
                    .ok_or(VerifyError::MissingHeader(name.clone()))?
                    .to_string(),
                "host" if !parts.headers.contains_key("host") => parts.host_fallback.to_owned(),
                _ => {
                    let values: Vec<&str> = parts
                        .headers
                        .get_all(name.as_str())
                        .iter()
                        .filter_map(|v| v.to_str().ok())
                        .collect();
                    if values.is_empty() {
                        return Err(VerifyError::MissingHeader(name.clone()));
                    }
                    values.join(", ")
                }
            };
            lines.push(format!("{name}: {value}"));
        }
        Ok(lines.join("\n"))
    }
}

/// Checks a `Digest` header (`SHA-256=...`, among others) against the body.
pub fn check_digest(headers: &HeaderMap, body: &[u8]) -> Result<(), VerifyError> {
    let raw = headers
        .get("digest")
        .and_then(|v| v.to_str().ok())
        .ok_or(VerifyError::MissingHeader("digest".into()))?;
    let expected = super::digest_header(body);
    let ok = raw
        .split(',')
        .map(str::trim)
        .any(|d| d.len() > 8 && d[..8].eq_ignore_ascii_case("sha-256=") && d[8..] == expected[8..]);
    if ok { Ok(()) } else { Err(VerifyError::Digest) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::httpsig::headers_of;
    use crate::httpsig::{KeyPair, sign_post};
    use url::Url;

    #[test]
    fn a_signed_post_verifies_and_a_tampered_one_does_not() {
        let key = KeyPair::generate().unwrap();
        let url = Url::parse("http://b.test:8080/inbox?x=1").unwrap();
        let now = 1_800_000_000_000;
        let signed = sign_post(&key, "http://a.test/k#main-key", &url, b"{}", now).unwrap();
        let headers = headers_of(&signed);
        let sig = SignatureHeader::from_headers(&headers).unwrap();
        sig.check_strength(true).unwrap();
        sig.check_freshness(&headers, now + 1000).unwrap();
        check_digest(&headers, b"{}").unwrap();
        assert_eq!(check_digest(&headers, b"{ }"), Err(VerifyError::Digest));
        let public = PublicKey::from_pem(key.public_pem()).unwrap();
        let parts = RequestParts {
            method: "post",
            path: "/inbox",
            query: Some("x=1"),
            headers: &headers,
            host_fallback: "",
        };
        sig.verify(&parts, &public).unwrap();
        let wrong = RequestParts {
            path: "/other",
            ..parts
        };
        assert_eq!(sig.verify(&wrong, &public), Err(VerifyError::Invalid));
        assert!(matches!(
            sig.check_freshness(&headers, now + 2 * MAX_CLOCK_SKEW_MS),
            Err(VerifyError::Stale(_))
        ));
        assert!(matches!(
            sig.check_freshness(&headers, now - 2 * MAX_CLOCK_SKEW_MS),
            Err(VerifyError::Stale(_))
        ));
    }

    #[test]
    fn parses_the_forms_peers_send() {
        let sig = SignatureHeader::parse(
            "keyId=\"https://a/u#k\", algorithm=\"hs2019\",created=1700000000,headers=\"(request-target) host (created) digest\",signature=\"AAAA\"",
        )
        .unwrap();
        assert_eq!(sig.created, Some(1_700_000_000));
        assert_eq!(sig.headers, vec!["(request-target)", "host", "(created)", "digest"]);
        assert!(sig.check_strength(true).is_ok());
    }

    #[test]
    fn refuses_malformed_and_weak_headers() {
        assert!(SignatureHeader::parse("keyId=\"x\"").is_err());
        assert!(SignatureHeader::parse("keyId=\"x,signature=\"AA\"").is_err());
        assert!(matches!(
            SignatureHeader::parse("keyId=\"x\",algorithm=\"ed25519\",signature=\"AA==\""),
            Err(VerifyError::Algorithm(_))
        ));
        let weak =
            SignatureHeader::parse("keyId=\"x\",headers=\"(request-target) host date\",signature=\"AA==\"").unwrap();
        assert_eq!(weak.check_strength(true), Err(VerifyError::Weak("digest")));
        for headers in ["host date digest", "(request-target) date digest"] {
            let sig = SignatureHeader::parse(&format!("keyId=\"x\",headers=\"{headers}\",signature=\"AA==\"")).unwrap();
            assert!(
                matches!(sig.check_strength(true), Err(VerifyError::Weak(_))),
                "{headers}"
            );
        }
        assert_eq!(
            SignatureHeader::from_headers(&HeaderMap::new()),
            Err(VerifyError::Missing)
        );
    }
}
