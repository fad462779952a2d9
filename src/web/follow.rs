//! Following from any fediverse server: the visitor types their handle, we look up their
//! server's follow page (the WebFinger `subscribe` template) and send them there. Also the
//! Atom feed of an organisation's updates and the pages of hashtags.

use askama::Template;
use axum::{
    Form,
    extract::{Path, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use super::{i18n::T, render, t};
use crate::{clock::rfc3339, domain::text::escape_html, error::AppError, service, state::AppState, store};

/// The visitor's handle.
#[derive(Deserialize)]
pub struct FollowForm {
    handle: String,
}

#[derive(Template)]
#[template(path = "follow.html")]
struct FollowPage {
    t: T,
    acct: String,
    typed: String,
    message: Option<String>,
}

/// `POST /@{handle}/follow`: redirects to the visitor's own server's follow page.
pub async fn follow(
    State(state): State<AppState>,
    Path(handle): Path<String>,
    Form(form): Form<FollowForm>,
) -> Result<Response, AppError> {
    let org = service::orgs::find_live(&state, &handle).await?;
    let acct = format!("{}@{}", org.handle, state.urls.authority());
    let tr = t(&state);
    let typed = form.handle.trim().trim_start_matches('@').to_owned();
    let page = |message: String, status: StatusCode| -> Result<Response, AppError> {
        let mut r = render(&FollowPage {
            t: t(&state),
            acct: format!("@{acct}"),
            typed: form.handle.clone(),
            message: Some(message),
        })?;
        *r.status_mut() = status;
        Ok(r)
    };
    let Some((user, domain)) = parse_handle(&typed) else {
        return page(tr.get("follow-bad-handle"), StatusCode::BAD_REQUEST);
    };
    match subscribe_template(&state, user, domain).await {
        Some(template) => {
            let target = template.replace(
                "{uri}",
                &url::form_urlencoded::byte_serialize(acct.as_bytes()).collect::<String>(),
            );
            // Only a follow page on the handle's own server: never wherever its WebFinger says.
            match Url::parse(&target) {
                Ok(u)
                    if matches!(u.scheme(), "https" | "http")
                        && crate::config::authority_of(&u).is_some_and(|a| a.eq_ignore_ascii_case(domain)) =>
                {
                    Ok(Redirect::to(u.as_str()).into_response())
                }
                _ => page(
                    tr.with("follow-no-template", "acct", format!("@{acct}")),
                    StatusCode::OK,
                ),
            }
        }
        None => page(
            tr.with("follow-no-template", "acct", format!("@{acct}")),
            StatusCode::OK,
        ),
    }
}

/// `user@domain[:port]` and nothing else: a user name of letters, digits, `_`, `.` and `-`, and a
/// host name (or `localhost`) with an optional port. Paths, queries and credentials are refused,
/// so the lookup can only ever be `https://domain/.well-known/webfinger`.
pub fn parse_handle(typed: &str) -> Option<(&str, &str)> {
    let (user, domain) = typed.split_once('@')?;
    let user_ok =
        (1..=64).contains(&user.len()) && user.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    let (host, port) = match domain.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (domain, None),
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.parse::<u16>().is_ok_and(|n| n > 0));
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let host_ok = host.len() <= 253 && (host.contains('.') || host == "localhost") && host.split('.').all(label_ok);
    (user_ok && host_ok && port_ok).then_some((user, domain))
}

async fn subscribe_template(state: &AppState, user: &str, domain: &str) -> Option<String> {
    let scheme = if state.http.mode().allows_http() {
        "http"
    } else {
        "https"
    };
    let mut url = Url::parse(&format!("{scheme}://{domain}/.well-known/webfinger")).ok()?;
    url.query_pairs_mut()
        .append_pair("resource", &format!("acct:{user}@{domain}"));
    let (_, jrd) = state
        .http
        .get_json(
            &url,
            "application/jrd+json, application/json",
            None,
            state.clock.now_ms(),
        )
        .await
        .ok()?;
    jrd.get("links")?
        .as_array()?
        .iter()
        .find(|l| l.get("rel").and_then(Value::as_str) == Some("http://ostatus.org/schema/1.0/subscribe"))
        .and_then(|l| l.get("template").and_then(Value::as_str))
        .map(str::to_owned)
}

/// `GET /orgs/{handle}/feed.atom`: the organisation's updates as Atom.
pub async fn feed(State(state): State<AppState>, Path(handle): Path<String>) -> Result<Response, AppError> {
    let org = service::orgs::find_live(&state, &handle).await?;
    let posts = store::posts::list(&state.db, org.id, i64::MAX, 20)
        .await
        .map_err(service::Error::from)?;
    let ids: Vec<i64> = posts.iter().map(|p| p.id).collect();
    let attachments = store::media::attachments_of(&state.db, &ids)
        .await
        .map_err(service::Error::from)?;
    let me = state.urls.org_part(&handle, "feed.atom");
    let updated = posts
        .first()
        .map_or(org.updated_at, |p| p.updated.unwrap_or(p.published));
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n<id>{}</id>\n<title>{}</title>\n\
         <updated>{}</updated>\n<link rel=\"self\" href=\"{}\"/>\n<link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n<author><name>{}</name><uri>{}</uri></author>\n",
        escape_html(&me),
        escape_html(&t(&state).with("feed-title", "name", &org.name)),
        rfc3339(updated),
        escape_html(&me),
        escape_html(&state.urls.profile(&handle)),
        escape_html(&org.name),
        escape_html(&state.urls.profile(&handle)),
    );
    for p in &posts {
        let url = state.urls.update(&handle, p.id);
        let title: String = p.source.chars().take(80).collect();
        // Attachments as enclosures (RFC 4287 section 4.2.7.2), titled with their alt text.
        let enclosures: String = attachments
            .iter()
            .filter(|a| a.post_id == p.id)
            .map(|a| {
                format!(
                    "<link rel=\"enclosure\" type=\"{}\" length=\"{}\" title=\"{}\" href=\"{}\"/>\n",
                    escape_html(&a.media.media_type),
                    a.media.byte_size,
                    escape_html(&a.description),
                    escape_html(&state.urls.media(&a.media.file_name())),
                )
            })
            .collect();
        xml.push_str(&format!(
            "<entry>\n<id>{0}</id>\n<title>{1}</title>\n<link rel=\"alternate\" type=\"text/html\" href=\"{0}\"/>\n{5}<published>{2}</published>\n\
             <updated>{3}</updated>\n<content type=\"html\">{4}</content>\n</entry>\n",
            escape_html(&url),
            escape_html(&title),
            rfc3339(p.published),
            rfc3339(p.updated.unwrap_or(p.published)),
            escape_html(&p.content_html),
            enclosures,
        ));
    }
    xml.push_str("</feed>\n");
    let mut r = (StatusCode::OK, xml).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/atom+xml; charset=utf-8"),
    );
    Ok(r)
}

#[derive(Template)]
#[template(path = "tag.html")]
struct TagPage {
    t: T,
    tag: String,
    orgs: Vec<(String, String)>,
    updates: Vec<(String, String, String)>,
}

/// `GET /tags/{name}`: the organisations that know about a theme and the updates using the tag.
pub async fn tag(State(state): State<AppState>, Path(name): Path<String>) -> Result<Response, AppError> {
    let name = name.to_lowercase();
    if !crate::domain::profile::is_hashtag(&name) {
        return Err(service::Error::NotFound(format!("tag {name}")).into());
    }
    let query = service::directory::Query {
        filters: vec![(0, vec![name.clone()])],
        limit: 50,
        ..Default::default()
    };
    let page = service::directory::search(&state, &query).await?;
    let orgs = page.entries.into_iter().map(|e| (e.profile_url, e.name)).collect();
    let updates = store::posts::with_tag(&state.db, &name, 30)
        .await
        .map_err(service::Error::from)?
        .into_iter()
        .map(|(handle, p)| (state.urls.update(&handle, p.id), p.content_html, format!("@{handle}")))
        .collect();
    render(&TagPage {
        t: t(&state),
        tag: name,
        orgs,
        updates,
    })
}
