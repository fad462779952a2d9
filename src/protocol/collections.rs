//! OrderedCollections: outbox, followers, following, featured, featured tags.

use serde_json::{Value, json};

use super::AS_CONTEXT;

/// Items per collection page (Mastodon uses 20).
pub const PAGE_SIZE: i64 = 20;

/// A collection head with its count and, when the list is public, a link to the first page.
pub fn head(id: &str, total: i64, first: Option<String>) -> Value {
    let mut doc = json!({"@context": AS_CONTEXT, "id": id, "type": "OrderedCollection", "totalItems": total});
    if let (Some(first), Some(map)) = (first, doc.as_object_mut()) {
        map.insert("first".into(), Value::String(first));
    }
    doc
}

/// A collection with all its items inline (short lists: featured, featured tags).
pub fn inline(id: &str, items: Vec<Value>) -> Value {
    json!({"@context": AS_CONTEXT, "id": id, "type": "OrderedCollection", "totalItems": items.len(), "orderedItems": items})
}

/// One page of a collection.
pub fn page(id: &str, part_of: &str, items: Vec<Value>, next: Option<String>) -> Value {
    let mut doc = json!({"@context": AS_CONTEXT, "id": id, "type": "OrderedCollectionPage", "partOf": part_of, "orderedItems": items});
    if let (Some(next), Some(map)) = (next, doc.as_object_mut()) {
        map.insert("next".into(), Value::String(next));
    }
    doc
}
