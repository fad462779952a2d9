//! Actor documents: our organisations and instance actor out, remote actors in.

use serde_json::{Value, json};
use url::Url;

use super::{Urls, context, id_of, profile, type_of};
use crate::{
    clock::rfc3339, config::authority_of, domain::html, domain::text::escape_html, domain::vocab::Vocab,
    store::actors::RemoteActor, store::orgs::Org,
};

/// Actor types we accept from peers (Mastodon's list).
pub const ACTOR_TYPES: [&str; 5] = ["Person", "Organization", "Service", "Application", "Group"];

/// The `Organization` actor of a local organisation, with its expertise profile rendered for
/// Mastodon (bio, fields, hashtags) and as structured terms. `public_key_pem` must be present.
pub fn org_actor(urls: &Urls, org: &Org, public_key_pem: &str, vocab: &Vocab) -> Value {
    let id = urls.org(&org.handle);
    let profile = org.profile();
    let mut context = context();
    if let (Some(terms), Some(extra)) = (
        context.get_mut(2).and_then(Value::as_object_mut),
        profile::context_terms().as_object(),
    ) {
        for (k, v) in extra {
            terms.insert(k.clone(), v.clone());
        }
    }
    let mut actor = json!({
        "@context": context,
        "id": id,
        "type": "Organization",
        "preferredUsername": org.handle,
        "name": org.name,
        "summary": profile::bio(urls, &org.summary, &profile),
        "url": urls.profile(&org.handle),
        "published": rfc3339(org.created_at),
        "updated": rfc3339(org.updated_at),
        "inbox": urls.org_part(&org.handle, "inbox"),
        "outbox": urls.org_part(&org.handle, "outbox"),
        "followers": urls.org_part(&org.handle, "followers"),
        "following": urls.org_part(&org.handle, "following"),
        "featured": urls.org_part(&org.handle, "featured"),
        "featuredTags": urls.org_part(&org.handle, "tags"),
        "endpoints": {"sharedInbox": urls.shared_inbox()},
        "manuallyApprovesFollowers": org.manually_approves_followers,
        "discoverable": org.discoverable,
        "indexable": org.indexable,
        "tag": profile::hashtags(urls, &profile, crate::domain::profile::MAX_ITEMS),
        "attachment": profile::fields(urls, &profile, vocab),
        "publicKey": {"id": format!("{id}#main-key"), "owner": id, "publicKeyPem": public_key_pem},
    });
    if let Some(map) = actor.as_object_mut() {
        let aliases: Vec<&str> = org.also_known_as.split_whitespace().collect();
        if !aliases.is_empty() {
            map.insert("alsoKnownAs".into(), json!(aliases));
        }
        for (key, file) in [("icon", &org.avatar), ("image", &org.header)] {
            if let Some(file) = file {
                let media_type = crate::domain::media::media_type_of(file);
                map.insert(
                    key.into(),
                    json!({"type": "Image", "mediaType": media_type, "url": urls.media(file)}),
                );
            }
        }
        // Mastodon shows the organisation as the author of articles on its website that name it
        // in `<meta name="fediverse:creator">` (docs/FEDERATION.md).
        if let Some(host) = profile
            .website
            .as_deref()
            .and_then(|w| Url::parse(w).ok())
            .and_then(|u| u.host_str().map(str::to_owned))
        {
            map.insert("attributionDomains".into(), json!([host]));
        }
        if let Some(target) = &org.moved_to {
            map.insert("movedTo".into(), json!(target));
        }
        if !profile.name_map.is_empty() {
            map.insert("nameMap".into(), json!(profile.name_map));
        }
        if !profile.summary_map.is_empty() {
            let html: std::collections::BTreeMap<_, _> = profile
                .summary_map
                .iter()
                .map(|(l, s)| (l.clone(), format!("<p>{}</p>", escape_html(s))))
                .collect();
            map.insert("summaryMap".into(), json!(html));
        }
        map.extend(profile::structured(&profile, vocab, &org.listed_in));
    }
    actor
}

/// The instance actor (`Application`, username = the domain), which signs our GETs.
pub fn instance_actor(urls: &Urls, public_key_pem: &str, created_at: i64) -> Value {
    let id = urls.instance_actor();
    json!({
        "@context": context(),
        "id": id,
        "type": "Application",
        "preferredUsername": urls.authority(),
        "name": urls.authority(),
        "summary": "<p>The instance actor of this Understory instance. It signs requests and peers directories.</p>",
        "url": format!("{}/", urls.base()),
        "published": rfc3339(created_at),
        "inbox": format!("{id}/inbox"),
        "outbox": format!("{id}/outbox"),
        "endpoints": {"sharedInbox": urls.shared_inbox()},
        "manuallyApprovesFollowers": true,
        "discoverable": false,
        "indexable": false,
        "publicKey": {"id": format!("{id}#main-key"), "owner": id, "publicKeyPem": public_key_pem},
    })
}

/// Why a remote actor document was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid actor: {0}")]
pub struct ActorError(pub String);

fn same_origin(a: &Url, b: &str) -> bool {
    Url::parse(b).is_ok_and(|b| a.scheme() == b.scheme() && a.host_str() == b.host_str() && a.port() == b.port())
}

/// Which of an actor's keys to keep when parsing its document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyChoice<'a> {
    /// The first usable key (an actor fetched by its id).
    First,
    /// The key with this id, or the document is refused (a signature names it).
    Exactly(&'a str),
    /// The key with this id if the document still lists it, else the first (an actor's
    /// `Update` of itself, signed with this key).
    Prefer(&'a str),
}

/// A public key an actor document lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedKey {
    /// The key's id (`publicKey.id`, a Multikey's `id`).
    pub id: String,
    /// `owner` or `controller`; the actor when absent.
    pub owner: String,
    /// The key as PEM (SPKI, or PKCS#1 for a Multikey).
    pub pem: String,
}

/// The RSA keys an actor document lists, in the forms in use: `publicKey` as one object
/// (Mastodon, GoToSocial, Misskey, ...) or an array of them, and FEP-521a `assertionMethod`
/// Multikeys that carry RSA keys. Keys of other kinds (Ed25519) are skipped: HTTP signatures
/// from them are not accepted.
pub fn listed_keys(doc: &Value, actor_id: &str) -> Vec<ListedKey> {
    let items = |v: Option<&Value>| -> Vec<Value> {
        match v {
            Some(Value::Array(items)) => items.clone(),
            Some(v @ Value::Object(_)) => vec![v.clone()],
            _ => Vec::new(),
        }
    };
    let mut keys = Vec::new();
    for key in items(doc.get("publicKey")) {
        let (Some(id), Some(pem)) = (
            key.get("id").and_then(Value::as_str),
            key.get("publicKeyPem").and_then(Value::as_str),
        ) else {
            continue;
        };
        let owner = key.get("owner").and_then(Value::as_str).unwrap_or(actor_id);
        keys.push(ListedKey {
            id: id.to_owned(),
            owner: owner.to_owned(),
            pem: pem.to_owned(),
        });
    }
    for key in items(doc.get("assertionMethod")) {
        let (Some(id), Some(multibase)) = (
            key.get("id").and_then(Value::as_str),
            key.get("publicKeyMultibase").and_then(Value::as_str),
        ) else {
            continue;
        };
        let Some(pem) = crate::httpsig::keys::rsa_pem_from_multibase(multibase) else {
            continue;
        };
        let owner = key.get("controller").and_then(Value::as_str).unwrap_or(actor_id);
        keys.push(ListedKey {
            id: id.to_owned(),
            owner: owner.to_owned(),
            pem,
        });
    }
    keys
}

/// Parses a fetched actor document. `fetched_from` is the final URL it came from: the `id` must
/// equal it (no redirect to another actor), and inbox, shared inbox and key must share its origin.
pub fn parse_remote_actor(doc: &Value, fetched_from: &Url, now_ms: i64) -> Result<RemoteActor, ActorError> {
    parse_remote_actor_keyed(doc, fetched_from, now_ms, KeyChoice::First)
}

/// [`parse_remote_actor`], keeping the key `choice` names. A key counts only when it is the
/// actor's own: listed in this document with the actor as owner (or controller).
pub fn parse_remote_actor_keyed(
    doc: &Value,
    fetched_from: &Url,
    now_ms: i64,
    choice: KeyChoice<'_>,
) -> Result<RemoteActor, ActorError> {
    let err = |m: &str| ActorError(m.to_owned());
    let id = doc.get("id").and_then(Value::as_str).ok_or_else(|| err("no id"))?;
    let id_url = Url::parse(id).map_err(|_| err("id is not a URL"))?;
    if !matches!(id_url.scheme(), "https" | "http") {
        return Err(err("id is not an http(s) URL"));
    }
    if id_url.as_str() != fetched_from.as_str() && id != fetched_from.as_str() {
        return Err(err("id differs from the URL it was fetched from"));
    }
    let actor_type = type_of(doc).ok_or_else(|| err("no type"))?;
    if !ACTOR_TYPES.contains(&actor_type) {
        return Err(ActorError(format!("type {actor_type:?} is not an actor")));
    }
    let username = doc
        .get("preferredUsername")
        .and_then(Value::as_str)
        .ok_or_else(|| err("no preferredUsername"))?;
    if username.is_empty() || username.len() > 256 {
        return Err(err("bad preferredUsername"));
    }
    let inbox = doc
        .get("inbox")
        .and_then(Value::as_str)
        .ok_or_else(|| err("no inbox"))?;
    let shared_inbox = doc.pointer("/endpoints/sharedInbox").and_then(Value::as_str);
    let keys = listed_keys(doc, id);
    if keys.is_empty() {
        return Err(err("no publicKey"));
    }
    let own = |k: &&ListedKey| k.owner == id;
    let key = match choice {
        KeyChoice::First => keys
            .iter()
            .find(own)
            .ok_or_else(|| err("publicKey.owner is not the actor"))?,
        KeyChoice::Exactly(key_id) => match keys.iter().find(|k| k.id == key_id) {
            Some(k) if k.owner == id => k,
            Some(_) => return Err(ActorError(format!("key {key_id} is owned by another actor than {id}"))),
            // Mastodon's legacy form: the key id is the actor id itself.
            None if key_id == id && keys.len() == 1 && own(&&keys[0]) => &keys[0],
            None => {
                return Err(ActorError(format!(
                    "key {key_id} is not in the actor's own document {id}"
                )));
            }
        },
        KeyChoice::Prefer(key_id) => keys
            .iter()
            .filter(own)
            .find(|k| k.id == key_id)
            .or_else(|| keys.iter().find(own))
            .ok_or_else(|| err("publicKey.owner is not the actor"))?,
    };
    let key_id = match choice {
        KeyChoice::Exactly(k) if k == id => id,
        _ => key.id.as_str(),
    };
    let pem = key.pem.as_str();
    for (name, url) in [
        ("inbox", Some(inbox)),
        ("sharedInbox", shared_inbox),
        ("publicKey.id", Some(key_id)),
    ] {
        if let Some(url) = url
            && !same_origin(&id_url, url)
        {
            return Err(ActorError(format!("{name} is on another origin")));
        }
    }
    let url = match doc.get("url") {
        Some(Value::String(u)) if same_origin(&id_url, u) => Some(u.clone()),
        _ => None,
    };
    Ok(RemoteActor {
        id: 0,
        ap_id: id.to_owned(),
        actor_type: actor_type.to_owned(),
        username: username.to_owned(),
        domain: authority_of(&id_url).ok_or_else(|| err("id has no host"))?,
        name: html::plain_name(doc.get("name").and_then(Value::as_str).unwrap_or(username)),
        summary: html::sanitize(doc.get("summary").and_then(Value::as_str).unwrap_or("")),
        url,
        inbox: inbox.to_owned(),
        shared_inbox: shared_inbox.map(str::to_owned),
        key_id: key_id.to_owned(),
        public_key_pem: pem.to_owned(),
        discoverable: doc.get("discoverable").and_then(Value::as_bool).unwrap_or(false),
        indexable: doc.get("indexable").and_then(Value::as_bool).unwrap_or(false),
        fetched_at: now_ms,
        deleted_at: None,
        icon_url: picture_url(doc.get("icon")),
        image_url: picture_url(doc.get("image")),
    })
}

/// The URL of an `icon` or `image`: an `Image` object (or the first of a list) or a bare URL;
/// only http(s) URLs, which are shown through our cache and never linked directly.
pub fn picture_url(v: Option<&Value>) -> Option<String> {
    let url = match v? {
        Value::String(u) => u.as_str(),
        Value::Array(items) => return picture_url(items.first()),
        Value::Object(o) => match o.get("url")? {
            Value::String(u) => u.as_str(),
            Value::Array(items) => items
                .first()?
                .as_str()
                .or_else(|| items.first()?.get("href")?.as_str())?,
            Value::Object(link) => link.get("href")?.as_str()?,
            _ => return None,
        },
        _ => return None,
    };
    let parsed = Url::parse(url).ok()?;
    (matches!(parsed.scheme(), "https" | "http") && url.len() <= 2048).then(|| parsed.to_string())
}

/// Types a bare key document may have.
pub const KEY_TYPES: [&str; 3] = ["Key", "CryptographicKey", "Multikey"];

/// What the document at a key's URL says of the key's owner: `None` when it is the actor
/// itself (its id is the URL it was fetched from), the owner's id for a stub actor (GoToSocial)
/// or a bare key document (`owner` or `controller`).
pub fn key_document_owner<'d>(doc: &'d Value, fetched_from: &Url) -> Result<Option<&'d str>, ActorError> {
    let id = id_of(doc).ok_or_else(|| ActorError("key document has no id".into()))?;
    let kind = type_of(doc).unwrap_or("");
    if ACTOR_TYPES.contains(&kind) {
        let same = Url::parse(id).is_ok_and(|u| u.as_str() == fetched_from.as_str()) || id == fetched_from.as_str();
        return Ok((!same).then_some(id));
    }
    if KEY_TYPES.contains(&kind) || kind.is_empty() {
        return doc
            .get("owner")
            .or_else(|| doc.get("controller"))
            .and_then(id_of)
            .map(Some)
            .ok_or_else(|| ActorError("key document names no owner".into()));
    }
    Err(ActorError(format!(
        "key document is a {kind:?}, neither an actor nor a key"
    )))
}
