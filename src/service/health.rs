//! The health check behind `/healthz`: can this process write to its database now?

use std::time::Duration;

use crate::state::AppState;

/// How long the check waits for the database before calling it unreachable.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// `Ok` when a write transaction begins and commits within [`CHECK_TIMEOUT`]; otherwise the
/// reason, for the operator reading the answer (and the free space when the disk is full).
pub async fn check(state: &AppState) -> Result<(), String> {
    match tokio::time::timeout(CHECK_TIMEOUT, state.db.write_check(state.clock.now_ms())).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) if e.is_disk_full() => Err(format!(
            "database cannot write: the disk is full ({})",
            state
                .db
                .free_space()
                .unwrap_or_else(|| "see the database server".into())
        )),
        Ok(Err(e)) if e.is_unavailable() => Err(format!("database unreachable: {e}")),
        Ok(Err(e)) => Err(format!("database cannot write: {e}")),
        Err(_) => Err(format!("database did not answer within {} s", CHECK_TIMEOUT.as_secs())),
    }
}
