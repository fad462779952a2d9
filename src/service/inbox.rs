//! Processing a verified incoming activity. The signature was checked by the HTTP layer; here
//! the actor must be the signer, ids must sit on the actor's host, and each activity id is
//! processed once. Everything one activity changes commits together, or nothing does.

use serde_json::Value;
use url::Url;

use super::{Error, Result, follows};
use crate::{
    config::authority_of,
    domain::{html, media::Purpose},
    protocol::{
        actor::{KeyChoice, parse_remote_actor_keyed},
        id_of, type_of,
    },
    state::AppState,
    store::{self, Tx, actors::RemoteActor},
};

/// Activity types we accept and deliberately do nothing with.
const IGNORED: [&str; 6] = ["Add", "Remove", "Block", "EmojiReact", "View", "Read"];
/// Object types stored as remote notes.
const NOTE_TYPES: [&str; 4] = ["Note", "Article", "Question", "Page"];
/// Object types shown as their name linked to their page, then their text (as Mastodon converts
/// them): PeerTube's `Video`, Mobilizon's `Event`, and pictures and sound.
const CONVERTED_TYPES: [&str; 4] = ["Video", "Event", "Audio", "Image"];

/// What became of an activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Processed now.
    Processed,
    /// Seen before: acknowledged, not processed again.
    Duplicate,
    /// Valid but of no concern to us; nothing stored.
    Ignored,
}

fn is_actor(object: &Value) -> bool {
    type_of(object).is_some_and(|t| crate::protocol::actor::ACTOR_TYPES.contains(&t))
}

fn host_of(url: &str) -> Option<String> {
    Url::parse(url).ok().as_ref().and_then(authority_of)
}

/// Processes `activity`, already verified as signed by `signer`.
pub async fn receive(state: &AppState, activity: &Value, signer: &RemoteActor) -> Result<Outcome> {
    let actor = activity
        .get("actor")
        .and_then(id_of)
        .ok_or_else(|| Error::Invalid("activity has no actor".into()))?;
    if actor != signer.ap_id {
        return Err(Error::Unauthorized(format!(
            "signed by {} but the actor is {actor}",
            signer.ap_id
        )));
    }
    let id = activity
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::Invalid("activity has no id".into()))?;
    if host_of(id).is_none() || host_of(id) != host_of(actor) {
        return Err(Error::Invalid("activity id is not on the actor's host".into()));
    }
    let kind = type_of(activity).ok_or_else(|| Error::Invalid("activity has no type".into()))?;
    let object = activity
        .get("object")
        .ok_or_else(|| Error::Invalid("activity has no object".into()));
    if super::remote::is_blocked(state, &signer.domain).await? {
        return Err(Error::Forbidden(format!(
            "{} is blocked on this instance",
            signer.domain
        )));
    }
    let instance = state.urls.instance_actor();
    let peer_directory = matches!(kind, "Add" | "Update" | "Remove")
        && object
            .as_ref()
            .is_ok_and(|o| id_of(o) != Some(signer.ap_id.as_str()) && (kind == "Remove" || is_actor(o)))
        && super::peering::replicated_peer(state, signer).await?;
    // Network fetches store what they fetch in their own transactions: do them first.
    let moved_to = match kind {
        "Move" if !store::inbox::seen(&state.db, id).await? => {
            Some(super::moves::prepare_move(state, activity, signer).await?)
        }
        _ => None,
    };
    let mut tx = state.db.begin().await?;
    if !store::inbox::first_sight(&mut tx, id, state.clock.now_ms()).await? {
        return Ok(Outcome::Duplicate);
    }
    let outcome = match kind {
        _ if peer_directory => super::peering::on_directory_activity(&mut tx, state, kind, object?, signer).await?,
        "Follow" if object.as_ref().is_ok_and(|o| id_of(o) == Some(instance.as_str())) => {
            super::peering::on_follow(&mut tx, state, activity, signer).await?
        }
        "Follow" => on_follow(&mut tx, state, activity, object?, signer).await?,
        "Undo"
            if object.as_ref().is_ok_and(|o| {
                type_of(o) == Some("Follow") && o.get("object").and_then(id_of) == Some(instance.as_str())
            }) =>
        {
            super::peering::on_undo_follow(&mut tx, signer).await?;
            Outcome::Processed
        }
        "Undo" => on_undo(&mut tx, state, object?, signer).await?,
        "Like" | "Announce" => on_interaction(&mut tx, state, id, kind, object?, signer).await?,
        "Create" => on_create(&mut tx, state, object?, signer).await?,
        "Update" => on_update(&mut tx, state, object?, signer).await?,
        "Delete" => on_delete(&mut tx, state, object?, signer).await?,
        "Accept" | "Reject" => {
            let follow_id = id_of(object?).ok_or_else(|| Error::Invalid("Accept names no Follow".into()))?;
            if !super::peering::on_answer(&mut tx, follow_id, signer, kind == "Accept").await? {
                store::follows::answer_following(&mut tx, follow_id, signer.id, kind == "Accept").await?;
            }
            Outcome::Processed
        }
        "Flag" => {
            super::moderation::on_flag(&mut tx, state, activity, signer).await?;
            Outcome::Processed
        }
        "Move" => match &moved_to {
            Some(target) if super::moves::on_move(&mut tx, state, signer, target).await? => Outcome::Processed,
            _ => Outcome::Ignored,
        },
        k if IGNORED.contains(&k) => Outcome::Ignored,
        other => return Err(Error::Invalid(format!("unsupported activity type {other:?}"))),
    };
    tx.commit().await?;
    if outcome == Outcome::Processed {
        crate::delivery::notify(state);
        if kind == "Accept" {
            state.peer_notify.notify_one();
        }
    }
    Ok(outcome)
}

async fn on_follow(
    tx: &mut Tx,
    state: &AppState,
    activity: &Value,
    object: &Value,
    signer: &RemoteActor,
) -> Result<Outcome> {
    let target = id_of(object).ok_or_else(|| Error::Invalid("Follow names no object".into()))?;
    let handle = state
        .urls
        .handle_of_actor(target)
        .ok_or_else(|| Error::NotFound(format!("actor {target}")))?;
    let org = super::orgs::find_live_in(tx, handle).await?;
    if org.moved_to.is_some() {
        // A moved organisation takes no new followers: they should follow where it went.
        follows::send_answer(
            tx,
            state,
            org.id,
            &state.urls.org(handle),
            activity,
            &signer.inbox,
            false,
        )
        .await?;
        return Ok(Outcome::Processed);
    }
    let moving_in = super::moves::in_move_window(&org, state.clock.now_ms());
    let wanted = if org.manually_approves_followers && !moving_in {
        store::follows::PENDING
    } else {
        store::follows::ACCEPTED
    };
    let id = activity.get("id").and_then(Value::as_str).unwrap_or_default();
    let stored = store::follows::upsert_follower(tx, org.id, signer.id, id, wanted, state.clock.now_ms()).await?;
    if stored == store::follows::ACCEPTED {
        follows::send_answer(
            tx,
            state,
            org.id,
            &state.urls.org(handle),
            activity,
            &signer.inbox,
            true,
        )
        .await?;
    } else {
        let subject = format!("{} asks to follow {}", signer.ap_id, org.name);
        let body = format!(
            "{} ({}) asks to follow {}. Approve with:\n\n  understory org approve {} {}\n",
            signer.name, signer.ap_id, org.name, org.handle, signer.ap_id
        );
        super::mail::notify_staff(tx, state, org.id, &subject, &body).await?;
    }
    Ok(Outcome::Processed)
}

async fn on_undo(tx: &mut Tx, state: &AppState, object: &Value, signer: &RemoteActor) -> Result<Outcome> {
    let undone = id_of(object).ok_or_else(|| Error::Invalid("Undo names no object".into()))?;
    if object.is_object() && object.get("actor").and_then(id_of) != Some(signer.ap_id.as_str()) {
        return Err(Error::Forbidden("cannot undo another actor's activity".into()));
    }
    let mut removed = store::follows::remove_follower_by_activity(tx, signer.id, undone).await?
        | store::posts::remove_interaction(tx, undone, signer.id).await?;
    // Mastodon may Undo an older Follow id than the one we kept after a repeated Follow:
    // an embedded Follow of one of our organisations ends the relationship all the same.
    if !removed && type_of(object) == Some("Follow") {
        let handle = object
            .get("object")
            .and_then(id_of)
            .and_then(|t| state.urls.handle_of_actor(t));
        if let Some(org) = match handle {
            Some(h) => store::orgs::find_by_handle_in(tx, h).await?,
            None => None,
        } {
            removed = store::follows::remove_follower(tx, org.id, signer.id).await?;
        }
    }
    Ok(if removed { Outcome::Processed } else { Outcome::Ignored })
}

async fn on_interaction(
    tx: &mut Tx,
    state: &AppState,
    id: &str,
    kind: &str,
    object: &Value,
    signer: &RemoteActor,
) -> Result<Outcome> {
    let target = id_of(object).ok_or_else(|| Error::Invalid(format!("{kind} names no object")))?;
    let Some((handle, post_id)) = state.urls.update_of(target) else {
        return Ok(Outcome::Ignored);
    };
    super::posts::live_post_in(tx, handle, post_id).await?;
    let kind = if kind == "Like" { "like" } else { "announce" };
    store::posts::add_interaction(tx, id, kind, signer.id, post_id, state.clock.now_ms()).await?;
    Ok(Outcome::Processed)
}

/// Checks an embedded object: it must be embedded, on the actor's host, and by the actor.
/// The id of an object embedded by `signer`: a URL on its host (normalised), attributed to it.
fn own_object(state: &AppState, object: &Value, signer: &RemoteActor) -> Result<String> {
    let raw = object
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::Invalid("object must be embedded with an id".into()))?;
    let id = super::remote_url(state, "object id", raw)?;
    if host_of(&id).is_none() || host_of(&id) != host_of(&signer.ap_id) {
        return Err(Error::Forbidden("object id is not on the actor's host".into()));
    }
    if let Some(author) = object.get("attributedTo").and_then(id_of)
        && author != signer.ap_id
    {
        return Err(Error::Forbidden("object is attributed to another actor".into()));
    }
    Ok(id)
}

async fn on_create(tx: &mut Tx, state: &AppState, object: &Value, signer: &RemoteActor) -> Result<Outcome> {
    let id = &own_object(state, object, signer)?;
    let kind = type_of(object).unwrap_or("");
    let content = if NOTE_TYPES.contains(&kind) {
        html::sanitize(object.get("content").and_then(Value::as_str).unwrap_or(""))
    } else if CONVERTED_TYPES.contains(&kind) {
        converted_content(object, id)
    } else {
        return Ok(Outcome::Ignored);
    };
    let published = object
        .get("published")
        .and_then(Value::as_str)
        .and_then(|p| chrono::DateTime::parse_from_rfc3339(p).ok())
        .map_or(state.clock.now_ms(), |d| d.timestamp_millis());
    let (org_id, reason, post_id) = match relevance(tx, state, object, signer).await? {
        Some(found) => found,
        None => return Ok(Outcome::Ignored),
    };
    let attachments = crate::protocol::note::remote_attachments(object);
    let previews: Vec<(&str, Purpose)> = attachments
        .iter()
        .filter(|a| a.media_type.starts_with("image/"))
        .map(|a| (a.url.as_str(), Purpose::Preview))
        .collect();
    super::media::register_remote(tx, state, &previews).await?;
    let attachments = serde_json::to_string(&attachments).map_err(|e| Error::Internal(e.to_string()))?;
    store::inbox::insert_note(
        tx,
        id,
        signer.id,
        org_id,
        reason,
        post_id,
        &content,
        &attachments,
        published,
        state.clock.now_ms(),
    )
    .await?;
    if reason != "followed" {
        let what = if reason == "reply" {
            "replied to an update of"
        } else {
            "mentioned"
        };
        let subject = format!("{} {what} your organisation", signer.name);
        let text = html::plain_name(&content);
        let body = format!(
            "{} ({}) {what} your organisation:\n\n{text}\n\n{id}\n",
            signer.name, signer.ap_id
        );
        super::mail::notify_staff(tx, state, org_id, &subject, &body).await?;
    }
    Ok(Outcome::Processed)
}

/// The text of a converted type: its name, linked to its page (`url`, else its id), then its
/// content or summary, sanitised.
fn converted_content(object: &Value, id: &str) -> String {
    let name = object.get("name").and_then(Value::as_str).unwrap_or("");
    let url = crate::protocol::items(object.get("url"))
        .into_iter()
        .find_map(|u| match u {
            Value::String(s) => Some(s.as_str()),
            link => (link
                .get("mediaType")
                .and_then(Value::as_str)
                .is_none_or(|m| m == "text/html"))
            .then(|| link.get("href").and_then(Value::as_str))
            .flatten(),
        })
        .unwrap_or(id);
    let text = ["content", "summary"]
        .iter()
        .find_map(|k| object.get(*k).and_then(Value::as_str).filter(|t| !t.is_empty()))
        .unwrap_or("");
    let title = crate::domain::text::escape_html(&html::plain_name(name));
    let link = crate::domain::text::escape_html(url);
    html::sanitize(&format!("<p><a href=\"{link}\">{title}</a></p>{text}"))
}

/// Which organisation a note concerns: a reply to its update, a mention of it, or a post by an
/// actor it follows.
async fn relevance(
    tx: &mut Tx,
    state: &AppState,
    object: &Value,
    signer: &RemoteActor,
) -> Result<Option<(i64, &'static str, Option<i64>)>> {
    if let Some((handle, post_id)) = object
        .get("inReplyTo")
        .and_then(id_of)
        .and_then(|r| state.urls.update_of(r))
    {
        let (org, _) = super::posts::live_post_in(tx, handle, post_id).await?;
        return Ok(Some((org.id, "reply", Some(post_id))));
    }
    for tag in crate::protocol::items(object.get("tag")) {
        if type_of(tag) != Some("Mention") {
            continue;
        }
        if let Some(handle) = tag
            .get("href")
            .and_then(Value::as_str)
            .and_then(|h| state.urls.handle_of_actor(h))
            && let Some(org) = store::orgs::find_by_handle_in(tx, handle)
                .await?
                .filter(|o| o.deleted_at.is_none())
        {
            return Ok(Some((org.id, "mention", None)));
        }
    }
    let following = store::follows::orgs_following(tx, signer.id).await?;
    Ok(following.first().map(|org_id| (*org_id, "followed", None)))
}

async fn on_update(tx: &mut Tx, state: &AppState, object: &Value, signer: &RemoteActor) -> Result<Outcome> {
    if id_of(object) == Some(signer.ap_id.as_str()) {
        let url = Url::parse(&signer.ap_id).map_err(|_| Error::Invalid("bad actor id".into()))?;
        let mut actor = parse_remote_actor_keyed(object, &url, state.clock.now_ms(), KeyChoice::Prefer(&signer.key_id))
            .map_err(|e| Error::Invalid(e.to_string()))?;
        actor.id = signer.id;
        store::actors::upsert(tx, &actor).await?;
        super::media::register_actor(tx, state, &actor).await?;
        super::directory::sync_remote(tx, state, &actor, object).await?;
        return Ok(Outcome::Processed);
    }
    let id = &own_object(state, object, signer)?;
    let content = html::sanitize(object.get("content").and_then(Value::as_str).unwrap_or(""));
    let updated = store::inbox::update_note(tx, id, signer.id, &content, state.clock.now_ms()).await?;
    Ok(if updated { Outcome::Processed } else { Outcome::Ignored })
}

async fn on_delete(tx: &mut Tx, state: &AppState, object: &Value, signer: &RemoteActor) -> Result<Outcome> {
    let target = id_of(object).ok_or_else(|| Error::Invalid("Delete names no object".into()))?;
    if target == signer.ap_id {
        store::actors::mark_deleted(tx, signer.id, state.clock.now_ms()).await?;
        store::directory::unlist(tx, &signer.ap_id, state.clock.now_ms()).await?;
        return Ok(Outcome::Processed);
    }
    if host_of(target).is_none() || host_of(target) != host_of(&signer.ap_id) {
        return Err(Error::Forbidden("cannot delete an object of another host".into()));
    }
    // Notes are stored by their normalised id.
    let target = &super::remote_url(state, "Delete object", target)?;
    match store::inbox::note_author(tx, target).await? {
        Some(author) if author != signer.id => Err(Error::Forbidden("cannot delete another actor's object".into())),
        Some(_) => {
            store::inbox::delete_note(tx, target).await?;
            Ok(Outcome::Processed)
        }
        None => Ok(Outcome::Ignored),
    }
}
