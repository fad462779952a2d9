//! The organisation profile page (`/@handle`) and one update's page.

use askama::Template;
use axum::{
    extract::{Path, State},
    response::Response,
};

use super::render;
use crate::{
    clock::rfc3339,
    error::AppError,
    protocol::note::NoteCounts,
    service,
    state::AppState,
    store::{self, orgs::Org, posts::Post},
};

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
}

/// `GET /@{handle}`.
pub async fn by_handle(State(state): State<AppState>, Path(handle): Path<String>) -> Result<Response, AppError> {
    let org = service::orgs::find_live(&state, &handle).await?;
    page(&state, org).await
}

/// The profile page of an organisation.
pub async fn page(state: &AppState, org: Org) -> Result<Response, AppError> {
    let followers = store::follows::follower_count(&state.db, org.id)
        .await
        .map_err(service::Error::from)?;
    let posts = store::posts::list(&state.db, org.id, i64::MAX, 20)
        .await
        .map_err(service::Error::from)?;
    let updates = posts.iter().map(|p| item(state, &org.handle, p)).collect();
    let public = org.listed_in == "public";
    // Script content cannot hold `</`: escape it so the JSON-LD cannot end its element early.
    let json_ld = public.then(|| {
        let mut doc = crate::service::open_data::schema_org(state, &org);
        doc["@context"] = serde_json::json!("https://schema.org/");
        doc.to_string().replace("</", "<\\/")
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

fn item(state: &AppState, handle: &str, post: &Post) -> UpdateItem {
    UpdateItem {
        url: state.urls.update(handle, post.id),
        html: post.content_html.clone(),
        published: rfc3339(post.published),
        warning: post.content_warning.clone(),
    }
}

/// The page of one update.
pub async fn update_page(state: &AppState, org: &Org, post: &Post, counts: NoteCounts) -> Result<Response, AppError> {
    render(&UpdatePage {
        t: super::t(state),
        counts: super::t(state).update_counts(counts.likes, counts.shares),
        name: org.name.clone(),
        handle: org.handle.clone(),
        domain: state.urls.authority().to_owned(),
        item: item(state, &org.handle, post),
    })
}
