//! NodeInfo 2.0/2.1 and the Mastodon-style instance API that crawlers and GoToSocial read.

use axum::{extract::State, response::Response};
use serde_json::{Value, json};

use crate::{error::AppError, http::negotiate::json_as, service, state::AppState, store};

const JSON: &str = "application/json; charset=utf-8";
/// The software name peers see (NodeInfo `software.name`; peering looks for it).
pub const SOFTWARE: &str = "understory";

/// `GET /.well-known/nodeinfo`: 2.0 first, then 2.1 (GoToSocial takes the first).
pub async fn discovery(State(state): State<AppState>) -> Response {
    let base = state.urls.base();
    json_as(
        JSON,
        &json!({"links": [
            {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.0", "href": format!("{base}/nodeinfo/2.0")},
            {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.1", "href": format!("{base}/nodeinfo/2.1")},
        ]}),
    )
}

async fn nodeinfo(state: &AppState, version: &str) -> Result<Value, AppError> {
    let orgs = store::orgs::count(&state.db).await.map_err(service::Error::from)?;
    let posts = store::posts::count(&state.db, None)
        .await
        .map_err(service::Error::from)?;
    let mut software = json!({"name": SOFTWARE, "version": env!("CARGO_PKG_VERSION")});
    if version == "2.1" {
        software["repository"] = json!(env!("CARGO_PKG_REPOSITORY"));
    }
    Ok(json!({
        "version": version,
        "software": software,
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": ["atom1.0"]},
        "openRegistrations": false,
        "usage": {"users": {"total": orgs, "activeMonth": orgs, "activeHalfyear": orgs}, "localPosts": posts},
        "metadata": {
            "nodeName": state.urls.authority(),
            "nodeDescription": "An Understory instance: expertise profiles of civil-society organisations.",
            "federation": {"enabled": true},
        },
    }))
}

/// `GET /nodeinfo/2.0` (plain `application/json`, which GoToSocial requires).
pub async fn nodeinfo_20(State(state): State<AppState>) -> Result<Response, AppError> {
    Ok(json_as(JSON, &nodeinfo(&state, "2.0").await?))
}

/// `GET /nodeinfo/2.1`.
pub async fn nodeinfo_21(State(state): State<AppState>) -> Result<Response, AppError> {
    Ok(json_as(JSON, &nodeinfo(&state, "2.1").await?))
}

async fn stats(state: &AppState) -> Result<(i64, i64, i64), AppError> {
    let orgs = store::orgs::count(&state.db).await.map_err(service::Error::from)?;
    let posts = store::posts::count(&state.db, None)
        .await
        .map_err(service::Error::from)?;
    let domains = store::actors::known_domains(&state.db)
        .await
        .map_err(service::Error::from)?
        .len();
    Ok((orgs, posts, i64::try_from(domains).unwrap_or(i64::MAX)))
}

/// `GET /api/v1/instance` (Mastodon's V1 Instance entity).
pub async fn instance_v1(State(state): State<AppState>) -> Result<Response, AppError> {
    let (orgs, posts, domains) = stats(&state).await?;
    let domain = state.urls.authority();
    Ok(json_as(
        JSON,
        &json!({
            "uri": domain,
            "title": domain,
            "short_description": "Expertise profiles of civil-society organisations.",
            "description": "An Understory instance: charities, NGOs and community groups publish what they know and how partners can ask them.",
            "email": "",
            "version": format!("4.0.0 (compatible; Understory {})", env!("CARGO_PKG_VERSION")),
            "urls": {},
            "stats": {"user_count": orgs, "status_count": posts, "domain_count": domains},
            "thumbnail": null,
            "languages": ["en"],
            "registrations": false,
            "approval_required": true,
            "invites_enabled": false,
            "contact_account": null,
            "rules": [],
        }),
    ))
}

/// `GET /api/v2/instance` (Mastodon's Instance entity).
pub async fn instance_v2(State(state): State<AppState>) -> Result<Response, AppError> {
    let (orgs, _, _) = stats(&state).await?;
    let domain = state.urls.authority();
    Ok(json_as(
        JSON,
        &json!({
            "domain": domain,
            "title": domain,
            "version": format!("4.0.0 (compatible; Understory {})", env!("CARGO_PKG_VERSION")),
            "source_url": env!("CARGO_PKG_REPOSITORY"),
            "description": "Expertise profiles of civil-society organisations.",
            "usage": {"users": {"active_month": orgs}},
            "thumbnail": {"url": null},
            "languages": ["en"],
            "configuration": {"urls": {}, "accounts": {"max_featured_tags": 10}, "statuses": {"max_characters": crate::domain::text::MAX_UPDATE_CHARS, "max_media_attachments": 4}},
            "registrations": {"enabled": false, "approval_required": true, "message": null},
            "contact": {"email": "", "account": null},
            "rules": [],
        }),
    ))
}

/// `GET /api/v1/instance/peers`: domains we have met (Mastodon's meaning; never used for peering).
pub async fn peers(State(state): State<AppState>) -> Result<Response, AppError> {
    let domains = store::actors::known_domains(&state.db)
        .await
        .map_err(service::Error::from)?;
    Ok(json_as(JSON, &json!(domains)))
}
