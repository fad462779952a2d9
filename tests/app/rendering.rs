//! What Mastodon, GoToSocial and Misskey show of us: one test per rendering fact they document
//! (docs/FEDERATION.md, "What each server shows"), on documents served by a real instance with
//! the fullest profile our forms accept.

use serde_json::{Value, json};
use understory::{
    domain::profile::ProfileInput,
    service::{self, audit::Who, orgs::ProfileEdit},
    store::{self, orgs::Picture},
};

use crate::helpers::{TestApp, client, get_ap, text_of};

/// Mastodon's sanitiser (`lib/sanitize_ext/sanitize_config.rb`, MASTODON_STRICT) keeps the
/// elements our own sanitiser keeps, and ruby annotations.
fn mastodon_keeps(element: &str) -> bool {
    understory::domain::html::ALLOWED_TAGS.contains(&element) || ["ruby", "rt", "rp"].contains(&element)
}
const MASTODON_CLASSES: [&str; 4] = ["mention", "hashtag", "ellipsis", "invisible"];
const MASTODON_SCHEMES: [&str; 2] = ["http", "https"];

/// The fullest profile: every list at its limit, the longest names and summary.
async fn fullest(app: &TestApp) -> Value {
    let org = app.create_org("fullest").await;
    let long_tag = |i: usize| format!("Theme{i:02}{}", "x".repeat(53));
    let offers: Vec<Value> = app
        .state
        .vocab
        .offers
        .all()
        .iter()
        .take(20)
        .map(|t| json!({"code": t.code, "terms": "paid", "capacity": "limited"}))
        .collect();
    let input: ProfileInput = serde_json::from_value(json!({
        "kinds": ["charity"],
        "themes": (0..20).map(long_tag).collect::<Vec<_>>(),
        "places": ["GB-WLS", "GB-CRF", "GB-SWA", "GB-NWP", "GB-WRX", "GB-VGL", "GB-PEM", "GB-CMN", "GB-CGN", "GB-AGY",
                   "GB-BGE", "GB-CAY", "GB-DEN", "GB-FLN", "GB-MON", "GB-MTY", "GB-NTL", "GB-RCT", "GB-TOF", "SE-AB"],
        "offers": offers,
        "identifiers": (0..20).map(|i| format!("GB-CHC-{i:07}")).collect::<Vec<_>>(),
        "website": "https://www.fullest.example/about",
        "contacts": [{"role": "partnerships", "email": "partners@fullest.example"}],
    }))
    .unwrap();
    let edit = ProfileEdit {
        name: Some("N".repeat(service::orgs::MAX_NAME_CHARS)),
        summary: Some("Summary & more. ".repeat(service::orgs::MAX_SUMMARY_CHARS / 16)),
        profile: Some(input.validate(&app.state.vocab).unwrap()),
        ..ProfileEdit::default()
    };
    service::orgs::edit(&app.state, &Who::Cli, &org.handle, &edit)
        .await
        .unwrap();
    let (status, actor) = get_ap(&app.actor("fullest")).await;
    assert_eq!(status, 200);
    actor
}

/// The elements, classes and link targets of an HTML fragment.
fn html_parts(html: &str) -> (Vec<String>, Vec<String>, Vec<(String, String)>) {
    let (mut elements, mut classes, mut links) = (Vec::new(), Vec::new(), Vec::new());
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        let close = rest[open..].find('>').map_or(rest.len(), |c| open + c);
        let tag = &rest[open + 1..close];
        rest = &rest[close.min(rest.len())..];
        if tag.starts_with('/') {
            continue;
        }
        let name: String = tag.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        elements.push(name.clone());
        let attr = |a: &str| {
            tag.find(&format!("{a}=\"")).map(|at| {
                let v = &tag[at + a.len() + 2..];
                v[..v.find('"').unwrap_or(v.len())].to_owned()
            })
        };
        if let Some(c) = attr("class") {
            classes.extend(c.split_whitespace().map(str::to_owned));
        }
        if name == "a" {
            let text_end = rest.find("</a>").unwrap_or(rest.len());
            let text: String = strip_tags(&rest[1.min(rest.len())..text_end]);
            links.push((attr("href").unwrap_or_default(), text));
        }
    }
    (elements, classes, links)
}

fn strip_tags(html: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for c in html.chars() {
        match c {
            '<' => inside = true,
            '>' => inside = false,
            c if !inside => out.push(c),
            _ => {}
        }
    }
    out
}

/// Mastodon keeps the elements and classes of its allow-list, and turns links of other schemes
/// into their text: every fragment we send must lose nothing there.
fn assert_survives_mastodon(what: &str, html: &str) {
    let (elements, classes, links) = html_parts(html);
    for e in &elements {
        assert!(mastodon_keeps(e), "{what}: <{e}> is removed by Mastodon");
    }
    for c in &classes {
        let kept =
            MASTODON_CLASSES.contains(&c.as_str()) || ["h-", "p-", "u-", "dt-", "e-"].iter().any(|p| c.starts_with(p));
        assert!(kept, "{what}: class {c:?} is removed by Mastodon");
    }
    for (href, text) in &links {
        let scheme = href.split(':').next().unwrap_or("");
        if !MASTODON_SCHEMES.contains(&scheme) {
            // Mastodon shows the text alone: it must carry the whole target.
            assert_eq!(
                format!("{scheme}:{text}"),
                *href,
                "{what}: a {scheme}: link loses its target in Mastodon"
            );
        }
    }
}

#[tokio::test]
async fn mastodon_keeps_at_most_50_fields_of_at_most_2047_characters_and_gotosocial_shows_6() {
    let app = TestApp::spawn().await;
    let actor = fullest(&app).await;
    let fields = actor["attachment"].as_array().unwrap();
    assert!(
        fields.len() <= 6,
        "GoToSocial shows 6 fields by default; we send {}",
        fields.len()
    );
    for f in fields {
        assert_eq!(f["type"], "PropertyValue", "the only field type all three read");
        for part in ["name", "value"] {
            let n = f[part].as_str().unwrap().chars().count();
            assert!(
                n <= 2047,
                "field {} {part} has {n} characters; Mastodon cuts at 2047",
                f["name"]
            );
        }
    }
}

#[tokio::test]
async fn the_html_we_send_survives_mastodons_sanitiser() {
    let app = TestApp::spawn().await;
    let actor = fullest(&app).await;
    assert_survives_mastodon("summary", actor["summary"].as_str().unwrap());
    for f in actor["attachment"].as_array().unwrap() {
        assert_survives_mastodon(f["name"].as_str().unwrap(), f["value"].as_str().unwrap());
    }
    // The website field is the exact `<a href="X">X</a>` Mastodon verifies with rel=me.
    let website = actor["attachment"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "Website")
        .unwrap();
    let (_, _, links) = html_parts(website["value"].as_str().unwrap());
    assert_eq!(
        links,
        vec![(
            "https://www.fullest.example/about".into(),
            "https://www.fullest.example/about".into()
        )]
    );
    let post = service::posts::publish(
        &app.state,
        &Who::Cli,
        "fullest",
        "Report & results: https://fullest.example/r #Housing\nSecond line, for @someone",
        None,
    )
    .await
    .unwrap();
    let (_, note) = get_ap(&app.state.urls.update("fullest", post.id)).await;
    assert_survives_mastodon("update", note["content"].as_str().unwrap());
}

#[tokio::test]
async fn featured_tags_are_at_most_ten_hashtags() {
    let app = TestApp::spawn().await;
    let actor = fullest(&app).await;
    let (status, tags) = get_ap(actor["featuredTags"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    let items = tags["orderedItems"].as_array().or(tags["items"].as_array()).unwrap();
    assert_eq!(items.len(), 10, "Mastodon's FeaturedTag::LIMIT");
    for t in items {
        assert_eq!(t["type"], "Hashtag");
        assert!(t["name"].as_str().unwrap().starts_with('#'));
        assert!(t["href"].as_str().unwrap().starts_with(&app.public));
    }
    // Misskey keeps up to 32 actor hashtags.
    assert!(actor["tag"].as_array().unwrap().len() <= 32);
}

#[tokio::test]
async fn attribution_domains_name_the_website_so_mastodon_credits_its_articles() {
    let app = TestApp::spawn().await;
    let actor = fullest(&app).await;
    assert_eq!(actor["attributionDomains"], json!(["www.fullest.example"]));
    assert!(actor["@context"].to_string().contains("toot:attributionDomains"));
    app.create_org("bare").await;
    let (_, bare) = get_ap(&app.actor("bare")).await;
    assert!(bare.get("attributionDomains").is_none(), "no website, no domains");
}

#[tokio::test]
async fn avatars_and_headers_fit_mastodons_sizes() {
    let app = TestApp::spawn().await;
    app.create_org("pics").await;
    let mut png = Vec::new();
    image::RgbImage::from_pixel(3000, 2000, image::Rgb([20, 120, 60]))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    for which in [Picture::Avatar, Picture::Header] {
        let prepared = service::orgs::prepare_picture(which, png.clone()).await.unwrap();
        service::orgs::set_picture(&app.state, &Who::Cli, "pics", which, Some(&prepared))
            .await
            .unwrap();
    }
    let (_, actor) = get_ap(&app.actor("pics")).await;
    for (key, (w, h)) in [("icon", (400, 400)), ("image", (1500, 500))] {
        assert_eq!(actor[key]["type"], "Image");
        let media_type = actor[key]["mediaType"].as_str().unwrap();
        assert!(["image/png", "image/jpeg", "image/webp", "image/gif"].contains(&media_type));
        let bytes = client()
            .get(actor[key]["url"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert!(
            bytes.len() < 8 * 1024 * 1024,
            "Mastodon refuses pictures of 8 MB and more"
        );
        let picture = image::load_from_memory(&bytes).unwrap();
        assert!(
            picture.width() <= w && picture.height() <= h,
            "{key}: {}x{}",
            picture.width(),
            picture.height()
        );
    }
}

#[tokio::test]
async fn discoverable_and_indexable_are_always_explicit() {
    let app = TestApp::spawn().await;
    app.create_org("plain").await;
    let (_, actor) = get_ap(&app.actor("plain")).await;
    // Missing means false for Mastodon (directory, search) and Misskey (isExplorable).
    assert!(actor["discoverable"].is_boolean());
    assert!(actor["indexable"].is_boolean());
    assert!(actor["manuallyApprovesFollowers"].is_boolean());
}

#[tokio::test]
async fn updates_are_notes_mastodon_shows_in_full() {
    let app = TestApp::spawn().await;
    app.create_org("notes").await;
    let post = service::posts::publish(&app.state, &Who::Cli, "notes", "A long report #Housing", Some("en"))
        .await
        .unwrap();
    let (_, note) = get_ap(&app.state.urls.update("notes", post.id)).await;
    // Mastodon shows an Article as its name and a link, and ignores its content.
    assert_eq!(note["type"], "Note");
    assert!(note["content"].as_str().unwrap().contains("A long report"));
    assert!(
        note["contentMap"]["en"].is_string(),
        "Mastodon takes the language from contentMap"
    );
    assert_eq!(note["to"], json!(["https://www.w3.org/ns/activitystreams#Public"]));
    assert_eq!(note["attributedTo"], app.actor("notes"));
    assert!(note["url"].as_str().unwrap().starts_with(&app.public));
    let tags = note["tag"].as_array().unwrap();
    assert!(
        tags.iter()
            .any(|t| t["type"] == "Hashtag" && t["name"].as_str().is_some_and(|n| n.eq_ignore_ascii_case("#housing")))
    );
}

#[tokio::test]
async fn gotosocial_gets_edits_whose_updated_follows_published() {
    let app = TestApp::spawn().await;
    app.create_org("edits").await;
    let post = service::posts::publish(&app.state, &Who::Cli, "edits", "First", None)
        .await
        .unwrap();
    app.state.clock.advance(chrono::Duration::seconds(60));
    service::posts::edit(&app.state, &Who::Cli, "edits", post.id, "Second")
        .await
        .unwrap();
    let (_, note) = get_ap(&app.state.urls.update("edits", post.id)).await;
    let published = note["published"].as_str().unwrap();
    let updated = note["updated"].as_str().unwrap();
    assert!(updated > published, "GoToSocial refuses updated < published");
}

#[tokio::test]
async fn misskey_takes_our_names_handles_and_urls() {
    let app = TestApp::spawn().await;
    let actor = fullest(&app).await;
    // Misskey truncates the name at 128 characters and the bio at 2048.
    assert!(actor["name"].as_str().unwrap().chars().count() <= 128);
    let bio = strip_tags(actor["summary"].as_str().unwrap()).replace("&amp;", "&");
    assert!(
        bio.chars().count() <= 2048,
        "the bio reads {} characters",
        bio.chars().count()
    );
    // preferredUsername: ^\w([\w-.]*\w)?$, 1-128 characters.
    let name = actor["preferredUsername"].as_str().unwrap();
    assert!(name.len() <= 128 && name.chars().all(|c| c.is_alphanumeric() || "_-.".contains(c)));
    // Misskey refuses an actor whose inbox, key, collections or url is on another origin.
    let origin = &app.public;
    for key in ["id", "inbox", "outbox", "followers", "following", "featured", "url"] {
        assert!(actor[key].as_str().unwrap().starts_with(origin.as_str()), "{key}");
    }
    assert!(actor["publicKey"]["id"].as_str().unwrap().starts_with(origin.as_str()));
    assert!(
        actor["endpoints"]["sharedInbox"]
            .as_str()
            .unwrap()
            .starts_with(origin.as_str())
    );
}

#[tokio::test]
async fn places_read_as_people_say_them_everywhere() {
    let app = TestApp::spawn().await;
    let org = app.create_org("cymru").await;
    let input: ProfileInput =
        serde_json::from_value(json!({"places": ["GB-WLS", "GB-CRF"], "themes": ["DigitalInclusion"]})).unwrap();
    let edit = ProfileEdit {
        profile: Some(input.validate(&app.state.vocab).unwrap()),
        listed_in: Some("public".into()),
        ..ProfileEdit::default()
    };
    service::orgs::edit(&app.state, &Who::Cli, &org.handle, &edit)
        .await
        .unwrap();
    let (_, actor) = get_ap(&app.actor("cymru")).await;
    let places = actor["attachment"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "Places")
        .unwrap();
    assert_eq!(places["value"], "Wales · Cardiff", "fields");
    assert!(
        !actor.to_string().contains("Cymru GB-CYM"),
        "no bracketed alternative in the actor"
    );
    let page = text_of(&app.url("/@cymru")).await;
    assert!(
        page.contains("Wales") && !page.contains("Cymru GB-CYM"),
        "the profile page"
    );
    let (_, dir) = get_ap(&app.url("/api/understory/v1/directory?place=GB-WLS")).await;
    assert_eq!(
        dir["results"][0]["places"][0]["name"], "Wales",
        "the directory API: {dir}"
    );
    let facets = text_of(&app.url("/directory?place=GB-WLS")).await;
    assert!(!facets.contains("Cymru GB-CYM"), "facets");
    let jsonld = text_of(&app.url("/directory.jsonld")).await;
    assert!(
        jsonld.contains("\"Wales\"") && !jsonld.contains("Cymru GB-CYM"),
        "exports"
    );
    // The Welsh name still finds it.
    let (_, found) = get_ap(&app.url("/api/understory/v1/directory?q=Cymru")).await;
    assert_eq!(found["total"], 1, "search by the alias: {found}");
    let stored = store::orgs::find_by_handle(&app.state.db, "cymru")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.profile().places[0].name, "Wales");
}
