//! Remote actors: fetched with a GET signed by the instance actor, checked, and stored.

use serde_json::Value;
use url::Url;

use super::{Error, Result, keys};
use crate::{
    net::fetch::Signer,
    protocol::actor::{ACTOR_TYPES, key_owner, parse_remote_actor},
    protocol::type_of,
    state::AppState,
    store::{self, actors::RemoteActor},
};

/// A stored actor older than this is fetched again when looked up by id.
pub const REFRESH_AFTER_MS: i64 = 24 * 3600 * 1000;

/// GETs a document signed by the instance actor.
pub async fn fetch_signed(state: &AppState, url: &Url) -> Result<(Url, Value)> {
    let key = keys::instance_key(state).await?;
    let key_id = format!("{}#main-key", state.urls.instance_actor());
    let signer = Signer {
        key: &key,
        key_id: &key_id,
    };
    Ok(state.http.fetch_json(url, &signer, state.clock.now_ms()).await?)
}

/// Fetches an actor by id, checks it and stores it.
pub async fn fetch_actor(state: &AppState, url: &Url) -> Result<RemoteActor> {
    if state.urls.is_local(url.as_str()) {
        return Err(Error::Invalid(format!("{url} is a local URL, not a remote actor")));
    }
    let (final_url, doc) = fetch_signed(state, url).await?;
    store_actor(state, &doc, &final_url).await
}

async fn store_actor(state: &AppState, doc: &Value, from: &Url) -> Result<RemoteActor> {
    let mut actor = parse_remote_actor(doc, from, state.clock.now_ms()).map_err(|e| Error::Invalid(e.to_string()))?;
    let mut tx = state.db.begin().await?;
    actor.id = store::actors::upsert(&mut tx, &actor).await?;
    super::media::register_actor(&mut tx, state, &actor).await?;
    super::directory::sync_remote(&mut tx, state, &actor, doc).await?;
    tx.commit().await?;
    Ok(actor)
}

/// An actor by id: the stored copy while fresh, otherwise fetched again.
pub async fn actor(state: &AppState, ap_id: &str) -> Result<RemoteActor> {
    if let Some(actor) = store::actors::find_by_ap_id(&state.db, ap_id).await? {
        if actor.deleted_at.is_some() {
            return Err(Error::Gone(format!("actor {ap_id}")));
        }
        if state.clock.now_ms() - actor.fetched_at < REFRESH_AFTER_MS {
            return Ok(actor);
        }
    }
    let url = Url::parse(ap_id).map_err(|_| Error::Invalid(format!("actor id {ap_id:?} is not a URL")))?;
    fetch_actor(state, &url).await
}

/// The actor that owns `key_id`: stored, or (when `refetch` is set or it is unknown) fetched
/// through the key id. The key must belong to the actor document it names.
pub async fn actor_for_key(state: &AppState, key_id: &str, refetch: bool) -> Result<RemoteActor> {
    if !refetch && let Some(actor) = store::actors::find_by_key_id(&state.db, key_id).await? {
        return Ok(actor);
    }
    let mut url = Url::parse(key_id).map_err(|_| Error::Unauthorized(format!("keyId {key_id:?} is not a URL")))?;
    url.set_fragment(None);
    if state.urls.is_local(url.as_str()) {
        return Err(Error::Unauthorized("keyId names a local key".into()));
    }
    let (final_url, doc) = fetch_signed(state, &url).await?;
    let actor = if type_of(&doc).is_some_and(|t| ACTOR_TYPES.contains(&t)) {
        store_actor(state, &doc, &final_url).await?
    } else {
        let owner = key_owner(&doc).ok_or_else(|| Error::Unauthorized("key document names no owner".into()))?;
        let owner = Url::parse(owner).map_err(|_| Error::Unauthorized("key owner is not a URL".into()))?;
        fetch_actor(state, &owner).await?
    };
    if actor.key_id != key_id {
        return Err(Error::Unauthorized(format!(
            "key {key_id} is not the key of {}",
            actor.ap_id
        )));
    }
    Ok(actor)
}

/// Resolves `user@domain`, `@user@domain`, `acct:user@domain` or an actor URL.
pub async fn resolve(state: &AppState, query: &str) -> Result<RemoteActor> {
    let query = query.trim();
    if query.starts_with("https://") || query.starts_with("http://") {
        let url = Url::parse(query).map_err(|_| Error::Invalid(format!("{query:?} is not a URL")))?;
        return fetch_actor(state, &url).await;
    }
    let acct = query.trim_start_matches("acct:").trim_start_matches('@');
    let (user, domain) = acct
        .split_once('@')
        .filter(|(u, d)| !u.is_empty() && !d.is_empty() && !d.contains('/'))
        .ok_or_else(|| Error::Invalid(format!("{query:?} is neither user@domain nor a URL")))?;
    let url = state.http.webfinger(user, domain, state.clock.now_ms()).await?;
    fetch_actor(state, &url).await
}

/// Fetches again up to `limit` listed directory entries older than [`REFRESH_AFTER_MS`]; an
/// actor that answers 410 leaves the directory. Returns how many were refreshed.
pub async fn refresh_stale(state: &AppState, limit: i64) -> Result<usize> {
    let before = state.clock.now_ms() - REFRESH_AFTER_MS;
    let mut refreshed = 0;
    for ap_id in store::actors::stale_listed(&state.db, before, limit).await? {
        let Ok(url) = Url::parse(&ap_id) else { continue };
        match fetch_actor(state, &url).await {
            Ok(_) => refreshed += 1,
            Err(Error::Remote(crate::net::NetError::Status { status, .. })) if status.as_u16() == 410 => {
                let mut tx = state.db.begin().await?;
                store::directory::unlist(&mut tx, &ap_id, state.clock.now_ms()).await?;
                if let Some(actor) = store::actors::find_by_ap_id(&state.db, &ap_id).await? {
                    store::actors::mark_deleted(&mut tx, actor.id, state.clock.now_ms()).await?;
                }
                tx.commit().await?;
            }
            Err(e) => tracing::info!(actor = %ap_id, error = %e, "refreshing a directory entry failed; will retry"),
        }
    }
    Ok(refreshed)
}
