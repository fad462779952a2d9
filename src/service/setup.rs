//! First run on the web: while the instance has no operator, `serve` logs a one-time set-up
//! link with which the first operator account is created from a browser.

use serde_json::json;

use super::{
    Error, Result,
    accounts::{self, secret_hash},
    audit::{self, Who},
    token,
};
use crate::{state::AppState, store};

const SETUP_TOKEN: &str = "setup_token_hash";

/// Whether any operator exists.
pub async fn has_operator(state: &AppState) -> Result<bool> {
    Ok(store::users::list(&state.db)
        .await?
        .iter()
        .any(|u| u.is_operator && u.removed_at.is_none()))
}

/// A fresh set-up link when the instance has no operator yet (replacing any older one).
pub async fn link_if_needed(state: &AppState) -> Result<Option<String>> {
    if has_operator(state).await? {
        return Ok(None);
    }
    let secret = format!("{}{}", token(), token());
    store::settings::set(&state.db, SETUP_TOKEN, &secret_hash(&secret)).await?;
    Ok(Some(format!("{}/setup/{secret}", state.urls.base())))
}

/// Whether a set-up link works now.
pub async fn link_is_valid(state: &AppState, secret: &str) -> Result<bool> {
    Ok(!has_operator(state).await?
        && store::settings::get(&state.db, SETUP_TOKEN)
            .await?
            .is_some_and(|h| h == secret_hash(secret)))
}

/// Creates the first operator with a password; the link stops working.
pub async fn create_operator(state: &AppState, secret: &str, email: &str, password: &str) -> Result<()> {
    if !link_is_valid(state, secret).await? {
        return Err(Error::Gone("set-up link".into()));
    }
    // Check everything before creating anything, so a bad try leaves the link usable.
    accounts::check_password(password)?;
    let email = accounts::parse_email(email)?;
    let email = email.as_str();
    let (user, link) = accounts::create_user(state, &Who::Cli, email, true, None).await?;
    accounts::set_password_with_link(state, link.rsplit('/').next().unwrap_or_default(), password).await?;
    store::settings::delete(&state.db, SETUP_TOKEN).await?;
    let mut tx = state.db.begin().await?;
    audit::record(
        &mut tx,
        state,
        &Who::User {
            id: user.id,
            email: user.email.clone(),
        },
        None,
        "instance.setup",
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
