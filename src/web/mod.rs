//! HTML pages: server-rendered, no JavaScript needed.

pub mod directory;
pub mod follow;
pub mod home;
pub mod i18n;
pub mod joins;
pub mod login;
pub mod media;
pub mod operator;
pub mod org_admin;
pub mod profile;
pub mod setup;
pub mod staff;
pub mod tokens;

use askama::Template;
use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::get,
};

use crate::{error::AppError, http::upload::UPLOAD_BODY_BYTES, service, state::AppState};

/// The page routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home::page))
        .route("/@{handle}", get(profile::by_handle))
        .route("/@{handle}/follow", axum::routing::post(follow::follow))
        .route("/orgs/{handle}/feed.atom", get(follow::feed))
        .route("/tags/{name}", get(follow::tag))
        .route("/healthz", get(home::healthz))
        .route("/directory", get(directory::page))
        .route("/directory.csv", get(directory::csv))
        .route("/directory.jsonld", get(directory::jsonld))
        .route("/ns", get(directory::context))
        .route("/media/{file}", get(media::stored))
        .route("/media/remote/{key}", get(media::remote))
        .route("/static/avatar.png", get(directory::avatar))
        .route("/static/style.css", get(directory::stylesheet))
        .route("/static/header.png", get(directory::header_picture))
        .route("/login/link/{secret}", get(login::show).post(login::submit))
        .route("/login", get(staff::login_form).post(staff::login))
        .route("/logout", axum::routing::post(staff::logout))
        .route(
            "/account/sessions/revoke",
            axum::routing::post(staff::logout_everywhere),
        )
        .route("/account/2fa", get(staff::totp_form).post(staff::totp_confirm))
        .route("/admin", get(staff::admin))
        .route("/join", get(joins::form).post(joins::submit))
        .route("/setup/{secret}", get(setup::form).post(setup::submit))
        .route("/admin/orgs", axum::routing::post(setup::create_org))
        .route("/admin/joins", get(joins::list))
        .route("/admin/operator", get(operator::show))
        .route("/admin/operator/{action}", axum::routing::post(operator::act))
        .route("/admin/joins/{id}/{decision}", axum::routing::post(joins::decide))
        .route(
            "/admin/orgs/{handle}",
            get(org_admin::profile_form).post(org_admin::profile_save),
        )
        .route(
            "/admin/orgs/{handle}/updates",
            get(org_admin::updates)
                .post(org_admin::publish)
                .layer(DefaultBodyLimit::max(UPLOAD_BODY_BYTES)),
        )
        .route(
            "/admin/orgs/{handle}/pictures",
            axum::routing::post(org_admin::pictures_save).layer(DefaultBodyLimit::max(UPLOAD_BODY_BYTES)),
        )
        .route(
            "/admin/orgs/{handle}/updates/{id}",
            get(org_admin::edit_form).post(org_admin::edit_save),
        )
        .route(
            "/admin/orgs/{handle}/updates/{id}/delete",
            axum::routing::post(org_admin::delete_update),
        )
        .route("/admin/orgs/{handle}/tokens", get(tokens::list).post(tokens::create))
        .route(
            "/admin/orgs/{handle}/tokens/{id}/revoke",
            axum::routing::post(tokens::revoke),
        )
        .route("/admin/orgs/{handle}/followers", get(org_admin::followers))
        .route(
            "/admin/orgs/{handle}/followers/{decision}",
            axum::routing::post(org_admin::answer),
        )
}

/// The catalogue bound to the page language (English until pages negotiate languages).
pub fn t(state: &AppState) -> i18n::T {
    i18n::T::new(state.catalogue.clone(), i18n::DEFAULT_LANGUAGE)
}

/// JSON for a `<script>` element: `<`, `>` and `&` as `\u003c`, `\u003e`, `\u0026` (still the
/// same JSON), so no text can end the element, open a comment (`<!--`) or form an entity.
pub fn json_in_html(doc: &serde_json::Value) -> String {
    doc.to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// Renders a template as an HTML response with a strict Content-Security-Policy.
pub fn render(template: &impl Template) -> Result<Response, AppError> {
    let html = template
        .render()
        .map_err(|e| service::Error::Internal(format!("template: {e}")))?;
    let mut response = (StatusCode::OK, Html(html)).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'none'; frame-ancestors 'none'",
        ),
    );
    h.insert(header::VARY, HeaderValue::from_static("Accept"));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    Ok(response)
}
