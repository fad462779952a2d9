//! The inbox (shared, per-organisation and the instance actor's). We verify signatures
//! ourselves: strength, freshness both ways, the digest, then RSA with one key refetch.

use axum::{
    body::Bytes,
    extract::{OriginalUri, State},
    http::{HeaderMap, Method, StatusCode},
};
use serde_json::Value;

use super::signature;
use crate::{
    error::AppError,
    protocol::{id_of, type_of},
    service,
    state::AppState,
};

/// `POST /inbox`, `/actor/inbox`, `/orgs/{handle}/inbox`. Answers 202 when accepted (also for a
/// replay, which is not processed again), 401 for signature failures, 4xx with a reason for
/// bad activities, and 413 above 1 MiB (the body limit layer).
pub async fn receive(
    State(state): State<AppState>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, AppError> {
    let sig = signature::precheck(&state, &headers, Some(&body)).await?;
    let text = std::str::from_utf8(&body).map_err(|_| AppError::BadRequest("body is not UTF-8".into()))?;
    let activity: Value =
        serde_json::from_str(text).map_err(|e| AppError::BadRequest(format!("body is not JSON: {e}")))?;
    if !activity.is_object() {
        return Err(AppError::BadRequest("activity must be a JSON object".into()));
    }
    if let Some(path) = oversized_array(&activity, "") {
        return Err(AppError::BadRequest(format!(
            "{path} has more than {MAX_ARRAY_ITEMS} items"
        )));
    }
    if is_delete_of_unknown_actor(&state, &activity).await? {
        // The actor is gone and cannot be fetched to verify; nothing of it is stored anyway.
        return Ok(StatusCode::ACCEPTED);
    }
    let signer = signature::verify(&state, &sig, &method, &uri, &headers).await?;
    service::inbox::receive(&state, &activity, &signer).await?;
    Ok(StatusCode::ACCEPTED)
}

async fn is_delete_of_unknown_actor(state: &AppState, activity: &Value) -> Result<bool, AppError> {
    if type_of(activity) != Some("Delete") {
        return Ok(false);
    }
    let actor = activity.get("actor").and_then(id_of);
    let object = activity.get("object").and_then(id_of);
    match (actor, object) {
        (Some(a), Some(o)) if a == o => Ok(crate::store::actors::find_by_ap_id(&state.db, a)
            .await
            .map_err(service::Error::from)?
            .is_none()),
        _ => Ok(false),
    }
}

/// Most items any array of an activity may hold (`to`, `cc`, `tag`, `attachment`, ...). Real
/// activities carry a handful; Mastodon caps mentions at a few hundred.
pub const MAX_ARRAY_ITEMS: usize = 1000;

/// The path of the first array with more than [`MAX_ARRAY_ITEMS`] items.
pub fn oversized_array(v: &Value, path: &str) -> Option<String> {
    match v {
        Value::Array(items) if items.len() > MAX_ARRAY_ITEMS => Some(if path.is_empty() {
            "body".into()
        } else {
            path.to_owned()
        }),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, x)| oversized_array(x, &format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, x)| {
            oversized_array(
                x,
                &if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                },
            )
        }),
        _ => None,
    }
}
