//! The pruning job: what is kept only for a while goes when its time is up (the periods are
//! settings; docs/privacy.md lists them). `serve` runs it every hour; `understory prune` once.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Result;
use crate::{
    state::AppState,
    store::{
        self,
        retention::{self, DAY_MS, DELETED_KEY_KEEP_DAYS, ENDED_KEEP_DAYS, Pruned},
    },
};

/// How often `serve` prunes.
pub const PRUNE_EVERY: Duration = Duration::from_secs(60 * 60);

/// One pass over every kind of row with a retention period.
pub async fn prune(state: &AppState) -> Result<Pruned> {
    let now = state.clock.now_ms();
    let days = |n: u32| now - i64::from(n) * DAY_MS;
    let r = state.config.retention;
    let (deliveries, activities) = retention::deliveries(&state.db, days(r.deliveries_days)).await?;
    let pruned = Pruned {
        activity_ids: retention::activity_ids(&state.db, days(r.activity_ids_days)).await?,
        deliveries,
        activities,
        remote_notes: if r.remote_notes_days == 0 {
            0
        } else {
            retention::remote_notes(&state.db, days(r.remote_notes_days)).await?
        },
        sessions_links_mail: retention::ended(&state.db, now - ENDED_KEEP_DAYS * DAY_MS).await?,
        keys: retention::deleted_keys(&state.db, now - DELETED_KEY_KEEP_DAYS * DAY_MS).await?,
        media: unused_media(state, now - DAY_MS).await?,
    };
    if pruned.keys > 0 {
        state.keys.forget_all();
    }
    if pruned != Pruned::default() {
        tracing::info!(?pruned, "pruned rows past their retention period");
    }
    Ok(pruned)
}

/// Removes stored files made over a day ago that nothing live uses (a file younger than that
/// may belong to an update being written).
async fn unused_media(state: &AppState, cutoff: i64) -> Result<u64> {
    let mut removed = 0;
    loop {
        let batch = store::media::orphans(&state.db, cutoff, 500).await?;
        if batch.is_empty() {
            return Ok(removed);
        }
        for media in batch {
            store::media::forget(&state.db, media.id).await?;
            let path = super::media::path_of(state, &media.file_name());
            match tokio::fs::remove_file(&path).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!(path = %path.display(), error = %e, "cannot remove an unused media file"),
            }
            removed += 1;
        }
    }
}

/// Prunes now and then every [`PRUNE_EVERY`] until `stop`.
pub async fn run(state: AppState, stop: CancellationToken) {
    loop {
        if let Err(e) = prune(&state).await {
            tracing::warn!(error = %e, "pruning failed; trying again in an hour");
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(PRUNE_EVERY) => {}
        }
    }
}
