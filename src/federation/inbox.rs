//! The inbox (shared, per-organisation and the instance actor's). We verify signatures
//! ourselves: strength, freshness both ways, the digest, then RSA with one key refetch.

use axum::{
    body::Bytes,
    extract::{OriginalUri, State},
    http::{HeaderMap, Method, StatusCode},
};
use serde_json::Value;

use crate::{
    error::AppError,
    httpsig::{
        SignatureHeader, VerifyError,
        verify::{RequestParts, check_digest},
    },
    protocol::{id_of, type_of},
    service::{self, inbox::Outcome, remote},
    state::AppState,
    store::actors::RemoteActor,
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
    let sig = SignatureHeader::from_headers(&headers)?;
    sig.check_strength(true)?;
    sig.check_freshness(&headers, state.clock.now_ms())?;
    check_digest(&headers, &body)?;
    let text = std::str::from_utf8(&body).map_err(|_| AppError::BadRequest("body is not UTF-8".into()))?;
    let activity: Value =
        serde_json::from_str(text).map_err(|e| AppError::BadRequest(format!("body is not JSON: {e}")))?;
    if !activity.is_object() {
        return Err(AppError::BadRequest("activity must be a JSON object".into()));
    }
    if is_delete_of_unknown_actor(&state, &activity).await? {
        // The actor is gone and cannot be fetched to verify; nothing of it is stored anyway.
        return Ok(StatusCode::ACCEPTED);
    }
    let method = method.as_str().to_ascii_lowercase();
    let host = state.urls.authority().to_owned();
    let parts = RequestParts {
        method: &method,
        path: uri.path(),
        query: uri.query(),
        headers: &headers,
        host_fallback: &host,
    };
    let signer = verified_signer(&state, &sig, &parts).await?;
    match service::inbox::receive(&state, &activity, &signer).await? {
        Outcome::Processed | Outcome::Duplicate | Outcome::Ignored => Ok(StatusCode::ACCEPTED),
    }
}

/// Finds the key's actor and checks the signature; on failure fetches the actor once more
/// (it may have rotated its key) before refusing.
async fn verified_signer(
    state: &AppState,
    sig: &SignatureHeader,
    parts: &RequestParts<'_>,
) -> Result<RemoteActor, AppError> {
    let mut refetched = false;
    let mut actor = lookup(state, &sig.key_id, false).await?;
    loop {
        let key = crate::httpsig::PublicKey::from_pem(&actor.public_key_pem)
            .map_err(|e| service::Error::Unauthorized(format!("actor key unusable: {e}")))?;
        match sig.verify(parts, &key) {
            Ok(()) => return Ok(actor),
            Err(e) if refetched => return Err(e.into()),
            Err(_) => {
                refetched = true;
                actor = lookup(state, &sig.key_id, true).await?;
            }
        }
    }
}

async fn lookup(state: &AppState, key_id: &str, refetch: bool) -> Result<RemoteActor, AppError> {
    remote::actor_for_key(state, key_id, refetch)
        .await
        .map_err(|e| match e {
            service::Error::Store(_) | service::Error::Internal(_) => AppError::Service(e),
            other => AppError::Signature(VerifyError::Unknown(other.to_string())),
        })
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
