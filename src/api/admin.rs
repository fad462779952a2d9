//! Operator endpoints: users, organisations, the whole audit log, the delivery queue.

use axum::{
    Json,
    extract::{Path, Query, State},
    http::StatusCode,
    response::Response,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiJson, created, orgs::audit_json, require_operator};
use crate::{
    error::AppError,
    service::{
        self,
        accounts::{self, Role},
        audit,
        orgs::NewOrgInput,
        tokens::Bearer,
    },
    state::AppState,
    store,
};

/// `GET /admin/users`.
pub async fn users(State(state): State<AppState>, bearer: Bearer) -> Result<Json<Value>, AppError> {
    require_operator(&bearer)?;
    let mut out = Vec::new();
    for user in store::users::list(&state.db).await.map_err(service::Error::from)? {
        let roles = store::users::memberships_of(&state.db, user.id)
            .await
            .map_err(service::Error::from)?;
        out.push(json!({
            "email": user.email, "operator": user.is_operator, "removed": user.removed_at.is_some(),
            "active": user.password_hash.is_some(),
            "roles": roles.into_iter().map(|m| json!({"org": m.handle, "role": m.role})).collect::<Vec<_>>(),
        }));
    }
    Ok(Json(json!(out)))
}

/// A user to create.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    email: String,
    #[serde(default)]
    operator: bool,
    org: Option<String>,
    role: Option<String>,
}

/// `POST /admin/users`: the same as `understory admin create-user`.
pub async fn create_user(
    State(state): State<AppState>,
    bearer: Bearer,
    ApiJson(body): ApiJson<NewUserBody>,
) -> Result<Response, AppError> {
    require_operator(&bearer)?;
    let org = match (&body.org, &body.role) {
        (Some(h), Some(r)) => Some((h.as_str(), Role::parse(r)?)),
        (None, None) => None,
        _ => return Err(AppError::BadRequest("org and role go together".into())),
    };
    let (user, link) = accounts::create_user(&state, &bearer.who(), &body.email, body.operator, org).await?;
    let mut answer =
        json!({"email": user.email, "operator": user.is_operator, "mailed": service::mail::enabled(&state)});
    if !service::mail::enabled(&state) {
        answer["sign_in_link"] = json!(link);
    }
    Ok(created(answer))
}

/// `DELETE /admin/users/{email}`.
pub async fn remove_user(
    State(state): State<AppState>,
    bearer: Bearer,
    Path(email): Path<String>,
) -> Result<StatusCode, AppError> {
    require_operator(&bearer)?;
    accounts::remove_user(&state, &bearer.who(), &email).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /admin/orgs/{handle}`: delete an organisation for good (as `understory org delete`).
pub async fn delete_org(
    State(state): State<AppState>,
    bearer: Bearer,
    Path(handle): Path<String>,
) -> Result<Json<Value>, AppError> {
    require_operator(&bearer)?;
    let sent = service::orgs::delete(&state, &bearer.who(), &handle).await?;
    Ok(Json(json!({"deleted": state.urls.org(&handle), "deliveries": sent})))
}

/// An organisation to create.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOrgBody {
    handle: String,
    name: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    approve_followers: bool,
}

/// `POST /admin/orgs`.
pub async fn create_org(
    State(state): State<AppState>,
    bearer: Bearer,
    ApiJson(body): ApiJson<NewOrgBody>,
) -> Result<Response, AppError> {
    require_operator(&bearer)?;
    let input = NewOrgInput {
        handle: body.handle,
        name: body.name,
        summary: body.summary,
        approve_followers: body.approve_followers,
    };
    let org = service::orgs::create(&state, &bearer.who(), &input).await?;
    Ok(created(
        json!({"handle": org.handle, "actor": state.urls.org(&org.handle)}),
    ))
}

/// `?org=HANDLE`.
#[derive(Deserialize)]
pub struct AuditQuery {
    org: Option<String>,
}

/// `GET /admin/audit`: every entry, or one organisation's.
pub async fn audit(
    State(state): State<AppState>,
    bearer: Bearer,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Value>, AppError> {
    require_operator(&bearer)?;
    Ok(Json(audit_json(audit::list(&state, q.org.as_deref(), 500).await?)))
}

/// `GET /admin/deliveries`: queue status.
pub async fn deliveries(State(state): State<AppState>, bearer: Bearer) -> Result<Json<Value>, AppError> {
    require_operator(&bearer)?;
    let s = store::outbox::status(&state.db).await.map_err(service::Error::from)?;
    Ok(Json(
        json!({"pending": s.pending, "failing_instances": s.failing_instances, "dead_instances": s.dead_instances}),
    ))
}

/// `GET /admin/peers`: every peer and the state of each direction.
pub async fn peers(State(state): State<AppState>, bearer: Bearer) -> Result<Json<Value>, AppError> {
    require_operator(&bearer)?;
    let peers = store::peers::list(&state.db).await.map_err(service::Error::from)?;
    Ok(Json(json!(
        peers
            .into_iter()
            .map(
                |p| json!({"domain": p.domain, "actor": p.actor, "we_follow": p.outgoing, "they_follow": p.incoming,
            "last_sync_at": p.last_sync_at.map(crate::clock::rfc3339), "last_sync_error": p.last_sync_error})
            )
            .collect::<Vec<_>>()
    )))
}

/// A domain to act on.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainBody {
    domain: String,
    #[serde(default)]
    reason: String,
}

/// `POST /admin/peers`: the same as `understory peer add`.
pub async fn add_peer(
    State(state): State<AppState>,
    bearer: Bearer,
    ApiJson(body): ApiJson<DomainBody>,
) -> Result<Response, AppError> {
    require_operator(&bearer)?;
    let peer = service::peering::add(&state, &bearer.who(), &body.domain).await?;
    Ok(created(json!({"domain": peer.domain, "we_follow": peer.outgoing})))
}

/// `POST /admin/peers/{domain}/{action}`: `approve`, `sync` or `block`.
pub async fn peer_action(
    State(state): State<AppState>,
    bearer: Bearer,
    Path((domain, action)): Path<(String, String)>,
) -> Result<Json<Value>, AppError> {
    require_operator(&bearer)?;
    let who = bearer.who();
    match action.as_str() {
        "approve" => service::peering::approve(&state, &who, &domain).await?,
        "block" => service::peering::block(&state, &who, &domain, "").await?,
        "sync" => {
            let read = service::peering::sync(&state, &domain).await?;
            return Ok(Json(json!({"domain": domain, "read": read})));
        }
        other => return Err(service::Error::NotFound(format!("peer action {other:?}")).into()),
    }
    Ok(Json(json!({"domain": domain, "done": action})))
}

/// `DELETE /admin/peers/{domain}`: the same as `understory peer remove`.
pub async fn remove_peer(
    State(state): State<AppState>,
    bearer: Bearer,
    Path(domain): Path<String>,
) -> Result<StatusCode, AppError> {
    require_operator(&bearer)?;
    service::peering::remove(&state, &bearer.who(), &domain).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /admin/domain_blocks`.
pub async fn domain_blocks(State(state): State<AppState>, bearer: Bearer) -> Result<Json<Value>, AppError> {
    require_operator(&bearer)?;
    let blocks = store::peers::blocks(&state.db).await.map_err(service::Error::from)?;
    Ok(Json(json!(
        blocks
            .into_iter()
            .map(|(d, r, at)| json!({"domain": d, "reason": r, "since": crate::clock::rfc3339(at)}))
            .collect::<Vec<_>>()
    )))
}

/// `POST /admin/domain_blocks`: blocks a domain.
pub async fn block_domain(
    State(state): State<AppState>,
    bearer: Bearer,
    ApiJson(body): ApiJson<DomainBody>,
) -> Result<Response, AppError> {
    require_operator(&bearer)?;
    service::peering::block(&state, &bearer.who(), &body.domain, &body.reason).await?;
    Ok(created(json!({"domain": body.domain})))
}

/// `DELETE /admin/domain_blocks/{domain}`.
pub async fn unblock_domain(
    State(state): State<AppState>,
    bearer: Bearer,
    Path(domain): Path<String>,
) -> Result<StatusCode, AppError> {
    require_operator(&bearer)?;
    service::peering::unblock(&state, &bearer.who(), &domain).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /admin/reports`.
pub async fn reports(State(state): State<AppState>, bearer: Bearer) -> Result<Json<Value>, AppError> {
    require_operator(&bearer)?;
    let reports = store::reports::list(&state.db).await.map_err(service::Error::from)?;
    Ok(Json(json!(reports
        .into_iter()
        .map(|r| json!({"id": r.id, "direction": r.direction, "reporter": r.reporter, "target": r.target, "content": r.content,
            "at": crate::clock::rfc3339(r.created_at), "resolved": r.resolved_at.is_some()}))
        .collect::<Vec<_>>())))
}
