//! Staff endpoints of one organisation: profile, updates, followers, members, audit.

use axum::{
    Json,
    extract::{FromRequest, Multipart, Path, Query, Request, State},
    http::StatusCode,
    response::Response,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiJson, created, require_org};
use crate::{
    clock::rfc3339,
    error::AppError,
    http::upload::{self, UploadForm},
    service::{
        self,
        accounts::{self, Role},
        audit,
        orgs::ProfileEdit,
        posts::Draft,
        tokens::Bearer,
    },
    state::AppState,
    store::{
        self,
        orgs::{Org, Picture},
    },
};

fn org_json(state: &AppState, org: &Org) -> Value {
    json!({
        "handle": org.handle, "name": org.name, "summary": org.summary,
        "approve_followers": org.manually_approves_followers, "public_lists": org.public_lists,
        "discoverable": org.discoverable, "indexable": org.indexable, "listed_in": org.listed_in,
        "actor": state.urls.org(&org.handle), "profile": state.urls.profile(&org.handle),
        "handle_with_domain": format!("@{}@{}", org.handle, state.urls.authority()),
        "avatar": org.avatar.as_deref().map(|f| state.urls.media(f)),
        "header": org.header.as_deref().map(|f| state.urls.media(f)),
    })
}

/// `GET /me`: who the token belongs to and what it may do.
pub async fn me(State(state): State<AppState>, bearer: Bearer) -> Result<Json<Value>, AppError> {
    let scope = match bearer.org {
        Some((org_id, role)) => {
            let org = store::orgs::find(&state.db, org_id)
                .await
                .map_err(service::Error::from)?;
            json!({"org": org.map(|o| o.handle), "role": role.as_str()})
        }
        None => json!("operator"),
    };
    Ok(Json(
        json!({"email": bearer.email, "token": bearer.token_id, "scope": scope}),
    ))
}

/// `DELETE /me`: delete your own staff account (its address, password, second factor,
/// sessions, tokens and memberships are erased). The last owner of an organisation is refused.
pub async fn delete_me(State(state): State<AppState>, bearer: Bearer) -> Result<StatusCode, AppError> {
    service::accounts::remove_user(&state, &bearer.who(), &bearer.email).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /orgs/{handle}/export`: the organisation's profile, updates and followers (owners).
pub async fn export(
    State(state): State<AppState>,
    bearer: Bearer,
    Path(handle): Path<String>,
) -> Result<Json<Value>, AppError> {
    authorised(&state, &bearer, &handle, Role::Owner).await?;
    Ok(Json(service::orgs::export(&state, &handle).await?))
}

/// `DELETE /tokens/{id}`: revoke one of your own tokens.
pub async fn revoke_own_token(
    State(state): State<AppState>,
    bearer: Bearer,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    service::tokens::revoke(&state, &bearer.who(), id, Some(bearer.user_id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn authorised(state: &AppState, bearer: &Bearer, handle: &str, needed: Role) -> Result<Org, AppError> {
    let org = service::orgs::find_live(state, handle).await?;
    require_org(bearer, &org, needed)?;
    Ok(org)
}

/// `GET /orgs/{handle}`.
pub async fn show(
    State(state): State<AppState>,
    bearer: Bearer,
    Path(handle): Path<String>,
) -> Result<Json<Value>, AppError> {
    let org = authorised(&state, &bearer, &handle, Role::Editor).await?;
    let mut body = org_json(&state, &org);
    body["followers"] = json!(
        store::follows::follower_count(&state.db, org.id)
            .await
            .map_err(service::Error::from)?
    );
    Ok(Json(body))
}

/// The editable profile settings.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditBody {
    name: Option<String>,
    summary: Option<String>,
    approve_followers: Option<bool>,
    public_lists: Option<bool>,
    listed_in: Option<String>,
    discoverable: Option<bool>,
    indexable: Option<bool>,
}

/// `PATCH /orgs/{handle}`: change profile settings; followers receive the new profile.
pub async fn edit(
    State(state): State<AppState>,
    bearer: Bearer,
    Path(handle): Path<String>,
    ApiJson(body): ApiJson<EditBody>,
) -> Result<Json<Value>, AppError> {
    authorised(&state, &bearer, &handle, Role::Editor).await?;
    let edit = ProfileEdit {
        name: body.name,
        summary: body.summary,
        approve_followers: body.approve_followers,
        public_lists: body.public_lists,
        listed_in: body.listed_in,
        discoverable: body.discoverable,
        indexable: body.indexable,
        profile: None,
    };
    let org = service::orgs::edit(&state, &bearer.who(), &handle, &edit).await?;
    Ok(Json(org_json(&state, &org)))
}

/// `GET /orgs/{handle}/profile`: the whole profile document.
pub async fn profile(
    State(state): State<AppState>,
    bearer: Bearer,
    Path(handle): Path<String>,
) -> Result<Json<Value>, AppError> {
    let org = authorised(&state, &bearer, &handle, Role::Editor).await?;
    Ok(Json(service::profiles::document(&org)))
}

/// `PUT /orgs/{handle}/profile`: replaces the profile; bad fields are named, nothing is saved
/// half-way; followers receive the new profile.
pub async fn replace_profile(
    State(state): State<AppState>,
    bearer: Bearer,
    Path(handle): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<Value>, AppError> {
    authorised(&state, &bearer, &handle, Role::Editor).await?;
    let org = service::profiles::replace(&state, &bearer.who(), &handle, body).await?;
    Ok(Json(service::profiles::document(&org)))
}

/// A new or edited update.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    text: String,
    lang: Option<String>,
    content_warning: Option<String>,
}

fn is_multipart(request: &Request) -> bool {
    upload::is_multipart(request.headers())
}

async fn multipart_form(state: &AppState, request: Request) -> Result<UploadForm, AppError> {
    let multipart = Multipart::from_request(request, state)
        .await
        .map_err(|e| AppError::BadRequest(e.body_text()))?;
    upload::read(multipart).await
}

/// `POST /orgs/{handle}/updates`: JSON (`text`, `lang`, `content_warning`), or
/// `multipart/form-data` with the same fields plus up to four `file` parts, each with an `alt`
/// field in the same order.
pub async fn publish(
    State(state): State<AppState>,
    bearer: Bearer,
    Path(handle): Path<String>,
    request: Request,
) -> Result<Response, AppError> {
    authorised(&state, &bearer, &handle, Role::Editor).await?;
    let draft = if is_multipart(&request) {
        let mut form = multipart_form(&state, request).await?;
        Draft {
            text: form.field("text").unwrap_or("").to_owned(),
            lang: form.field("lang").filter(|l| !l.is_empty()).map(str::to_owned),
            content_warning: form.field("content_warning").map(str::to_owned),
            attachments: form.attachments(),
        }
    } else {
        let ApiJson(body) = ApiJson::<UpdateBody>::from_request(request, &state).await?;
        Draft {
            text: body.text,
            lang: body.lang,
            content_warning: body.content_warning,
            attachments: Vec::new(),
        }
    };
    let (post, attachments) = service::posts::publish_draft(&state, &bearer.who(), &handle, draft).await?;
    let attachments: Vec<Value> = attachments
        .iter()
        .map(|a| crate::protocol::note::attachment(&state.urls, a))
        .collect();
    Ok(created(json!({
        "id": post.id, "url": state.urls.update(&handle, post.id), "published": rfc3339(post.published),
        "attachments": attachments,
    })))
}

/// `PUT /orgs/{handle}/avatar` and `/header`: `multipart/form-data` with one `file` part.
pub async fn put_picture(
    State(state): State<AppState>,
    bearer: Bearer,
    Path((handle, which)): Path<(String, String)>,
    request: Request,
) -> Result<Json<Value>, AppError> {
    let which = picture_of(&which)?;
    authorised(&state, &bearer, &handle, Role::Editor).await?;
    if !is_multipart(&request) {
        return Err(AppError::BadRequest(
            "send the picture as multipart/form-data with a file part".into(),
        ));
    }
    let form = multipart_form(&state, request).await?;
    let file = form
        .file("file")
        .ok_or_else(|| AppError::BadRequest("file: no picture sent".into()))?;
    let prepared = service::orgs::prepare_picture(which, file.bytes.clone()).await?;
    let org = service::orgs::set_picture(&state, &bearer.who(), &handle, which, Some(&prepared)).await?;
    Ok(Json(org_json(&state, &org)))
}

/// `DELETE /orgs/{handle}/avatar` and `/header`.
pub async fn delete_picture(
    State(state): State<AppState>,
    bearer: Bearer,
    Path((handle, which)): Path<(String, String)>,
) -> Result<Json<Value>, AppError> {
    let which = picture_of(&which)?;
    authorised(&state, &bearer, &handle, Role::Editor).await?;
    let org = service::orgs::set_picture(&state, &bearer.who(), &handle, which, None).await?;
    Ok(Json(org_json(&state, &org)))
}

fn picture_of(name: &str) -> Result<Picture, AppError> {
    match name {
        "avatar" => Ok(Picture::Avatar),
        "header" => Ok(Picture::Header),
        _ => Err(service::Error::NotFound(format!("/{name}")).into()),
    }
}

/// `PUT /orgs/{handle}/updates/{id}`.
pub async fn edit_update(
    State(state): State<AppState>,
    bearer: Bearer,
    Path((handle, id)): Path<(String, i64)>,
    ApiJson(body): ApiJson<UpdateBody>,
) -> Result<Json<Value>, AppError> {
    authorised(&state, &bearer, &handle, Role::Editor).await?;
    let post = service::posts::edit_with_warning(
        &state,
        &bearer.who(),
        &handle,
        id,
        &body.text,
        body.content_warning.as_deref(),
    )
    .await?;
    Ok(Json(
        json!({"id": post.id, "url": state.urls.update(&handle, post.id), "updated": post.updated.map(rfc3339)}),
    ))
}

/// `DELETE /orgs/{handle}/updates/{id}`.
pub async fn delete_update(
    State(state): State<AppState>,
    bearer: Bearer,
    Path((handle, id)): Path<(String, i64)>,
) -> Result<StatusCode, AppError> {
    authorised(&state, &bearer, &handle, Role::Editor).await?;
    service::posts::delete(&state, &bearer.who(), &handle, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `?state=pending|accepted`.
#[derive(Deserialize)]
pub struct FollowersQuery {
    state: Option<String>,
}

/// `GET /orgs/{handle}/followers`.
pub async fn followers(
    State(state): State<AppState>,
    bearer: Bearer,
    Path(handle): Path<String>,
    Query(q): Query<FollowersQuery>,
) -> Result<Json<Value>, AppError> {
    authorised(&state, &bearer, &handle, Role::Editor).await?;
    let which = match q.state.as_deref() {
        None | Some("accepted") => store::follows::ACCEPTED,
        Some("pending") => store::follows::PENDING,
        Some(other) => {
            return Err(AppError::BadRequest(format!(
                "state: {other:?} must be pending or accepted"
            )));
        }
    };
    let rows = service::follows::followers(&state, &handle, which).await?;
    Ok(Json(json!(
        rows.into_iter()
            .map(|r| json!({"actor": r.ap_id, "state": r.state}))
            .collect::<Vec<_>>()
    )))
}

/// A follow request to answer.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FollowerBody {
    actor: String,
}

/// `POST /orgs/{handle}/followers/approve` and `.../reject`.
pub async fn answer(
    State(state): State<AppState>,
    bearer: Bearer,
    Path((handle, decision)): Path<(String, String)>,
    ApiJson(body): ApiJson<FollowerBody>,
) -> Result<StatusCode, AppError> {
    let accept = match decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return Err(service::Error::NotFound(format!("/followers/{decision}")).into()),
    };
    authorised(&state, &bearer, &handle, Role::Editor).await?;
    service::follows::answer(&state, &bearer.who(), &handle, &body.actor, accept).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /orgs/{handle}/members` (owners).
pub async fn members(
    State(state): State<AppState>,
    bearer: Bearer,
    Path(handle): Path<String>,
) -> Result<Json<Value>, AppError> {
    let org = authorised(&state, &bearer, &handle, Role::Owner).await?;
    let members = store::users::members(&state.db, org.id)
        .await
        .map_err(service::Error::from)?;
    Ok(Json(json!(
        members
            .into_iter()
            .map(|m| json!({"email": m.email, "role": m.role}))
            .collect::<Vec<_>>()
    )))
}

/// A person to invite.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InviteBody {
    email: String,
    role: String,
}

/// `POST /orgs/{handle}/members` (owners): give someone a role, creating their account if
/// needed. The sign-in link is in the answer only when mail is not set up.
pub async fn invite(
    State(state): State<AppState>,
    bearer: Bearer,
    Path(handle): Path<String>,
    ApiJson(body): ApiJson<InviteBody>,
) -> Result<Response, AppError> {
    authorised(&state, &bearer, &handle, Role::Owner).await?;
    let role = Role::parse(&body.role)?;
    let link = accounts::invite(&state, &bearer.who(), &handle, &body.email, role).await?;
    let email = accounts::parse_email(&body.email)?;
    let mut answer = json!({"email": email, "role": role.as_str(), "mailed": service::mail::enabled(&state)});
    if let (Some(link), false) = (link, service::mail::enabled(&state)) {
        answer["sign_in_link"] = json!(link);
    }
    Ok(created(answer))
}

/// `DELETE /orgs/{handle}/members/{email}` (owners).
pub async fn remove_member(
    State(state): State<AppState>,
    bearer: Bearer,
    Path((handle, email)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    authorised(&state, &bearer, &handle, Role::Owner).await?;
    accounts::remove_member(&state, &bearer.who(), &handle, &email).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Audit entries as JSON.
pub fn audit_json(entries: Vec<store::audit::Entry>) -> Value {
    json!(
        entries
            .into_iter()
            .map(
                |e| json!({"at": rfc3339(e.at), "actor": e.actor, "org": e.handle, "action": e.action,
            "details": serde_json::from_str::<Value>(&e.details).unwrap_or(Value::Null)})
            )
            .collect::<Vec<_>>()
    )
}

/// `GET /orgs/{handle}/audit` (owners).
pub async fn audit(
    State(state): State<AppState>,
    bearer: Bearer,
    Path(handle): Path<String>,
) -> Result<Json<Value>, AppError> {
    authorised(&state, &bearer, &handle, Role::Owner).await?;
    Ok(Json(audit_json(audit::list(&state, Some(&handle), 500).await?)))
}
