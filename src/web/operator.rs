//! The operator's page: peers and peering requests, domain blocks, reports, the delivery queue
//! and the instance's settings. Every action is a small form with the session's CSRF token.

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
    clock::rfc3339,
    error::AppError,
    service::{self, audit::Who, moderation, peering},
    state::AppState,
    store::{self, sessions::Session},
};

#[derive(Template)]
#[template(path = "operator.html")]
struct OperatorPage {
    t: T,
    csrf: String,
    peers: Vec<store::peers::Peer>,
    blocks: Vec<(String, String, String)>,
    reports: Vec<(i64, String, String, String, bool)>,
    queue: String,
    settings: Vec<(&'static str, String)>,
    notice: Option<String>,
    error: Option<String>,
}

async fn page(
    state: &AppState,
    s: &Session,
    notice: Option<String>,
    error: Option<String>,
) -> Result<Response, AppError> {
    let err = |e: store::StoreError| AppError::from(service::Error::from(e));
    let q = store::outbox::status(&state.db).await.map_err(err)?;
    let tr = t(state);
    let queue = tr.with_args(
        "op-queue-figures",
        &[
            ("pending", &q.pending.to_string()),
            ("failing", &q.failing_instances.to_string()),
            ("dead", &q.dead_instances.to_string()),
        ],
    );
    let c = &state.config;
    let settings = vec![
        ("UNDERSTORY_PUBLIC_URL", c.public_url.to_string()),
        ("mode", format!("{:?}", c.mode())),
        ("UNDERSTORY_PEERING_POLICY", c.peering_policy.clone()),
        ("UNDERSTORY_PEER_GOSSIP", c.peer_gossip.to_string()),
        (
            "UNDERSTORY_SMTP_URL",
            if c.smtp_url.is_some() {
                "set".into()
            } else {
                "not set".into()
            },
        ),
    ];
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let mut r = render(&OperatorPage {
        t: tr,
        csrf: s.csrf.clone(),
        peers: store::peers::list(&state.db).await.map_err(err)?,
        blocks: store::peers::blocks(&state.db)
            .await
            .map_err(err)?
            .into_iter()
            .map(|(d, r, at)| (d, r, rfc3339(at)))
            .collect(),
        reports: store::reports::list(&state.db)
            .await
            .map_err(err)?
            .into_iter()
            .map(|r| (r.id, r.direction, r.target, r.content, r.resolved_at.is_some()))
            .collect(),
        queue,
        settings,
        notice,
        error,
    })?;
    *r.status_mut() = status;
    Ok(r)
}

/// `GET /admin/operator`.
pub async fn show(State(state): State<AppState>, Staff(s): Staff) -> Result<Response, AppError> {
    require_operator(&s)?;
    page(&state, &s, None, None).await
}

/// Any operator action.
#[derive(Deserialize)]
pub struct ActionForm {
    csrf: String,
    #[serde(default)]
    domain: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    id: i64,
}

/// `POST /admin/operator/{action}`: `peer-add`, `peer-approve`, `peer-remove`, `block`,
/// `unblock`, `report-resolve`. Failures are shown on the page with their reason.
pub async fn act(
    State(state): State<AppState>,
    Staff(s): Staff,
    Path(action): Path<String>,
    Form(f): Form<ActionForm>,
) -> Result<Response, AppError> {
    require_operator(&s)?;
    require_csrf(&s, &f.csrf)?;
    let who = Who::User {
        id: s.user_id,
        email: s.email.clone(),
    };
    let result = match action.as_str() {
        "peer-add" => peering::add(&state, &who, &f.domain).await.map(|_| ()),
        "peer-approve" => peering::approve(&state, &who, &f.domain).await,
        "peer-remove" => peering::remove(&state, &who, &f.domain).await,
        "block" => peering::block(&state, &who, &f.domain, &f.reason).await,
        "unblock" => peering::unblock(&state, &who, &f.domain).await,
        "report-resolve" => moderation::resolve(&state, &who, f.id).await,
        other => return Err(service::Error::NotFound(format!("action {other}")).into()),
    };
    match result {
        Ok(()) => page(&state, &s, Some(t(&state).get("op-done")), None).await,
        Err(
            e @ (service::Error::Invalid(_)
            | service::Error::NotFound(_)
            | service::Error::Forbidden(_)
            | service::Error::Remote(_)
            | service::Error::Conflict(_)),
        ) => page(&state, &s, None, Some(e.to_string())).await,
        Err(e) => Err(e.into()),
    }
}
