//! WebFinger (every resource form Mastodon accepts) and host-meta.

use axum::{
    extract::{Query, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::json;

use crate::{error::AppError, http::negotiate::json_as, service, state::AppState};

/// `Content-Type` of WebFinger answers.
pub const JRD: &str = "application/jrd+json; charset=utf-8";

/// The query of a WebFinger request.
#[derive(Deserialize)]
pub struct WebfingerQuery {
    resource: Option<String>,
}

/// Who a resource names.
#[derive(Debug, PartialEq, Eq)]
pub enum Subject {
    /// The instance actor.
    Instance,
    /// An organisation handle.
    Org(String),
}

/// Parses a resource: `acct:h@d`, `h@d`, `@h@d`, the profile or actor URL, or the instance's
/// own URL / `acct:d@d` for the instance actor. `None` if it is not ours or malformed.
pub fn parse_resource(resource: &str, base: &str, authority: &str) -> Option<Subject> {
    let resource = resource.trim();
    if resource.starts_with("https://") || resource.starts_with("http://") {
        let rest = resource.strip_prefix(base)?;
        return match rest {
            "" | "/" | "/actor" => Some(Subject::Instance),
            _ => {
                let handle = rest.strip_prefix("/@").or_else(|| rest.strip_prefix("/orgs/"))?;
                (!handle.is_empty() && !handle.contains('/')).then(|| Subject::Org(handle.to_owned()))
            }
        };
    }
    let acct = resource
        .strip_prefix("acct:")
        .unwrap_or(resource)
        .trim_start_matches('@');
    let (user, domain) = acct.rsplit_once('@')?;
    if !domain.eq_ignore_ascii_case(authority) || user.is_empty() {
        return None;
    }
    if user.eq_ignore_ascii_case(authority) {
        return Some(Subject::Instance);
    }
    Some(Subject::Org(user.to_owned()))
}

fn with_cache(mut response: Response, seconds: u32) -> Response {
    if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={seconds}")) {
        response.headers_mut().insert(header::CACHE_CONTROL, v);
    }
    response
        .headers_mut()
        .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}

/// `GET /.well-known/webfinger?resource=...`
pub async fn webfinger(State(state): State<AppState>, Query(q): Query<WebfingerQuery>) -> Result<Response, AppError> {
    let urls = &state.urls;
    let resource = q
        .resource
        .filter(|r| !r.is_empty())
        .ok_or_else(|| AppError::BadRequest("resource is required".into()))?;
    let subject = parse_resource(&resource, urls.base(), urls.authority());
    let doc = match subject {
        None => {
            return Ok(with_cache(
                (StatusCode::NOT_FOUND, "no such account on this instance").into_response(),
                180,
            ));
        }
        Some(Subject::Instance) => {
            let actor = urls.instance_actor();
            json!({
                "subject": format!("acct:{0}@{0}", urls.authority()),
                "aliases": [actor],
                "links": [
                    {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": format!("{}/", urls.base())},
                    {"rel": "self", "type": "application/activity+json", "href": actor},
                ]
            })
        }
        Some(Subject::Org(handle)) => {
            let org = match service::orgs::find_live_cached(&state, &handle).await {
                Ok(org) => org,
                Err(e @ (service::Error::NotFound(_) | service::Error::Gone(_))) => {
                    let response = AppError::from(e).into_response();
                    return Ok(with_cache(response, 180));
                }
                Err(e) => return Err(e.into()),
            };
            json!({
                "subject": format!("acct:{}@{}", org.handle, urls.authority()),
                "aliases": [urls.profile(&org.handle), urls.org(&org.handle)],
                "links": [
                    {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": urls.profile(&org.handle)},
                    {"rel": "self", "type": "application/activity+json", "href": urls.org(&org.handle)},
                ]
            })
        }
    };
    Ok(with_cache(json_as(JRD, &doc), 3 * 24 * 3600))
}

/// `GET /.well-known/host-meta`: the XRD pointing at WebFinger.
pub async fn host_meta(State(state): State<AppState>) -> Response {
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<XRD xmlns=\"http://docs.oasis-open.org/ns/xri/xrd-1.0\">\n  \
         <Link rel=\"lrdd\" template=\"{}/.well-known/webfinger?resource={{uri}}\"/>\n</XRD>\n",
        state.urls.base()
    );
    let mut response = xml.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xrd+xml; charset=utf-8"),
    );
    with_cache(response, 3 * 24 * 3600)
}

/// `GET /.well-known/host-meta.json`.
pub async fn host_meta_json(State(state): State<AppState>) -> Response {
    let doc = json!({"links": [{"rel": "lrdd", "template": format!("{}/.well-known/webfinger?resource={{uri}}", state.urls.base())}]});
    with_cache(json_as("application/json; charset=utf-8", &doc), 3 * 24 * 3600)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "https://o.example";

    #[test]
    fn accepts_every_resource_form() {
        let org = Some(Subject::Org("acme".into()));
        for r in [
            "acct:acme@o.example",
            "acme@o.example",
            "@acme@o.example",
            "https://o.example/@acme",
            "https://o.example/orgs/acme",
            "acct:acme@O.EXAMPLE",
        ] {
            assert_eq!(parse_resource(r, BASE, "o.example"), org, "{r}");
        }
        for r in [
            "https://o.example/",
            "https://o.example",
            "acct:o.example@o.example",
            "https://o.example/actor",
        ] {
            assert_eq!(parse_resource(r, BASE, "o.example"), Some(Subject::Instance), "{r}");
        }
        for r in [
            "acct:acme@other.example",
            "acme",
            "https://other.example/@acme",
            "acct:@o.example",
            "https://o.example/@a/b",
        ] {
            assert_eq!(parse_resource(r, BASE, "o.example"), None, "{r}");
        }
    }
}
