//! Updates as `Note`s, and the Tombstone of a deleted one.

use serde_json::{Value, json};

use super::{AS_CONTEXT, PUBLIC, Urls, context};
use crate::{
    clock::rfc3339,
    domain::media::is_image,
    store::{media::Attachment, posts::Post},
};

/// Counts shown on a note (Mastodon reads `likes.totalItems` and `shares.totalItems`).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoteCounts {
    /// Likes received.
    pub likes: i64,
    /// Boosts received.
    pub shares: i64,
}

/// An attachment as Mastodon reads it: `Image` (with size and BlurHash) or `Document`, with
/// its alt text in `name`.
pub fn attachment(urls: &Urls, a: &Attachment) -> Value {
    let m = &a.media;
    if is_image(&m.media_type) {
        json!({"type": "Image", "mediaType": m.media_type, "url": urls.media(&m.file_name()), "name": a.description,
            "blurhash": m.blurhash, "width": m.width, "height": m.height})
    } else {
        json!({"type": "Document", "mediaType": m.media_type, "url": urls.media(&m.file_name()), "name": a.description})
    }
}

/// The `Note` of an update: public, copied to followers, with `contentMap`, hashtags and
/// attachments.
pub fn note(urls: &Urls, handle: &str, post: &Post, attachments: &[Attachment], counts: NoteCounts) -> Value {
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
        "attachment": attachments.iter().map(|a| attachment(urls, a)).collect::<Vec<_>>(),
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

/// An attachment of a remote note, as we keep it: shown through our cache, never hotlinked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RemoteAttachment {
    /// The file on its server.
    pub url: String,
    /// Its declared media type.
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// Alt text, plain.
    pub name: String,
}

/// The first four attachments of a remote note with an http(s) URL.
pub fn remote_attachments(object: &Value) -> Vec<RemoteAttachment> {
    super::items(object.get("attachment"))
        .into_iter()
        .filter(|item| item.is_object())
        .filter_map(|item| {
            let url = super::actor::picture_url(Some(item))?;
            let media_type = item.get("mediaType").and_then(Value::as_str).unwrap_or("");
            let media_type = if media_type.is_empty() && item.get("type").and_then(Value::as_str) == Some("Image") {
                "image/*"
            } else {
                media_type
            };
            let name = crate::domain::html::plain_name(item.get("name").and_then(Value::as_str).unwrap_or(""));
            Some(RemoteAttachment {
                url,
                media_type: media_type.chars().take(100).collect(),
                name: name.chars().take(crate::domain::media::MAX_ALT_CHARS).collect(),
            })
        })
        .take(crate::domain::media::MAX_ATTACHMENTS)
        .collect()
}
