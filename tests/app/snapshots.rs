//! Snapshots of every document peers see, so a change to what they receive is a visible diff.
//! `UPDATE_SNAPSHOTS=1 cargo test --test app snapshots` rewrites them after a deliberate change.

use serde_json::{Value, json};
use understory::{
    protocol::{Urls, activities, actor, note},
    store::{orgs::Org, posts::Post},
};

const PEM: &str = "-----BEGIN PUBLIC KEY-----\nMIIB...\n-----END PUBLIC KEY-----\n";

fn urls() -> Urls {
    Urls::new(&url::Url::parse("https://orgs.example").unwrap(), "orgs.example")
}

fn org() -> Org {
    Org {
        id: 1,
        handle: "openaid".into(),
        name: "Open Aid Network".into(),
        summary: "Digital-inclusion charity.".into(),
        manually_approves_followers: false,
        public_lists: false,
        discoverable: true,
        indexable: true,
        listed_in: "public".into(),
        public_key_pem: Some(PEM.into()),
        private_key_pem: None,
        created_at: 1_768_435_200_000,
        updated_at: 1_768_435_200_000,
        deleted_at: None,
        profile: serde_json::to_string(&rich_profile()).unwrap(),
        also_known_as: String::new(),
        moved_to: None,
        alias_set_at: None,
        avatar: Some("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08.jpg".into()),
        header: None,
    }
}

/// The example of reference/civil-society-directory.md section 1.10.4, in our schema.
fn rich_profile() -> understory::domain::profile::Profile {
    let input: understory::domain::profile::ProfileInput = serde_json::from_value(json!({
        "kinds": ["community-group"], "themes": ["HousingAndHomelessness", "DigitalInclusion"],
        "communities": ["social-housing-tenants"], "places": ["GB-SLF", "Salford"],
        "ways_of_working": ["community-organising", "commissioning-and-grantmaking"],
        "offers": [{"code": "user-research-with-consent", "terms": "paid", "capacity": "limited", "url": "https://openaid.example/work-with-us"}, "advisory"],
        "languages": ["en", "pl", "ar"], "identifiers": ["GB-CHC-1234567"], "website": "https://openaid.example",
        "contacts": [{"role": "partnerships", "email": "partners@openaid.example"}], "founding_year": 2014, "employees": "1-9",
        "name_map": {"cy": "Rhwydwaith Cymorth Agored"}
    }))
    .unwrap();
    input.validate(&understory::domain::vocab::Vocab::builtin()).unwrap()
}

fn post() -> Post {
    Post {
        id: 7,
        org_id: 1,
        source: "Report out #Accessibility".into(),
        content_html: "<p>Report out <a href=\"https://orgs.example/tags/accessibility\" class=\"mention hashtag\" rel=\"tag\">#<span>Accessibility</span></a></p>".into(),
        tags: "[\"accessibility\"]".into(),
        lang: "en".into(),
        published: 1_768_435_260_000,
        updated: Some(1_768_435_320_000),
        deleted_at: None,
        content_warning: None,
    }
}

fn assert_snapshot(name: &str, doc: &Value) {
    let path = format!("tests/snapshots/{name}.json");
    let text = serde_json::to_string_pretty(doc).unwrap() + "\n";
    if std::env::var("UPDATE_SNAPSHOTS").is_ok() {
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        text, expected,
        "{path} changed; rerun with UPDATE_SNAPSHOTS=1 if intended"
    );
}

#[test]
fn documents_match_their_snapshots() {
    let urls = urls();
    let actor_doc = actor::org_actor(&urls, &org(), PEM, &understory::domain::vocab::Vocab::builtin());
    // The fields Mastodon's own example actor carries (reference/fediverse-interop.md 2.3).
    for key in [
        "id",
        "type",
        "preferredUsername",
        "name",
        "summary",
        "url",
        "published",
        "inbox",
        "outbox",
        "followers",
        "following",
        "featured",
        "featuredTags",
        "endpoints",
        "manuallyApprovesFollowers",
        "discoverable",
        "indexable",
        "tag",
        "attachment",
        "publicKey",
    ] {
        assert!(actor_doc.get(key).is_some(), "actor lacks {key}");
    }
    assert_snapshot("actor", &actor_doc);
    // At most six profile fields, in Mastodon's display order, the website in verifiable form.
    let names: Vec<&str> = actor_doc["attachment"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["Website", "Themes", "Places", "Open to", "Registered", "Contact"]
    );
    assert_eq!(
        actor_doc["attachment"][0]["value"],
        "<a href=\"https://openaid.example/\" rel=\"me nofollow noopener\" target=\"_blank\">https://openaid.example/</a>"
    );
    assert_eq!(actor_doc["knowsAbout"][0]["termCode"], "HousingAndHomelessness");
    assert_eq!(actor_doc["knowsAbout"][0]["sameAs"][0], "http://metadata.un.org/sdg/11");
    assert_snapshot("instance_actor", &actor::instance_actor(&urls, PEM, 1_768_435_200_000));
    let photo = understory::store::media::Attachment {
        post_id: 7,
        position: 0,
        description: "Tenants and volunteers at the Salford drop-in, seen from behind".into(),
        media: understory::store::media::Media {
            id: 1,
            sha256: "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae".into(),
            media_type: "image/jpeg".into(),
            byte_size: 48_213,
            width: Some(1280),
            height: Some(853),
            blurhash: Some("LEHV6nWB2yk8pyo0adR*.7kCMdnj".into()),
            created_at: 1_768_435_200_000,
        },
    };
    let note_doc = note::note(
        &urls,
        "openaid",
        &post(),
        &[photo],
        note::NoteCounts { likes: 2, shares: 1 },
    );
    assert_eq!(note_doc["attachment"][0]["type"], "Image");
    assert_eq!(
        note_doc["attachment"][0]["name"],
        "Tenants and volunteers at the Salford drop-in, seen from behind"
    );
    assert_snapshot("note", &note_doc);
    let me = urls.org("openaid");
    assert_snapshot(
        "create",
        &activities::wrap(
            "Create",
            &format!("{}/activity", urls.update("openaid", 7)),
            &me,
            &note_doc,
            Some("2026-01-15T00:01:00Z"),
        ),
    );
    assert_snapshot(
        "update_note",
        &activities::wrap(
            "Update",
            &format!("{}#updates/1", urls.update("openaid", 7)),
            &me,
            &note_doc,
            None,
        ),
    );
    assert_snapshot(
        "update_actor",
        &activities::wrap("Update", &format!("{me}#updates/1"), &me, &actor_doc, None),
    );
    assert_snapshot(
        "delete",
        &activities::delete(
            &format!("{}#delete/1", urls.update("openaid", 7)),
            &me,
            &urls.update("openaid", 7),
            &urls.org_part("openaid", "followers"),
        ),
    );
    let follow = json!({"id": "https://masto.example/users/ann#follows/1", "type": "Follow", "actor": "https://masto.example/users/ann", "object": me});
    assert_snapshot(
        "accept",
        &activities::answer_follow(true, &format!("{me}#accepts/1"), &me, &follow),
    );
    assert_snapshot(
        "reject",
        &activities::answer_follow(false, &format!("{me}#rejects/1"), &me, &follow),
    );
    assert_snapshot(
        "follow",
        &activities::follow(&format!("{me}#follows/1"), &me, "https://masto.example/users/ann"),
    );
    assert_snapshot(
        "tombstone",
        &note::tombstone(&urls.update("openaid", 7), "Note", 1_768_435_380_000),
    );
}
