//! The public directory API (no key), and Mastodon's `/api/v1/directory` for crawlers.

use axum::{
    Json,
    extract::{RawQuery, State},
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    clock::rfc3339,
    error::AppError,
    protocol::profile,
    service::{self, directory},
    state::AppState,
    store,
};

/// `GET /api/understory/v1/directory?q=&theme=&place=&kind=&way=&offer=&language=&community=&instance=&cursor=&limit=&counts=`
pub async fn search(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Result<Response, AppError> {
    let query = directory::parse_query(raw.as_deref()).map_err(AppError::BadRequest)?;
    let page = directory::search(&state, &query).await?;
    let mut response = Json(directory::page_json(&state, &page)).into_response();
    response
        .headers_mut()
        .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    Ok(response)
}

/// Mastodon's directory parameters.
#[derive(Deserialize)]
pub struct MastodonQuery {
    offset: Option<i64>,
    limit: Option<i64>,
    order: Option<String>,
    // `local` is accepted and needs no handling: only local organisations are listed here.
}

/// `GET /api/v1/directory`: discoverable local organisations as Mastodon Account entities.
pub async fn mastodon(
    State(state): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<MastodonQuery>,
) -> Result<Json<Value>, AppError> {
    let limit = q.limit.unwrap_or(40).clamp(1, 80) as usize;
    let offset = q.offset.unwrap_or(0).max(0) as usize;
    if let Some(order) = q.order.as_deref().filter(|o| *o != "active" && *o != "new") {
        return Err(AppError::BadRequest(format!("order: {order:?} must be active or new")));
    }
    let mut orgs: Vec<_> = store::orgs::list(&state.db)
        .await
        .map_err(service::Error::from)?
        .into_iter()
        .filter(|o| o.discoverable)
        .collect();
    orgs.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then(b.id.cmp(&a.id)));
    if q.order.as_deref() == Some("new") {
        orgs.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    }
    let mut accounts = Vec::new();
    for org in orgs.into_iter().skip(offset).take(limit) {
        let p = org.profile();
        let followers = store::follows::follower_count(&state.db, org.id)
            .await
            .map_err(service::Error::from)?;
        let following = store::follows::following_count(&state.db, org.id)
            .await
            .map_err(service::Error::from)?;
        let statuses = store::posts::count(&state.db, Some(org.id))
            .await
            .map_err(service::Error::from)?;
        let fields: Vec<Value> = profile::fields(&state.urls, &p, &state.vocab)
            .into_iter()
            .map(|f| json!({"name": f["name"], "value": f["value"], "verified_at": null}))
            .collect();
        accounts.push(json!({
            "id": org.id.to_string(), "username": org.handle, "acct": org.handle,
            "display_name": org.name, "locked": org.manually_approves_followers, "bot": false,
            "discoverable": true, "indexable": org.indexable, "group": false,
            "created_at": rfc3339(org.created_at), "note": profile::bio(&state.urls, &org.summary, &p),
            "url": state.urls.profile(&org.handle), "uri": state.urls.org(&org.handle),
            "avatar": format!("{}/static/avatar.png", state.urls.base()), "avatar_static": format!("{}/static/avatar.png", state.urls.base()),
            "header": format!("{}/static/header.png", state.urls.base()), "header_static": format!("{}/static/header.png", state.urls.base()),
            "followers_count": followers, "following_count": following, "statuses_count": statuses,
            "last_status_at": null, "emojis": [], "fields": fields,
        }));
    }
    Ok(Json(json!(accounts)))
}
