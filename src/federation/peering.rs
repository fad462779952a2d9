//! `/actor/directory`: this instance's listed organisations, for accepted peers only (they
//! sign their GETs); and the public list of directory peers.

use axum::{
    Json,
    extract::{OriginalUri, Query, State},
    http::{HeaderMap, Method, StatusCode},
    response::Response,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::signature;
use crate::{error::AppError, http::negotiate::activity_json, service, state::AppState, store};

/// `?after=<changed_at>.<id>`.
#[derive(Deserialize)]
pub struct PageQuery {
    after: Option<String>,
}

/// `GET /actor/directory`: 401 unsigned, 403 for anyone but an accepted peer.
pub async fn directory(
    State(state): State<AppState>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Result<Response, AppError> {
    let sig = signature::precheck(&state, &headers, None).await?;
    let signer = signature::verify(&state, &sig, &method, &uri, &headers).await?;
    let peer = store::peers::find_by_actor(&state.db, &signer.ap_id)
        .await
        .map_err(service::Error::from)?;
    if peer.is_none_or(|p| p.incoming != "accepted") {
        return Err(service::Error::Forbidden("the directory is served to accepted peers only".into()).into());
    }
    let (ms, id) = match q.after.as_deref() {
        None => (0, 0),
        Some(raw) => raw
            .split_once('.')
            .and_then(|(m, i)| Some((m.parse().ok()?, i.parse().ok()?)))
            .ok_or_else(|| AppError::BadRequest("after: expected <ms>.<id>".into()))?,
    };
    Ok(activity_json(
        StatusCode::OK,
        &service::peering::collection_page(&state, ms, id).await?,
    ))
}

/// `GET /api/understory/v1/peers`: the accepted directory peers (domains only).
pub async fn list(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    let peers = store::peers::list(&state.db).await.map_err(service::Error::from)?;
    let accepted: Vec<Value> = peers
        .into_iter()
        .filter(|p| p.outgoing == "accepted" || p.incoming == "accepted")
        .map(|p| json!({"domain": p.domain}))
        .collect();
    Ok(Json(json!(accepted)))
}
