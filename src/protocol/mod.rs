//! ActivityPub documents: building what we publish and parsing what peers send.
//!
//! Documents are `serde_json::Value`s built field by field so that what peers see is explicit
//! and covered by snapshot tests.

pub mod activities;
pub mod actor;
pub mod collections;
pub mod note;
pub mod profile;
pub mod urls;

use serde_json::{Value, json};

pub use urls::Urls;

/// The ActivityStreams namespace; Mastodon refuses documents whose context lacks it.
pub const AS_CONTEXT: &str = "https://www.w3.org/ns/activitystreams";
/// The public collection.
pub const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";
/// Content type of every ActivityPub document we serve.
pub const ACTIVITY_JSON: &str = "application/activity+json; charset=utf-8";

/// The `@context` of actors and notes: Mastodon's own term definitions, copied exactly
/// (reference/fediverse-interop.md section 2.3).
pub fn context() -> Value {
    json!([
        AS_CONTEXT,
        "https://w3id.org/security/v1",
        {
            "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
            "sensitive": "as:sensitive",
            "Hashtag": "as:Hashtag",
            "alsoKnownAs": {"@id": "as:alsoKnownAs", "@type": "@id"},
            "movedTo": {"@id": "as:movedTo", "@type": "@id"},
            "toot": "http://joinmastodon.org/ns#",
            "featured": {"@id": "toot:featured", "@type": "@id"},
            "featuredTags": {"@id": "toot:featuredTags", "@type": "@id"},
            "discoverable": "toot:discoverable",
            "indexable": "toot:indexable",
            "attributionDomains": {"@id": "toot:attributionDomains", "@container": "@set"},
            "schema": "http://schema.org#",
            "PropertyValue": "schema:PropertyValue",
            "value": "schema:value"
        }
    ])
}

/// The `id` of a JSON object, or the string itself when the value is a bare id.
pub fn id_of(value: &Value) -> Option<&str> {
    match value {
        Value::String(s) => Some(s),
        Value::Object(map) => map.get("id").and_then(Value::as_str),
        _ => None,
    }
}

/// The first `type` of an object (`type` may be an array; Misskey reads the first).
pub fn type_of(value: &Value) -> Option<&str> {
    match value.get("type")? {
        Value::String(s) => Some(s),
        Value::Array(items) => items.first().and_then(Value::as_str),
        _ => None,
    }
}

/// The values of a property that may hold one value or an array (`tag`, `attachment`, `to`):
/// GoToSocial and Pixelfed send a single `Mention` as an object, not an array of one.
pub fn items(value: Option<&Value>) -> Vec<&Value> {
    match value {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(Value::Null) | None => Vec::new(),
        Some(one) => vec![one],
    }
}

/// A remote URL we may store and show: `https` (or `http` when `allow_http`, in local-test mode),
/// with a host and no credentials, in its normalised form. Ids with spaces, other schemes
/// (`javascript://host/...`) and relative references are refused.
pub fn web_url(raw: &str, allow_http: bool) -> Option<url::Url> {
    if raw.len() > 2048
        || raw
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '<' | '>'))
    {
        return None;
    }
    let url = url::Url::parse(raw).ok()?;
    let scheme_ok = url.scheme() == "https" || (allow_http && url.scheme() == "http");
    (scheme_ok
        && url.host_str().is_some_and(|h| !h.is_empty())
        && url.username().is_empty()
        && url.password().is_none())
    .then_some(url)
}
