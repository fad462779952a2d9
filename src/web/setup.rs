//! `/setup/{secret}`: the first operator account, from a browser; and the operator's
//! "create an organisation" form.

use askama::Template;
use axum::{
    Form,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{
    i18n::T,
    render,
    staff::{Staff, require_csrf, require_operator},
    t,
};
use crate::{
    error::AppError,
    service::{self, accounts, audit::Who, orgs::NewOrgInput, setup},
    state::AppState,
};

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    t: T,
    email: String,
    error: Option<String>,
    valid: bool,
    min: usize,
}

fn page(
    state: &AppState,
    status: StatusCode,
    email: &str,
    error: Option<String>,
    valid: bool,
) -> Result<Response, AppError> {
    let mut r = render(&SetupPage {
        t: t(state),
        email: email.to_owned(),
        error,
        valid,
        min: accounts::MIN_PASSWORD_CHARS,
    })?;
    *r.status_mut() = status;
    Ok(r)
}

/// `GET /setup/{secret}`.
pub async fn form(State(state): State<AppState>, Path(secret): Path<String>) -> Result<Response, AppError> {
    let valid = setup::link_is_valid(&state, &secret).await?;
    page(
        &state,
        if valid { StatusCode::OK } else { StatusCode::GONE },
        "",
        None,
        valid,
    )
}

/// The set-up form.
#[derive(Deserialize)]
pub struct SetupForm {
    email: String,
    password: String,
    confirm: String,
}

/// `POST /setup/{secret}`: creates the first operator, then sends them to sign in.
pub async fn submit(
    State(state): State<AppState>,
    Path(secret): Path<String>,
    Form(f): Form<SetupForm>,
) -> Result<Response, AppError> {
    if f.password != f.confirm {
        return page(
            &state,
            StatusCode::BAD_REQUEST,
            &f.email,
            Some(t(&state).get("password-differ")),
            true,
        );
    }
    match setup::create_operator(&state, &secret, &f.email, &f.password).await {
        Ok(()) => Ok(Redirect::to("/login").into_response()),
        Err(service::Error::Invalid(m) | service::Error::Conflict(m)) => {
            page(&state, StatusCode::BAD_REQUEST, &f.email, Some(m), true)
        }
        Err(service::Error::Gone(_)) => page(&state, StatusCode::GONE, &f.email, None, false),
        Err(e) => Err(e.into()),
    }
}

/// A new organisation.
#[derive(Deserialize)]
pub struct NewOrgForm {
    handle: String,
    name: String,
    csrf: String,
}

/// `POST /admin/orgs` (operators): creates an organisation with the operator as its owner.
pub async fn create_org(
    State(state): State<AppState>,
    Staff(s): Staff,
    Form(f): Form<NewOrgForm>,
) -> Result<Response, AppError> {
    require_operator(&s)?;
    require_csrf(&s, &f.csrf)?;
    let who = Who::User {
        id: s.user_id,
        email: s.email.clone(),
    };
    let input = NewOrgInput {
        handle: f.handle.trim().to_owned(),
        name: f.name,
        summary: String::new(),
        approve_followers: false,
    };
    match service::orgs::create(&state, &who, &input).await {
        Ok(org) => {
            accounts::invite(&state, &who, &org.handle, &s.email, accounts::Role::Owner).await?;
            Ok(Redirect::to(&format!("/admin/orgs/{}", org.handle)).into_response())
        }
        Err(service::Error::Invalid(m) | service::Error::Conflict(m)) => Err(AppError::BadRequest(m)),
        Err(e) => Err(e.into()),
    }
}
