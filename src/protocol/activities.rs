//! The activities we send: Create, Update, Delete, Accept, Reject, Follow, Undo.

use serde_json::{Map, Value, json};

use super::{AS_CONTEXT, PUBLIC, context};

fn without_context(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(map) = object.as_object_mut() {
        map.shift_remove("@context");
    }
    object
}

/// Wraps an object in an activity addressed like the object (`to`/`cc` copied).
pub fn wrap(kind: &str, id: &str, actor: &str, object: &Value, published: Option<&str>) -> Value {
    let mut activity = Map::new();
    activity.insert("@context".into(), context());
    activity.insert("id".into(), json!(id));
    activity.insert("type".into(), json!(kind));
    activity.insert("actor".into(), json!(actor));
    if let Some(p) = published {
        activity.insert("published".into(), json!(p));
    }
    activity.insert(
        "to".into(),
        object.get("to").cloned().unwrap_or_else(|| json!([PUBLIC])),
    );
    if let Some(cc) = object.get("cc") {
        activity.insert("cc".into(), cc.clone());
    }
    activity.insert("object".into(), without_context(object));
    Value::Object(activity)
}

/// `Delete` of an object, carrying a Tombstone, addressed public + followers.
pub fn delete(id: &str, actor: &str, object_id: &str, followers: &str) -> Value {
    json!({
        "@context": AS_CONTEXT,
        "id": id,
        "type": "Delete",
        "actor": actor,
        "to": [PUBLIC],
        "cc": [followers],
        "object": {"id": object_id, "type": "Tombstone"},
    })
}

/// `Accept` or `Reject` of a received Follow, embedding it (Mastodon matches either way).
pub fn answer_follow(accept: bool, id: &str, actor: &str, follow: &Value) -> Value {
    let follower = follow.get("actor").cloned().unwrap_or(Value::Null);
    json!({
        "@context": AS_CONTEXT,
        "id": id,
        "type": if accept { "Accept" } else { "Reject" },
        "actor": actor,
        "to": [follower],
        "object": without_context(follow),
    })
}

/// `Follow` of a remote actor.
pub fn follow(id: &str, actor: &str, target: &str) -> Value {
    json!({"@context": AS_CONTEXT, "id": id, "type": "Follow", "actor": actor, "object": target, "to": [target]})
}

/// `Undo` of one of our activities.
pub fn undo(id: &str, actor: &str, object: &Value, to: &str) -> Value {
    json!({"@context": AS_CONTEXT, "id": id, "type": "Undo", "actor": actor, "to": [to], "object": without_context(object)})
}
