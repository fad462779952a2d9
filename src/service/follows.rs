//! Follows in both directions: approving or refusing followers, and following remote actors.

use serde_json::{Value, json};

use super::{
    Error, Result,
    audit::{self, Who},
    orgs, remote, token,
};
use crate::{
    delivery,
    protocol::activities,
    state::AppState,
    store::{self, follows::FollowerRow},
};

/// An organisation asks to follow a remote actor (by `user@domain` or URL); the actor answers
/// with Accept or Reject later.
pub async fn follow(state: &AppState, who: &Who, handle: &str, target: &str) -> Result<String> {
    let org = orgs::find_live(state, handle).await?;
    let actor = remote::resolve(state, target).await?;
    let me = state.urls.org(handle);
    let follow_id = state.urls.activity(&me, "follows", &token());
    let activity = activities::follow(&follow_id, &me, &actor.ap_id);
    let mut tx = state.db.begin().await?;
    store::follows::upsert_following(&mut tx, org.id, actor.id, &follow_id, state.clock.now_ms()).await?;
    audit::record(
        &mut tx,
        state,
        who,
        Some(org.id),
        "follow.request",
        json!({"target": actor.ap_id}),
    )
    .await?;
    delivery::to_inboxes(
        &mut tx,
        state,
        Some(org.id),
        &activity,
        std::slice::from_ref(&actor.inbox),
    )
    .await?;
    tx.commit().await?;
    delivery::notify(state);
    Ok(actor.ap_id)
}

/// Followers of an organisation in a state (`pending` or `accepted`).
pub async fn followers(state: &AppState, handle: &str, which: &str) -> Result<Vec<FollowerRow>> {
    let org = orgs::find_live(state, handle).await?;
    Ok(store::follows::followers(&state.db, org.id, which).await?)
}

/// Approves (`accept`) or refuses a pending follower, sending Accept or Reject.
pub async fn answer(state: &AppState, who: &Who, handle: &str, follower: &str, accept: bool) -> Result<()> {
    let org = orgs::find_live(state, handle).await?;
    let pending = store::follows::followers(&state.db, org.id, store::follows::PENDING).await?;
    let row = pending
        .into_iter()
        .find(|f| f.ap_id == follower)
        .ok_or_else(|| Error::NotFound(format!("pending follow request from {follower}")))?;
    let me = state.urls.org(handle);
    let follow = json!({"id": row.follow_ap_id, "type": "Follow", "actor": row.ap_id, "object": me});
    let mut tx = state.db.begin().await?;
    if accept {
        store::follows::set_follower_state(&mut tx, org.id, row.actor_id, store::follows::ACCEPTED).await?;
    } else {
        store::follows::remove_follower(&mut tx, org.id, row.actor_id).await?;
    }
    send_answer(&mut tx, state, org.id, &me, &follow, &row.inbox, accept).await?;
    let action = if accept { "follower.approve" } else { "follower.reject" };
    audit::record(
        &mut tx,
        state,
        who,
        Some(org.id),
        action,
        json!({"follower": row.ap_id}),
    )
    .await?;
    tx.commit().await?;
    delivery::notify(state);
    Ok(())
}

/// Writes an Accept or Reject of `follow` for delivery to `inbox`, inside `tx`.
pub async fn send_answer(
    tx: &mut store::Tx,
    state: &AppState,
    org_id: i64,
    me: &str,
    follow: &Value,
    inbox: &str,
    accept: bool,
) -> Result<()> {
    let kind = if accept { "accepts" } else { "rejects" };
    let id = state.urls.activity(me, kind, &token());
    let activity = activities::answer_follow(accept, &id, me, follow);
    delivery::to_inboxes(tx, state, Some(org_id), &activity, &[inbox.to_owned()]).await?;
    Ok(())
}
