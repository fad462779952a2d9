//! Updates: publish, edit and delete, each delivered to followers from the outbox.

use serde_json::json;

use super::{
    Error, Result,
    audit::{self, Who},
    media, orgs, token,
};
use crate::{
    clock::rfc3339,
    delivery,
    domain::{
        language_tag,
        media::{MAX_ALT_CHARS, MAX_ATTACHMENTS},
        plain_text, text,
    },
    protocol::{activities, note},
    state::AppState,
    store::{self, media::Attachment, orgs::Org, posts::Post},
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
    let draft = Draft {
        text: body.to_owned(),
        lang: lang.map(str::to_owned),
        content_warning: cw.map(str::to_owned),
        attachments: Vec::new(),
    };
    Ok(publish_draft(state, who, handle, draft).await?.0)
}

/// A file to attach to an update, as uploaded.
#[derive(Debug, Default, Clone)]
pub struct Upload {
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// Alt text (required for pictures) or a document's title.
    pub description: Option<String>,
    /// The name it had on the uploader's machine (for messages and a document's default title).
    pub file_name: Option<String>,
}

/// An update to publish.
#[derive(Debug, Default, Clone)]
pub struct Draft {
    /// The text.
    pub text: String,
    /// BCP 47 language ([`DEFAULT_LANGUAGE`] when absent).
    pub lang: Option<String>,
    /// Content warning shown before the text.
    pub content_warning: Option<String>,
    /// Up to [`MAX_ATTACHMENTS`] files.
    pub attachments: Vec<Upload>,
}

/// Checks every attachment (count, format, size, alt text) and encodes them, writing nothing.
async fn prepare(uploads: Vec<Upload>) -> Result<Vec<(media::Prepared, String)>> {
    if uploads.len() > MAX_ATTACHMENTS {
        return Err(Error::Invalid(format!(
            "attachments: at most {MAX_ATTACHMENTS} files per update, got {}",
            uploads.len()
        )));
    }
    let mut prepared = Vec::with_capacity(uploads.len());
    for (n, upload) in uploads.into_iter().enumerate() {
        let label = match &upload.file_name {
            Some(name) => format!("attachment {} ({name})", n + 1),
            None => format!("attachment {}", n + 1),
        };
        let description = upload.description.as_deref().map(str::trim).unwrap_or("").to_owned();
        if description.chars().count() > MAX_ALT_CHARS {
            return Err(Error::Invalid(format!(
                "{label}: alt text is longer than {MAX_ALT_CHARS} characters"
            )));
        }
        let file = match media::prepare_attachment(upload.bytes).await {
            Ok(file) => file,
            Err(Error::Invalid(m)) => return Err(Error::Invalid(format!("{label}: {m}"))),
            Err(Error::TooLarge(m)) => return Err(Error::TooLarge(format!("{label}: {m}"))),
            Err(e) => return Err(e),
        };
        let description = match (file.is_image(), description.is_empty()) {
            (true, true) => {
                return Err(Error::Invalid(format!(
                    "{label}: alt text is required: describe the picture for people who cannot see it"
                )));
            }
            (false, true) => upload.file_name.unwrap_or_else(|| "Document".into()),
            (_, false) => description,
        };
        let description = plain_text("alt text", &description, MAX_ALT_CHARS, true)?;
        prepared.push((file, description));
    }
    Ok(prepared)
}

/// Publishes an update with its attachments and writes its `Create` for every follower in the
/// same transaction. Every file is checked before any is stored.
pub async fn publish_draft(state: &AppState, who: &Who, handle: &str, draft: Draft) -> Result<(Post, Vec<Attachment>)> {
    let org = orgs::find_live(state, handle).await?;
    let source = plain_text("text", &draft.text, text::MAX_UPDATE_CHARS, true)?;
    let content_warning = warning(draft.content_warning.as_deref())?;
    let lang = language_tag(draft.lang.as_deref().unwrap_or(DEFAULT_LANGUAGE))?;
    let prepared = prepare(draft.attachments).await?;
    let mut stored = Vec::with_capacity(prepared.len());
    for (file, description) in &prepared {
        stored.push((media::save(state, file).await?, description.clone()));
    }
    let rendered = text::render(&source, &state.urls.tag_base());
    let tags = serde_json::to_string(&rendered.tags).map_err(|e| Error::Internal(e.to_string()))?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    // Checked again inside the transaction: a deletion that committed since `find_live` wins.
    if !store::orgs::lock_live(&mut tx, org.id).await? {
        return Err(Error::Gone(format!("organisation {handle}")));
    }
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
    let items: Vec<(i64, String)> = stored.iter().map(|(m, d)| (m.id, d.clone())).collect();
    store::media::set_attachments(&mut tx, id, &items).await?;
    let files: Vec<String> = stored.iter().map(|(m, _)| m.file_name()).collect();
    audit::record(
        &mut tx,
        state,
        who,
        Some(org.id),
        "update.publish",
        json!({"id": id, "text": source, "lang": lang, "attachments": files}),
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
    let attachments: Vec<Attachment> = stored
        .into_iter()
        .enumerate()
        .map(|(position, (media, description))| Attachment {
            post_id: id,
            position: position as i64,
            description,
            media,
        })
        .collect();
    let object = note::note(&state.urls, handle, &post, &attachments, note::NoteCounts::default());
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
    Ok((post, attachments))
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
    let attachments = store::media::attachments_in(&mut tx, id).await?;
    let object = note::note(&state.urls, handle, &post, &attachments, note::NoteCounts::default());
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

/// [`live_post`] inside a transaction (every read under an open transaction goes through it).
pub async fn live_post_in(tx: &mut store::Tx, handle: &str, id: i64) -> Result<(Org, Post)> {
    let org = store::orgs::find_by_handle_in(tx, handle)
        .await?
        .filter(|o| o.deleted_at.is_none())
        .ok_or_else(|| Error::NotFound(format!("organisation {handle}")))?;
    match store::posts::find_in(tx, org.id, id).await? {
        Some(p) if p.deleted_at.is_some() => Err(Error::Gone(format!("update {id}"))),
        Some(p) => Ok((org, p)),
        None => Err(Error::NotFound(format!("update {id}"))),
    }
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
