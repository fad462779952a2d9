//! `/admin/orgs/{handle}/tokens`: a staff member's API tokens for one organisation. A new
//! token's secret is shown once; only its SHA-256 is stored.

use askama::Template;
use axum::{
    Form,
    extract::{Path, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{
    i18n::T,
    org_admin::{member_org, who},
    render,
    staff::{Staff, require_csrf},
    t,
};
use crate::{
    clock::rfc3339,
    error::AppError,
    service::{self, tokens::Scope},
    state::AppState,
    store::{orgs::Org, sessions::Session},
};

/// A token as the page lists it.
pub struct TokenRow {
    /// Id (for revoking).
    pub id: i64,
    /// Label.
    pub name: String,
    /// Created.
    pub created: String,
    /// Last used, if ever.
    pub last_used: Option<String>,
}

#[derive(Template)]
#[template(path = "org_tokens.html")]
struct TokensPage {
    t: T,
    csrf: String,
    handle: String,
    tokens: Vec<TokenRow>,
    secret: Option<String>,
    error: Option<String>,
    typed: String,
    api: String,
}

async fn page(
    state: &AppState,
    s: &Session,
    org: &Org,
    secret: Option<String>,
    error: Option<String>,
    typed: String,
) -> Result<Response, AppError> {
    let tokens = service::tokens::list(state, Some(&s.email))
        .await?
        .into_iter()
        .filter(|tok| tok.org_id == Some(org.id) && tok.revoked_at.is_none())
        .map(|tok| TokenRow {
            id: tok.id,
            name: tok.name,
            created: rfc3339(tok.created_at),
            last_used: tok.last_used_at.map(rfc3339),
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let mut r = render(&TokensPage {
        t: t(state),
        csrf: s.csrf.clone(),
        handle: org.handle.clone(),
        tokens,
        secret,
        error,
        typed,
        api: format!("{}/api/understory/v1/orgs/{}", state.urls.base(), org.handle),
    })?;
    *r.status_mut() = status;
    // A page that may show a secret is never cached.
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

/// `GET /admin/orgs/{handle}/tokens`.
pub async fn list(
    State(state): State<AppState>,
    Staff(s): Staff,
    Path(handle): Path<String>,
) -> Result<Response, AppError> {
    let org = member_org(&state, &s, &handle).await?;
    page(&state, &s, &org, None, None, String::new()).await
}

/// A new token's label.
#[derive(Deserialize)]
pub struct NewToken {
    csrf: String,
    #[serde(default)]
    name: String,
}

/// `POST /admin/orgs/{handle}/tokens`: makes a token and shows its secret once.
pub async fn create(
    State(state): State<AppState>,
    Staff(s): Staff,
    Path(handle): Path<String>,
    Form(form): Form<NewToken>,
) -> Result<Response, AppError> {
    let org = member_org(&state, &s, &handle).await?;
    require_csrf(&s, &form.csrf)?;
    let scope = Scope::Org(org.handle.clone());
    match service::tokens::create(&state, &who(&s), &s.email, &scope, Some(&form.name)).await {
        Ok((_, secret)) => page(&state, &s, &org, Some(secret), None, String::new()).await,
        Err(service::Error::Invalid(m)) => page(&state, &s, &org, None, Some(m), form.name).await,
        Err(e) => Err(e.into()),
    }
}

/// The form of a revocation.
#[derive(Deserialize)]
pub struct Revoke {
    csrf: String,
}

/// `POST /admin/orgs/{handle}/tokens/{id}/revoke`: revokes one of the signed-in user's tokens.
pub async fn revoke(
    State(state): State<AppState>,
    Staff(s): Staff,
    Path((handle, id)): Path<(String, i64)>,
    Form(form): Form<Revoke>,
) -> Result<Response, AppError> {
    member_org(&state, &s, &handle).await?;
    require_csrf(&s, &form.csrf)?;
    service::tokens::revoke(&state, &who(&s), id, Some(s.user_id)).await?;
    Ok(Redirect::to(&format!("/admin/orgs/{handle}/tokens")).into_response())
}
