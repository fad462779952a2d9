//! The directory page (`/directory`), its open-data downloads, and the project's JSON-LD context.

use askama::Template;
use axum::{
    Json,
    extract::{RawQuery, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::render;
use crate::{
    error::AppError,
    protocol::profile::{self, NS},
    service::{directory, open_data},
    state::AppState,
};

/// One facet value as a link that toggles it.
pub struct FacetValue {
    /// Shown label.
    pub label: String,
    /// Matches.
    pub count: u64,
    /// Selected now.
    pub selected: bool,
    /// The URL with this value toggled.
    pub href: String,
}

/// One facet block.
pub struct FacetBlock {
    /// Heading.
    pub title: &'static str,
    /// Values.
    pub values: Vec<FacetValue>,
}

/// One result.
pub struct ResultItem {
    /// Name.
    pub name: String,
    /// `@handle@domain`.
    pub acct: String,
    /// Profile page on the home instance.
    pub url: String,
    /// Summary.
    pub summary: String,
    /// Theme labels.
    pub themes: Vec<String>,
    /// Place names.
    pub places: Vec<String>,
    /// From another instance.
    pub remote: bool,
    /// Avatar, from our origin (remote ones through the cache).
    pub avatar: String,
}

#[derive(Template)]
#[template(path = "directory.html")]
struct DirectoryPage {
    t: super::i18n::T,
    q: String,
    total: u64,
    results: Vec<ResultItem>,
    facets: Vec<FacetBlock>,
    next: Option<String>,
    error: Option<String>,
    filtered: bool,
}

const TITLES: [(&str, &str); 8] = [
    ("theme", "facet-theme"),
    ("place", "facet-place"),
    ("kind", "facet-kind"),
    ("way", "facet-way"),
    ("offer", "facet-offer"),
    ("language", "facet-language"),
    ("community", "facet-community"),
    ("instance", "facet-instance"),
];

fn toggle(pairs: &[(String, String)], key: &str, value: &str) -> String {
    let mut out: Vec<(String, String)> = pairs.iter().filter(|(k, _)| k != "cursor").cloned().collect();
    if let Some(at) = out.iter().position(|(k, v)| k == key && v.eq_ignore_ascii_case(value)) {
        out.remove(at);
    } else {
        out.push((key.to_owned(), value.to_owned()));
    }
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(out)
        .finish();
    if query.is_empty() {
        "/directory".into()
    } else {
        format!("/directory?{query}")
    }
}

/// `GET /directory`: search with facets; works without JavaScript; the URL is shareable.
pub async fn page(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Result<Response, AppError> {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let (query, error) = match directory::parse_query(raw.as_deref()) {
        Ok(q) => (q, None),
        Err(e) => (directory::parse_query(None).unwrap_or_default(), Some(e)),
    };
    let page = directory::search(&state, &query).await?;
    let actors: Vec<String> = page.entries.iter().map(|e| e.actor.clone()).collect();
    let pictures = crate::store::directory::avatars(&state.db, &actors)
        .await
        .map_err(crate::service::Error::from)?;
    let avatar = |actor: &str| match pictures.iter().find(|(a, _, _)| a == actor) {
        Some((_, Some(file), _)) => state.urls.media(file),
        Some((_, None, icon)) => super::profile::remote_avatar(&state, icon.as_deref()),
        None => super::profile::remote_avatar(&state, None),
    };
    let v = &state.vocab;
    let results = page
        .entries
        .iter()
        .map(|e| ResultItem {
            name: e.name.clone(),
            acct: format!("@{}@{}", e.handle, e.domain),
            url: e.profile_url.clone(),
            summary: e.summary.chars().take(300).collect(),
            themes: directory::split(&e.themes)
                .into_iter()
                .map(|t| v.themes.label(t).to_owned())
                .collect(),
            places: directory::split(&e.places)
                .into_iter()
                .map(|p| v.places.label(p).to_owned())
                .collect(),
            remote: e.org_id.is_none(),
            avatar: avatar(&e.actor),
        })
        .collect();
    let facets = page
        .facets
        .iter()
        .map(|(name, values)| FacetBlock {
            title: TITLES.iter().find(|(n, _)| n == name).map_or("", |(_, t)| t),
            values: values
                .iter()
                .take(15)
                .map(|(value, count)| FacetValue {
                    label: directory::facet_label(&state, name, value),
                    count: *count,
                    selected: pairs.iter().any(|(k, v)| k == name && v.eq_ignore_ascii_case(value)),
                    href: toggle(&pairs, name, value),
                })
                .collect(),
        })
        .filter(|b| !b.values.is_empty())
        .collect();
    let next = page.next.as_ref().map(|c| {
        let mut p: Vec<(String, String)> = pairs.iter().filter(|(k, _)| k != "cursor").cloned().collect();
        p.push(("cursor".into(), c.clone()));
        format!(
            "/directory?{}",
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(p)
                .finish()
        )
    });
    let filtered = !query.q.is_empty() || !query.filters.is_empty();
    let mut response = render(&DirectoryPage {
        t: super::t(&state),
        q: query.q,
        total: page.total,
        results,
        facets,
        next,
        error: error.clone(),
        filtered,
    })?;
    if error.is_some() {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    Ok(response)
}

fn download(body: Vec<u8>, content_type: &'static str, filename: &'static str) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static(filename));
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    r
}

/// `GET /directory.csv`: the listed local organisations.
pub async fn csv(State(state): State<AppState>) -> Result<Response, AppError> {
    let orgs = open_data::orgs_for_export(&state, true).await?;
    Ok(download(
        open_data::to_csv(&orgs)?,
        "text/csv; charset=utf-8",
        "inline; filename=\"directory.csv\"",
    ))
}

/// `GET /directory.jsonld`: the listed local organisations as schema.org.
pub async fn jsonld(State(state): State<AppState>) -> Result<Response, AppError> {
    let orgs = open_data::orgs_for_export(&state, true).await?;
    let body = serde_json::to_vec(&open_data::to_jsonld(&state, &orgs)).unwrap_or_default();
    Ok(download(
        body,
        "application/ld+json; charset=utf-8",
        "inline; filename=\"directory.jsonld\"",
    ))
}

/// `GET /ns`: a copy of the project's JSON-LD context (the IRIs never point at an instance).
pub async fn context() -> Json<Value> {
    Json(json!({"@context": profile::context_terms(), "@id": NS.trim_end_matches('#')}))
}

/// The default avatar, shown when an organisation has none.
pub const DEFAULT_AVATAR: &[u8] = include_bytes!("static/avatar.png");
/// The default header picture.
pub const DEFAULT_HEADER: &[u8] = include_bytes!("static/header.png");

/// The stylesheet of every page (no inline styles: the pages' CSP has no `'unsafe-inline'`).
pub const STYLESHEET: &str = include_str!("static/style.css");

/// `GET /static/style.css`.
pub async fn stylesheet() -> Response {
    let mut r = (StatusCode::OK, STYLESHEET).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    r
}

/// `GET /static/{avatar,header}.png`: the default pictures.
pub async fn avatar() -> Response {
    picture(DEFAULT_AVATAR)
}

/// The default header picture.
pub async fn header_picture() -> Response {
    picture(DEFAULT_HEADER)
}

pub(crate) fn picture(bytes: &'static [u8]) -> Response {
    let mut r = (StatusCode::OK, bytes).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"));
    r
}
