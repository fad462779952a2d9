//! The home page and the health check.

use askama::Template;
use axum::{extract::State, http::StatusCode, response::Response};

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

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
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
    render(&HomePage {
        t: super::t(&state),
        domain: state.urls.authority().to_owned(),
        orgs,
    })
}

/// `GET /healthz`: 200 when the database answers, 503 otherwise.
pub async fn healthz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    match state.db.ping().await {
        Ok(()) => (StatusCode::OK, "ok"),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
        }
    }
}
