//! Organisations: create, look up, edit the profile (which sends `Update` of the actor).

use serde_json::json;

use super::{
    Error, Result,
    audit::{self, Who},
    keys,
    media::Prepared,
    token,
};
use crate::{
    delivery,
    domain::{
        Handle,
        media::Purpose,
        plain_text,
        profile::{LISTED_IN, Profile},
    },
    protocol::{activities, actor::org_actor},
    state::AppState,
    store::{
        self,
        orgs::{NewOrg, Org, Picture, ProfileChange},
    },
};

/// Longest display name.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest summary.
pub const MAX_SUMMARY_CHARS: usize = 2_000;

/// What staff give to create an organisation.
#[derive(Debug, Clone, Default)]
pub struct NewOrgInput {
    /// Handle (validated here).
    pub handle: String,
    /// Display name.
    pub name: String,
    /// Plain-text summary.
    pub summary: String,
    /// Approve followers by hand.
    pub approve_followers: bool,
}

/// Creates an organisation. No key pair is made here (keys are made on first use).
pub async fn create(state: &AppState, who: &Who, input: &NewOrgInput) -> Result<Org> {
    let handle = Handle::parse(&input.handle)?;
    let name = plain_text("name", &input.name, MAX_NAME_CHARS, true)?;
    let summary = plain_text("summary", &input.summary, MAX_SUMMARY_CHARS, false)?;
    if let Some(existing) = store::orgs::find_by_handle(&state.db, handle.as_str()).await? {
        return Err(Error::Conflict(if existing.deleted_at.is_some() {
            format!("handle {handle} belonged to a deleted organisation and stays reserved")
        } else {
            format!("handle {handle} is taken")
        }));
    }
    let new = NewOrg {
        handle: handle.as_str(),
        name: &name,
        summary: &summary,
        manually_approves_followers: input.approve_followers,
        now: state.clock.now_ms(),
    };
    let mut tx = state.db.begin().await?;
    let id = match store::orgs::insert(&mut tx, &new).await {
        Ok(id) => id,
        Err(e) if e.is_unique_violation() => return Err(Error::Conflict(format!("handle {handle} is taken"))),
        Err(e) => return Err(e.into()),
    };
    let details = json!({"handle": handle.as_str(), "name": name, "summary": summary, "approve_followers": input.approve_followers});
    audit::record(&mut tx, state, who, Some(id), "org.create", details).await?;
    let org = store::orgs::find_in(&mut tx, id)
        .await?
        .ok_or_else(|| Error::Internal("organisation vanished".into()))?;
    super::directory::sync_org(&mut tx, state, &org).await?;
    tx.commit().await?;
    Ok(org)
}

/// An organisation by handle, deleted or not (audit and history).
pub async fn find_any(state: &AppState, handle: &str) -> Result<Org> {
    store::orgs::find_by_handle(&state.db, handle)
        .await?
        .ok_or_else(|| Error::NotFound(format!("organisation {handle}")))
}

/// A live organisation by handle: `NotFound` if unknown, `Gone` if deleted.
pub async fn find_live(state: &AppState, handle: &str) -> Result<Org> {
    match store::orgs::find_by_handle(&state.db, handle).await? {
        Some(org) if org.deleted_at.is_some() => Err(Error::Gone(format!("organisation {handle}"))),
        Some(org) => Ok(org),
        None => Err(Error::NotFound(format!("organisation {handle}"))),
    }
}

/// [`find_live`] inside a transaction.
pub async fn find_live_in(tx: &mut crate::store::Tx, handle: &str) -> Result<Org> {
    match store::orgs::find_by_handle_in(tx, handle).await? {
        Some(org) if org.deleted_at.is_some() => Err(Error::Gone(format!("organisation {handle}"))),
        Some(org) => Ok(org),
        None => Err(Error::NotFound(format!("organisation {handle}"))),
    }
}

/// How long a cached organisation may be served without asking the database (another process,
/// such as the CLI, may have changed it; changes made in this process show at once).
pub const CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// An organisation as the hot read paths (WebFinger, actor JSON) see it: from a small in-memory
/// cache, refreshed when this process writes any organisation or after [`CACHE_TTL`].
/// Write paths use [`find_live`].
pub async fn find_live_cached(state: &AppState, handle: &str) -> Result<std::sync::Arc<Org>> {
    let generation = store::orgs::generation();
    if let Some(org) = state.org_cache.get(handle, generation) {
        return Ok(org);
    }
    let org = match find_live(state, handle).await {
        Ok(org) => std::sync::Arc::new(org),
        // While the database is unreachable, actor documents and WebFinger keep answering
        // from the cache (remote servers verifying our signatures need the key).
        Err(Error::Store(e)) if e.is_unavailable() => {
            return state.org_cache.get_stale(handle).ok_or(Error::Store(e));
        }
        Err(e) => return Err(e),
    };
    state.org_cache.put(handle, generation, org.clone());
    Ok(org)
}

/// Profile edits; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProfileEdit {
    /// Display name.
    pub name: Option<String>,
    /// Summary.
    pub summary: Option<String>,
    /// Approve followers by hand.
    pub approve_followers: Option<bool>,
    /// Show follower lists publicly.
    pub public_lists: Option<bool>,
    /// Reach: `none`, `home`, `network` or `public`.
    pub listed_in: Option<String>,
    /// `true` means `public`, `false` means `none` (ignored when `listed_in` is given).
    pub discoverable: Option<bool>,
    /// Consent to full-text search of updates.
    pub indexable: Option<bool>,
    /// The whole structured profile, already validated.
    pub profile: Option<Profile>,
}

/// Resolves reach from `--listed-in` or `--discoverable` (DESIGN.md section 7).
pub fn reach(edit: &ProfileEdit, current: &str) -> Result<String> {
    match (&edit.listed_in, edit.discoverable) {
        (Some(l), _) if LISTED_IN.contains(&l.as_str()) => Ok(l.clone()),
        (Some(l), _) => Err(Error::Invalid(format!(
            "listed_in: {l:?} must be one of {}",
            LISTED_IN.join(", ")
        ))),
        (None, Some(true)) => Ok("public".into()),
        (None, Some(false)) => Ok("none".into()),
        (None, None) => Ok(current.to_owned()),
    }
}

/// Applies a profile edit, updates the directory and sends `Update` of the actor to
/// followers, all in one transaction; every field is checked before anything is written.
pub async fn edit(state: &AppState, who: &Who, handle: &str, edit: &ProfileEdit) -> Result<Org> {
    let org = find_live(state, handle).await?;
    let listed_in = reach(edit, &org.listed_in)?;
    let change = ProfileChange {
        name: match &edit.name {
            Some(n) => plain_text("name", n, MAX_NAME_CHARS, true)?,
            None => org.name.clone(),
        },
        summary: match &edit.summary {
            Some(s) => plain_text("summary", s, MAX_SUMMARY_CHARS, false)?,
            None => org.summary.clone(),
        },
        manually_approves_followers: edit.approve_followers.unwrap_or(org.manually_approves_followers),
        public_lists: edit.public_lists.unwrap_or(org.public_lists),
        discoverable: listed_in == "public",
        indexable: edit.indexable.unwrap_or(org.indexable),
        listed_in,
        profile: match &edit.profile {
            Some(p) => serde_json::to_string(p).map_err(|e| Error::Internal(e.to_string()))?,
            None => org.profile.clone(),
        },
    };
    keys::org_key(state, org.id).await?;
    let now = state.clock.now_ms().max(org.updated_at + 1);
    let org_listed_in_before = org.listed_in.clone();
    let mut tx = state.db.begin().await?;
    store::orgs::update_profile(&mut tx, org.id, &change, now).await?;
    audit::record(
        &mut tx,
        state,
        who,
        Some(org.id),
        "profile.edit",
        profile_diff(&org, &change),
    )
    .await?;
    let updated = Org {
        name: change.name.clone(),
        summary: change.summary.clone(),
        manually_approves_followers: change.manually_approves_followers,
        public_lists: change.public_lists,
        discoverable: change.discoverable,
        indexable: change.indexable,
        listed_in: change.listed_in.clone(),
        profile: change.profile.clone(),
        updated_at: now,
        ..org
    };
    super::directory::sync_org(&mut tx, state, &updated).await?;
    super::peering::announce(&mut tx, state, &org_listed_in_before, &updated).await?;
    send_actor_update(&mut tx, state, &updated).await?;
    tx.commit().await?;
    delivery::notify(state);
    Ok(updated)
}

/// Sends `Update` of the organisation's actor to its followers, inside `tx`.
pub(super) async fn send_actor_update(tx: &mut store::Tx, state: &AppState, org: &Org) -> Result<()> {
    let key = keys::org_key(state, org.id).await?;
    let me = state.urls.org(&org.handle);
    let actor = org_actor(&state.urls, org, key.public_pem(), &state.vocab);
    let activity = activities::wrap(
        "Update",
        &state.urls.activity(&me, "updates", &token()),
        &me,
        &actor,
        None,
    );
    delivery::to_followers(tx, state, org.id, &activity).await?;
    Ok(())
}

/// Re-encodes a picture as an avatar or header, writing nothing (bad input is refused here).
pub async fn prepare_picture(which: Picture, bytes: Vec<u8>) -> Result<Prepared> {
    let purpose = match which {
        Picture::Avatar => Purpose::Avatar,
        Picture::Header => Purpose::Header,
    };
    super::media::prepare_image(bytes, purpose).await
}

/// Sets or removes (`None`) the avatar or header (made by [`prepare_picture`]): the file is
/// stored and followers get `Update` of the actor with the new `icon` or `image`.
pub async fn set_picture(
    state: &AppState,
    who: &Who,
    handle: &str,
    which: Picture,
    picture: Option<&Prepared>,
) -> Result<Org> {
    let org = find_live(state, handle).await?;
    let file = match picture {
        Some(p) => Some(super::media::save(state, p).await?.file_name()),
        None => None,
    };
    keys::org_key(state, org.id).await?;
    let now = state.clock.now_ms().max(org.updated_at + 1);
    let (name, before) = match which {
        Picture::Avatar => ("avatar", org.avatar.clone()),
        Picture::Header => ("header", org.header.clone()),
    };
    let mut tx = state.db.begin().await?;
    store::orgs::set_picture(&mut tx, org.id, which, file.as_deref(), now).await?;
    audit::record(
        &mut tx,
        state,
        who,
        Some(org.id),
        &format!("profile.{name}"),
        json!({"before": before, "after": file}),
    )
    .await?;
    let updated = match which {
        Picture::Avatar => Org {
            avatar: file,
            updated_at: now,
            ..org
        },
        Picture::Header => Org {
            header: file,
            updated_at: now,
            ..org
        },
    };
    send_actor_update(&mut tx, state, &updated).await?;
    tx.commit().await?;
    delivery::notify(state);
    Ok(updated)
}

/// The fields an edit changed, before and after.
fn profile_diff(org: &Org, change: &ProfileChange) -> serde_json::Value {
    let profile = |p: &str| serde_json::from_str::<serde_json::Value>(p).unwrap_or_default();
    let before = json!({"name": org.name, "summary": org.summary, "approve_followers": org.manually_approves_followers,
        "public_lists": org.public_lists, "discoverable": org.discoverable, "indexable": org.indexable, "listed_in": org.listed_in,
        "profile": profile(&org.profile)});
    let after = json!({"name": change.name, "summary": change.summary, "approve_followers": change.manually_approves_followers,
        "public_lists": change.public_lists, "discoverable": change.discoverable, "indexable": change.indexable, "listed_in": change.listed_in,
        "profile": profile(&change.profile)});
    let (mut b, mut a) = (serde_json::Map::new(), serde_json::Map::new());
    if let (Some(before), Some(after)) = (before.as_object(), after.as_object()) {
        for (key, value) in after {
            if before.get(key) != Some(value) {
                b.insert(key.clone(), before.get(key).cloned().unwrap_or_default());
                a.insert(key.clone(), value.clone());
            }
        }
    }
    json!({"before": b, "after": a})
}

/// Deletes an organisation for good. `Delete` of its actor goes to every follower, every
/// account it follows and every peer; afterwards its actor, WebFinger address and updates
/// answer 410 with a Tombstone and its handle cannot be taken again (see
/// [`store::orgs::erase`]). Returns the number of deliveries written.
pub async fn delete(state: &AppState, who: &Who, handle: &str) -> Result<usize> {
    let org = find_live(state, handle).await?;
    // The key must exist to sign the Delete; it is pruned once that is delivered.
    keys::org_key(state, org.id).await?;
    let now = state.clock.now_ms();
    let me = state.urls.org(handle);
    let activity = json!({
        "@context": crate::protocol::AS_CONTEXT,
        "id": state.urls.activity(&me, "delete", &token()),
        "type": "Delete",
        "actor": me,
        "to": [crate::protocol::PUBLIC],
        "cc": [state.urls.org_part(handle, "followers")],
        "object": me,
    });
    let mut tx = state.db.begin().await?;
    if !store::orgs::lock_live(&mut tx, org.id).await? {
        return Err(Error::Gone(format!("organisation {handle}")));
    }
    let mut inboxes: Vec<String> = store::follows::follower_inboxes(&mut tx, org.id)
        .await?
        .into_iter()
        .map(|(inbox, _)| inbox)
        .collect();
    inboxes.extend(store::follows::following_inboxes(&mut tx, org.id).await?);
    inboxes.extend(store::peers::all_inboxes(&mut tx).await?);
    let sent = delivery::to_inboxes(&mut tx, state, Some(org.id), &activity, &inboxes).await?;
    store::directory::unlist(&mut tx, &me, now).await?;
    store::orgs::erase(&mut tx, org.id, now).await?;
    // Peers replicating our directory drop it on `Remove` from our instance actor (they may
    // never have stored the organisation's own actor, so its Delete alone may not reach them).
    let (org_id, listed_in) = (org.id, org.listed_in.clone());
    let gone = Org {
        deleted_at: Some(now),
        ..org
    };
    super::peering::announce(&mut tx, state, &listed_in, &gone).await?;
    audit::record(
        &mut tx,
        state,
        who,
        Some(org_id),
        "org.delete",
        json!({"handle": handle, "deliveries": sent}),
    )
    .await?;
    tx.commit().await?;
    delivery::notify(state);
    Ok(sent)
}

/// Everything an organisation published and who follows it, as one JSON document: for moving
/// elsewhere and for access requests (`understory org export HANDLE`).
pub async fn export(state: &AppState, handle: &str) -> Result<serde_json::Value> {
    let org = find_live(state, handle).await?;
    let key = keys::org_key(state, org.id).await?;
    let actor = org_actor(&state.urls, &org, key.public_pem(), &state.vocab);
    let mut updates = Vec::new();
    let mut before = i64::MAX;
    loop {
        let page = store::posts::list(&state.db, org.id, before, 200).await?;
        let Some(last) = page.last().map(|p| p.id) else { break };
        let ids: Vec<i64> = page.iter().map(|p| p.id).collect();
        let attachments = store::media::attachments_of(&state.db, &ids).await?;
        for post in page {
            let own: Vec<_> = attachments.iter().filter(|a| a.post_id == post.id).cloned().collect();
            let note = crate::protocol::note::note(&state.urls, handle, &post, &own, Default::default());
            updates.push(
                json!({"id": post.id, "url": state.urls.update(handle, post.id), "text": post.source,
                "language": post.lang, "note": note}),
            );
        }
        before = last;
    }
    let followers = |which: &'static str| async move {
        super::follows::followers(state, handle, which)
            .await
            .map(|rows| rows.into_iter().map(|f| f.ap_id).collect::<Vec<_>>())
    };
    let following: Vec<serde_json::Value> = store::follows::following(&state.db, org.id)
        .await?
        .into_iter()
        .map(|(actor, state)| json!({"actor": actor, "state": state}))
        .collect();
    let profile: serde_json::Value = serde_json::from_str(&org.profile).unwrap_or_default();
    Ok(json!({
        "format": "understory-org-export/1",
        "exported_at": crate::clock::rfc3339(state.clock.now_ms()),
        "instance": state.urls.base(),
        "organisation": {
            "handle": org.handle, "actor": state.urls.org(handle), "name": org.name, "summary": org.summary,
            "listed_in": org.listed_in, "discoverable": org.discoverable, "indexable": org.indexable,
            "approve_followers": org.manually_approves_followers, "created": crate::clock::rfc3339(org.created_at),
            "profile": profile, "also_known_as": org.also_known_as, "moved_to": org.moved_to,
        },
        "actor": actor,
        "updates": updates,
        "followers": followers(store::follows::ACCEPTED).await?,
        "follow_requests": followers(store::follows::PENDING).await?,
        "following": following,
    }))
}
