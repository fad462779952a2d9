//! Who did what: every change to an organisation's public face, to accounts and to tokens is
//! recorded in the same transaction as the change itself.

use serde_json::Value;

use super::Result;
use crate::{
    state::AppState,
    store::{self, Tx, audit::Entry},
};

/// Who makes a change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Who {
    /// Someone with shell access to the instance (the CLI).
    Cli,
    /// A signed-in staff user or an API token's owner.
    User {
        /// User id.
        id: i64,
        /// Their email, as recorded.
        email: String,
    },
}

impl Who {
    /// How the audit log names them.
    pub fn label(&self) -> String {
        match self {
            Self::Cli => "cli".to_owned(),
            Self::User { email, .. } => email.clone(),
        }
    }

    fn user_id(&self) -> Option<i64> {
        match self {
            Self::Cli => None,
            Self::User { id, .. } => Some(*id),
        }
    }
}

/// Appends an entry inside `tx`.
pub async fn record(
    tx: &mut Tx,
    state: &AppState,
    who: &Who,
    org_id: Option<i64>,
    action: &str,
    details: Value,
) -> Result<()> {
    let details = details.to_string();
    store::audit::record(
        tx,
        state.clock.now_ms(),
        who.user_id(),
        &who.label(),
        org_id,
        action,
        &details,
    )
    .await?;
    Ok(())
}

/// Entries, newest first: of one organisation, or all.
pub async fn list(state: &AppState, handle: Option<&str>, limit: i64) -> Result<Vec<Entry>> {
    let org_id = match handle {
        Some(h) => Some(super::orgs::find_any(state, h).await?.id),
        None => None,
    };
    Ok(store::audit::list(&state.db, org_id, limit).await?)
}
