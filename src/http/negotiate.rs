//! ActivityPub JSON or HTML from the same URL, chosen by `Accept` (with `Vary: Accept`).

use axum::{
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::Value;

use crate::protocol::ACTIVITY_JSON;

/// Whether the client asked for ActivityPub JSON (`application/activity+json` or
/// `application/ld+json`, with or without a profile).
pub fn wants_activity_json(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|part| part.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .any(|m| m == "application/activity+json" || m == "application/ld+json")
}

/// An ActivityPub document with the right content type, `Vary: Accept` and open CORS.
pub fn activity_json(status: StatusCode, doc: &Value) -> Response {
    activity_json_bytes(status, serde_json::to_vec(doc).unwrap_or_default())
}

/// An already serialised ActivityStreams document, with the same headers as [`activity_json`].
pub fn activity_json_bytes(status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ACTIVITY_JSON));
    h.insert(header::VARY, HeaderValue::from_static("Accept"));
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}

/// Plain JSON with a given content type and open CORS (WebFinger, NodeInfo, instance API).
pub fn json_as(content_type: &'static str, doc: &Value) -> Response {
    let body = serde_json::to_vec(doc).unwrap_or_default();
    let mut response = (StatusCode::OK, body).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_activitypub_accept_headers() {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static(
                "application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\", text/html;q=0.1",
            ),
        );
        assert!(wants_activity_json(&h));
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/html,application/xhtml+xml"),
        );
        assert!(!wants_activity_json(&h));
    }
}
