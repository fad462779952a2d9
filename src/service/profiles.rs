//! The whole expertise profile as one document: read it, replace it (API `PUT`, profile
//! files). Every field is checked first; the errors name each bad field; nothing is saved
//! half-way.

use serde_json::{Map, Value, json};

use super::{
    Error, Result,
    audit::Who,
    orgs::{self, ProfileEdit},
};
use crate::{
    domain::profile::{ProfileErrors, ProfileInput},
    state::AppState,
    store::orgs::Org,
};

/// Keys of the document that are not part of the structured profile.
const ORG_KEYS: [&str; 7] = [
    "name",
    "summary",
    "listed_in",
    "discoverable",
    "indexable",
    "approve_followers",
    "public_lists",
];

/// The profile document of an organisation.
pub fn document(org: &Org) -> Value {
    let mut doc = json!({
        "name": org.name, "summary": org.summary, "listed_in": org.listed_in, "discoverable": org.discoverable,
        "indexable": org.indexable, "approve_followers": org.manually_approves_followers, "public_lists": org.public_lists,
    });
    if let (Some(map), Ok(Value::Object(profile))) = (doc.as_object_mut(), serde_json::to_value(org.profile())) {
        map.extend(profile);
    }
    doc
}

fn string(map: &mut Map<String, Value>, key: &str, errors: &mut Vec<String>) -> Option<String> {
    match map.remove(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => {
            errors.push(format!("{key}: must be a string"));
            None
        }
    }
}

fn boolean(map: &mut Map<String, Value>, key: &str, errors: &mut Vec<String>) -> Option<bool> {
    match map.remove(key) {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(b),
        Some(Value::String(s)) if s == "true" || s == "false" => Some(s == "true"),
        Some(_) => {
            errors.push(format!("{key}: must be true or false"));
            None
        }
    }
}

/// Parses and checks a profile document into an edit (the structured profile is replaced
/// whole; the organisation-level keys change only when present).
pub fn parse_document(state: &AppState, doc: Value) -> Result<ProfileEdit> {
    let Value::Object(mut map) = doc else {
        return Err(Error::Invalid("profile: must be an object".into()));
    };
    let mut errors = Vec::new();
    let e = &mut errors;
    let mut edit = ProfileEdit {
        name: string(&mut map, "name", e),
        summary: string(&mut map, "summary", e),
        listed_in: string(&mut map, "listed_in", e),
        discoverable: boolean(&mut map, "discoverable", e),
        indexable: boolean(&mut map, "indexable", e),
        approve_followers: boolean(&mut map, "approve_followers", e),
        public_lists: boolean(&mut map, "public_lists", e),
        profile: None,
    };
    debug_assert!(ORG_KEYS.iter().all(|k| !map.contains_key(*k)));
    match serde_json::from_value::<ProfileInput>(Value::Object(map)) {
        Ok(input) => match input.validate(&state.vocab) {
            Ok(profile) => edit.profile = Some(profile),
            Err(ProfileErrors(mut list)) => errors.append(&mut list),
        },
        Err(err) => errors.push(format!("profile: {err}")),
    }
    if let Err(err) = orgs::reach(&edit, "none") {
        errors.push(err.to_string());
    }
    if errors.is_empty() {
        Ok(edit)
    } else {
        Err(Error::Invalid(errors.join("; ")))
    }
}

/// Replaces an organisation's profile from a document.
pub async fn replace(state: &AppState, who: &Who, handle: &str, doc: Value) -> Result<Org> {
    let edit = parse_document(state, doc)?;
    orgs::edit(state, who, handle, &edit).await
}

/// Reads a profile file (`.toml` or `.json`) into a document.
pub fn read_file(path: &std::path::Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
    let is_toml = path.extension().is_some_and(|x| x.eq_ignore_ascii_case("toml"));
    if is_toml {
        let value: toml::Value =
            toml::from_str(&text).map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
        serde_json::to_value(value).map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))
    } else {
        serde_json::from_str(&text).map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))
    }
}
