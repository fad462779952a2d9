//! RFC 9421 HTTP Message Signatures on incoming requests, beside draft-cavage (Mastodon 4.5+
//! accepts them, Mastodon 4.7 and Fedify send them after a 401 to cavage). The same rules as
//! cavage: the key's owner must be the actor, `created` within the clock window, `expires` not
//! past, and a POST covers its body through `Content-Digest` (RFC 9530). We still sign our own
//! requests with draft-cavage, which every server accepts (docs/FEDERATION.md).

use aws_lc_rs::digest;
use base64::{Engine, engine::general_purpose::STANDARD};
use http::HeaderMap;

use super::{PublicKey, VerifyError, verify::MAX_CLOCK_SKEW_MS};

/// Longest `Signature-Input` or `Signature` header we parse.
const MAX_HEADER_LEN: usize = 8 * 1024;

/// One signature of a request: its covered components and parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageSignature {
    /// The label (`sig1`).
    pub label: String,
    /// Covered component names, in order (`@method`, `content-digest`, ...).
    pub components: Vec<String>,
    /// `keyid`.
    pub key_id: String,
    /// `alg`, if given.
    pub alg: Option<String>,
    /// `created`, Unix seconds.
    pub created: Option<i64>,
    /// `expires`, Unix seconds.
    pub expires: Option<i64>,
    /// The signature bytes.
    pub signature: Vec<u8>,
    /// The inner list and parameters exactly as sent: the value of `@signature-params`.
    params_text: String,
}

/// The request an RFC 9421 signature is checked against.
pub struct MessageParts<'a> {
    /// Method, any case.
    pub method: &'a str,
    /// `https` or `http`: the scheme of our public URL.
    pub scheme: &'a str,
    /// `host[:port]` of our public URL (the request's authority behind a proxy).
    pub authority: &'a str,
    /// Path.
    pub path: &'a str,
    /// Query without `?`, if any.
    pub query: Option<&'a str>,
    /// Request headers.
    pub headers: &'a HeaderMap,
}

/// Whether a request carries an RFC 9421 signature (a `Signature-Input` header).
pub fn is_present(headers: &HeaderMap) -> bool {
    headers.contains_key("signature-input")
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Result<&'h str, VerifyError> {
    let v = headers
        .get(name)
        .ok_or(VerifyError::Missing)?
        .to_str()
        .map_err(|_| VerifyError::Malformed("not ASCII"))?;
    if v.len() > MAX_HEADER_LEN {
        return Err(VerifyError::Malformed("too long"));
    }
    Ok(v)
}

/// Splits a structured-field dictionary into `(key, raw value)` members, respecting quotes,
/// byte sequences (`:...:`) and parentheses.
fn members(text: &str) -> Result<Vec<(String, String)>, VerifyError> {
    let mut out = Vec::new();
    let (mut depth, mut quoted, mut bytes, mut start) = (0i32, false, false, 0usize);
    let mut escaped = false;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let push = |from: usize, to: usize, out: &mut Vec<(String, String)>| -> Result<(), VerifyError> {
        let part = text[from..to].trim();
        if part.is_empty() {
            return Ok(());
        }
        let (k, v) = part.split_once('=').ok_or(VerifyError::Malformed("member without ="))?;
        out.push((k.trim().to_owned(), v.trim().to_owned()));
        Ok(())
    };
    for &(i, c) in &chars {
        if quoted {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => quoted = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            ':' if depth == 0 => bytes = !bytes,
            '(' if !bytes => depth += 1,
            ')' if !bytes => depth -= 1,
            ',' if depth == 0 && !bytes => {
                push(start, i, &mut out)?;
                start = i + 1;
            }
            _ => {}
        }
    }
    if quoted || depth != 0 || bytes {
        return Err(VerifyError::Malformed("unbalanced structured field"));
    }
    push(start, text.len(), &mut out)?;
    Ok(out)
}

/// Parses a structured-field string (`"..."`) at the start of `s`; returns it and the rest.
fn sf_string(s: &str) -> Result<(String, &str), VerifyError> {
    let body = s.strip_prefix('"').ok_or(VerifyError::Malformed("expected a string"))?;
    let mut out = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => out.push(chars.next().ok_or(VerifyError::Malformed("bad escape"))?.1),
            '"' => return Ok((out, &body[i + 1..])),
            _ => out.push(c),
        }
    }
    Err(VerifyError::Malformed("unterminated string"))
}

impl MessageSignature {
    /// The first signature of the request whose label appears in both `Signature-Input` and
    /// `Signature`.
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, VerifyError> {
        let inputs = members(header(headers, "signature-input")?)?;
        let signatures = members(header(headers, "signature")?)?;
        let (label, input) = inputs.first().ok_or(VerifyError::Malformed("empty Signature-Input"))?;
        let raw_sig = signatures
            .iter()
            .find(|(l, _)| l == label)
            .map(|(_, v)| v)
            .ok_or(VerifyError::Malformed("no Signature for the Signature-Input label"))?;
        let b64 = raw_sig
            .strip_prefix(':')
            .and_then(|s| s.strip_suffix(':'))
            .ok_or(VerifyError::Malformed("signature is not a byte sequence"))?;
        let signature = STANDARD
            .decode(b64)
            .map_err(|_| VerifyError::Malformed("signature is not base64"))?;
        Self::parse_input(label, input, signature)
    }

    fn parse_input(label: &str, input: &str, signature: Vec<u8>) -> Result<Self, VerifyError> {
        let mut rest = input
            .strip_prefix('(')
            .ok_or(VerifyError::Malformed("Signature-Input is not an inner list"))?;
        let mut components = Vec::new();
        loop {
            rest = rest.trim_start();
            if let Some(r) = rest.strip_prefix(')') {
                rest = r;
                break;
            }
            let (name, r) = sf_string(rest)?;
            if r.starts_with(';') {
                return Err(VerifyError::Malformed("component parameters are not supported"));
            }
            components.push(name.to_ascii_lowercase());
            rest = r;
        }
        let (mut key_id, mut alg, mut created, mut expires) = (None, None, None, None);
        while let Some(r) = rest.strip_prefix(';') {
            let eq = r.find('=').ok_or(VerifyError::Malformed("parameter without ="))?;
            let name = r[..eq].trim();
            let value_text = &r[eq + 1..];
            let (value, r) = if value_text.starts_with('"') {
                sf_string(value_text)?
            } else {
                let end = value_text.find(';').unwrap_or(value_text.len());
                (value_text[..end].trim().to_owned(), &value_text[end..])
            };
            let number = |v: &str| v.parse::<i64>().map_err(|_| VerifyError::Malformed("bad number"));
            match name {
                "keyid" => key_id = Some(value),
                "alg" => alg = Some(value.to_ascii_lowercase()),
                "created" => created = Some(number(&value)?),
                "expires" => expires = Some(number(&value)?),
                _ => {}
            }
            rest = r;
        }
        if !rest.trim().is_empty() {
            return Err(VerifyError::Malformed("trailing text in Signature-Input"));
        }
        if let Some(alg) = &alg
            && alg != "rsa-v1_5-sha256"
            && alg != "rsa-pss-sha512"
        {
            return Err(VerifyError::Algorithm(alg.clone()));
        }
        Ok(Self {
            label: label.to_owned(),
            components,
            key_id: key_id
                .filter(|k| !k.is_empty())
                .ok_or(VerifyError::Malformed("no keyid"))?,
            alg,
            created,
            expires,
            signature,
            params_text: input.to_owned(),
        })
    }

    fn covers(&self, name: &str) -> bool {
        self.components.iter().any(|c| c == name)
    }

    /// Mastodon's rules for RFC 9421: `created` is required, the method and the target are
    /// covered (`@target-uri`, or `@authority` with `@path`/`@request-target`), and a POST
    /// covers `content-digest`.
    pub fn check_strength(&self, is_post: bool) -> Result<(), VerifyError> {
        if self.created.is_none() {
            return Err(VerifyError::Weak("created"));
        }
        if !self.covers("@method") {
            return Err(VerifyError::Weak("@method"));
        }
        let target = self.covers("@target-uri")
            || (self.covers("@authority") && (self.covers("@path") || self.covers("@request-target")));
        if !target {
            return Err(VerifyError::Weak("@target-uri"));
        }
        if is_post && !self.covers("content-digest") {
            return Err(VerifyError::Weak("content-digest"));
        }
        Ok(())
    }

    /// `created` within [`MAX_CLOCK_SKEW_MS`] of `now_ms`, and `expires` not past.
    pub fn check_freshness(&self, now_ms: i64) -> Result<(), VerifyError> {
        if let Some(created) = self.created
            && (created * 1000 - now_ms).abs() > MAX_CLOCK_SKEW_MS
        {
            return Err(VerifyError::Stale("created is more than an hour away"));
        }
        if let Some(expires) = self.expires
            && expires * 1000 < now_ms
        {
            return Err(VerifyError::Stale("signature expired"));
        }
        Ok(())
    }

    /// The signature base (RFC 9421 section 2.5).
    pub fn signature_base(&self, parts: &MessageParts<'_>) -> Result<String, VerifyError> {
        let mut lines = Vec::with_capacity(self.components.len() + 1);
        let query = parts.query.map(|q| format!("?{q}"));
        for name in &self.components {
            let value = match name.as_str() {
                "@method" => parts.method.to_ascii_uppercase(),
                "@target-uri" => format!(
                    "{}://{}{}{}",
                    parts.scheme,
                    parts.authority,
                    parts.path,
                    query.as_deref().unwrap_or("")
                ),
                "@authority" => parts.authority.to_ascii_lowercase(),
                "@scheme" => parts.scheme.to_owned(),
                "@request-target" => format!("{}{}", parts.path, query.as_deref().unwrap_or("")),
                "@path" => parts.path.to_owned(),
                "@query" => query.clone().unwrap_or_else(|| "?".into()),
                n if n.starts_with('@') => return Err(VerifyError::Malformed("unsupported derived component")),
                n => {
                    let values: Vec<&str> = parts
                        .headers
                        .get_all(n)
                        .iter()
                        .filter_map(|v| v.to_str().ok())
                        .map(str::trim)
                        .collect();
                    if values.is_empty() {
                        return Err(VerifyError::MissingHeader(n.to_owned()));
                    }
                    values.join(", ")
                }
            };
            lines.push(format!("\"{name}\": {value}"));
        }
        lines.push(format!("\"@signature-params\": {}", self.params_text));
        Ok(lines.join("\n"))
    }

    /// Checks the signature with `key` (`rsa-v1_5-sha256`, or `rsa-pss-sha512`; either when
    /// `alg` is not given).
    pub fn verify(&self, parts: &MessageParts<'_>, key: &PublicKey) -> Result<(), VerifyError> {
        let base = self.signature_base(parts)?;
        let ok = match self.alg.as_deref() {
            Some("rsa-pss-sha512") => key.verify_pss_sha512(base.as_bytes(), &self.signature),
            Some(_) => key.verify(base.as_bytes(), &self.signature),
            None => {
                key.verify(base.as_bytes(), &self.signature) || key.verify_pss_sha512(base.as_bytes(), &self.signature)
            }
        };
        if ok { Ok(()) } else { Err(VerifyError::Invalid) }
    }
}

/// Checks `Content-Digest` (RFC 9530: `sha-256=:...:` or `sha-512=:...:`) against the body.
pub fn check_content_digest(headers: &HeaderMap, body: &[u8]) -> Result<(), VerifyError> {
    let raw = header(headers, "content-digest").map_err(|_| VerifyError::MissingHeader("content-digest".into()))?;
    let mut known = false;
    for (alg, value) in members(raw)? {
        let algorithm = match alg.to_ascii_lowercase().as_str() {
            "sha-256" => &digest::SHA256,
            "sha-512" => &digest::SHA512,
            _ => continue,
        };
        known = true;
        let expected = format!(":{}:", STANDARD.encode(digest::digest(algorithm, body)));
        if value != expected {
            return Err(VerifyError::Digest);
        }
    }
    if known { Ok(()) } else { Err(VerifyError::Digest) }
}

/// Signs a request the RFC 9421 way (`rsa-v1_5-sha256`), as Mastodon 4.7 and Fedify do: for
/// tests and tools that play such a peer. Returns the `Signature-Input` and `Signature` values.
pub fn sign(
    key: &super::KeyPair,
    key_id: &str,
    components: &[&str],
    parts: &MessageParts<'_>,
    created: i64,
) -> Result<(String, String), VerifyError> {
    let list = components
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(" ");
    let params_text = format!("({list});created={created};keyid=\"{key_id}\";alg=\"rsa-v1_5-sha256\"");
    let unsigned = MessageSignature::draft(components, key_id, created, params_text.clone());
    let base = unsigned.signature_base(parts)?;
    let signature = key.sign(base.as_bytes()).map_err(|_| VerifyError::Invalid)?;
    Ok((
        format!("sig1={params_text}"),
        format!("sig1=:{}:", STANDARD.encode(signature)),
    ))
}

impl MessageSignature {
    fn draft(components: &[&str], key_id: &str, created: i64, params_text: String) -> Self {
        Self {
            label: "sig1".into(),
            components: components.iter().map(|c| (*c).to_owned()).collect(),
            key_id: key_id.to_owned(),
            alg: Some("rsa-v1_5-sha256".into()),
            created: Some(created),
            expires: None,
            signature: Vec::new(),
            params_text,
        }
    }
}

/// The `Content-Digest` value of a body: `sha-256=:<base64>:`.
pub fn content_digest(body: &[u8]) -> String {
    format!("sha-256=:{}:", STANDARD.encode(digest::digest(&digest::SHA256, body)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::httpsig::KeyPair;
    use crate::httpsig::headers_of;

    fn inbox(headers: &HeaderMap) -> MessageParts<'_> {
        MessageParts {
            method: "POST",
            scheme: "https",
            authority: "b.test",
            path: "/inbox",
            query: None,
            headers,
        }
    }

    #[test]
    fn a_signed_post_verifies_and_tampering_is_refused() {
        let key = KeyPair::generate().unwrap();
        let body = br#"{"type":"Follow"}"#;
        let mut headers = headers_of(&[("content-digest", content_digest(body))]);
        let (input, sig) = {
            let parts = inbox(&headers);
            let components = ["@method", "@target-uri", "content-digest"];
            sign(
                &key,
                "https://a.test/users/x#main-key",
                &components,
                &parts,
                1_800_000_000,
            )
            .unwrap()
        };
        headers.insert("signature-input", input.parse().unwrap());
        headers.insert("signature", sig.parse().unwrap());
        let parsed = MessageSignature::from_headers(&headers).unwrap();
        assert_eq!(parsed.key_id, "https://a.test/users/x#main-key");
        parsed.check_strength(true).unwrap();
        parsed.check_freshness(1_800_000_000_000).unwrap();
        check_content_digest(&headers, body).unwrap();
        assert_eq!(check_content_digest(&headers, b"{}"), Err(VerifyError::Digest));
        let public = PublicKey::from_pem(key.public_pem()).unwrap();
        let parts = inbox(&headers);
        parsed.verify(&parts, &public).unwrap();
        let elsewhere = MessageParts {
            path: "/orgs/x/inbox",
            ..parts
        };
        assert_eq!(parsed.verify(&elsewhere, &public), Err(VerifyError::Invalid));
        assert!(matches!(
            parsed.check_freshness(1_800_000_000_000 + 2 * MAX_CLOCK_SKEW_MS),
            Err(VerifyError::Stale(_))
        ));
    }

    #[test]
    fn parses_the_rfc_examples_and_refuses_weak_or_malformed_inputs() {
        let headers = headers_of(&[
            (
                "signature-input",
                "sig-b21=();created=1618884473;keyid=\"test-key-rsa-pss\";nonce=\"b3k2pp5k7z-50gnwp.yemd\"".into(),
            ),
            ("signature", "sig-b21=:d2pmTvmbncD3xQm8E9ZV2828BjQWGgiwAaw5bAkgibUopemLJcWDy/lkbbHAve4cRAtx31Iq786U7it++wgGxbtRxf8Udx7zFZsckzXaJMkA7ChG52eSkFxykJeNqsrWH5S+oxNFlD4dzVuwe8DhTSja8xxbR/Z2cOGdCbzR72rgFWhzx2VjBqJzsPLMIQKhO4DGezXehhWwE56YCE+O6c0mKZsfxVrogUvA4HELjVKWmAvtl6UnCh8jYzuVG5WSb/QEVPnP5TmcAnLH1g+s++v6d4s8m0gCw1fV5/SITLq9mhho8K3+7EPYTU8IU1bLhdxO5Nyt8C8ssinQ98Xw9Q==:".into()),
        ]);
        let sig = MessageSignature::from_headers(&headers).unwrap();
        assert_eq!((sig.label.as_str(), sig.created), ("sig-b21", Some(1_618_884_473)));
        assert_eq!(sig.check_strength(false), Err(VerifyError::Weak("@method")));
        let bad = |input: &str| {
            let h = headers_of(&[("signature-input", input.into()), ("signature", "s=:AAAA:".into())]);
            MessageSignature::from_headers(&h)
        };
        assert!(bad("s=(\"@method\";created=1").is_err());
        assert!(bad("s=(\"@method\");created=x;keyid=\"k\"").is_err());
        assert!(matches!(
            bad("s=(\"@method\");created=1;keyid=\"k\";alg=\"ed25519\""),
            Err(VerifyError::Algorithm(_))
        ));
        assert!(bad("s=(\"@method\");created=1").is_err(), "no keyid");
        assert!(
            bad("t=(\"@method\");created=1;keyid=\"k\"").is_err(),
            "no Signature for the label"
        );
    }
}
