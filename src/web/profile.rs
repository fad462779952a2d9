//! The organisation profile page (`/@handle`) and one update's page.

use askama::Template;
use axum::{
    extract::{Path, Query, State},
    response::Response,
};

use super::render;
use crate::{
    clock::rfc3339,
    domain::media::{extension, is_image},
    error::AppError,
    protocol::note::{NoteCounts, RemoteAttachment},
    service,
    state::AppState,
    store::{self, media::Attachment, orgs::Org, posts::Post},
};

/// An attachment as pages show it.
pub struct AttachmentView {
    /// Where the file is served (our origin).
    pub url: String,
    /// Alt text or title.
    pub alt: String,
    /// A picture (shown) or a document (linked).
    pub is_image: bool,
    /// Width (0 when unknown).
    pub width: i64,
    /// Height (0 when unknown).
    pub height: i64,
    /// "PDF" or the like, for document links.
    pub kind: String,
}

/// Our attachments as pages show them.
pub fn attachment_views(state: &AppState, attachments: &[Attachment]) -> Vec<AttachmentView> {
    attachments
        .iter()
        .map(|a| AttachmentView {
            url: state.urls.media(&a.media.file_name()),
            alt: a.description.clone(),
            is_image: is_image(&a.media.media_type),
            width: a.media.width.unwrap_or(0),
            height: a.media.height.unwrap_or(0),
            kind: extension(&a.media.media_type).to_ascii_uppercase(),
        })
        .collect()
}

/// A remote note's attachments: pictures through our cache, other files as links to their
/// server (never loaded by the page).
pub fn remote_attachment_views(state: &AppState, json: &str) -> Vec<AttachmentView> {
    let items: Vec<RemoteAttachment> = serde_json::from_str(json).unwrap_or_default();
    items
        .into_iter()
        .map(|a| {
            let is_image = a.media_type.starts_with("image/");
            AttachmentView {
                url: if is_image {
                    service::media::remote_url(state, &a.url)
                } else {
                    a.url.clone()
                },
                alt: if a.name.is_empty() { a.url.clone() } else { a.name },
                is_image,
                width: 0,
                height: 0,
                kind: a.media_type,
            }
        })
        .collect()
}

/// The avatar URL of one of our organisations (the default picture when it has none).
pub fn avatar_of(state: &AppState, org: &Org) -> String {
    match &org.avatar {
        Some(file) => state.urls.media(file),
        None => format!("{}/static/avatar.png", state.urls.base()),
    }
}

/// The avatar URL of a remote actor, through our cache.
pub fn remote_avatar(state: &AppState, icon_url: Option<&str>) -> String {
    match icon_url {
        Some(url) => service::media::remote_url(state, url),
        None => format!("{}/static/avatar.png", state.urls.base()),
    }
}

/// A reply as the update's page shows it.
pub struct ReplyView {
    /// The note's URL.
    pub url: String,
    /// Sanitised HTML.
    pub html: String,
    /// Publication time.
    pub published: String,
    /// Author's name.
    pub name: String,
    /// `@user@domain`.
    pub acct: String,
    /// Author's profile.
    pub actor_url: String,
    /// Author's avatar, through our cache.
    pub avatar: String,
    /// Attachments.
    pub attachments: Vec<AttachmentView>,
}

/// One update as the page shows it.
pub struct UpdateItem {
    /// Its URL.
    pub url: String,
    /// Rendered HTML (ours, already escaped).
    pub html: String,
    /// Publication time.
    pub published: String,
    /// Content warning.
    pub warning: Option<String>,
    /// Attachments.
    pub attachments: Vec<AttachmentView>,
}

/// A labelled list on the profile page.
pub struct Section {
    /// Heading.
    pub title: &'static str,
    /// Items.
    pub items: Vec<String>,
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    t: super::i18n::T,
    acct: String,
    name: String,
    handle: String,
    domain: String,
    summary: String,
    actor_url: String,
    profile_url: String,
    followers: i64,
    updates: Vec<UpdateItem>,
    noindex: bool,
    sections: Vec<Section>,
    website: Option<String>,
    json_ld: Option<String>,
    moved_to: Option<String>,
    avatar: String,
    header: Option<String>,
    older: Option<String>,
}

#[derive(Template)]
#[template(path = "update.html")]
struct UpdatePage {
    t: super::i18n::T,
    counts: String,
    name: String,
    handle: String,
    domain: String,
    item: UpdateItem,
    replies: Vec<ReplyView>,
}

/// `?before=ID`: the page of updates older than an update.
#[derive(serde::Deserialize)]
pub struct PageQuery {
    before: Option<i64>,
}

/// Updates shown per page of a profile.
pub const UPDATES_PER_PAGE: i64 = 20;

/// `GET /@{handle}`.
pub async fn by_handle(
    State(state): State<AppState>,
    Path(handle): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, AppError> {
    let org = service::orgs::find_live(&state, &handle).await?;
    page(&state, org, q.before).await
}

/// The profile page of an organisation, with updates older than `before` when given.
pub async fn page(state: &AppState, org: Org, before: Option<i64>) -> Result<Response, AppError> {
    let followers = store::follows::follower_count(&state.db, org.id)
        .await
        .map_err(service::Error::from)?;
    let posts = store::posts::list(&state.db, org.id, before.unwrap_or(i64::MAX), UPDATES_PER_PAGE)
        .await
        .map_err(service::Error::from)?;
    let ids: Vec<i64> = posts.iter().map(|p| p.id).collect();
    let attachments = store::media::attachments_of(&state.db, &ids)
        .await
        .map_err(service::Error::from)?;
    let updates = posts
        .iter()
        .map(|p| {
            let mine: Vec<Attachment> = attachments.iter().filter(|a| a.post_id == p.id).cloned().collect();
            item(state, &org.handle, p, &mine)
        })
        .collect();
    let older = (posts.len() as i64 == UPDATES_PER_PAGE)
        .then(|| posts.last().map(|p| format!("/@{}?before={}", org.handle, p.id)))
        .flatten();
    let public = org.listed_in == "public";
    let json_ld = public.then(|| {
        let mut doc = crate::service::open_data::schema_org(state, &org);
        doc["@context"] = serde_json::json!("https://schema.org/");
        super::json_in_html(&doc)
    });
    let profile = org.profile();
    render(&ProfilePage {
        t: super::t(state),
        acct: format!("@{}@{}", org.handle, state.urls.authority()),
        actor_url: state.urls.org(&org.handle),
        profile_url: state.urls.profile(&org.handle),
        domain: state.urls.authority().to_owned(),
        noindex: !public,
        sections: sections(state, &profile),
        website: profile.website.clone(),
        moved_to: org.moved_to.clone(),
        avatar: avatar_of(state, &org),
        header: org.header.as_deref().map(|f| state.urls.media(f)),
        older,
        json_ld,
        name: org.name,
        handle: org.handle,
        summary: org.summary,
        followers,
        updates,
    })
}

fn sections(state: &AppState, p: &crate::domain::profile::Profile) -> Vec<Section> {
    let v = &state.vocab;
    let labels = |codes: &[String], terms: &crate::domain::vocab::Terms| {
        codes.iter().map(|c| terms.label(c).to_owned()).collect()
    };
    let offers = p
        .offers
        .iter()
        .map(|o| {
            let mut text = v.offers.label(&o.code).to_owned();
            let details: Vec<&str> = [
                o.terms.as_deref(),
                o.capacity
                    .as_deref()
                    .map(|c| if c == "closed" { "not taking requests now" } else { c }),
            ]
            .into_iter()
            .flatten()
            .collect();
            if !details.is_empty() {
                text.push_str(&format!(" ({})", details.join(", ")));
            }
            text
        })
        .collect();
    let contacts = p
        .contacts
        .iter()
        .map(|c| format!("{}: {}", c.role, c.email.clone().or(c.url.clone()).unwrap_or_default()))
        .collect();
    let mut about = Vec::new();
    if let Some(y) = p.founding_year {
        about.push(format!("Founded {y}"));
    }
    if let Some(e) = &p.employees {
        about.push(format!("{e} staff"));
    }
    if let Some(e) = &p.volunteers {
        about.push(format!("{e} volunteers"));
    }
    vec![
        Section {
            title: "section-kind",
            items: labels(&p.kinds, &v.kinds),
        },
        Section {
            title: "section-themes",
            items: labels(&p.themes, &v.themes),
        },
        Section {
            title: "section-communities",
            items: labels(&p.communities, &v.communities),
        },
        Section {
            title: "section-places",
            items: p.places.iter().map(|x| x.name.clone()).collect(),
        },
        Section {
            title: "section-ways",
            items: labels(&p.ways_of_working, &v.ways),
        },
        Section {
            title: "section-offers",
            items: offers,
        },
        Section {
            title: "section-languages",
            items: p.languages.clone(),
        },
        Section {
            title: "section-registered",
            items: p.identifiers.clone(),
        },
        Section {
            title: "section-contact",
            items: contacts,
        },
        Section {
            title: "section-networks",
            items: p.networks.iter().map(|n| n.name.clone()).collect(),
        },
        Section {
            title: "section-about",
            items: about,
        },
    ]
    .into_iter()
    .filter(|s| !s.items.is_empty())
    .collect()
}

fn item(state: &AppState, handle: &str, post: &Post, attachments: &[Attachment]) -> UpdateItem {
    UpdateItem {
        url: state.urls.update(handle, post.id),
        html: post.content_html.clone(),
        published: rfc3339(post.published),
        warning: post.content_warning.clone(),
        attachments: attachment_views(state, attachments),
    }
}

/// Most replies shown on an update's page.
pub const MAX_REPLIES_SHOWN: i64 = 200;

/// The page of one update.
pub async fn update_page(state: &AppState, org: &Org, post: &Post, counts: NoteCounts) -> Result<Response, AppError> {
    let attachments = store::media::attachments(&state.db, post.id)
        .await
        .map_err(service::Error::from)?;
    let replies = store::inbox::replies_to(&state.db, post.id, MAX_REPLIES_SHOWN)
        .await
        .map_err(service::Error::from)?
        .into_iter()
        .map(|r| ReplyView {
            avatar: remote_avatar(state, r.icon_url.as_deref()),
            attachments: remote_attachment_views(state, &r.attachments),
            url: r.ap_id,
            html: r.content_html,
            published: rfc3339(r.published),
            name: r.name,
            acct: format!("@{}@{}", r.username, r.domain),
            actor_url: r.actor_url.unwrap_or(r.actor_ap_id),
        })
        .collect();
    render(&UpdatePage {
        replies,
        t: super::t(state),
        counts: super::t(state).update_counts(counts.likes, counts.shares),
        name: org.name.clone(),
        handle: org.handle.clone(),
        domain: state.urls.authority().to_owned(),
        item: item(state, &org.handle, post, &attachments),
    })
}
