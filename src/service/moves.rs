//! Moving an organisation between instances with its followers: the new actor lists the old in
//! `alsoKnownAs`; the old one sends `Move` and sets `movedTo`; followers follow the new actor.

use serde_json::{Value, json};
use url::Url;

use super::{
    Error, Result,
    audit::{self, Who},
    orgs, remote, token,
};
use crate::{
    delivery,
    protocol::{activities, id_of},
    state::AppState,
    store::{self, Tx, actors::RemoteActor, orgs::Org},
};

/// How long after an alias is added Follows are accepted automatically (the move window),
/// even when the organisation approves followers by hand.
pub const MOVE_WINDOW_MS: i64 = 14 * 24 * 3600 * 1000;

/// Whether a Follow arriving now falls in the organisation's move window.
pub fn in_move_window(org: &Org, now: i64) -> bool {
    !org.also_known_as.is_empty() && org.alias_set_at.is_some_and(|at| now - at < MOVE_WINDOW_MS)
}

/// The aliases of an organisation.
pub fn aliases(org: &Org) -> Vec<String> {
    org.also_known_as.split_whitespace().map(str::to_owned).collect()
}

/// `understory org alias HANDLE OLD_ACTOR_URL`: prepares the receiving side of a move.
pub async fn alias(state: &AppState, who: &Who, handle: &str, old: &str) -> Result<Org> {
    let org = orgs::find_live(state, handle).await?;
    let old_url = Url::parse(old).map_err(|_| Error::Invalid(format!("old actor: {old:?} is not a URL")))?;
    if old_url.as_str() == state.urls.org(handle) {
        return Err(Error::Invalid("old actor: an organisation cannot alias itself".into()));
    }
    if !state.urls.is_local(old_url.as_str()) {
        remote::fetch_actor(state, &old_url).await?;
    }
    let mut list = aliases(&org);
    if !list.contains(&old_url.to_string()) {
        list.push(old_url.to_string());
    }
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    store::orgs::set_also_known_as(&mut tx, org.id, &list.join(" "), now).await?;
    let updated = Org {
        also_known_as: list.join(" "),
        alias_set_at: Some(now),
        updated_at: now,
        ..org
    };
    orgs::send_actor_update(&mut tx, state, &updated).await?;
    audit::record(
        &mut tx,
        state,
        who,
        Some(updated.id),
        "org.alias",
        json!({"old": old_url.as_str()}),
    )
    .await?;
    tx.commit().await?;
    delivery::notify(state);
    Ok(updated)
}

/// `understory org move HANDLE NEW_ACTOR_URL`: the new actor must list this one in
/// `alsoKnownAs`. Sends `Move` to followers and peers, sets `movedTo`, leaves the directory.
pub async fn move_org(state: &AppState, who: &Who, handle: &str, target: &str) -> Result<Org> {
    let org = orgs::find_live(state, handle).await?;
    if org.moved_to.is_some() {
        return Err(Error::Conflict(format!("{handle} has already moved")));
    }
    let me = state.urls.org(handle);
    let target_url = Url::parse(target).map_err(|_| Error::Invalid(format!("new actor: {target:?} is not a URL")))?;
    let confirms = if state.urls.is_local(target_url.as_str()) {
        let new_handle = state
            .urls
            .handle_of_actor(target_url.as_str())
            .ok_or_else(|| Error::Invalid("new actor: not an organisation".into()))?;
        aliases(&orgs::find_live(state, new_handle).await?).contains(&me)
    } else {
        let (_, doc) = remote::fetch_signed(state, &target_url).await?;
        also_known_as(&doc).iter().any(|a| a == &me)
    };
    if !confirms {
        return Err(Error::Invalid(format!(
            "new actor: {target} does not list {me} in alsoKnownAs; run `org alias` there first"
        )));
    }
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    store::orgs::set_moved_to(&mut tx, org.id, target_url.as_str(), now).await?;
    let moved = Org {
        moved_to: Some(target_url.to_string()),
        updated_at: now,
        ..org.clone()
    };
    let activity = json!({"@context": crate::protocol::AS_CONTEXT, "id": state.urls.activity(&me, "move", &token()),
        "type": "Move", "actor": me, "object": me, "target": target_url.as_str()});
    delivery::to_followers(&mut tx, state, org.id, &activity).await?;
    orgs::send_actor_update(&mut tx, state, &moved).await?;
    super::directory::sync_org(
        &mut tx,
        state,
        &Org {
            listed_in: "none".into(),
            ..moved.clone()
        },
    )
    .await?;
    super::peering::announce(
        &mut tx,
        state,
        &org.listed_in,
        &Org {
            listed_in: "none".into(),
            ..moved.clone()
        },
    )
    .await?;
    audit::record(
        &mut tx,
        state,
        who,
        Some(org.id),
        "org.move",
        json!({"to": target_url.as_str()}),
    )
    .await?;
    tx.commit().await?;
    delivery::notify(state);
    Ok(moved)
}

fn also_known_as(doc: &Value) -> Vec<String> {
    match doc.get("alsoKnownAs") {
        Some(Value::Array(items)) => items.iter().filter_map(id_of).map(str::to_owned).collect(),
        Some(v) => id_of(v).map(|s| vec![s.to_owned()]).unwrap_or_default(),
        None => Vec::new(),
    }
}

/// Checks a `Move` before its transaction (fetching needs its own writes): the actor moves
/// itself, and the target exists and lists the old actor. Returns the stored target.
pub async fn prepare_move(state: &AppState, activity: &Value, signer: &RemoteActor) -> Result<RemoteActor> {
    let object = activity.get("object").and_then(id_of).unwrap_or_default();
    if object != signer.ap_id {
        return Err(Error::Forbidden("an actor may move only itself".into()));
    }
    let target = activity
        .get("target")
        .and_then(id_of)
        .ok_or_else(|| Error::Invalid("Move names no target".into()))?;
    let url = Url::parse(target).map_err(|_| Error::Invalid("Move target is not a URL".into()))?;
    let (_, doc) = remote::fetch_signed(state, &url).await?;
    if !also_known_as(&doc).iter().any(|a| a == &signer.ap_id) {
        return Err(Error::Forbidden(
            "the Move target does not list the old actor in alsoKnownAs".into(),
        ));
    }
    remote::fetch_actor(state, &url).await
}

/// A checked `Move`: every organisation following the old actor follows the new one; the old
/// actor leaves the directory. Returns whether any organisation followed it.
pub async fn on_move(tx: &mut Tx, state: &AppState, signer: &RemoteActor, new_actor: &RemoteActor) -> Result<bool> {
    let following = store::follows::orgs_following(tx, signer.id).await?;
    store::directory::unlist(tx, &signer.ap_id, state.clock.now_ms()).await?;
    for org_id in &following {
        let Some(org) = store::orgs::find_in(tx, *org_id).await? else {
            continue;
        };
        let me = state.urls.org(&org.handle);
        let follow_id = state.urls.activity(&me, "follows", &token());
        store::follows::upsert_following(tx, org.id, new_actor.id, &follow_id, state.clock.now_ms()).await?;
        let follow = activities::follow(&follow_id, &me, &new_actor.ap_id);
        delivery::to_inboxes(tx, state, Some(org.id), &follow, std::slice::from_ref(&new_actor.inbox)).await?;
    }
    Ok(!following.is_empty())
}
