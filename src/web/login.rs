//! One-time sign-in links (invitations and password resets): choose a password.

use askama::Template;
use axum::{
    Form,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use super::render;
use crate::{
    error::AppError,
    service::{self, accounts},
    state::AppState,
};

#[derive(Template)]
#[template(path = "set_password.html")]
struct SetPasswordPage {
    t: super::i18n::T,
    error: Option<String>,
    done: Option<String>,
    valid: bool,
    min: usize,
}

fn page(status: StatusCode, p: SetPasswordPage) -> Result<Response, AppError> {
    let mut response = render(&p)?;
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert("referrer-policy", axum::http::HeaderValue::from_static("no-referrer"));
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

/// `GET /login/link/{secret}`: the form, or why the link no longer works.
pub async fn show(State(state): State<AppState>, Path(secret): Path<String>) -> Result<Response, AppError> {
    let valid = accounts::link_is_valid(&state, &secret).await?;
    let status = if valid { StatusCode::OK } else { StatusCode::GONE };
    page(
        status,
        SetPasswordPage {
            t: super::t(&state),
            error: None,
            done: None,
            valid,
            min: accounts::MIN_PASSWORD_CHARS,
        },
    )
}

/// The form.
#[derive(Deserialize)]
pub struct PasswordForm {
    password: String,
    confirm: String,
}

/// `POST /login/link/{secret}`: sets the password; the link then stops working.
pub async fn submit(
    State(state): State<AppState>,
    Path(secret): Path<String>,
    Form(form): Form<PasswordForm>,
) -> Result<Response, AppError> {
    let min = accounts::MIN_PASSWORD_CHARS;
    if form.password != form.confirm {
        let error = Some(super::t(&state).get("password-differ"));
        return page(
            StatusCode::BAD_REQUEST,
            SetPasswordPage {
                t: super::t(&state),
                error,
                done: None,
                valid: true,
                min,
            },
        );
    }
    match accounts::set_password_with_link(&state, &secret, &form.password).await {
        Ok(user) => page(
            StatusCode::OK,
            SetPasswordPage {
                t: super::t(&state),
                error: None,
                done: Some(user.email),
                valid: true,
                min,
            },
        ),
        Err(service::Error::Invalid(m)) => page(
            StatusCode::BAD_REQUEST,
            SetPasswordPage {
                t: super::t(&state),
                error: Some(m),
                done: None,
                valid: true,
                min,
            },
        ),
        Err(service::Error::Gone(_) | service::Error::NotFound(_)) => page(
            StatusCode::GONE,
            SetPasswordPage {
                t: super::t(&state),
                error: None,
                done: None,
                valid: false,
                min,
            },
        ),
        Err(e) => Ok(AppError::from(e).into_response()),
    }
}
