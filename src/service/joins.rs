//! "Join this instance": an organisation asks to be hosted; an operator approves (the
//! organisation is created, the asker becomes its owner and gets a sign-in link) or declines.

use serde_json::json;

use super::{
    Error, Result,
    accounts::{self, Role},
    audit::{self, Who},
    mail, orgs,
};
use crate::{
    domain::{Handle, plain_text},
    state::AppState,
    store::{self, joins::JoinRequest},
};

/// Longest message to the operator.
pub const MAX_MESSAGE_CHARS: usize = 2_000;

/// Stores a request after checking every field; operators are told by mail when it is set up.
pub async fn request(state: &AppState, handle: &str, name: &str, email: &str, message: &str) -> Result<i64> {
    let mut errors = Vec::new();
    let handle = Handle::parse(handle)
        .map_err(|e| errors.push(format!("handle: {e}")))
        .ok();
    let name = plain_text("name", name, orgs::MAX_NAME_CHARS, true)
        .map_err(|e| errors.push(e.to_string()))
        .ok();
    let email = accounts::parse_email(email)
        .map_err(|e| errors.push(e.to_string()))
        .ok();
    let message = plain_text("message", message, MAX_MESSAGE_CHARS, false)
        .map_err(|e| errors.push(e.to_string()))
        .ok();
    if let Some(h) = &handle
        && (store::orgs::find_by_handle(&state.db, h.as_str()).await?.is_some()
            || store::joins::handle_pending(&state.db, h.as_str()).await?)
    {
        errors.push(format!("handle: {h} is taken"));
    }
    let (Some(handle), Some(name), Some(email), Some(message), true) =
        (handle, name, email, message, errors.is_empty())
    else {
        return Err(Error::Invalid(errors.join("; ")));
    };
    let operators = store::users::list(&state.db).await?;
    let mut tx = state.db.begin().await?;
    let id = store::joins::insert(&mut tx, handle.as_str(), &name, &email, &message, state.clock.now_ms()).await?;
    for op in operators
        .into_iter()
        .filter(|u| u.is_operator && u.removed_at.is_none())
    {
        let body = format!(
            "{name} ({email}) asks to join as @{handle}:\n\n{message}\n\nAnswer at {}/admin/joins\n",
            state.urls.base()
        );
        mail::queue(&mut tx, state, &op.email, "A request to join", &body).await?;
    }
    tx.commit().await?;
    Ok(id)
}

/// Approves a request: creates the organisation and its owner; returns the owner's sign-in
/// link when the owner is new (also mailed when mail is set up).
pub async fn approve(state: &AppState, who: &Who, id: i64) -> Result<(JoinRequest, Option<String>)> {
    let req = pending(state, id).await?;
    let input = orgs::NewOrgInput {
        handle: req.handle.clone(),
        name: req.name.clone(),
        summary: String::new(),
        approve_followers: false,
    };
    orgs::create(state, who, &input).await?;
    let link = accounts::invite(state, who, &req.handle, &req.email, Role::Owner).await?;
    answer(state, who, &req, "approved").await?;
    Ok((req, link))
}

/// Declines a request.
pub async fn decline(state: &AppState, who: &Who, id: i64) -> Result<JoinRequest> {
    let req = pending(state, id).await?;
    answer(state, who, &req, "declined").await?;
    Ok(req)
}

async fn pending(state: &AppState, id: i64) -> Result<JoinRequest> {
    store::joins::find(&state.db, id)
        .await?
        .filter(|r| r.state == "pending")
        .ok_or_else(|| Error::NotFound(format!("pending join request {id}")))
}

async fn answer(state: &AppState, who: &Who, req: &JoinRequest, outcome: &str) -> Result<()> {
    let mut tx = state.db.begin().await?;
    if !store::joins::answer(&mut tx, req.id, outcome, &who.label(), state.clock.now_ms()).await? {
        return Err(Error::Conflict(format!("join request {} was answered already", req.id)));
    }
    audit::record(
        &mut tx,
        state,
        who,
        None,
        &format!("join.{outcome}"),
        json!({"id": req.id, "handle": req.handle, "email": req.email}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
