//! Updates as `Note`s, and the Tombstone of a deleted one.

use serde_json::{Value, json};

use super::{AS_CONTEXT, PUBLIC, Urls, context};
use crate::{clock::rfc3339, store::posts::Post};

/// Counts shown on a note (Mastodon reads `likes.totalItems` and `shares.totalItems`).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoteCounts {
    /// Likes received.
    pub likes: i64,
    /// Boosts received.
    pub shares: i64,
}

/// The `Note` of an update: public, copied to followers, with `contentMap` and hashtags.
pub fn note(urls: &Urls, handle: &str, post: &Post, counts: NoteCounts) -> Value {
    let id = urls.update(handle, post.id);
    let tags: Vec<Value> = post
        .tag_names()
        .iter()
        .map(|t| json!({"type": "Hashtag", "href": format!("{}{t}", urls.tag_base()), "name": format!("#{t}")}))
        .collect();
    let mut note = json!({
        "@context": context(),
        "id": id,
        "type": "Note",
        "attributedTo": urls.org(handle),
        "content": post.content_html,
        "contentMap": {post.lang.clone(): post.content_html},
        "published": rfc3339(post.published),
        "url": id,
        "to": [PUBLIC],
        "cc": [urls.org_part(handle, "followers")],
        "sensitive": post.content_warning.is_some(),
        "summary": post.content_warning,
        "inReplyTo": null,
        "tag": tags,
        "attachment": [],
        "likes": {"id": format!("{id}/likes"), "type": "Collection", "totalItems": counts.likes},
        "shares": {"id": format!("{id}/shares"), "type": "Collection", "totalItems": counts.shares},
    });
    if let (Some(updated), Some(map)) = (post.updated, note.as_object_mut()) {
        map.insert("updated".into(), Value::String(rfc3339(updated)));
    }
    note
}

/// The Tombstone served (with 410) in place of a deleted object.
pub fn tombstone(id: &str, former_type: &str, deleted_ms: i64) -> Value {
    json!({"@context": AS_CONTEXT, "id": id, "type": "Tombstone", "formerType": former_type, "deleted": rfc3339(deleted_ms)})
}
