//! Entry points for the fuzz targets in `fuzz/` (run by `scripts/fuzz`). Each takes arbitrary
//! bytes and runs one parser the way untrusted input reaches it; none may panic, and the
//! sanitiser's output must hold nothing executable. The corpora are replayed by an ordinary test
//! (`tests/app/fuzz_replay.rs`), so every crash found becomes a regression test.

use serde_json::Value;
use url::Url;

use crate::{
    domain::{html, vocab::Vocab},
    federation::{inbox::oversized_array, webfinger::parse_resource},
    httpsig::{SignatureHeader, rfc9421},
    protocol::{actor, id_of, note, profile, type_of},
};

/// An activity or actor document as the inbox and the fetcher read it.
pub fn activity(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(doc) = serde_json::from_str::<Value>(text) else {
        return;
    };
    let _ = oversized_array(&doc, "");
    let _ = (id_of(&doc), type_of(&doc));
    if let Some(id) = id_of(&doc).and_then(|id| Url::parse(id).ok()) {
        let _ = actor::key_document_owner(&doc, &id);
        let _ = actor::parse_remote_actor(&doc, &id, 0);
        for key in actor::listed_keys(&doc, id.as_str()) {
            let _ = actor::parse_remote_actor_keyed(&doc, &id, 0, actor::KeyChoice::Exactly(&key.id));
        }
    }
    let _ = profile::parse_remote(&doc, vocab());
    let object = doc.get("object").unwrap_or(&doc);
    let _ = note::remote_attachments(object);
    if let Some(content) = object.get("content").and_then(Value::as_str) {
        let _ = html::sanitize(content);
    }
}

fn vocab() -> &'static Vocab {
    static VOCAB: std::sync::OnceLock<Vocab> = std::sync::OnceLock::new();
    VOCAB.get_or_init(Vocab::builtin)
}

/// A `Signature` header value (draft-cavage); read also as RFC 9421 `Signature-Input` (the
/// first line) and `Signature` (the rest), and as a FEP-521a `publicKeyMultibase`.
pub fn signature_header(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(header) = SignatureHeader::parse(text) {
        let _ = header.check_strength(true);
    }
    let (input, signature) = text.split_once('\n').unwrap_or((text, "sig1=:AAAA:"));
    let mut headers = http::HeaderMap::new();
    if let (Ok(i), Ok(s)) = (input.parse(), signature.parse()) {
        headers.insert("signature-input", i);
        headers.insert("signature", s);
        if let Ok(sig) = rfc9421::MessageSignature::from_headers(&headers) {
            let _ = sig.check_strength(true);
            let parts = rfc9421::MessageParts {
                method: "POST",
                scheme: "https",
                authority: "example.org",
                path: "/inbox",
                query: Some("a=b"),
                headers: &headers,
            };
            let _ = sig.signature_base(&parts);
        }
        let _ = rfc9421::check_content_digest(&headers, data);
    }
    let _ = crate::httpsig::keys::rsa_pem_from_multibase(text);
}

/// A WebFinger `resource` parameter.
pub fn webfinger_resource(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_resource(text, "https://example.org", "example.org");
        let _ = parse_resource(text, "http://localhost:8080", "localhost:8080");
    }
}

/// Remote HTML through the sanitiser: every tag left must be an allowed element with only
/// `href` (http or https), `class` or `rel` attributes, and sanitising again must change nothing.
/// Text is not checked: the output escapes `<` in text, so words such as "onerror" there are
/// harmless (the fuzzer's second finding, kept in fuzz/regressions/sanitize/ with the others).
pub fn sanitize(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let clean = html::sanitize(&text);
    for tag in clean.split('<').skip(1) {
        let inner = tag.split('>').next().unwrap_or("");
        if let Err(why) = allowed_tag(inner) {
            panic!("sanitised HTML holds <{inner}>: {why}\n{clean}");
        }
    }
    assert_eq!(html::sanitize(&clean), clean, "sanitising is not idempotent");
    // A plain name is text (escaped wherever it is shown): a bare `<` in it is a character, as
    // in "A < B". The fuzzer's first finding was a wrong assertion that said otherwise.
    let name = html::plain_name(&text);
    assert!(
        name.chars().count() <= html::MAX_REMOTE_NAME && !name.chars().any(char::is_control),
        "a plain name is too long or holds control characters: {name:?}"
    );
}

fn allowed_tag(inner: &str) -> Result<(), String> {
    let inner = inner.trim_end_matches('/');
    let (name, mut rest) = inner.split_once(' ').unwrap_or((inner, ""));
    let name = name.trim_start_matches('/');
    if !html::ALLOWED_TAGS.contains(&name) {
        return Err(format!("element {name:?}"));
    }
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return Ok(());
        }
        let (attr, after) = rest.split_once("=\"").ok_or("attribute without a quoted value")?;
        let (value, after) = after.split_once('"').ok_or("unterminated attribute")?;
        match attr {
            "href" => {
                // Read it as a browser does: entities decoded, then the WHATWG URL parser
                // (which drops tabs and newlines and accepts `https:host`).
                let decoded = value
                    .replace("&quot;", "\"")
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&nbsp;", "\u{a0}")
                    .replace("&amp;", "&");
                match Url::parse(&decoded) {
                    Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                    _ => return Err(format!("href {value:?}")),
                }
            }
            "class" | "rel" => {}
            other => return Err(format!("attribute {other:?}")),
        }
        rest = after;
    }
}
