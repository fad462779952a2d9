//! Verifying a signed request (an inbox POST or a signed GET): strength, freshness both ways,
//! the digest of a body, then RSA against the key's actor, fetched once more on failure.

use axum::http::{HeaderMap, Method, Uri};

use crate::{
    error::AppError,
    httpsig::{
        PublicKey, SignatureHeader, VerifyError,
        verify::{RequestParts, check_digest},
    },
    service::{self, remote},
    state::AppState,
    store::{self, actors::RemoteActor},
};

/// The checks that need no network: the signature's strength and freshness, and the digest of
/// `body` for POSTs. Returns the parsed signature.
pub async fn precheck(state: &AppState, headers: &HeaderMap, body: Option<&[u8]>) -> Result<SignatureHeader, AppError> {
    let sig = SignatureHeader::from_headers(headers)?;
    sig.check_strength(body.is_some())?;
    sig.check_freshness(headers, state.clock.now_ms())?;
    if let Some(body) = body {
        check_digest(headers, body)?;
    }
    if let Some(domain) = url::Url::parse(&sig.key_id)
        .ok()
        .as_ref()
        .and_then(crate::config::authority_of)
        && store::peers::is_blocked(&state.db, &domain)
            .await
            .map_err(service::Error::from)?
    {
        return Err(service::Error::Forbidden(format!("{domain} is blocked on this instance")).into());
    }
    Ok(sig)
}

/// Finds the key's actor and checks the signature over `method` and `uri`; on failure fetches
/// the actor once more (it may have rotated its key) before refusing.
pub async fn verify(
    state: &AppState,
    sig: &SignatureHeader,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<RemoteActor, AppError> {
    let method = method.as_str().to_ascii_lowercase();
    let host = state.urls.authority().to_owned();
    let parts = RequestParts {
        method: &method,
        path: uri.path(),
        query: uri.query(),
        headers,
        host_fallback: &host,
    };
    let mut refetched = false;
    let mut actor = lookup(state, &sig.key_id, false).await?;
    loop {
        let key = PublicKey::from_pem(&actor.public_key_pem)
            .map_err(|e| service::Error::Unauthorized(format!("actor key unusable: {e}")))?;
        match sig.verify(&parts, &key) {
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
