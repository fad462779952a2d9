//! The home page and the health check.

use askama::Template;
use axum::{
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};

use super::render;
use crate::{error::AppError, service, state::AppState, store};

/// One organisation in a list.
pub struct OrgItem {
    /// Handle.
    pub handle: String,
    /// Display name.
    pub name: String,
    /// Summary.
    pub summary: String,
}

/// One bar of a chart.
pub struct Bar {
    /// Label.
    pub label: String,
    /// Count.
    pub count: u64,
    /// Width in percent of the largest.
    pub width: u64,
    /// Where clicking goes (the directory filtered by it).
    pub href: String,
}

/// The top values of a facet as bars.
async fn bars(state: &AppState, facet: &str, limit: usize) -> Result<Vec<Bar>, AppError> {
    let query = service::directory::Query {
        limit: 1,
        counts: true,
        ..Default::default()
    };
    let page = service::directory::search(state, &query).await?;
    let values = page
        .facets
        .into_iter()
        .find(|(name, _)| *name == facet)
        .map(|(_, v)| v)
        .unwrap_or_default();
    let max = values.first().map_or(1, |(_, c)| (*c).max(1));
    Ok(values
        .into_iter()
        .filter(|(value, _)| facet != "place" || !value.contains('-'))
        .take(limit)
        .map(|(value, count)| Bar {
            label: service::directory::facet_label(state, facet, &value),
            count,
            width: (count * 100 / max).max(2),
            href: format!(
                "/directory?{facet}={}",
                url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>()
            ),
        })
        .collect())
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    themes: Vec<Bar>,
    places: Vec<Bar>,
    t: super::i18n::T,
    domain: String,
    orgs: Vec<OrgItem>,
}

/// `GET /`: what this instance is and its organisations.
pub async fn page(State(state): State<AppState>) -> Result<Response, AppError> {
    let orgs = store::orgs::list(&state.db)
        .await
        .map_err(service::Error::from)?
        .into_iter()
        .map(|o| OrgItem {
            handle: o.handle,
            name: o.name,
            summary: o.summary,
        })
        .collect();
    let themes = bars(&state, "theme", 8).await?;
    let places = bars(&state, "place", 8).await?;
    render(&HomePage {
        themes,
        places,
        t: super::t(&state),
        domain: state.urls.authority().to_owned(),
        orgs,
    })
}

/// `GET /healthz`: 200 when a write transaction can begin and commit within 2 s; 503 with
/// the reason otherwise (a full disk, an unreachable or read-only database).
pub async fn healthz(State(state): State<AppState>) -> Response {
    match service::health::check(&state).await {
        Ok(()) => (StatusCode::OK, "ok").into_response(),
        Err(reason) => {
            tracing::error!(reason, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "5")], reason).into_response()
        }
    }
}
