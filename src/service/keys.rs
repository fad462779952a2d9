//! Key pairs, made lazily on first use under a lock (one generation even when many requests
//! race). Never in bulk paths: an RSA-2048 key costs 100-300 ms of CPU.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use super::{Error, Result};
use crate::{httpsig::KeyPair, state::AppState, store};

/// Settings row holding the instance actor's private key.
const INSTANCE_KEY: &str = "instance_private_key";
/// Settings row holding when the instance actor was made.
pub const INSTANCE_CREATED: &str = "instance_created_at";

/// Where new keys come from.
pub enum KeySource {
    /// Generate RSA-2048 keys.
    Generate,
    /// Hand out pre-made PKCS#8 PEM keys in turn (tests: a fixture pool, no key generation).
    Pool(Vec<String>, AtomicUsize),
}

/// Parsed keys by owner (`None` is the instance actor), and the lock that makes generation
/// happen once.
pub struct KeyStore {
    cache: Mutex<HashMap<Option<i64>, Arc<KeyPair>>>,
    generate: tokio::sync::Mutex<()>,
    source: KeySource,
}

impl KeyStore {
    /// A store drawing new keys from `source`.
    pub fn new(source: KeySource) -> Self {
        Self {
            cache: Mutex::new(HashMap::new()),
            generate: tokio::sync::Mutex::new(()),
            source,
        }
    }

    /// Drops every cached key (they are read again when needed): after keys were removed.
    pub fn forget_all(&self) {
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    fn cached(&self, owner: Option<i64>) -> Option<Arc<KeyPair>> {
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&owner)
            .cloned()
    }

    fn remember(&self, owner: Option<i64>, pem: &str) -> Result<Arc<KeyPair>> {
        let key = Arc::new(KeyPair::from_pkcs8_pem(pem).map_err(|e| Error::Internal(format!("stored key: {e}")))?);
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(owner, key.clone());
        Ok(key)
    }

    async fn make(&self) -> Result<String> {
        match &self.source {
            KeySource::Generate => tokio::task::spawn_blocking(|| KeyPair::generate()?.private_pem())
                .await
                .map_err(|e| Error::Internal(e.to_string()))?
                .map_err(|e| Error::Internal(e.to_string())),
            KeySource::Pool(pems, next) => {
                let i = next.fetch_add(1, Ordering::Relaxed);
                pems.get(i % pems.len().max(1))
                    .cloned()
                    .ok_or_else(|| Error::Internal("empty key pool".into()))
            }
        }
    }
}

/// The key pair of an organisation, made now if it has none.
pub async fn org_key(state: &AppState, org_id: i64) -> Result<Arc<KeyPair>> {
    if let Some(key) = state.keys.cached(Some(org_id)) {
        return Ok(key);
    }
    let stored = |org: Option<store::orgs::Org>| org.and_then(|o| o.private_key_pem);
    let org = store::orgs::find(&state.db, org_id).await?;
    if org
        .as_ref()
        .is_some_and(|o| o.deleted_at.is_some() && o.private_key_pem.is_none())
    {
        // A deleted organisation's key was pruned: never make a new one for it.
        return Err(Error::Gone("organisation (its key was removed)".into()));
    }
    if let Some(pem) = stored(org) {
        return state.keys.remember(Some(org_id), &pem);
    }
    let _guard = state.keys.generate.lock().await;
    if let Some(pem) = stored(store::orgs::find(&state.db, org_id).await?) {
        return state.keys.remember(Some(org_id), &pem);
    }
    let pem = state.keys.make().await?;
    let key = KeyPair::from_pkcs8_pem(&pem).map_err(|e| Error::Internal(e.to_string()))?;
    store::orgs::set_keys_if_absent(&state.db, org_id, key.public_pem(), &pem).await?;
    // Another process may have stored its own key first: use whatever the row holds now.
    let pem =
        stored(store::orgs::find(&state.db, org_id).await?).ok_or_else(|| Error::NotFound("organisation".into()))?;
    state.keys.remember(Some(org_id), &pem)
}

/// The instance actor's key pair, made on first use.
pub async fn instance_key(state: &AppState) -> Result<Arc<KeyPair>> {
    if let Some(key) = state.keys.cached(None) {
        return Ok(key);
    }
    if let Some(pem) = store::settings::get(&state.db, INSTANCE_KEY).await? {
        return state.keys.remember(None, &pem);
    }
    let _guard = state.keys.generate.lock().await;
    if store::settings::get(&state.db, INSTANCE_KEY).await?.is_none() {
        let pem = state.keys.make().await?;
        store::settings::set_if_absent(&state.db, INSTANCE_KEY, &pem).await?;
        store::settings::set_if_absent(&state.db, INSTANCE_CREATED, &state.clock.now_ms().to_string()).await?;
    }
    let pem = store::settings::get(&state.db, INSTANCE_KEY)
        .await?
        .ok_or_else(|| Error::Internal("instance key".into()))?;
    state.keys.remember(None, &pem)
}
