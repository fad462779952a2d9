//! Actors, their collections, and updates: JSON for ActivityPub clients, HTML for browsers.

use axum::{
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    clock::rfc3339,
    error::AppError,
    http::negotiate::{activity_json, activity_json_bytes, wants_activity_json},
    protocol::{
        activities,
        actor::{instance_actor as instance_doc, org_actor},
        collections::{self, PAGE_SIZE},
        note::{self, NoteCounts},
    },
    service::{self, keys},
    state::AppState,
    store::{self, orgs::Org},
    web,
};

/// `?page=` query of collections.
#[derive(Deserialize, Default)]
pub struct PageQuery {
    page: Option<String>,
    max_id: Option<i64>,
}

/// `GET /actor`: the instance actor, fetchable without a signature.
pub async fn instance_actor(State(state): State<AppState>) -> Result<Response, AppError> {
    let key = keys::instance_key(&state).await?;
    let created = store::settings::get(&state.db, keys::INSTANCE_CREATED)
        .await
        .map_err(service::Error::from)?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Ok(activity_json(
        StatusCode::OK,
        &instance_doc(&state.urls, key.public_pem(), created),
    ))
}

/// Looks up an organisation; a deleted one answers 410 with a Tombstone (JSON) or a page.
async fn live_or_gone(state: &AppState, handle: &str, json: bool) -> Result<Result<Org, Response>, AppError> {
    match service::orgs::find_live(state, handle).await {
        Ok(org) => Ok(Ok(org)),
        Err(service::Error::Gone(_)) if json => {
            let org = store::orgs::find_by_handle(&state.db, handle)
                .await
                .map_err(service::Error::from)?;
            let deleted = org.and_then(|o| o.deleted_at).unwrap_or(0);
            Ok(Err(activity_json(
                StatusCode::GONE,
                &note::tombstone(&state.urls.org(handle), "Organization", deleted),
            )))
        }
        Err(e) => Err(e.into()),
    }
}

/// `GET /orgs/{handle}`: the `Organization` actor, or its profile page for browsers.
pub async fn org(
    State(state): State<AppState>,
    Path(handle): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let json = wants_activity_json(&headers);
    // The hot path: a cached organisation and its rendered document (see find_live_cached).
    if json && let Ok(org) = service::orgs::find_live_cached(&state, &handle).await {
        if let Some(body) = state.org_cache.actor(&org) {
            return Ok(activity_json_bytes(StatusCode::OK, body.as_ref().clone()));
        }
        let key = keys::org_key(&state, org.id).await?;
        let body = serde_json::to_vec(&org_actor(&state.urls, &org, key.public_pem(), &state.vocab))
            .map_err(|e| service::Error::Internal(e.to_string()))?;
        // Only a document with the key it will keep is cached (a key made just now bumps the
        // generation, so the next read renders again from the stored row).
        if org.public_key_pem.is_some() {
            state.org_cache.set_actor(&org, std::sync::Arc::new(body.clone()));
        }
        return Ok(activity_json_bytes(StatusCode::OK, body));
    }
    let org = match live_or_gone(&state, &handle, json).await? {
        Ok(org) => org,
        Err(gone) => return Ok(gone),
    };
    if !json {
        return web::profile::page(&state, org, None).await;
    }
    let key = keys::org_key(&state, org.id).await?;
    Ok(activity_json(
        StatusCode::OK,
        &org_actor(&state.urls, &org, key.public_pem(), &state.vocab),
    ))
}

/// `GET /orgs/{handle}/outbox`: count, and pages of `Create` activities.
pub async fn outbox(
    State(state): State<AppState>,
    Path(handle): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, AppError> {
    let org = service::orgs::find_live(&state, &handle).await?;
    let id = state.urls.org_part(&handle, "outbox");
    if q.page.is_none() {
        let total = store::posts::count(&state.db, Some(org.id))
            .await
            .map_err(service::Error::from)?;
        return Ok(activity_json(
            StatusCode::OK,
            &collections::head(&id, total, Some(format!("{id}?page=true"))),
        ));
    }
    let before = q.max_id.unwrap_or(i64::MAX);
    let posts = store::posts::list(&state.db, org.id, before, PAGE_SIZE)
        .await
        .map_err(service::Error::from)?;
    let actor = state.urls.org(&handle);
    let ids: Vec<i64> = posts.iter().map(|p| p.id).collect();
    let attachments = store::media::attachments_of(&state.db, &ids)
        .await
        .map_err(service::Error::from)?;
    let items: Vec<Value> = posts
        .iter()
        .map(|p| {
            let mine: Vec<_> = attachments.iter().filter(|a| a.post_id == p.id).cloned().collect();
            let object = note::note(&state.urls, &handle, p, &mine, NoteCounts::default());
            let id = format!("{}/activity", state.urls.update(&handle, p.id));
            activities::wrap("Create", &id, &actor, &object, Some(&rfc3339(p.published)))
        })
        .collect();
    let next = (posts.len() as i64 == PAGE_SIZE)
        .then(|| format!("{id}?page=true&max_id={}", posts.last().map_or(0, |p| p.id)));
    let page_id = match q.max_id {
        Some(m) => format!("{id}?page=true&max_id={m}"),
        None => format!("{id}?page=true"),
    };
    Ok(activity_json(
        StatusCode::OK,
        &collections::page(&page_id, &id, strip_contexts(items), next),
    ))
}

fn strip_contexts(items: Vec<Value>) -> Vec<Value> {
    items
        .into_iter()
        .map(|mut v| {
            if let Some(m) = v.as_object_mut() {
                m.shift_remove("@context");
            }
            v
        })
        .collect()
}

/// `GET /orgs/{handle}/followers`: the count; the list only if the organisation opted in.
pub async fn followers(
    State(state): State<AppState>,
    Path(handle): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, AppError> {
    let org = service::orgs::find_live(&state, &handle).await?;
    let id = state.urls.org_part(&handle, "followers");
    let total = store::follows::follower_count(&state.db, org.id)
        .await
        .map_err(service::Error::from)?;
    if !org.public_lists {
        return Ok(activity_json(StatusCode::OK, &collections::head(&id, total, None)));
    }
    if q.page.is_none() {
        return Ok(activity_json(
            StatusCode::OK,
            &collections::head(&id, total, Some(format!("{id}?page=1"))),
        ));
    }
    let rows = store::follows::followers(&state.db, org.id, store::follows::ACCEPTED)
        .await
        .map_err(service::Error::from)?;
    let items = rows.into_iter().map(|r| json!(r.ap_id)).collect();
    Ok(activity_json(
        StatusCode::OK,
        &collections::page(&format!("{id}?page=1"), &id, items, None),
    ))
}

/// `GET /orgs/{handle}/following`: the count only (the list is not published yet).
pub async fn following(State(state): State<AppState>, Path(handle): Path<String>) -> Result<Response, AppError> {
    let org = service::orgs::find_live(&state, &handle).await?;
    let id = state.urls.org_part(&handle, "following");
    let total = store::follows::following_count(&state.db, org.id)
        .await
        .map_err(service::Error::from)?;
    Ok(activity_json(StatusCode::OK, &collections::head(&id, total, None)))
}

/// `GET /orgs/{handle}/featured`: pinned updates (none yet).
pub async fn featured(State(state): State<AppState>, Path(handle): Path<String>) -> Result<Response, AppError> {
    service::orgs::find_live(&state, &handle).await?;
    Ok(activity_json(
        StatusCode::OK,
        &collections::inline(&state.urls.org_part(&handle, "featured"), vec![]),
    ))
}

/// `GET /orgs/{handle}/tags`: up to ten themes as featured hashtags.
pub async fn featured_tags(State(state): State<AppState>, Path(handle): Path<String>) -> Result<Response, AppError> {
    let org = service::orgs::find_live(&state, &handle).await?;
    let tags =
        crate::protocol::profile::hashtags(&state.urls, &org.profile(), crate::protocol::profile::MAX_FEATURED_TAGS);
    Ok(activity_json(
        StatusCode::OK,
        &collections::inline(&state.urls.org_part(&handle, "tags"), tags),
    ))
}

/// `GET /orgs/{handle}/updates/{id}`: the `Note` (410 Tombstone once deleted), or its page.
pub async fn update(
    State(state): State<AppState>,
    Path((handle, id)): Path<(String, i64)>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let json = wants_activity_json(&headers);
    let org = match live_or_gone(&state, &handle, json).await? {
        Ok(org) => org,
        Err(gone) => {
            // The organisation was deleted: each of its updates answers with its own Tombstone.
            let deleted = match store::orgs::find_by_handle(&state.db, &handle).await {
                Ok(Some(org)) => store::posts::find(&state.db, org.id, id)
                    .await
                    .ok()
                    .flatten()
                    .and_then(|p| p.deleted_at),
                _ => None,
            };
            return Ok(match deleted {
                Some(at) => activity_json(
                    StatusCode::GONE,
                    &note::tombstone(&state.urls.update(&handle, id), "Note", at),
                ),
                None => gone,
            });
        }
    };
    let post = store::posts::find(&state.db, org.id, id)
        .await
        .map_err(service::Error::from)?
        .ok_or_else(|| service::Error::NotFound(format!("update {id}")))?;
    let url = state.urls.update(&handle, id);
    if let Some(deleted) = post.deleted_at {
        if json {
            return Ok(activity_json(StatusCode::GONE, &note::tombstone(&url, "Note", deleted)));
        }
        return Ok((StatusCode::GONE, web::t(&state).get("update-deleted")).into_response());
    }
    let counts = NoteCounts {
        likes: store::posts::interaction_count(&state.db, id, "like")
            .await
            .map_err(service::Error::from)?,
        shares: store::posts::interaction_count(&state.db, id, "announce")
            .await
            .map_err(service::Error::from)?,
    };
    if !json {
        return web::profile::update_page(&state, &org, &post, counts).await;
    }
    let attachments = store::media::attachments(&state.db, id)
        .await
        .map_err(service::Error::from)?;
    Ok(activity_json(
        StatusCode::OK,
        &note::note(&state.urls, &handle, &post, &attachments, counts),
    ))
}
