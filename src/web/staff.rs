//! Staff sign-in on the web: `/login`, two-factor set-up, sign out (here or everywhere), and the
//! admin home. Sessions ride on an HttpOnly, SameSite=Lax cookie (Secure under https); every
//! form carries a CSRF token (the session's, or a double-submit cookie before sign-in).

use askama::Template;
use axum::{
    Extension, Form,
    extract::{FromRequestParts, State},
    http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{i18n::T, render, t};
use crate::http::limit::ClientAddr;
use crate::{
    error::AppError,
    service::{
        self,
        sessions::{self, SignIn},
        token,
    },
    state::AppState,
    store::{self, sessions::Session},
};

/// The session cookie.
pub const SESSION_COOKIE: &str = "understory_session";
/// The pre-sign-in CSRF cookie.
pub const CSRF_COOKIE: &str = "understory_csrf";

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

fn set_cookie(state: &AppState, name: &str, value: &str, max_age: i64) -> HeaderValue {
    let secure = if state.config.public_url.scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A signed-in staff member whose second factor is done (or not required).
pub struct Staff(pub Session);

impl FromRequestParts<AppState> for Staff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(secret) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(Redirect::to("/login").into_response());
        };
        match sessions::session(state, &secret).await {
            Ok(Some(s)) if s.mfa_ok => Ok(Self(s)),
            Ok(Some(_)) => Err(Redirect::to("/account/2fa").into_response()),
            Ok(None) => Err(Redirect::to("/login").into_response()),
            Err(e) => Err(AppError::from(e).into_response()),
        }
    }
}

/// A signed-in session that may still owe its second factor.
pub struct AnySession(pub Session);

impl FromRequestParts<AppState> for AnySession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let secret = cookie(&parts.headers, SESSION_COOKIE).unwrap_or_default();
        match sessions::session(state, &secret).await {
            Ok(Some(s)) => Ok(Self(s)),
            Ok(None) => Err(Redirect::to("/login").into_response()),
            Err(e) => Err(AppError::from(e).into_response()),
        }
    }
}

/// Refuses a form whose CSRF token is not the session's.
pub fn require_csrf(session: &Session, given: &str) -> Result<(), AppError> {
    check_csrf(&session.csrf, given)
}

/// Refuses anyone but an operator.
pub fn require_operator(session: &Session) -> Result<(), AppError> {
    if session.is_operator {
        Ok(())
    } else {
        Err(service::Error::Forbidden("operators only".into()).into())
    }
}

fn check_csrf(expected: &str, given: &str) -> Result<(), AppError> {
    let same = !expected.is_empty()
        && expected.len() == given.len()
        && expected
            .bytes()
            .zip(given.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if same {
        Ok(())
    } else {
        Err(service::Error::Forbidden("the form expired; reload the page and try again".into()).into())
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    t: T,
    csrf: String,
    email: String,
    error: Option<String>,
}

fn login_page(state: &AppState, status: StatusCode, email: &str, error: Option<String>) -> Result<Response, AppError> {
    let csrf = token();
    let mut r = render(&LoginPage {
        t: t(state),
        csrf: csrf.clone(),
        email: email.to_owned(),
        error,
    })?;
    *r.status_mut() = status;
    r.headers_mut()
        .append(header::SET_COOKIE, set_cookie(state, CSRF_COOKIE, &csrf, 3600));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

/// `GET /login`.
pub async fn login_form(State(state): State<AppState>) -> Result<Response, AppError> {
    login_page(&state, StatusCode::OK, "", None)
}

/// The sign-in form.
#[derive(Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    #[serde(default)]
    code: String,
    csrf: String,
}

/// `POST /login`: 303 to `/admin` (or the two-factor set-up), 401 with the form again, or 429.
pub async fn login(
    State(state): State<AppState>,
    Extension(ClientAddr(addr)): Extension<ClientAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, AppError> {
    let tr = t(&state);
    if check_csrf(&cookie(&headers, CSRF_COOKIE).unwrap_or_default(), &form.csrf).is_err() {
        return login_page(&state, StatusCode::FORBIDDEN, &form.email, Some(tr.get("login-csrf")));
    }
    match sessions::sign_in(&state, &form.email, &form.password, &form.code, &addr.to_string()).await? {
        SignIn::Ok {
            secret,
            needs_totp_setup,
        } => {
            let target = if needs_totp_setup { "/account/2fa" } else { "/admin" };
            let mut r = Redirect::to(target).into_response();
            r.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(&state, SESSION_COOKIE, &secret, sessions::SESSION_IDLE_MS / 1000),
            );
            r.headers_mut()
                .append(header::SET_COOKIE, set_cookie(&state, CSRF_COOKIE, "", 0));
            Ok(r)
        }
        SignIn::Refused => login_page(
            &state,
            StatusCode::UNAUTHORIZED,
            &form.email,
            Some(tr.get("login-failed")),
        ),
        SignIn::Limited(wait_ms) => {
            let minutes = (wait_ms / 60_000).max(1);
            let mut r = login_page(
                &state,
                StatusCode::TOO_MANY_REQUESTS,
                &form.email,
                Some(tr.with("login-too-many", "minutes", minutes)),
            )?;
            if let Ok(v) = HeaderValue::from_str(&(wait_ms / 1000).max(1).to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            Ok(r)
        }
    }
}

/// A form with only its CSRF token.
#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

/// `POST /logout`.
pub async fn logout(
    State(state): State<AppState>,
    AnySession(s): AnySession,
    Form(form): Form<CsrfForm>,
) -> Result<Response, AppError> {
    require_csrf(&s, &form.csrf)?;
    sessions::sign_out(&state, &s).await?;
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut()
        .append(header::SET_COOKIE, set_cookie(&state, SESSION_COOKIE, "", 0));
    Ok(r)
}

/// `POST /account/sessions/revoke`: sign out everywhere.
pub async fn logout_everywhere(
    State(state): State<AppState>,
    Staff(s): Staff,
    Form(form): Form<CsrfForm>,
) -> Result<Response, AppError> {
    require_csrf(&s, &form.csrf)?;
    sessions::sign_out_everywhere(&state, &s).await?;
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut()
        .append(header::SET_COOKIE, set_cookie(&state, SESSION_COOKIE, "", 0));
    Ok(r)
}

#[derive(Template)]
#[template(path = "totp.html")]
struct TotpPage {
    t: T,
    csrf: String,
    secret: String,
    uri: String,
    required: bool,
    error: Option<String>,
}

async fn totp_page(
    state: &AppState,
    s: &Session,
    status: StatusCode,
    error: Option<String>,
) -> Result<Response, AppError> {
    let secret = sessions::totp_setup(state, s).await?;
    let uri = sessions::totp_uri(state, &s.email, &secret);
    let mut r = render(&TotpPage {
        t: t(state),
        csrf: s.csrf.clone(),
        secret,
        uri,
        required: s.is_operator,
        error,
    })?;
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

/// `GET /account/2fa`: the secret to add to an authenticator app.
pub async fn totp_form(State(state): State<AppState>, AnySession(s): AnySession) -> Result<Response, AppError> {
    if s.totp_enabled {
        return Ok(Redirect::to("/admin").into_response());
    }
    totp_page(&state, &s, StatusCode::OK, None).await
}

/// The code that proves the app is set up.
#[derive(Deserialize)]
pub struct TotpForm {
    code: String,
    csrf: String,
}

/// `POST /account/2fa`: turns two-factor sign-in on.
pub async fn totp_confirm(
    State(state): State<AppState>,
    AnySession(s): AnySession,
    Form(form): Form<TotpForm>,
) -> Result<Response, AppError> {
    require_csrf(&s, &form.csrf)?;
    match sessions::totp_enable(&state, &s, &form.code).await {
        Ok(()) => Ok(Redirect::to("/admin").into_response()),
        Err(service::Error::Invalid(_)) => {
            totp_page(&state, &s, StatusCode::BAD_REQUEST, Some(t(&state).get("totp-wrong"))).await
        }
        Err(e) => Err(e.into()),
    }
}

/// One organisation on the admin home.
pub struct OrgRole {
    /// Handle.
    pub handle: String,
    /// `owner` or `editor`.
    pub role: String,
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    t: T,
    csrf: String,
    email: String,
    operator: bool,
    totp_enabled: bool,
    orgs: Vec<OrgRole>,
}

/// `GET /admin`: the signed-in staff member's home.
pub async fn admin(State(state): State<AppState>, Staff(s): Staff) -> Result<Response, AppError> {
    let orgs = store::users::memberships_of(&state.db, s.user_id)
        .await
        .map_err(service::Error::from)?
        .into_iter()
        .map(|m| OrgRole {
            handle: m.handle,
            role: m.role,
        })
        .collect();
    let mut r = render(&AdminPage {
        t: t(&state),
        csrf: s.csrf.clone(),
        email: s.email.clone(),
        operator: s.is_operator,
        totp_enabled: s.totp_enabled,
        orgs,
    })?;
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}
