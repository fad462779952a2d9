//! The organisation admin pages for its staff: profile (with the vocabularies as choices and a
//! preview of Mastodon's rendering), updates, followers (with approval) and replies received.

use askama::Template;
use axum::{
    Form,
    extract::{FromRequest, Multipart, Path, RawForm, Request, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    i18n::T,
    render,
    staff::{Staff, require_csrf},
    t,
};
use crate::{
    clock::rfc3339,
    domain::{
        media::MAX_ATTACHMENTS,
        profile::{OFFER_CAPACITY, OFFER_TERMS, POLICY_KINDS, SIZE_BANDS},
        vocab::Terms,
    },
    error::AppError,
    http::upload,
    protocol::profile as ap_profile,
    service::{self, audit::Who, posts::Draft},
    state::AppState,
    store::{
        self,
        orgs::{Org, Picture},
        sessions::Session,
    },
};

/// One choice of a vocabulary.
pub struct Choice {
    /// Code.
    pub code: String,
    /// Label.
    pub label: String,
    /// Ticked.
    pub checked: bool,
}

/// A group of checkboxes.
pub struct ChoiceGroup {
    /// Form field name.
    pub name: &'static str,
    /// Legend message key.
    pub legend: &'static str,
    /// Choices.
    pub choices: Vec<Choice>,
}

/// A field of the Mastodon preview.
pub struct PreviewField {
    /// Name.
    pub name: String,
    /// HTML value (ours, escaped when built).
    pub value: String,
}

#[derive(Template)]
#[template(path = "org_profile.html")]
struct ProfileForm {
    t: T,
    csrf: String,
    handle: String,
    name: String,
    summary: String,
    reach: String,
    groups: Vec<ChoiceGroup>,
    own_themes: String,
    places: String,
    languages: String,
    website: String,
    contact: String,
    founded: String,
    errors: Vec<String>,
    saved: bool,
    avatar: String,
    header: Option<String>,
    more: More,
    offer_rows: Vec<OfferRow>,
    bands: &'static [&'static str],
    offer_terms: &'static [&'static str],
    offer_capacity: &'static [&'static str],
    preview_bio: String,
    preview_fields: Vec<PreviewField>,
}

pub(super) async fn member_org(state: &AppState, s: &Session, handle: &str) -> Result<Org, AppError> {
    let org = service::orgs::find_live(state, handle).await?;
    if store::users::role(&state.db, s.user_id, org.id)
        .await
        .map_err(service::Error::from)?
        .is_none()
    {
        return Err(service::Error::Forbidden(t(state).get("org-admin-forbidden")).into());
    }
    Ok(org)
}

pub(super) fn who(s: &Session) -> Who {
    Who::User {
        id: s.user_id,
        email: s.email.clone(),
    }
}

fn group(name: &'static str, legend: &'static str, terms: &Terms, selected: &[String]) -> ChoiceGroup {
    let choices = terms
        .all()
        .iter()
        .map(|term| Choice {
            code: term.code.clone(),
            label: term.label.clone(),
            checked: selected.iter().any(|s| s.eq_ignore_ascii_case(&term.code)),
        })
        .collect();
    ChoiceGroup { name, legend, choices }
}

/// The form as typed (or as stored), with errors.
struct Typed {
    name: String,
    summary: String,
    reach: String,
    lists: std::collections::HashMap<&'static str, Vec<String>>,
    own_themes: String,
    places: String,
    languages: String,
    website: String,
    contact: String,
    founded: String,
    more: More,
}

/// The rest of the profile: identifiers, size, networks, policies, names and summaries in other
/// languages, and the terms of each offer.
#[derive(Default)]
struct More {
    identifiers: String,
    employees: String,
    volunteers: String,
    networks: String,
    policies: Vec<(&'static str, String)>,
    name_map: String,
    summary_map: String,
    offer_terms: std::collections::HashMap<String, (String, String)>,
}

fn more_from(p: &crate::domain::profile::Profile) -> More {
    let lines = |m: &std::collections::BTreeMap<String, String>| {
        m.iter()
            .map(|(l, v)| format!("{l}: {v}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    More {
        identifiers: p.identifiers.join("; "),
        employees: p.employees.clone().unwrap_or_default(),
        volunteers: p.volunteers.clone().unwrap_or_default(),
        networks: p
            .networks
            .iter()
            .map(|n| match &n.url {
                Some(u) => format!("{} | {u}", n.name),
                None => n.name.clone(),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        policies: POLICY_KINDS
            .iter()
            .map(|k| {
                let url = p.policies.iter().find(|x| x.kind == *k).map(|x| x.url.clone());
                (*k, url.unwrap_or_default())
            })
            .collect(),
        name_map: lines(&p.name_map),
        summary_map: lines(&p.summary_map),
        offer_terms: p
            .offers
            .iter()
            .map(|o| {
                let terms = o.terms.clone().unwrap_or_default();
                (o.code.clone(), (terms, o.capacity.clone().unwrap_or_default()))
            })
            .collect(),
    }
}

/// Reads `language: text` lines into a map; a line without a colon is an error naming it.
fn language_lines(field: &str, raw: &str, errors: &mut Vec<String>) -> serde_json::Map<String, Value> {
    let mut map = serde_json::Map::new();
    for (n, line) in raw.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        match line.split_once(':') {
            Some((lang, text)) if !lang.trim().is_empty() && !text.trim().is_empty() => {
                map.insert(lang.trim().to_owned(), json!(text.trim()));
            }
            _ => errors.push(format!(
                "{field}: line {}: write it as a language code, a colon and the text, such as cy: Cymorth",
                n + 1
            )),
        }
    }
    map
}

/// One offer's row of terms and capacity in the form.
pub struct OfferRow {
    /// Offer code.
    pub code: String,
    /// Label.
    pub label: String,
    /// Chosen terms ("" for not said).
    pub terms: String,
    /// Chosen capacity.
    pub capacity: String,
}

fn from_org(org: &Org) -> Typed {
    let p = org.profile();
    let mut lists = std::collections::HashMap::new();
    lists.insert("kinds", p.kinds.clone());
    lists.insert("themes", p.themes.clone());
    lists.insert("ways_of_working", p.ways_of_working.clone());
    lists.insert("offers", p.offers.iter().map(|o| o.code.clone()).collect());
    lists.insert("communities", p.communities.clone());
    Typed {
        name: org.name.clone(),
        summary: org.summary.clone(),
        reach: org.listed_in.clone(),
        lists,
        own_themes: String::new(),
        places: p
            .places
            .iter()
            .map(|x| x.code.clone().unwrap_or_else(|| x.name.clone()))
            .collect::<Vec<_>>()
            .join("; "),
        languages: p.languages.join("; "),
        website: p.website.clone().unwrap_or_default(),
        contact: p.contacts.first().and_then(|c| c.email.clone()).unwrap_or_default(),
        founded: p.founding_year.map(|y| y.to_string()).unwrap_or_default(),
        more: more_from(&p),
    }
}

fn page(
    state: &AppState,
    s: &Session,
    org: &Org,
    typed: Typed,
    errors: Vec<String>,
    saved: bool,
) -> Result<Response, AppError> {
    let v = &state.vocab;
    let get = |k: &str| typed.lists.get(k).cloned().unwrap_or_default();
    let profile = org.profile();
    let preview_fields = ap_profile::fields(&state.urls, &profile, v)
        .into_iter()
        .map(|f| PreviewField {
            name: f["name"].as_str().unwrap_or("").to_owned(),
            value: crate::domain::html::sanitize(f["value"].as_str().unwrap_or("")),
        })
        .collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let mut r = render(&ProfileForm {
        t: t(state),
        csrf: s.csrf.clone(),
        handle: org.handle.clone(),
        groups: vec![
            group("kinds", "profile-form-kinds", &v.kinds, &get("kinds")),
            group("themes", "profile-form-themes", &v.themes, &get("themes")),
            group("ways_of_working", "profile-form-ways", &v.ways, &get("ways_of_working")),
            group("offers", "profile-form-offers", &v.offers, &get("offers")),
            group(
                "communities",
                "profile-form-communities",
                &v.communities,
                &get("communities"),
            ),
        ],
        own_themes: if typed.own_themes.is_empty() {
            get("themes")
                .into_iter()
                .filter(|c| v.themes.get(c).is_none())
                .collect::<Vec<_>>()
                .join("; ")
        } else {
            typed.own_themes
        },
        name: typed.name,
        summary: typed.summary,
        reach: typed.reach,
        places: typed.places,
        languages: typed.languages,
        website: typed.website,
        contact: typed.contact,
        founded: typed.founded,
        errors,
        saved,
        avatar: super::profile::avatar_of(state, org),
        header: org.header.as_deref().map(|f| state.urls.media(f)),
        offer_rows: v
            .offers
            .all()
            .iter()
            .map(|term| {
                let (terms, capacity) = typed.more.offer_terms.get(&term.code).cloned().unwrap_or_default();
                OfferRow {
                    code: term.code.clone(),
                    label: term.label.clone(),
                    terms,
                    capacity,
                }
            })
            .collect(),
        more: typed.more,
        bands: &SIZE_BANDS,
        offer_terms: &OFFER_TERMS,
        offer_capacity: &OFFER_CAPACITY,
        preview_bio: crate::domain::html::sanitize(&ap_profile::bio(&state.urls, &org.summary, &profile)),
        preview_fields,
    })?;
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

/// `GET /admin/orgs/{handle}`: the profile form.
pub async fn profile_form(
    State(state): State<AppState>,
    Staff(s): Staff,
    Path(handle): Path<String>,
) -> Result<Response, AppError> {
    let org = member_org(&state, &s, &handle).await?;
    page(&state, &s, &org, from_org(&org), Vec::new(), false)
}

fn split_list(raw: &str) -> Vec<String> {
    raw.split([';', ','])
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `POST /admin/orgs/{handle}`: saves every field, or shows each error and keeps what was typed.
pub async fn profile_save(
    State(state): State<AppState>,
    Staff(s): Staff,
    Path(handle): Path<String>,
    RawForm(raw): RawForm,
) -> Result<Response, AppError> {
    let org = member_org(&state, &s, &handle).await?;
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&raw).into_owned().collect();
    let one = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let many = |k: &str| {
        pairs
            .iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .collect::<Vec<_>>()
    };
    require_csrf(&s, &one("csrf"))?;
    let mut lists = std::collections::HashMap::new();
    for k in ["kinds", "themes", "ways_of_working", "offers", "communities"] {
        lists.insert(k, many(k));
    }
    let typed = Typed {
        name: one("name"),
        summary: one("summary"),
        reach: one("reach"),
        lists,
        own_themes: one("own_themes"),
        places: one("places"),
        languages: one("languages"),
        website: one("website"),
        contact: one("contact"),
        founded: one("founded"),
        more: More {
            identifiers: one("identifiers"),
            employees: one("employees"),
            volunteers: one("volunteers"),
            networks: one("networks"),
            policies: POLICY_KINDS.iter().map(|k| (*k, one(&format!("policy-{k}")))).collect(),
            name_map: one("name_map"),
            summary_map: one("summary_map"),
            offer_terms: many("offers")
                .into_iter()
                .map(|code| {
                    let pair = (one(&format!("terms-{code}")), one(&format!("capacity-{code}")));
                    (code, pair)
                })
                .collect(),
        },
    };
    let mut themes = typed.lists.get("themes").cloned().unwrap_or_default();
    themes.extend(split_list(&typed.own_themes));
    let mut errors = Vec::new();
    let offers: Vec<Value> = typed.lists["offers"]
        .iter()
        .map(|code| {
            let (terms, capacity) = typed.more.offer_terms.get(code).cloned().unwrap_or_default();
            let mut offer = json!({"code": code});
            if !terms.is_empty() {
                offer["terms"] = json!(terms);
            }
            if !capacity.is_empty() {
                offer["capacity"] = json!(capacity);
            }
            offer
        })
        .collect();
    let networks: Vec<Value> = typed
        .more
        .networks
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| match line.split_once('|') {
            Some((name, url)) => json!({"name": name.trim(), "url": url.trim()}),
            None => json!({"name": line.trim()}),
        })
        .collect();
    let policies: Vec<Value> = typed
        .more
        .policies
        .iter()
        .filter(|(_, url)| !url.trim().is_empty())
        .map(|(kind, url)| json!({"kind": kind, "url": url.trim()}))
        .collect();
    let mut doc = json!({
        "name": typed.name, "summary": typed.summary, "listed_in": typed.reach,
        "kinds": typed.lists["kinds"], "themes": themes, "ways_of_working": typed.lists["ways_of_working"],
        "offers": offers, "communities": typed.lists["communities"],
        "places": split_list(&typed.places), "languages": split_list(&typed.languages),
        "identifiers": split_list(&typed.more.identifiers), "networks": networks, "policies": policies,
        "name_map": language_lines("name_map", &typed.more.name_map, &mut errors),
        "summary_map": language_lines("summary_map", &typed.more.summary_map, &mut errors),
    });
    for (key, value) in [
        ("employees", &typed.more.employees),
        ("volunteers", &typed.more.volunteers),
    ] {
        if !value.trim().is_empty() {
            doc[key] = json!(value.trim());
        }
    }
    if !typed.website.trim().is_empty() {
        doc["website"] = json!(typed.website.trim());
    }
    if !typed.contact.trim().is_empty() {
        doc["contacts"] = json!([{"role": "partnerships", "email": typed.contact.trim()}]);
    }
    if !typed.founded.trim().is_empty() {
        match typed.founded.trim().parse::<i32>() {
            Ok(y) => doc["founding_year"] = json!(y),
            Err(_) => errors.push("founding_year: must be a year such as 2014".to_owned()),
        }
    }
    // Keep the fields this form does not show.
    if let (Some(map), Ok(Value::Object(stored))) = (doc.as_object_mut(), serde_json::to_value(org.profile())) {
        for (k, v) in stored {
            let optional = matches!(
                k.as_str(),
                "website" | "contacts" | "founding_year" | "employees" | "volunteers"
            );
            if !map.contains_key(&k) && !optional {
                map.insert(k, v);
            }
        }
        if let Some(rest) = org.profile().contacts.get(1..)
            && doc.get("contacts").is_some()
            && !rest.is_empty()
        {
            let mut all = doc["contacts"].as_array().cloned().unwrap_or_default();
            all.extend(rest.iter().filter_map(|c| serde_json::to_value(c).ok()));
            doc["contacts"] = json!(all);
        }
    }
    if errors.is_empty() {
        match service::profiles::replace(&state, &who(&s), &handle, doc).await {
            Ok(updated) => return page(&state, &s, &updated, from_org(&updated), Vec::new(), true),
            Err(service::Error::Invalid(m)) => errors.extend(m.split("; ").map(str::to_owned)),
            Err(e) => return Err(e.into()),
        }
    }
    page(&state, &s, &org, typed, errors, false)
}

/// `POST /admin/orgs/{handle}/pictures` (`multipart/form-data`): a new avatar and/or header,
/// or their removal. Both files are checked before either is stored.
pub async fn pictures_save(
    State(state): State<AppState>,
    Staff(s): Staff,
    Path(handle): Path<String>,
    multipart: Multipart,
) -> Result<Response, AppError> {
    let org = member_org(&state, &s, &handle).await?;
    let form = upload::read(multipart).await?;
    require_csrf(&s, form.field("csrf").unwrap_or(""))?;
    let mut changes = Vec::new();
    let mut errors = Vec::new();
    for (which, field) in [(Picture::Avatar, "avatar"), (Picture::Header, "header")] {
        if let Some(file) = form.file(field) {
            match service::orgs::prepare_picture(which, file.bytes.clone()).await {
                Ok(p) => changes.push((which, Some(p))),
                Err(service::Error::Invalid(m) | service::Error::TooLarge(m)) => errors.push(format!("{field}: {m}")),
                Err(e) => return Err(e.into()),
            }
        } else if form.field(&format!("remove_{field}")).is_some() {
            changes.push((which, None));
        }
    }
    if !errors.is_empty() {
        return page(&state, &s, &org, from_org(&org), errors, false);
    }
    let mut updated = org;
    for (which, prepared) in &changes {
        updated = service::orgs::set_picture(&state, &who(&s), &handle, *which, prepared.as_ref()).await?;
    }
    page(
        &state,
        &s,
        &updated,
        from_org(&updated),
        Vec::new(),
        !changes.is_empty(),
    )
}

/// One update in the list.
pub struct UpdateRow {
    /// Id.
    pub id: i64,
    /// URL.
    pub url: String,
    /// Text as written.
    pub text: String,
    /// When.
    pub published: String,
}

#[derive(Template)]
#[template(path = "org_updates.html")]
struct UpdatesPage {
    t: T,
    csrf: String,
    handle: String,
    updates: Vec<UpdateRow>,
    typed: NewUpdate,
    slots: Vec<(usize, String)>,
    error: Option<String>,
    published: bool,
}

/// What was typed into the new-update form, kept when it is refused.
#[derive(Default)]
struct NewUpdate {
    text: String,
    warning: String,
    lang: String,
    alts: Vec<String>,
}

async fn updates_page(
    state: &AppState,
    s: &Session,
    org: &Org,
    typed: NewUpdate,
    error: Option<String>,
    published: bool,
) -> Result<Response, AppError> {
    let slots = (1..=MAX_ATTACHMENTS)
        .map(|n| (n, typed.alts.get(n - 1).cloned().unwrap_or_default()))
        .collect();
    let posts = store::posts::list(&state.db, org.id, i64::MAX, 50)
        .await
        .map_err(service::Error::from)?;
    let updates = posts
        .into_iter()
        .map(|p| UpdateRow {
            id: p.id,
            url: state.urls.update(&org.handle, p.id),
            text: p.source,
            published: rfc3339(p.published),
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let mut r = render(&UpdatesPage {
        t: t(state),
        csrf: s.csrf.clone(),
        handle: org.handle.clone(),
        updates,
        typed,
        slots,
        error,
        published,
    })?;
    *r.status_mut() = status;
    Ok(r)
}

/// `GET /admin/orgs/{handle}/updates`.
pub async fn updates(
    State(state): State<AppState>,
    Staff(s): Staff,
    Path(handle): Path<String>,
) -> Result<Response, AppError> {
    let org = member_org(&state, &s, &handle).await?;
    let typed = NewUpdate {
        lang: "en".into(),
        ..NewUpdate::default()
    };
    updates_page(&state, &s, &org, typed, None, false).await
}

/// A new update.
#[derive(Deserialize)]
pub struct UpdateForm {
    text: String,
    #[serde(default)]
    content_warning: String,
    #[serde(default)]
    lang: String,
    csrf: String,
}

/// `POST /admin/orgs/{handle}/updates` (`multipart/form-data` with up to four `file` and
/// `alt` pairs, or a plain form): publishes, or shows the error and keeps what was typed.
pub async fn publish(
    State(state): State<AppState>,
    Staff(s): Staff,
    Path(handle): Path<String>,
    request: Request,
) -> Result<Response, AppError> {
    let org = member_org(&state, &s, &handle).await?;
    let (form, attachments, alts) = if upload::is_multipart(request.headers()) {
        let multipart = Multipart::from_request(request, &state)
            .await
            .map_err(|e| AppError::BadRequest(e.body_text()))?;
        let mut upload = upload::read(multipart).await?;
        let form = UpdateForm {
            text: upload.field("text").unwrap_or("").to_owned(),
            content_warning: upload.field("content_warning").unwrap_or("").to_owned(),
            lang: upload.field("lang").unwrap_or("").to_owned(),
            csrf: upload.field("csrf").unwrap_or("").to_owned(),
        };
        let alts = upload.all("alt");
        (form, upload.attachments(), alts)
    } else {
        let Form(form) = Form::<UpdateForm>::from_request(request, &state)
            .await
            .map_err(|e| AppError::BadRequest(e.body_text()))?;
        (form, Vec::new(), Vec::new())
    };
    require_csrf(&s, &form.csrf)?;
    let lang = if form.lang.trim().is_empty() {
        "en".to_owned()
    } else {
        form.lang.trim().to_owned()
    };
    let draft = Draft {
        text: form.text.clone(),
        lang: Some(lang.clone()),
        content_warning: Some(form.content_warning.clone()),
        attachments,
    };
    let typed = NewUpdate {
        text: form.text,
        warning: form.content_warning,
        lang,
        alts,
    };
    match service::posts::publish_draft(&state, &who(&s), &handle, draft).await {
        Ok(_) => {
            let fresh = NewUpdate {
                lang: typed.lang,
                ..NewUpdate::default()
            };
            updates_page(&state, &s, &org, fresh, None, true).await
        }
        Err(service::Error::Invalid(m) | service::Error::TooLarge(m)) => {
            updates_page(&state, &s, &org, typed, Some(m), false).await
        }
        Err(e) => Err(e.into()),
    }
}

/// A delete or follower decision.
#[derive(Deserialize)]
pub struct ActionForm {
    csrf: String,
    #[serde(default)]
    actor: String,
}

/// `POST /admin/orgs/{handle}/updates/{id}/delete`.
pub async fn delete_update(
    State(state): State<AppState>,
    Staff(s): Staff,
    Path((handle, id)): Path<(String, i64)>,
    Form(form): Form<ActionForm>,
) -> Result<Response, AppError> {
    member_org(&state, &s, &handle).await?;
    require_csrf(&s, &form.csrf)?;
    service::posts::delete(&state, &who(&s), &handle, id).await?;
    Ok(Redirect::to(&format!("/admin/orgs/{handle}/updates")).into_response())
}

/// A follower row.
pub struct FollowerRow {
    /// Actor URL.
    pub actor: String,
}

#[derive(Template)]
#[template(path = "org_followers.html")]
struct FollowersPage {
    t: T,
    csrf: String,
    handle: String,
    pending: Vec<FollowerRow>,
    accepted: Vec<FollowerRow>,
    notes: Vec<(String, String, String)>,
}

/// `GET /admin/orgs/{handle}/followers`: followers, requests to approve, replies and mentions.
pub async fn followers(
    State(state): State<AppState>,
    Staff(s): Staff,
    Path(handle): Path<String>,
) -> Result<Response, AppError> {
    let org = member_org(&state, &s, &handle).await?;
    let rows = |which: &'static str| {
        let state = state.clone();
        let handle = handle.clone();
        async move {
            service::follows::followers(&state, &handle, which).await.map(|v| {
                v.into_iter()
                    .map(|f| FollowerRow { actor: f.ap_id })
                    .collect::<Vec<_>>()
            })
        }
    };
    let tr = t(&state);
    let notes = store::inbox::notes_for(&state.db, org.id, 50)
        .await
        .map_err(service::Error::from)?
        .into_iter()
        .map(|n| {
            (
                tr.with("inbox-reason", "reason", &n.reason),
                n.actor_ap_id,
                crate::domain::html::sanitize(&n.content_html),
            )
        })
        .collect();
    render(&FollowersPage {
        t: tr,
        csrf: s.csrf.clone(),
        handle: handle.clone(),
        pending: rows("pending").await?,
        accepted: rows("accepted").await?,
        notes,
    })
}

/// `POST /admin/orgs/{handle}/followers/{decision}`: approve or refuse a follow request.
pub async fn answer(
    State(state): State<AppState>,
    Staff(s): Staff,
    Path((handle, decision)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Result<Response, AppError> {
    member_org(&state, &s, &handle).await?;
    require_csrf(&s, &form.csrf)?;
    let accept = match decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return Err(service::Error::NotFound(decision).into()),
    };
    service::follows::answer(&state, &who(&s), &handle, &form.actor, accept).await?;
    Ok(Redirect::to(&format!("/admin/orgs/{handle}/followers")).into_response())
}

#[derive(Template)]
#[template(path = "org_update_edit.html")]
struct EditUpdatePage {
    t: T,
    csrf: String,
    handle: String,
    id: i64,
    text: String,
    warning: String,
    error: Option<String>,
    saved: bool,
}

/// `GET /admin/orgs/{handle}/updates/{id}`: the edit form.
pub async fn edit_form(
    State(state): State<AppState>,
    Staff(s): Staff,
    Path((handle, id)): Path<(String, i64)>,
) -> Result<Response, AppError> {
    member_org(&state, &s, &handle).await?;
    let (_, post) = service::posts::live_post(&state, &handle, id).await?;
    render(&EditUpdatePage {
        t: t(&state),
        csrf: s.csrf.clone(),
        handle,
        id,
        text: post.source,
        warning: post.content_warning.unwrap_or_default(),
        error: None,
        saved: false,
    })
}

/// An edited update.
#[derive(Deserialize)]
pub struct EditUpdateForm {
    text: String,
    #[serde(default)]
    content_warning: String,
    csrf: String,
}

/// `POST /admin/orgs/{handle}/updates/{id}`: saves and sends `Update`, or shows the error
/// and keeps the text.
pub async fn edit_save(
    State(state): State<AppState>,
    Staff(s): Staff,
    Path((handle, id)): Path<(String, i64)>,
    Form(f): Form<EditUpdateForm>,
) -> Result<Response, AppError> {
    member_org(&state, &s, &handle).await?;
    require_csrf(&s, &f.csrf)?;
    let (error, saved) =
        match service::posts::edit_with_warning(&state, &who(&s), &handle, id, &f.text, Some(&f.content_warning)).await
        {
            Ok(_) => (None, true),
            Err(service::Error::Invalid(m)) => (Some(m), false),
            Err(e) => return Err(e.into()),
        };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let mut r = render(&EditUpdatePage {
        t: t(&state),
        csrf: s.csrf.clone(),
        handle,
        id,
        text: f.text,
        warning: f.content_warning,
        error,
        saved,
    })?;
    *r.status_mut() = status;
    Ok(r)
}
