//! The project's JSON API under `/api/understory/v1/`, for staff with a bearer token
//! (`understory token create`). Mastodon-compatible paths keep Mastodon's meaning elsewhere.

pub mod admin;
pub mod directory;
pub mod orgs;

use axum::{
    Router,
    extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request},
    http::{HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
    routing::{delete, get, post, put},
};
use serde::de::DeserializeOwned;

use crate::{
    error::AppError,
    federation::MAX_BODY_BYTES,
    http::upload::UPLOAD_BODY_BYTES,
    service::{
        self,
        accounts::Role,
        tokens::{self, Bearer},
    },
    state::AppState,
    store::orgs::Org,
};

/// The API routes.
pub fn router() -> Router<AppState> {
    let v1 = Router::new()
        .route("/me", get(orgs::me).delete(orgs::delete_me))
        .route("/directory", get(directory::search))
        .route("/tokens/{id}", delete(orgs::revoke_own_token))
        .route("/orgs/{handle}", get(orgs::show).patch(orgs::edit))
        .route("/orgs/{handle}/profile", get(orgs::profile).put(orgs::replace_profile))
        .route(
            "/orgs/{handle}/updates",
            post(orgs::publish).layer(DefaultBodyLimit::max(UPLOAD_BODY_BYTES)),
        )
        .route(
            "/orgs/{handle}/{picture}",
            put(orgs::put_picture)
                .delete(orgs::delete_picture)
                .layer(DefaultBodyLimit::max(UPLOAD_BODY_BYTES)),
        )
        .route(
            "/orgs/{handle}/updates/{id}",
            put(orgs::edit_update).delete(orgs::delete_update),
        )
        .route("/orgs/{handle}/followers", get(orgs::followers))
        .route("/orgs/{handle}/followers/{decision}", post(orgs::answer))
        .route("/orgs/{handle}/members", get(orgs::members).post(orgs::invite))
        .route("/orgs/{handle}/members/{email}", delete(orgs::remove_member))
        .route("/orgs/{handle}/audit", get(orgs::audit))
        .route("/orgs/{handle}/export", get(orgs::export))
        .route("/admin/users", get(admin::users).post(admin::create_user))
        .route("/admin/users/{email}", delete(admin::remove_user))
        .route("/admin/orgs", post(admin::create_org))
        .route("/admin/orgs/{handle}", delete(admin::delete_org))
        .route("/admin/audit", get(admin::audit))
        .route("/admin/deliveries", get(admin::deliveries))
        .route("/admin/peers", get(admin::peers).post(admin::add_peer))
        .route("/admin/peers/{domain}", delete(admin::remove_peer))
        .route("/admin/peers/{domain}/{action}", post(admin::peer_action))
        .route(
            "/admin/domain_blocks",
            get(admin::domain_blocks).post(admin::block_domain),
        )
        .route("/admin/domain_blocks/{domain}", delete(admin::unblock_domain))
        .route("/admin/reports", get(admin::reports));
    Router::new()
        .nest("/api/understory/v1", v1)
        .route("/api/v1/directory", get(directory::mastodon))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// A JSON body whose errors are 400s with a reason (unknown fields refused by the types).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .eq_ignore_ascii_case("application/json")
            });
        if !is_json {
            return Err(AppError::BadRequest(
                "send the body as Content-Type: application/json".into(),
            ));
        }
        let _ = state;
        // JSON stays within 1 MiB even on routes whose limit is raised for uploads.
        let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES)
            .await
            .map_err(|_| AppError::TooLarge(format!("body: JSON is limited to {MAX_BODY_BYTES} bytes")))?;
        serde_json::from_slice(&bytes)
            .map(ApiJson)
            .map_err(|e| AppError::BadRequest(format!("body: {e}")))
    }
}

impl FromRequestParts<AppState> for Bearer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let unauthorized = |message: &str| {
            let mut r = AppError::from(service::Error::Unauthorized(message.to_owned())).into_response();
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            r
        };
        let header = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let secret = match header.and_then(|h| h.strip_prefix("Bearer ")) {
            Some(s) if !s.trim().is_empty() => s.trim(),
            _ => return Err(unauthorized("send Authorization: Bearer <token>")),
        };
        match tokens::authenticate(state, secret).await {
            Ok(bearer) => Ok(bearer),
            Err(service::Error::Unauthorized(m)) => Err(unauthorized(&m)),
            Err(e) => Err(AppError::from(e).into_response()),
        }
    }
}

/// Refuses unless the token is scoped to `org` with at least `needed` (an owner may do what an
/// editor may).
pub fn require_org(bearer: &Bearer, org: &Org, needed: Role) -> Result<(), AppError> {
    match bearer.org {
        Some((id, role)) if id == org.id => {
            if needed == Role::Owner && role != Role::Owner {
                Err(service::Error::Forbidden("only the organisation's owners may do this".into()).into())
            } else {
                Ok(())
            }
        }
        Some(_) => Err(service::Error::Forbidden("this token is scoped to another organisation".into()).into()),
        None => Err(service::Error::Forbidden(
            "an operator token cannot act for an organisation; use an organisation token".into(),
        )
        .into()),
    }
}

/// Refuses unless the token has operator scope.
pub fn require_operator(bearer: &Bearer) -> Result<(), AppError> {
    if bearer.operator {
        Ok(())
    } else {
        Err(service::Error::Forbidden("operator token required".into()).into())
    }
}

/// `201 Created` with a JSON body.
pub fn created(body: serde_json::Value) -> Response {
    (StatusCode::CREATED, axum::Json(body)).into_response()
}
