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
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    name: String,
    handle: String,
    domain: String,
    summary: String,
    actor_url: String,
    followers: i64,
    updates: Vec<UpdateItem>,
    noindex: bool,
}

#[derive(Template)]
#[template(path = "update.html")]
struct UpdatePage {
    name: String,
    handle: String,
    domain: String,
    item: UpdateItem,
    likes: i64,
    shares: i64,
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
    render(&ProfilePage {
        actor_url: state.urls.org(&org.handle),
        domain: state.urls.authority().to_owned(),
        noindex: org.listed_in != "public",
        name: org.name,
        handle: org.handle,
        summary: org.summary,
        followers,
        updates,
    })
}

fn item(state: &AppState, handle: &str, post: &Post) -> UpdateItem {
    UpdateItem {
        url: state.urls.update(handle, post.id),
        html: post.content_html.clone(),
        published: rfc3339(post.published),
    }
}

/// The page of one update.
pub async fn update_page(state: &AppState, org: &Org, post: &Post, counts: NoteCounts) -> Result<Response, AppError> {
    render(&UpdatePage {
        name: org.name.clone(),
        handle: org.handle.clone(),
        domain: state.urls.authority().to_owned(),
        item: item(state, &org.handle, post),
        likes: counts.likes,
        shares: counts.shares,
    })
}
