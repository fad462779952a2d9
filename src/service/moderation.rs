//! Operator moderation of the directory: adding actors of other software, hiding entries,
//! and reports (`Flag`) received and sent.

use serde_json::json;

use super::{
    Error, Result,
    audit::{self, Who},
    mail, remote, token,
};
use crate::{
    delivery,
    domain::plain_text,
    protocol::{AS_CONTEXT, id_of},
    state::AppState,
    store::{self, Tx, actors::RemoteActor},
};

/// Longest report comment.
pub const MAX_REPORT_CHARS: usize = 1_000;

/// `understory directory add TARGET`: an actor of any software, by handle or URL; it is listed
/// only if it consents (`discoverable`).
pub async fn add(state: &AppState, who: &Who, target: &str) -> Result<(RemoteActor, bool)> {
    let actor = remote::resolve(state, target).await?;
    let listed = actor.discoverable;
    let url = url::Url::parse(&actor.ap_id).map_err(|_| Error::Invalid("actor id is not a URL".into()))?;
    let (_, doc) = remote::fetch_signed(state, &url).await?;
    let mut tx = state.db.begin().await?;
    super::directory::sync_remote_actor(&mut tx, state, &actor, &doc, true).await?;
    audit::record(
        &mut tx,
        state,
        who,
        None,
        "directory.add",
        json!({"actor": actor.ap_id, "listed": listed}),
    )
    .await?;
    tx.commit().await?;
    Ok((actor, listed))
}

/// `understory directory hide ACTOR_URL`: keeps an entry out whatever it consents to.
pub async fn hide(state: &AppState, who: &Who, actor: &str, reason: &str) -> Result<()> {
    url::Url::parse(actor).map_err(|_| Error::Invalid(format!("actor: {actor:?} is not a URL")))?;
    let mut tx = state.db.begin().await?;
    store::directory::hide(&mut tx, actor, reason, state.clock.now_ms()).await?;
    audit::record(
        &mut tx,
        state,
        who,
        None,
        "directory.hide",
        json!({"actor": actor, "reason": reason}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// `understory directory unhide ACTOR_URL`.
pub async fn unhide(state: &AppState, who: &Who, actor: &str) -> Result<()> {
    let mut tx = state.db.begin().await?;
    if !store::directory::unhide(&mut tx, actor).await? {
        return Err(Error::NotFound(format!("hidden entry {actor}")));
    }
    if let Some(handle) = state.urls.handle_of_actor(actor)
        && let Some(org) = store::orgs::find_by_handle_in(&mut tx, handle).await?
    {
        super::directory::sync_org(&mut tx, state, &org).await?;
    }
    audit::record(&mut tx, state, who, None, "directory.unhide", json!({"actor": actor})).await?;
    tx.commit().await?;
    Ok(())
}

/// A `Flag` received: stored for the operators, who are told by mail when it is set up.
pub async fn on_flag(tx: &mut Tx, state: &AppState, activity: &serde_json::Value, signer: &RemoteActor) -> Result<()> {
    let id = activity
        .get("id")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    let objects: Vec<String> = match activity.get("object") {
        Some(serde_json::Value::Array(items)) => items.iter().filter_map(id_of).map(str::to_owned).collect(),
        Some(v) => id_of(v).map(|s| vec![s.to_owned()]).unwrap_or_default(),
        None => Vec::new(),
    };
    let target = objects
        .first()
        .cloned()
        .ok_or_else(|| Error::Invalid("Flag names no object".into()))?;
    if !objects.iter().any(|o| state.urls.is_local(o)) {
        return Err(Error::Invalid("Flag concerns nothing on this instance".into()));
    }
    let content = crate::domain::html::plain_name_long(
        activity
            .get("content")
            .and_then(serde_json::Value::as_str)
            .unwrap_or(""),
    );
    store::reports::insert(
        tx,
        "received",
        id,
        &signer.ap_id,
        &target,
        &objects.join(" "),
        &content,
        state.clock.now_ms(),
    )
    .await?;
    for user in store::users::list_in(tx)
        .await?
        .into_iter()
        .filter(|u| u.is_operator && u.removed_at.is_none())
    {
        let body = format!(
            "{} reported {target}:\n\n{content}\n\nSee `understory report list`.\n",
            signer.ap_id
        );
        mail::queue(tx, state, &user.email, "A report was received", &body).await?;
    }
    Ok(())
}

/// `understory report send ACTOR_URL --comment TEXT`: a `Flag` from the instance actor to the
/// reported actor's instance.
pub async fn send(state: &AppState, who: &Who, target: &str, comment: &str) -> Result<String> {
    let comment = plain_text("comment", comment, MAX_REPORT_CHARS, false)?;
    let actor = remote::resolve(state, target).await?;
    let me = state.urls.instance_actor();
    let id = state.urls.activity(&me, "flags", &token());
    let flag = json!({"@context": AS_CONTEXT, "id": id, "type": "Flag", "actor": me, "object": [actor.ap_id], "content": comment});
    let mut tx = state.db.begin().await?;
    store::reports::insert(
        &mut tx,
        "sent",
        &id,
        &me,
        &actor.ap_id,
        &actor.ap_id,
        &comment,
        state.clock.now_ms(),
    )
    .await?;
    delivery::to_inboxes(&mut tx, state, None, &flag, &[actor.delivery_inbox().to_owned()]).await?;
    audit::record(&mut tx, state, who, None, "report.send", json!({"target": actor.ap_id})).await?;
    tx.commit().await?;
    delivery::notify(state);
    Ok(id)
}

/// `understory report resolve ID`.
pub async fn resolve(state: &AppState, who: &Who, id: i64) -> Result<()> {
    let mut tx = state.db.begin().await?;
    if !store::reports::resolve(&mut tx, id, state.clock.now_ms()).await? {
        return Err(Error::NotFound(format!("open report {id}")));
    }
    audit::record(&mut tx, state, who, None, "report.resolve", json!({"id": id})).await?;
    tx.commit().await?;
    Ok(())
}
