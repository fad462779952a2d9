//! Verifying a signed request (an inbox POST or a signed GET): strength, freshness both ways,
//! the digest of a body, then RSA against the key's actor, fetched once more on failure.

use axum::{
    extract::{Request, State},
    http::{HeaderMap, Method, Uri},
    middleware::Next,
    response::Response,
};

use crate::{
    error::AppError,
    httpsig::{
        PublicKey, SignatureHeader, VerifyError,
        rfc9421::{self, MessageParts, MessageSignature},
        verify::{RequestParts, check_digest},
    },
    service::{self, remote},
    state::AppState,
    store::actors::RemoteActor,
};

/// A request's signature: draft-cavage (`Signature`), or RFC 9421 (`Signature-Input` with
/// `Signature`).
#[derive(Debug, Clone)]
pub enum Incoming {
    /// draft-cavage-12, as every fediverse server sends.
    Cavage(SignatureHeader),
    /// RFC 9421 HTTP Message Signatures.
    Message(MessageSignature),
}

impl Incoming {
    /// The key id the signature names.
    pub fn key_id(&self) -> &str {
        match self {
            Self::Cavage(s) => &s.key_id,
            Self::Message(s) => &s.key_id,
        }
    }
}

/// The checks that need no network: the signature's strength and freshness, and the digest of
/// `body` for POSTs (`Digest` for cavage, `Content-Digest` for RFC 9421). Returns the parsed
/// signature.
pub async fn precheck(state: &AppState, headers: &HeaderMap, body: Option<&[u8]>) -> Result<Incoming, AppError> {
    let now = state.clock.now_ms();
    let sig = if rfc9421::is_present(headers) {
        let sig = MessageSignature::from_headers(headers)?;
        sig.check_strength(body.is_some())?;
        sig.check_freshness(now)?;
        if let Some(body) = body {
            rfc9421::check_content_digest(headers, body)?;
        }
        Incoming::Message(sig)
    } else {
        let sig = SignatureHeader::from_headers(headers)?;
        sig.check_strength(body.is_some())?;
        sig.check_freshness(headers, now)?;
        if let Some(body) = body {
            check_digest(headers, body)?;
        }
        Incoming::Cavage(sig)
    };
    if let Some(domain) = url::Url::parse(sig.key_id())
        .ok()
        .as_ref()
        .and_then(crate::config::authority_of)
        && service::remote::is_blocked(state, &domain).await?
    {
        return Err(service::Error::Forbidden(format!("{domain} is blocked on this instance")).into());
    }
    Ok(sig)
}

/// Finds the key's actor and checks the signature over `method` and `uri`; on failure fetches
/// the actor once more (it may have rotated its key) before refusing.
pub async fn verify(
    state: &AppState,
    sig: &Incoming,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<RemoteActor, AppError> {
    let method = method.as_str().to_ascii_lowercase();
    let host = state.urls.authority().to_owned();
    let cavage = RequestParts {
        method: &method,
        path: uri.path(),
        query: uri.query(),
        headers,
        host_fallback: &host,
    };
    let message = MessageParts {
        method: &method,
        scheme: state.config.public_url.scheme(),
        authority: &host,
        path: uri.path(),
        query: uri.query(),
        headers,
    };
    let check = |key: &PublicKey| match sig {
        Incoming::Cavage(s) => s.verify(&cavage, key),
        Incoming::Message(s) => s.verify(&message, key),
    };
    let mut refetched = false;
    let mut actor = lookup(state, sig.key_id(), false).await?;
    loop {
        let key = PublicKey::from_pem(&actor.public_key_pem)
            .map_err(|e| service::Error::Unauthorized(format!("actor key unusable: {e}")))?;
        match check(&key) {
            Ok(()) => return Ok(actor),
            Err(e) if refetched => return Err(e.into()),
            // A key is fetched again at most once every few minutes (a rotation is rare; a
            // stream of forged requests naming a stored key is not).
            Err(e) if !state.key_refetches.allow(sig.key_id(), state.clock.now_ms()) => return Err(e.into()),
            Err(_) => {
                refetched = true;
                actor = lookup(state, sig.key_id(), true).await?;
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

/// With `UNDERSTORY_AUTHORIZED_FETCH`, ActivityPub GETs of organisations, their updates and
/// collections need a valid signature (401 with the reason otherwise) from a domain that is not
/// blocked (403), like Mastodon's secure mode and GoToSocial. Browsers asking for HTML are
/// served as before; the instance actor, WebFinger and NodeInfo are not behind this layer.
pub async fn authorized_fetch(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, AppError> {
    if !crate::http::negotiate::wants_activity_json(request.headers()) {
        return Ok(next.run(request).await);
    }
    let (method, uri, headers) = (request.method(), request.uri(), request.headers());
    // `precheck` refuses a blocked key domain, and a key's actor is always on the key's host
    // (`service::remote::actor_for_key`), so the signer's domain needs no second look.
    let sig = precheck(&state, headers, None).await?;
    verify(&state, &sig, method, uri, headers).await?;
    Ok(next.run(request).await)
}
