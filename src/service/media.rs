//! Storing uploads and caching remote pictures.
//!
//! Files live in `UNDERSTORY_MEDIA_DIR`, named by the SHA-256 of their bytes
//! (`<dir>/<ab>/<sha256>.<ext>`), so the same picture uploaded twice is stored once and a file's
//! name says what it holds. Remote pictures are cached under `<dir>/cache/` the same way, with a
//! total size cap; they are fetched through the address-checking client and re-encoded like
//! uploads, so no page ever loads an image from another origin.

use std::path::{Path, PathBuf};

use aws_lc_rs::digest;
use url::Url;

use super::{Error, Result};
use crate::{
    domain::media::{self as rules, MediaError, Purpose},
    state::AppState,
    store::{
        self, Tx,
        actors::RemoteActor,
        media::{Media, RemoteMedia},
    },
};

/// A failed remote fetch is not retried for this long.
pub const REMOTE_RETRY_AFTER_MS: i64 = 60 * 60 * 1000;
/// A cached remote picture is refetched after this long (avatars change).
pub const REMOTE_REFRESH_AFTER_MS: i64 = 7 * 24 * 60 * 60 * 1000;

impl From<MediaError> for Error {
    fn from(e: MediaError) -> Self {
        match e {
            MediaError::TooLarge { .. } => Self::TooLarge(e.to_string()),
            _ => Self::Invalid(e.to_string()),
        }
    }
}

/// Hex SHA-256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, bytes))
}

fn sharded(root: &Path, file: &str) -> PathBuf {
    root.join(file.get(..2).unwrap_or("00")).join(file)
}

/// Where a stored file lives.
pub fn path_of(state: &AppState, file: &str) -> PathBuf {
    sharded(&state.config.media_dir, file)
}

fn cache_path(state: &AppState, file: &str) -> PathBuf {
    sharded(&state.config.media_dir.join("cache"), file)
}

/// Writes a file atomically (a temporary file renamed into place); an existing file with the
/// same content-addressed name is left as it is.
async fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    if tokio::fs::try_exists(path).await.unwrap_or(false) {
        return Ok(());
    }
    let dir = path
        .parent()
        .ok_or_else(|| Error::Internal("media path has no parent".into()))?;
    let io = |e: std::io::Error| Error::Internal(format!("media directory {}: {e}", dir.display()));
    tokio::fs::create_dir_all(dir).await.map_err(io)?;
    let tmp = dir.join(format!(".{}.tmp", super::token()));
    tokio::fs::write(&tmp, bytes).await.map_err(io)?;
    if let Err(e) = tokio::fs::rename(&tmp, path).await {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(io(e));
    }
    Ok(())
}

async fn process(bytes: Vec<u8>, purpose: Purpose) -> Result<rules::Processed> {
    tokio::task::spawn_blocking(move || rules::process_image(&bytes, purpose))
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
        .map_err(Error::from)
}

/// A file checked and encoded, not yet written: preparing every file of an update before
/// writing any means a bad one leaves nothing behind.
#[derive(Debug)]
pub struct Prepared {
    bytes: Vec<u8>,
    media_type: &'static str,
    width: Option<i64>,
    height: Option<i64>,
    blurhash: Option<String>,
}

impl Prepared {
    /// Whether this is a picture (which needs alt text).
    pub fn is_image(&self) -> bool {
        rules::is_image(self.media_type)
    }
}

/// Re-encodes a picture for a purpose; refuses bad input.
pub async fn prepare_image(bytes: Vec<u8>, purpose: Purpose) -> Result<Prepared> {
    let p = process(bytes, purpose).await?;
    Ok(Prepared {
        bytes: p.bytes,
        media_type: p.media_type,
        width: Some(i64::from(p.width)),
        height: Some(i64::from(p.height)),
        blurhash: p.blurhash,
    })
}

/// Checks an attachment: a picture (re-encoded) or a PDF document (kept as sent).
pub async fn prepare_attachment(bytes: Vec<u8>) -> Result<Prepared> {
    if rules::looks_like_image(&bytes) {
        return prepare_image(bytes, Purpose::Attachment).await;
    }
    match rules::check_document(&bytes) {
        Ok(media_type) => Ok(Prepared {
            bytes,
            media_type,
            width: None,
            height: None,
            blurhash: None,
        }),
        Err(MediaError::NotADocument) => Err(Error::Invalid(
            "attachments must be pictures (JPEG, PNG, WebP, GIF) or PDF documents".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Writes a prepared file (once per content) and records it.
pub async fn save(state: &AppState, p: &Prepared) -> Result<Media> {
    let media = Media {
        id: 0,
        sha256: sha256_hex(&p.bytes),
        media_type: p.media_type.to_owned(),
        byte_size: p.bytes.len() as i64,
        width: p.width,
        height: p.height,
        blurhash: p.blurhash.clone(),
        created_at: state.clock.now_ms(),
    };
    write_file(&path_of(state, &media.file_name()), &p.bytes).await?;
    Ok(store::media::upsert(&state.db, &media).await?)
}

/// A stored file to serve: its row and bytes.
pub async fn read(state: &AppState, file: &str) -> Result<(Media, Vec<u8>)> {
    let sha = file.split('.').next().unwrap_or("");
    if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::NotFound("media".into()));
    }
    let media = store::media::find_by_sha(&state.db, sha)
        .await?
        .filter(|m| m.file_name() == file)
        .ok_or_else(|| Error::NotFound("media".into()))?;
    let bytes = tokio::fs::read(path_of(state, file))
        .await
        .map_err(|_| Error::NotFound("media".into()))?;
    Ok((media, bytes))
}

/// The cache key of a remote picture: SHA-256 of its URL.
pub fn remote_key(url: &str) -> String {
    sha256_hex(url.as_bytes())
}

/// Registers remote pictures (an actor's icon and image, a note's attachments) inside `tx`, so
/// our pages may show them through the cache. Returns nothing: pages compute the key.
pub async fn register_remote(tx: &mut Tx, state: &AppState, urls: &[(&str, Purpose)]) -> Result<()> {
    let now = state.clock.now_ms();
    for (url, purpose) in urls {
        let name = match purpose {
            Purpose::Avatar => "avatar",
            Purpose::Header => "header",
            Purpose::Attachment | Purpose::Preview => "preview",
        };
        store::media::register_remote(tx, &remote_key(url), url, name, now).await?;
    }
    Ok(())
}

/// Registers a remote actor's avatar and header inside `tx`.
pub async fn register_actor(tx: &mut Tx, state: &AppState, actor: &RemoteActor) -> Result<()> {
    let mut urls = Vec::new();
    if let Some(icon) = &actor.icon_url {
        urls.push((icon.as_str(), Purpose::Avatar));
    }
    if let Some(image) = &actor.image_url {
        urls.push((image.as_str(), Purpose::Header));
    }
    register_remote(tx, state, &urls).await
}

/// Our URL for a remote picture (served from the cache).
pub fn remote_url(state: &AppState, url: &str) -> String {
    state.urls.remote_media(&remote_key(url))
}

fn purpose_of(row: &RemoteMedia) -> Purpose {
    match row.purpose.as_str() {
        "avatar" => Purpose::Avatar,
        "header" => Purpose::Header,
        _ => Purpose::Preview,
    }
}

/// A remote picture to serve: fetched, re-encoded and cached on first use. `NotFound` when the
/// key was never registered or the fetch failed (recently).
pub async fn remote(state: &AppState, key: &str) -> Result<(String, Vec<u8>, Purpose)> {
    let row = store::media::find_remote(&state.db, key)
        .await?
        .ok_or_else(|| Error::NotFound("picture".into()))?;
    let now = state.clock.now_ms();
    let purpose = purpose_of(&row);
    let fresh = row.fetched_at.is_some_and(|t| now - t < REMOTE_REFRESH_AFTER_MS);
    if let (Some(sha), Some(media_type)) = (&row.sha256, &row.media_type)
        && (fresh || row.failed_at.is_some_and(|t| now - t < REMOTE_RETRY_AFTER_MS))
    {
        let file = format!("{sha}.{}", rules::extension(media_type));
        if let Ok(bytes) = tokio::fs::read(cache_path(state, &file)).await {
            store::media::touch_remote(&state.db, key, now).await?;
            return Ok((media_type.clone(), bytes, purpose));
        }
    }
    if row.failed_at.is_some_and(|t| now - t < REMOTE_RETRY_AFTER_MS) {
        return Err(Error::NotFound("picture (unavailable)".into()));
    }
    // One fetch per key at a time: views that arrive while it runs wait, then read the cache.
    let gate = {
        let mut fetches = state.remote_fetches.lock().unwrap_or_else(|e| e.into_inner());
        fetches.entry(key.to_owned()).or_default().clone()
    };
    let guard = gate.lock().await;
    let result = fetch_once(state, key, &row, purpose).await;
    drop(guard);
    {
        let mut fetches = state.remote_fetches.lock().unwrap_or_else(|e| e.into_inner());
        if fetches.get(key).is_some_and(|g| std::sync::Arc::strong_count(g) <= 2) {
            fetches.remove(key);
        }
    }
    result
}

/// Fetches `row` unless a fetch that finished while we waited has already cached it.
async fn fetch_once(
    state: &AppState,
    key: &str,
    row: &RemoteMedia,
    purpose: Purpose,
) -> Result<(String, Vec<u8>, Purpose)> {
    let now = state.clock.now_ms();
    if let Some(done) = store::media::find_remote(&state.db, key).await? {
        if done.failed_at != row.failed_at {
            return Err(Error::NotFound("picture (unavailable)".into()));
        }
        if done.fetched_at != row.fetched_at
            && let (Some(sha), Some(media_type)) = (&done.sha256, &done.media_type)
        {
            let file = format!("{sha}.{}", rules::extension(media_type));
            if let Ok(bytes) = tokio::fs::read(cache_path(state, &file)).await {
                return Ok((media_type.clone(), bytes, purpose));
            }
        }
    }
    match fetch_remote(state, row, purpose).await {
        Ok((media_type, bytes)) => Ok((media_type, bytes, purpose)),
        Err(e) => {
            tracing::info!(url = %row.url, error = %e, "remote picture unavailable");
            store::media::remote_failed(&state.db, key, now).await?;
            // A stale copy is better than none while its server is away.
            if let (Some(sha), Some(media_type)) = (&row.sha256, &row.media_type) {
                let file = format!("{sha}.{}", rules::extension(media_type));
                if let Ok(bytes) = tokio::fs::read(cache_path(state, &file)).await {
                    return Ok((media_type.clone(), bytes, purpose));
                }
            }
            Err(Error::NotFound("picture (unavailable)".into()))
        }
    }
}

async fn fetch_remote(state: &AppState, row: &RemoteMedia, purpose: Purpose) -> Result<(String, Vec<u8>)> {
    let url = Url::parse(&row.url).map_err(|_| Error::Invalid("bad picture URL".into()))?;
    let bytes = state.http.get_bytes(&url, "image/*", rules::MAX_IMAGE_BYTES).await?;
    // Decoding takes memory by the pixel: hold that many megapixels of the budget meanwhile.
    let (width, height) = rules::declared_size(&bytes)?;
    let megapixels = (u64::from(width) * u64::from(height)).div_ceil(1_000_000);
    let permits = u32::try_from(megapixels.clamp(1, crate::state::DECODE_BUDGET_MPX as u64)).unwrap_or(1);
    let _budget = state
        .decode_budget
        .acquire_many(permits)
        .await
        .map_err(|e| Error::Internal(e.to_string()))?;
    let p = process(bytes, purpose).await?;
    let sha = sha256_hex(&p.bytes);
    let file = format!("{sha}.{}", rules::extension(p.media_type));
    write_file(&cache_path(state, &file), &p.bytes).await?;
    let now = state.clock.now_ms();
    store::media::remote_fetched(&state.db, &row.key, &sha, p.media_type, p.bytes.len() as i64, now).await?;
    if let Some(old) = row.sha256.as_deref().filter(|old| *old != sha) {
        remove_cached_if_unused(state, old, row.media_type.as_deref().unwrap_or("")).await?;
    }
    enforce_cache_cap(state).await?;
    Ok((p.media_type.to_owned(), p.bytes))
}

async fn remove_cached_if_unused(state: &AppState, sha: &str, media_type: &str) -> Result<()> {
    if !store::media::remote_file_in_use(&state.db, sha).await? {
        let file = format!("{sha}.{}", rules::extension(media_type));
        let _ = tokio::fs::remove_file(cache_path(state, &file)).await;
    }
    Ok(())
}

/// Evicts the least recently used cached pictures until the cache fits its cap.
pub async fn enforce_cache_cap(state: &AppState) -> Result<u64> {
    let cap = i64::try_from(state.config.media_cache_max_bytes).unwrap_or(i64::MAX);
    let mut total = store::media::remote_cache_bytes(&state.db).await?;
    let mut evicted = 0;
    while total > cap {
        let batch = store::media::least_used_remote(&state.db, 50).await?;
        if batch.is_empty() {
            break;
        }
        for (key, sha, media_type, size) in batch {
            if total <= cap {
                break;
            }
            store::media::evict_remote(&state.db, &key).await?;
            remove_cached_if_unused(state, &sha, &media_type).await?;
            total -= size;
            evicted += 1;
        }
    }
    Ok(evicted)
}
