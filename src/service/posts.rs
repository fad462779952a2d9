//! Updates: publish, edit and delete, each delivered to followers from the outbox.

use serde_json::json;

use super::{
    Error, Result,
    audit::{self, Who},
    orgs, token,
};
use crate::{
    clock::rfc3339,
    delivery,
    domain::{language_tag, plain_text, text},
    protocol::{activities, note},
    state::AppState,
    store::{self, orgs::Org, posts::Post},
};

/// Default language of an update when none is given.
pub const DEFAULT_LANGUAGE: &str = "en";

/// Longest content warning.
pub const MAX_WARNING_CHARS: usize = 200;

/// Publishes an update and writes its `Create` for every follower in the same transaction.
pub async fn publish(state: &AppState, who: &Who, handle: &str, body: &str, lang: Option<&str>) -> Result<Post> {
    publish_with_warning(state, who, handle, body, lang, None).await
}

fn warning(raw: Option<&str>) -> Result<Option<String>> {
    match raw.map(str::trim).filter(|w| !w.is_empty()) {
        Some(w) => Ok(Some(plain_text("content_warning", w, MAX_WARNING_CHARS, true)?)),
        None => Ok(None),
    }
}

/// Publishes an update behind an optional content warning (the Note's `summary`).
pub async fn publish_with_warning(
    state: &AppState,
    who: &Who,
    handle: &str,
    body: &str,
    lang: Option<&str>,
    cw: Option<&str>,
) -> Result<Post> {
    let org = orgs::find_live(state, handle).await?;
    let source = plain_text("text", body, text::MAX_UPDATE_CHARS, true)?;
    let content_warning = warning(cw)?;
    let lang = language_tag(lang.unwrap_or(DEFAULT_LANGUAGE))?;
    let rendered = text::render(&source, &state.urls.tag_base());
    let tags = serde_json::to_string(&rendered.tags).map_err(|e| Error::Internal(e.to_string()))?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let id = store::posts::insert(
        &mut tx,
        org.id,
        &source,
        &rendered.html,
        &tags,
        &lang,
        content_warning.as_deref(),
        now,
    )
    .await?;
    audit::record(
        &mut tx,
        state,
        who,
        Some(org.id),
        "update.publish",
        json!({"id": id, "text": source, "lang": lang}),
    )
    .await?;
    let post = Post {
        id,
        org_id: org.id,
        source,
        content_html: rendered.html,
        tags,
        lang,
        published: now,
        updated: None,
        deleted_at: None,
        content_warning,
    };
    let object = note::note(&state.urls, handle, &post, note::NoteCounts::default());
    let activity_id = format!("{}/activity", state.urls.update(handle, id));
    let activity = activities::wrap(
        "Create",
        &activity_id,
        &state.urls.org(handle),
        &object,
        Some(&rfc3339(now)),
    );
    delivery::to_followers(&mut tx, state, org.id, &activity).await?;
    tx.commit().await?;
    delivery::notify(state);
    Ok(post)
}

/// Rewrites an update's text and sends `Update` with a newer `updated`.
pub async fn edit(state: &AppState, who: &Who, handle: &str, id: i64, body: &str) -> Result<Post> {
    let (_, post) = live_post(state, handle, id).await?;
    let cw = post.content_warning.clone();
    edit_with_warning(state, who, handle, id, body, cw.as_deref()).await
}

/// Rewrites an update's text and content warning and sends `Update` with a newer `updated`.
pub async fn edit_with_warning(
    state: &AppState,
    who: &Who,
    handle: &str,
    id: i64,
    body: &str,
    cw: Option<&str>,
) -> Result<Post> {
    let (org, post) = live_post(state, handle, id).await?;
    let source = plain_text("text", body, text::MAX_UPDATE_CHARS, true)?;
    let content_warning = warning(cw)?;
    let rendered = text::render(&source, &state.urls.tag_base());
    let tags = serde_json::to_string(&rendered.tags).map_err(|e| Error::Internal(e.to_string()))?;
    // Peers ignore an edit whose `updated` is not newer, at second precision.
    let floor = post.updated.unwrap_or(post.published) / 1000 * 1000 + 1000;
    let now = state.clock.now_ms().max(floor);
    let mut tx = state.db.begin().await?;
    store::posts::update_with_warning(
        &mut tx,
        id,
        &source,
        &rendered.html,
        &tags,
        content_warning.as_deref(),
        now,
    )
    .await?;
    let details = json!({"id": id, "before": {"text": post.source}, "after": {"text": source}});
    audit::record(&mut tx, state, who, Some(org.id), "update.edit", details).await?;
    let post = Post {
        source,
        content_html: rendered.html,
        tags,
        updated: Some(now),
        content_warning,
        ..post
    };
    let object = note::note(&state.urls, handle, &post, note::NoteCounts::default());
    let activity_id = state
        .urls
        .activity(&state.urls.update(handle, id), "updates", &now.to_string());
    let activity = activities::wrap("Update", &activity_id, &state.urls.org(handle), &object, None);
    delivery::to_followers(&mut tx, state, org.id, &activity).await?;
    tx.commit().await?;
    delivery::notify(state);
    Ok(post)
}

/// Deletes an update: it then answers 410, and followers get `Delete` with a Tombstone.
pub async fn delete(state: &AppState, who: &Who, handle: &str, id: i64) -> Result<()> {
    let (org, post) = live_post(state, handle, id).await?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    store::posts::mark_deleted(&mut tx, id, now).await?;
    audit::record(
        &mut tx,
        state,
        who,
        Some(org.id),
        "update.delete",
        json!({"id": id, "text": post.source}),
    )
    .await?;
    let object_id = state.urls.update(handle, id);
    let activity_id = state.urls.activity(&object_id, "delete", &token());
    let activity = activities::delete(
        &activity_id,
        &state.urls.org(handle),
        &object_id,
        &state.urls.org_part(handle, "followers"),
    );
    delivery::to_followers(&mut tx, state, org.id, &activity).await?;
    tx.commit().await?;
    delivery::notify(state);
    Ok(())
}

/// An organisation's live update: `NotFound` or `Gone` otherwise.
pub async fn live_post(state: &AppState, handle: &str, id: i64) -> Result<(Org, Post)> {
    let org = orgs::find_live(state, handle).await?;
    match store::posts::find(&state.db, org.id, id).await? {
        Some(p) if p.deleted_at.is_some() => Err(Error::Gone(format!("update {id}"))),
        Some(p) => Ok((org, p)),
        None => Err(Error::NotFound(format!("update {id}"))),
    }
}
