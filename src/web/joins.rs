//! "Join this instance" (public form) and the operator's page answering the requests.

use askama::Template;
use axum::{
    Form,
    extract::{Path, State},
    http::StatusCode,
    response::Response,
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
    service::{self, audit::Who, joins},
    state::AppState,
    store,
};

#[derive(Template)]
#[template(path = "join.html")]
struct JoinPage {
    t: T,
    domain: String,
    name: String,
    handle: String,
    email: String,
    message: String,
    errors: Vec<String>,
    sent: bool,
}

/// `GET /join`.
pub async fn form(State(state): State<AppState>) -> Result<Response, AppError> {
    render(&JoinPage {
        t: t(&state),
        domain: state.urls.authority().to_owned(),
        name: String::new(),
        handle: String::new(),
        email: String::new(),
        message: String::new(),
        errors: Vec::new(),
        sent: false,
    })
}

/// The join form.
#[derive(Deserialize)]
pub struct JoinForm {
    name: String,
    handle: String,
    email: String,
    #[serde(default)]
    message: String,
}

/// `POST /join`: stores the request, or shows each error and keeps what was typed.
pub async fn submit(State(state): State<AppState>, Form(f): Form<JoinForm>) -> Result<Response, AppError> {
    let (errors, sent) = match joins::request(&state, &f.handle, &f.name, &f.email, &f.message).await {
        Ok(_) => (Vec::new(), true),
        Err(service::Error::Invalid(m)) => (m.split("; ").map(str::to_owned).collect(), false),
        Err(e) => return Err(e.into()),
    };
    let status = if sent { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    let mut r = render(&JoinPage {
        t: t(&state),
        domain: state.urls.authority().to_owned(),
        name: f.name,
        handle: f.handle,
        email: f.email,
        message: f.message,
        errors,
        sent,
    })?;
    *r.status_mut() = status;
    Ok(r)
}

#[derive(Template)]
#[template(path = "joins.html")]
struct JoinsPage {
    t: T,
    csrf: String,
    requests: Vec<store::joins::JoinRequest>,
    notice: Option<String>,
    link: Option<String>,
}

async fn joins_page(
    state: &AppState,
    s: &store::sessions::Session,
    notice: Option<String>,
    link: Option<String>,
) -> Result<Response, AppError> {
    let requests = store::joins::pending(&state.db).await.map_err(service::Error::from)?;
    render(&JoinsPage {
        t: t(state),
        csrf: s.csrf.clone(),
        requests,
        notice,
        link,
    })
}

/// `GET /admin/joins` (operators).
pub async fn list(State(state): State<AppState>, Staff(s): Staff) -> Result<Response, AppError> {
    require_operator(&s)?;
    joins_page(&state, &s, None, None).await
}

/// A decision.
#[derive(Deserialize)]
pub struct DecisionForm {
    csrf: String,
}

/// `POST /admin/joins/{id}/{approve|decline}` (operators).
pub async fn decide(
    State(state): State<AppState>,
    Staff(s): Staff,
    Path((id, decision)): Path<(i64, String)>,
    Form(f): Form<DecisionForm>,
) -> Result<Response, AppError> {
    require_operator(&s)?;
    require_csrf(&s, &f.csrf)?;
    let who = Who::User {
        id: s.user_id,
        email: s.email.clone(),
    };
    let tr = t(&state);
    match decision.as_str() {
        "approve" => {
            let (req, link) = joins::approve(&state, &who, id).await?;
            let notice = tr.with_args("joins-approved", &[("handle", &req.handle), ("email", &req.email)]);
            let shown = if service::mail::enabled(&state) { None } else { link };
            joins_page(&state, &s, Some(notice), shown).await
        }
        "decline" => {
            joins::decline(&state, &who, id).await?;
            joins_page(&state, &s, Some(tr.get("joins-declined")), None).await
        }
        other => Err(service::Error::NotFound(format!("decision {other}")).into()),
    }
}
