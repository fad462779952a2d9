//! Remote actors: fetched with a GET signed by the instance actor, checked, and stored.

use serde_json::Value;
use url::Url;

use super::{Error, Result, keys};
use crate::{
    config::authority_of,
    net::fetch::Signer,
    protocol::actor::{KeyChoice, key_document_owner, parse_remote_actor_keyed},
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
    fetch_actor_keyed(state, url, KeyChoice::First).await
}

async fn fetch_actor_keyed(state: &AppState, url: &Url, choice: KeyChoice<'_>) -> Result<RemoteActor> {
    if state.urls.is_local(url.as_str()) {
        return Err(Error::Invalid(format!("{url} is a local URL, not a remote actor")));
    }
    let (final_url, doc) = fetch_signed(state, url).await?;
    store_actor(state, &doc, &final_url, choice).await
}

/// Parses and checks before anything is written: a refused document stores nothing.
async fn store_actor(state: &AppState, doc: &Value, from: &Url, choice: KeyChoice<'_>) -> Result<RemoteActor> {
    let mut actor = parse_remote_actor_keyed(doc, from, state.clock.now_ms(), choice).map_err(|e| match choice {
        KeyChoice::Exactly(_) => Error::Unauthorized(e.to_string()),
        _ => Error::Invalid(e.to_string()),
    })?;
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
/// through the key id, in every form in use (docs/FEDERATION.md, "Signing keys"):
///
/// - a fragment of the actor (`.../users/a#main-key`: Mastodon, Misskey, Pleroma, Lemmy, ...),
///   or the actor id itself: the document at the URL is the actor;
/// - a path (`.../users/a/main-key`: GoToSocial) whose document is a stub actor, or a bare
///   `Key`/`CryptographicKey`/`Multikey` naming its `owner` or `controller`: the owner is then
///   fetched in full.
///
/// Either way the key must be listed in the owner's own document with the owner as its owner,
/// and the owner must be on the key's host. A refusal stores nothing.
pub async fn actor_for_key(state: &AppState, key_id: &str, refetch: bool) -> Result<RemoteActor> {
    if !refetch {
        let generation = store::actors::generation();
        if let Some(actor) = state.actors_by_key.get(key_id, generation) {
            return Ok(actor);
        }
        if let Some(actor) = store::actors::find_by_key_id(&state.db, key_id).await? {
            state.actors_by_key.put(key_id, generation, actor.clone());
            return Ok(actor);
        }
    }
    let key_url = Url::parse(key_id).map_err(|_| Error::Unauthorized(format!("keyId {key_id:?} is not a URL")))?;
    let mut url = key_url.clone();
    url.set_fragment(None);
    if state.urls.is_local(url.as_str()) {
        return Err(Error::Unauthorized("keyId names a local key".into()));
    }
    let (final_url, doc) = fetch_signed(state, &url).await?;
    let choice = KeyChoice::Exactly(key_id);
    let owner = match key_document_owner(&doc, &final_url).map_err(|e| Error::Unauthorized(e.0))? {
        // The document at the key's URL is the actor itself.
        None => return store_actor(state, &doc, &final_url, choice).await,
        Some(owner) => owner,
    };
    let owner = Url::parse(owner).map_err(|_| Error::Unauthorized(format!("key owner {owner:?} is not a URL")))?;
    if authority_of(&owner) != authority_of(&key_url) || owner.scheme() != key_url.scheme() {
        return Err(Error::Unauthorized(format!(
            "key {key_id} names an owner on another host: {owner}"
        )));
    }
    fetch_actor_keyed(state, &owner, choice).await
}

/// Whether `domain` is blocked on this instance (cached for a second: see `state::ReadCache`).
pub async fn is_blocked(state: &AppState, domain: &str) -> Result<bool> {
    let generation = store::peers::block_generation();
    if let Some(blocked) = state.blocked.get(domain, generation) {
        return Ok(blocked);
    }
    let blocked = store::peers::is_blocked(&state.db, domain).await?;
    state.blocked.put(domain, generation, blocked);
    Ok(blocked)
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
                if let Some(actor) = store::actors::find_by_ap_id_in(&mut tx, &ap_id).await? {
                    store::actors::mark_deleted(&mut tx, actor.id, state.clock.now_ms()).await?;
                }
                tx.commit().await?;
            }
            Err(e) => tracing::info!(actor = %ap_id, error = %e, "refreshing a directory entry failed; will retry"),
        }
    }
    Ok(refreshed)
}
