//! Media: uploads re-encoded without EXIF, refusals that write nothing, avatars and photos
//! reaching a follower on another instance, and remote pictures served only from our origin.

use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use understory::{
    domain::media::MAX_IMAGE_BYTES,
    service::{
        self,
        accounts::Role,
        audit::Who,
        posts::{Draft, Upload},
        tokens::{self, Scope},
    },
    store::{self, orgs::Picture},
};

use crate::helpers::{TestApp, client, get_ap, signed_post, test_clock};

/// A JPEG of `w`x`h` with an EXIF block: orientation 6 (turn 90 degrees clockwise to view) and
/// a GPS position (53 deg 28' 50" N), as phones write them.
pub fn photo_with_gps(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 3 % 256) as u8, (y * 5 % 256) as u8, 140]));
    let mut jpeg = Vec::new();
    img.write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90))
        .unwrap();
    let mut tiff: Vec<u8> = b"MM\x00\x2a\x00\x00\x00\x08".to_vec();
    // IFD0: Orientation = 6, GPSInfo -> offset 38.
    tiff.extend([0, 2]);
    tiff.extend([0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0]);
    tiff.extend([0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 38]);
    tiff.extend([0, 0, 0, 0]);
    // GPS IFD: GPSLatitudeRef = "N", GPSLatitude -> offset 68.
    tiff.extend([0, 2]);
    tiff.extend([0, 1, 0, 2, 0, 0, 0, 2, b'N', 0, 0, 0]);
    tiff.extend([0, 2, 0, 5, 0, 0, 0, 3, 0, 0, 0, 68]);
    tiff.extend([0, 0, 0, 0]);
    for (num, den) in [(53u32, 1u32), (28, 1), (5000, 100)] {
        tiff.extend(num.to_be_bytes());
        tiff.extend(den.to_be_bytes());
    }
    let mut app1 = b"Exif\x00\x00".to_vec();
    app1.extend(&tiff);
    let len = (app1.len() + 2) as u16;
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend(len.to_be_bytes());
    out.extend(app1);
    out.extend(&jpeg[2..]);
    out
}

/// A PNG that declares 100,000 x 100,000 pixels in a file of a few dozen bytes: a
/// decompression bomb (40 GB of pixels) that must be refused before decoding.
/// Gives `handle` a 500x500 photo as its avatar.
pub async fn set_avatar(app: &TestApp, handle: &str) -> store::orgs::Org {
    let avatar = service::orgs::prepare_picture(Picture::Avatar, photo_with_gps(500, 500))
        .await
        .unwrap();
    service::orgs::set_picture(&app.state, &Who::Cli, handle, Picture::Avatar, Some(&avatar))
        .await
        .unwrap()
}

pub fn png_bomb() -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for b in bytes {
            crc ^= u32::from(*b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend((data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend(data);
        out.extend(&body);
        out.extend(crc32(&body).to_be_bytes());
    }
    let mut header = 100_000u32.to_be_bytes().to_vec();
    header.extend(100_000u32.to_be_bytes());
    header.extend([8, 2, 0, 0, 0]);
    // A zlib stream with one stored block of 16 zero bytes (the start of the first rows).
    let raw = [0u8; 16];
    let mut zlib = vec![0x78, 0x01, 0x01, 16, 0, !16u8, 0xFF];
    zlib.extend(raw);
    let (mut a, mut b) = (1u32, 0u32);
    for byte in raw {
        a = (a + u32::from(byte)) % 65521;
        b = (b + a) % 65521;
    }
    zlib.extend(((b << 16) | a).to_be_bytes());
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &header);
    chunk(&mut out, b"IDAT", &zlib);
    chunk(&mut out, b"IEND", &[]);
    out
}

fn small_png() -> Vec<u8> {
    let img = image::RgbImage::from_pixel(64, 48, image::Rgb([30, 110, 90]));
    let mut out = Vec::new();
    img.write_with_encoder(image::codecs::png::PngEncoder::new(&mut out))
        .unwrap();
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn upload(bytes: Vec<u8>, alt: Option<&str>, name: &str) -> Upload {
    Upload {
        bytes,
        description: alt.map(str::to_owned),
        file_name: Some(name.into()),
    }
}

fn draft(text: &str, attachments: Vec<Upload>) -> Draft {
    Draft {
        text: text.into(),
        attachments,
        ..Draft::default()
    }
}

#[tokio::test]
async fn photos_are_reencoded_turned_upright_and_stripped_of_gps() {
    let app = TestApp::spawn().await;
    app.create_org("acme").await;
    let original = photo_with_gps(300, 200);
    assert!(contains(&original, b"Exif") && contains(&original, &5000u32.to_be_bytes()));
    let (post, attachments) = service::posts::publish_draft(
        &app.state,
        &Who::Cli,
        "acme",
        draft(
            "Drop-in day",
            vec![upload(
                original,
                Some("Volunteers sorting donated coats"),
                "IMG_0001.jpg",
            )],
        ),
    )
    .await
    .unwrap();
    assert_eq!(attachments.len(), 1);
    let media = &attachments[0].media;
    // Orientation 6 applied: the 300x200 sensor image is shown 200 wide, 300 high.
    assert_eq!((media.width, media.height), (Some(200), Some(300)));
    assert_eq!(media.media_type, "image/jpeg");
    assert_eq!(media.blurhash.as_deref().map(str::len), Some(28));

    let stored = std::fs::read(service::media::path_of(&app.state, &media.file_name())).unwrap();
    assert!(!contains(&stored, b"Exif"), "EXIF left in the stored file");
    assert!(!contains(&stored, &[0xFF, 0xE1]), "an APP1 segment is left");
    assert!(!contains(&stored, &5000u32.to_be_bytes()), "GPS data left");
    assert_eq!(service::media::sha256_hex(&stored), media.sha256);

    let url = app.url(&format!("/media/{}", media.file_name()));
    let response = client().get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/jpeg");
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert!(
        response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("sandbox")
    );
    assert!(
        response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert_eq!(response.bytes().await.unwrap().as_ref(), stored.as_slice());

    // The Note carries it as Mastodon reads attachments.
    let (_, note) = get_ap(&app.url(&format!("/orgs/acme/updates/{}", post.id))).await;
    let a = &note["attachment"][0];
    assert_eq!(a["type"], "Image");
    assert_eq!(a["mediaType"], "image/jpeg");
    assert_eq!(a["url"], url);
    assert_eq!(a["name"], "Volunteers sorting donated coats");
    assert_eq!((a["width"].as_i64(), a["height"].as_i64()), (Some(200), Some(300)));
    assert_eq!(a["blurhash"].as_str().map(str::len), Some(28));

    // Our pages and the feed show it with its alt text.
    let page = client()
        .get(app.url(&format!("/orgs/acme/updates/{}", post.id)))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!("src=\"{url}\" alt=\"Volunteers sorting donated coats\"")),
        "{page}"
    );
    let feed = client()
        .get(app.url("/orgs/acme/feed.atom"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(feed.contains("rel=\"enclosure\" type=\"image/jpeg\""), "{feed}");

    // A file name that is not a stored file answers 404.
    for bad in ["nothing.jpg", &format!("{}.png", media.sha256), "../understory.db"] {
        let r = client().get(app.url(&format!("/media/{bad}"))).send().await.unwrap();
        assert_eq!(r.status(), 404, "{bad}");
    }
}

#[tokio::test]
async fn bad_files_are_refused_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    app.create_org("acme").await;
    let s = &app.state;
    let refuse =
        |attachments: Vec<Upload>| service::posts::publish_draft(s, &Who::Cli, "acme", draft("Report", attachments));
    let msg = |r: Result<_, service::Error>| r.unwrap_err().to_string();

    // Text pretending to be a PNG.
    let m = msg(refuse(vec![upload(b"just some text".to_vec(), Some("x"), "notes.png")]).await);
    assert!(
        m.contains("attachment 1 (notes.png)") && m.contains("pictures") && m.contains("PDF"),
        "{m}"
    );
    // A zip archive.
    let m = msg(refuse(vec![upload(b"PK\x03\x04\x14\x00\x00\x00".to_vec(), Some("x"), "r.zip")]).await);
    assert!(m.contains("PDF documents"), "{m}");
    // A decompression bomb.
    let m = msg(refuse(vec![upload(png_bomb(), Some("x"), "bomb.png")]).await);
    assert!(m.contains("100000x100000") && m.contains("limit"), "{m}");
    // A picture over 8 MiB.
    let mut big = photo_with_gps(32, 32);
    big.resize(MAX_IMAGE_BYTES + 1, 0);
    let r = refuse(vec![upload(big, Some("x"), "big.jpg")]).await;
    assert!(matches!(r, Err(service::Error::TooLarge(_))), "{r:?}");
    // A picture cut off in its headers (one cut off in its pixel data decodes grey at the
    // bottom, as browsers show it).
    let mut cut = photo_with_gps(64, 64);
    cut.truncate(150);
    assert!(refuse(vec![upload(cut, Some("x"), "cut.jpg")]).await.is_err());
    // A picture without alt text, and one with only spaces.
    for alt in [None, Some("   ")] {
        let m = msg(refuse(vec![upload(small_png(), alt, "a.png")]).await);
        assert!(m.contains("alt text is required"), "{m}");
    }
    // A good picture after a bad one: the good one is not stored either.
    let m = msg(refuse(vec![
        upload(small_png(), Some("fine"), "a.png"),
        upload(png_bomb(), Some("bomb"), "b.png"),
    ])
    .await);
    assert!(m.contains("attachment 2 (b.png)"), "{m}");
    // Five files.
    let five = (0..5).map(|_| upload(small_png(), Some("x"), "a.png")).collect();
    assert!(msg(refuse(five).await).contains("at most 4"));
    // A bad avatar.
    assert!(
        service::orgs::prepare_picture(Picture::Avatar, b"GIF89a broken".to_vec())
            .await
            .is_err()
    );

    assert_eq!(store::posts::count(&s.db, None).await.unwrap(), 0);
    assert!(
        files_under(app.media.path()).is_empty(),
        "{:?}",
        files_under(app.media.path())
    );
    let audit = store::audit::list(&s.db, None, 100).await.unwrap();
    assert!(audit.iter().all(|e| e.action != "update.publish"));

    // A PDF is kept as sent, titled by its file name when no title is given, and downloads.
    let pdf = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n".to_vec();
    let (_, attachments) = service::posts::publish_draft(
        s,
        &Who::Cli,
        "acme",
        draft("Annual report", vec![upload(pdf.clone(), None, "report-2026.pdf")]),
    )
    .await
    .unwrap();
    assert_eq!(attachments[0].description, "report-2026.pdf");
    assert_eq!(attachments[0].media.media_type, "application/pdf");
    let r = client()
        .get(app.url(&format!("/media/{}", attachments[0].media.file_name())))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-disposition"], "attachment");
    assert_eq!(r.bytes().await.unwrap().as_ref(), pdf.as_slice());
}

#[tokio::test]
async fn the_api_takes_multipart_uploads_and_refuses_bad_ones() {
    let app = TestApp::spawn().await;
    app.create_org("acme").await;
    let s = &app.state;
    service::accounts::create_user(s, &Who::Cli, "ed@example.org", false, Some(("acme", Role::Editor)))
        .await
        .unwrap();
    let (_, token) = tokens::create(s, &Who::Cli, "ed@example.org", &Scope::Org("acme".into()), None)
        .await
        .unwrap();
    let api = |path: &str| app.url(&format!("/api/understory/v1{path}"));
    let post = |form: Form| {
        client()
            .post(api("/orgs/acme/updates"))
            .bearer_auth(&token)
            .multipart(form)
            .send()
    };

    let form = Form::new()
        .text("text", "Field visit #Housing")
        .text("content_warning", "Photos of damp homes")
        .part("file", Part::bytes(photo_with_gps(120, 80)).file_name("visit.jpg"))
        .text("alt", "Black mould on a bedroom ceiling")
        .part("file", Part::bytes(small_png()).file_name("map.png"))
        .text("alt", "Map of the estate");
    let r = post(form).await.unwrap();
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["attachments"].as_array().unwrap().len(), 2);
    assert_eq!(body["attachments"][0]["name"], "Black mould on a bedroom ceiling");
    assert_eq!(body["attachments"][1]["name"], "Map of the estate");
    let (_, note) = get_ap(body["url"].as_str().unwrap()).await;
    assert_eq!(note["sensitive"], true);
    assert_eq!(
        note["attachment"][1]["mediaType"], "image/jpeg",
        "an opaque PNG becomes JPEG"
    );

    // Missing alt text: 400 with the reason; an oversized picture: 413; a bomb: 400.
    let form = Form::new()
        .text("text", "x")
        .part("file", Part::bytes(small_png()).file_name("a.png"));
    let r = post(form).await.unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("alt text is required"),
        "{body}"
    );
    let mut big = photo_with_gps(16, 16);
    big.resize(MAX_IMAGE_BYTES + 10, 0);
    let form = Form::new()
        .text("text", "x")
        .part("file", Part::bytes(big).file_name("big.jpg"))
        .text("alt", "big");
    assert_eq!(post(form).await.unwrap().status(), 413);
    let form = Form::new()
        .text("text", "x")
        .part("file", Part::bytes(png_bomb()).file_name("b.png"))
        .text("alt", "b");
    assert_eq!(post(form).await.unwrap().status(), 400);
    // JSON still works, and the 1 MiB limit still holds for JSON.
    let r = client()
        .post(api("/orgs/acme/updates"))
        .bearer_auth(&token)
        .json(&json!({"text": "Plain update"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = client()
        .post(api("/orgs/acme/updates"))
        .bearer_auth(&token)
        .json(&json!({"text": "x".repeat(1024 * 1024 + 1)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(store::posts::count(&s.db, None).await.unwrap(), 2);

    // Avatar and header: re-encoded to their sizes and on the actor.
    let r = client()
        .put(api("/orgs/acme/avatar"))
        .bearer_auth(&token)
        .multipart(Form::new().part("file", Part::bytes(photo_with_gps(640, 480)).file_name("logo.jpg")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let avatar = body["avatar"].as_str().unwrap().to_owned();
    let r = client()
        .put(api("/orgs/acme/header"))
        .bearer_auth(&token)
        .multipart(Form::new().part("file", Part::bytes(small_png()).file_name("h.png")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, actor) = get_ap(&app.actor("acme")).await;
    assert_eq!(actor["icon"]["url"], avatar);
    assert_eq!(actor["icon"]["type"], "Image");
    let bytes = client().get(&avatar).send().await.unwrap().bytes().await.unwrap();
    let img = image::load_from_memory(&bytes).unwrap();
    assert_eq!((img.width(), img.height()), (400, 400));
    let header = actor["image"]["url"].as_str().unwrap();
    let img = image::load_from_memory(&client().get(header).send().await.unwrap().bytes().await.unwrap()).unwrap();
    assert_eq!((img.width(), img.height()), (1500, 500));
    // Not a picture: 400 and the avatar stays.
    let r = client()
        .put(api("/orgs/acme/avatar"))
        .bearer_auth(&token)
        .multipart(Form::new().part("file", Part::bytes(b"%PDF-1.4".to_vec()).file_name("x.png")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let (_, actor) = get_ap(&app.actor("acme")).await;
    assert_eq!(actor["icon"]["url"], avatar);
    // Removal.
    let r = client()
        .delete(api("/orgs/acme/header"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, actor) = get_ap(&app.actor("acme")).await;
    assert!(actor.get("image").is_none());
}

#[tokio::test]
async fn a_follower_elsewhere_gets_the_avatar_and_photo_and_our_pages_load_only_our_images() {
    let clock = test_clock();
    let (a, b) = (
        TestApp::spawn_with(clock.clone()).await,
        TestApp::spawn_with(clock.clone()).await,
    );
    a.create_org("acme").await;
    let bob = b.create_org("bob").await;
    set_avatar(&a, "acme").await;
    let bob_avatar = service::orgs::prepare_picture(Picture::Avatar, small_png())
        .await
        .unwrap();
    service::orgs::set_picture(&b.state, &Who::Cli, "bob", Picture::Avatar, Some(&bob_avatar))
        .await
        .unwrap();

    service::follows::follow(&b.state, &Who::Cli, "bob", &a.acct("acme"))
        .await
        .unwrap();
    b.deliver_due().await;
    a.deliver_due().await;
    let (post, attachments) = service::posts::publish_draft(
        &a.state,
        &Who::Cli,
        "acme",
        draft(
            "Flood relief kit list",
            vec![upload(
                photo_with_gps(900, 600),
                Some("Sandbags stacked by a door"),
                "f.jpg",
            )],
        ),
    )
    .await
    .unwrap();
    assert_eq!(a.deliver_due().await, 1);

    // B (the follower's server) has the photo with its alt text and acme's avatar...
    let notes = store::inbox::notes_for(&b.state.db, bob.id, 10).await.unwrap();
    let got: Value = serde_json::from_str(&notes[0].attachments).unwrap();
    let photo_url = a.url(&format!("/media/{}", attachments[0].media.file_name()));
    assert_eq!(got[0]["url"], photo_url);
    assert_eq!(got[0]["name"], "Sandbags stacked by a door");
    let acme_on_b = store::actors::find_by_ap_id(&b.state.db, &a.actor("acme"))
        .await
        .unwrap()
        .unwrap();
    let icon = acme_on_b.icon_url.clone().unwrap();
    assert!(icon.starts_with(&a.url("/media/")), "{icon}");
    // ...and serves both from its own origin, re-encoded (the photo as a bounded preview).
    for (url, want) in [(&icon, (400, 400)), (&photo_url, (533, 800))] {
        let mine = b.url(&format!("/media/remote/{}", service::media::remote_key(url)));
        let r = client().get(&mine).send().await.unwrap();
        assert_eq!(r.status(), 200, "{mine}");
        let img = image::load_from_memory(&r.bytes().await.unwrap()).unwrap();
        assert_eq!((img.width(), img.height()), want);
    }
    // An unregistered key is not a proxy to anywhere.
    let r = client()
        .get(b.url(&format!(
            "/media/remote/{}",
            service::media::remote_key("http://127.0.0.1:9/x.png")
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // bob replies with a picture; acme's update page shows the reply, its avatar and picture
    // from acme's own origin only.
    let note = a.url(&format!("/orgs/acme/updates/{}", post.id));
    let bob_id = b.actor("bob");
    let bob_pic = b.url(&format!(
        "/media/{}",
        store::orgs::find_by_handle(&b.state.db, "bob")
            .await
            .unwrap()
            .unwrap()
            .avatar
            .unwrap()
    ));
    let reply = json!({"@context": "https://www.w3.org/ns/activitystreams", "id": format!("{bob_id}#create/1"), "type": "Create", "actor": bob_id, "object": {
        "id": format!("{bob_id}/notes/1"), "type": "Note", "attributedTo": bob_id, "inReplyTo": note,
        "content": "<p>We can lend pumps</p>", "published": "2026-03-01T12:00:00Z",
        "attachment": [{"type": "Image", "mediaType": "image/png", "url": bob_pic, "name": "A pump"}]}});
    let body = serde_json::to_vec(&reply).unwrap();
    let key = b.key_of("bob").await;
    assert_eq!(
        signed_post(
            &a.url("/inbox"),
            &body,
            &key,
            &format!("{bob_id}#main-key"),
            clock.now_ms()
        )
        .await,
        202
    );
    for page in [note.clone(), a.url("/@acme")] {
        let html = client()
            .get(&page)
            .header("accept", "text/html")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let sources: Vec<&str> = html
            .split("src=\"")
            .skip(1)
            .map(|s| s.split('"').next().unwrap())
            .collect();
        assert!(!sources.is_empty());
        for src in &sources {
            assert!(src.starts_with(&a.base) || src.starts_with('/'), "{page} loads {src}");
            let url = if src.starts_with('/') {
                a.url(src)
            } else {
                (*src).to_owned()
            };
            let r = client().get(&url).send().await.unwrap();
            assert_eq!(r.status(), 200, "{url}");
            assert!(r.headers()["content-type"].to_str().unwrap().starts_with("image/"));
        }
        if page == note {
            assert!(
                html.contains("We can lend pumps") && html.contains("alt=\"A pump\""),
                "{html}"
            );
            assert_eq!(sources.len(), 3, "photo, bob's avatar, bob's picture: {sources:?}");
        }
    }
}

#[tokio::test]
async fn the_remote_picture_cache_keeps_to_its_cap() {
    let clock = test_clock();
    let a = TestApp::spawn_with(clock.clone()).await;
    let b = TestApp::spawn_configured(clock.clone(), |c| c.media_cache_max_bytes = 1).await;
    a.create_org("acme").await;
    b.create_org("bob").await;
    let avatar = service::orgs::prepare_picture(Picture::Avatar, photo_with_gps(64, 64))
        .await
        .unwrap();
    service::orgs::set_picture(&a.state, &Who::Cli, "acme", Picture::Avatar, Some(&avatar))
        .await
        .unwrap();
    service::follows::follow(&b.state, &Who::Cli, "bob", &a.acct("acme"))
        .await
        .unwrap();
    let icon = store::actors::find_by_ap_id(&b.state.db, &a.actor("acme"))
        .await
        .unwrap()
        .unwrap()
        .icon_url
        .unwrap();
    let mine = b.url(&format!("/media/remote/{}", service::media::remote_key(&icon)));
    for _ in 0..2 {
        // Served, then evicted at once by a one-byte cap; the next view fetches it again.
        assert_eq!(client().get(&mine).send().await.unwrap().status(), 200);
        assert_eq!(store::media::remote_cache_bytes(&b.state.db).await.unwrap(), 0);
        assert!(files_under(&b.media.path().join("cache")).is_empty());
    }
    // A picture whose server is gone: the default avatar, and no refetch for an hour.
    let mut a = a;
    a.stop().await;
    let r = client().get(&mine).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.bytes().await.unwrap().as_ref(),
        understory::web::directory::DEFAULT_AVATAR
    );
}
