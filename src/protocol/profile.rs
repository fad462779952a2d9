//! The expertise profile in ActivityPub terms, rendered three ways from one source: Mastodon's
//! profile fields, hashtags and bio; schema.org terms; and the project's own namespace.

use serde_json::{Map, Value, json};

use super::Urls;
use crate::domain::{
    profile::{Profile, is_hashtag, is_org_id},
    text::escape_html,
    vocab::Vocab,
};

/// The project's namespace IRI: one fixed IRI for every instance (a copy is served at `/ns`).
pub const NS: &str = "https://w3id.org/understory/ns#";
/// Most profile fields emitted (GoToSocial shows six; Mastodon shows all it keeps).
pub const MAX_FIELDS: usize = 6;
/// Longest field name or value Mastodon keeps (`Account::Field`), in characters.
pub const MAX_FIELD_CHARS: usize = 2047;
/// Longest bio text Misskey keeps (`summaryLength`), in characters: hashtags that would pass it
/// are left out of the bio (they stay in `tag` and the Themes field).
pub const MAX_BIO_CHARS: usize = 2048;
/// Most featured hashtags (Mastodon's `FeaturedTag::LIMIT`).
pub const MAX_FEATURED_TAGS: usize = 10;

/// Term definitions for the profile, added to the actor's `@context`.
pub fn context_terms() -> Value {
    json!({
        "understory": NS,
        "additionalType": {"@id": "https://schema.org/additionalType", "@type": "@id"},
        "knowsAbout": "https://schema.org/knowsAbout",
        "areaServed": "https://schema.org/areaServed",
        "knowsLanguage": "https://schema.org/knowsLanguage",
        "identifier": "https://schema.org/identifier",
        "propertyID": "https://schema.org/propertyID",
        "termCode": "https://schema.org/termCode",
        "inDefinedTermSet": {"@id": "https://schema.org/inDefinedTermSet", "@type": "@id"},
        "sameAs": {"@id": "https://schema.org/sameAs", "@type": "@id"},
        "makesOffer": "https://schema.org/makesOffer",
        "itemOffered": "https://schema.org/itemOffered",
        "serviceType": "https://schema.org/serviceType",
        "foundingDate": "https://schema.org/foundingDate",
        "numberOfEmployees": "https://schema.org/numberOfEmployees",
        "contactPoint": "https://schema.org/contactPoint",
        "contactType": "https://schema.org/contactType",
        "email": "https://schema.org/email",
        "memberOf": "https://schema.org/memberOf",
        "publishingPrinciples": {"@id": "https://schema.org/publishingPrinciples", "@type": "@id"}
    })
}

fn vocab_iri(set: &str) -> String {
    format!("https://w3id.org/understory/vocab/{set}")
}

fn defined_term(set: &str, code: &str, label: &str) -> Value {
    json!({"type": "https://schema.org/DefinedTerm", "name": label, "termCode": code, "inDefinedTermSet": vocab_iri(set)})
}

fn defined_terms(set: &str, codes: &[String], terms: &crate::domain::vocab::Terms) -> Value {
    json!(
        codes
            .iter()
            .map(|c| defined_term(set, c, terms.label(c)))
            .collect::<Vec<_>>()
    )
}

fn tag_link(urls: &Urls, theme: &str) -> String {
    format!(
        "<a href=\"{}{}\" class=\"mention hashtag\" rel=\"tag\">#<span>{}</span></a>",
        escape_html(&urls.tag_base()),
        escape_html(&theme.to_lowercase()),
        escape_html(theme)
    )
}

/// The bio: the summary, then the theme hashtags (the only text Mastodon search indexes).
pub fn bio(urls: &Urls, summary: &str, profile: &Profile) -> String {
    let mut html = String::new();
    if !summary.is_empty() {
        html.push_str(&format!("<p>{}</p>", escape_html(summary).replace('\n', "<br>")));
    }
    let mut visible = summary.chars().count();
    let mut tags = Vec::new();
    for theme in &profile.themes {
        // `#theme` and a space.
        visible += theme.chars().count() + 2;
        if visible > MAX_BIO_CHARS {
            break;
        }
        tags.push(tag_link(urls, theme));
    }
    if !tags.is_empty() {
        html.push_str(&format!("<p>{}</p>", tags.join(" ")));
    }
    html
}

/// Joins `parts` with `sep` while the result stays within [`MAX_FIELD_CHARS`]: Mastodon would
/// cut a longer value, HTML and all.
fn within_field(parts: impl IntoIterator<Item = String>, sep: &str) -> String {
    let mut out = String::new();
    for part in parts {
        let extra = if out.is_empty() { 0 } else { sep.chars().count() };
        if out.chars().count() + extra + part.chars().count() > MAX_FIELD_CHARS {
            break;
        }
        if !out.is_empty() {
            out.push_str(sep);
        }
        out.push_str(&part);
    }
    out
}

/// Up to six `PropertyValue` fields in the order Website, Themes, Places, Open to, Registered,
/// Contact. The website field is exactly `<a href="X" rel="me">X</a>`, the form Mastodon verifies.
pub fn fields(urls: &Urls, profile: &Profile, vocab: &Vocab) -> Vec<Value> {
    let mut out = Vec::new();
    let mut field = |name: &str, value: String| {
        if !value.is_empty() && out.len() < MAX_FIELDS {
            out.push(json!({"type": "PropertyValue", "name": name, "value": value}));
        }
    };
    if let Some(site) = &profile.website {
        let e = escape_html(site);
        field(
            "Website",
            format!("<a href=\"{e}\" rel=\"me nofollow noopener\" target=\"_blank\">{e}</a>"),
        );
    }
    field(
        "Themes",
        within_field(profile.themes.iter().map(|t| tag_link(urls, t)), " "),
    );
    // Places as people read them: `Wales`, without codes.
    field(
        "Places",
        within_field(profile.places.iter().map(|p| escape_html(&p.name)), " · "),
    );
    let offers: Vec<String> = profile
        .offers
        .iter()
        .map(|o| match &o.terms {
            Some(t) => format!("{} ({t})", vocab.offers.label(&o.code)),
            None => vocab.offers.label(&o.code).to_owned(),
        })
        .collect();
    field("Open to", within_field(offers.iter().map(|o| escape_html(o)), " · "));
    field(
        "Registered",
        within_field(profile.identifiers.iter().map(|i| escape_html(i)), " · "),
    );
    if let Some(c) = profile.contacts.first() {
        let value = match (&c.email, &c.url) {
            (Some(m), _) => format!("<a href=\"mailto:{0}\">{0}</a>", escape_html(m)),
            (None, Some(u)) => format!(
                "<a href=\"{0}\" rel=\"nofollow noopener\" target=\"_blank\">{0}</a>",
                escape_html(u)
            ),
            _ => String::new(),
        };
        field("Contact", value);
    }
    out
}

/// Hashtag objects for the themes (the actor's `tag`, and the featured tags collection).
pub fn hashtags(urls: &Urls, profile: &Profile, limit: usize) -> Vec<Value> {
    profile
        .themes
        .iter()
        .take(limit)
        .map(|t| json!({"type": "Hashtag", "href": format!("{}{}", urls.tag_base(), t.to_lowercase()), "name": format!("#{t}")}))
        .collect()
}

/// The structured terms of the profile: schema.org where a term exists, the project's
/// namespace for the rest. Inserted into the actor document.
pub fn structured(profile: &Profile, vocab: &Vocab, listed_in: &str) -> Map<String, Value> {
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        let empty = v.as_array().is_some_and(Vec::is_empty) || v.is_null();
        if !empty {
            m.insert(k.to_owned(), v);
        }
    };
    put(
        "understory:organizationKind",
        defined_terms("kinds", &profile.kinds, &vocab.kinds),
    );
    put(
        "knowsAbout",
        json!(
            profile
                .themes
                .iter()
                .map(|t| {
                    let mut term = defined_term("themes", t, vocab.themes.label(t));
                    if let Some(sdg) = vocab.themes.get(t).map(|x| x.extra.clone()).filter(|s| !s.is_empty()) {
                        let goals: Vec<String> = sdg
                            .split(';')
                            .map(|g| format!("http://metadata.un.org/sdg/{}", g.trim()))
                            .collect();
                        term["sameAs"] = json!(goals);
                    }
                    term
                })
                .collect::<Vec<_>>()
        ),
    );
    put(
        "understory:communitiesServed",
        defined_terms("communities", &profile.communities, &vocab.communities),
    );
    put(
        "understory:waysOfWorking",
        defined_terms("ways", &profile.ways_of_working, &vocab.ways),
    );
    put(
        "areaServed",
        json!(
            profile
                .places
                .iter()
                .map(|p| {
                    let mut place = json!({"type": "https://schema.org/AdministrativeArea", "name": p.name});
                    if let Some(code) = &p.code {
                        place["identifier"] = json!(code);
                    }
                    place
                })
                .collect::<Vec<_>>()
        ),
    );
    put("knowsLanguage", json!(profile.languages));
    put(
        "makesOffer",
        json!(profile.offers.iter().map(|o| {
        let mut offer = json!({"type": "https://schema.org/Offer", "itemOffered": {"type": "https://schema.org/Service",
            "serviceType": defined_term("offers", &o.code, vocab.offers.label(&o.code))}});
        if let Some(t) = &o.terms { offer["understory:terms"] = json!(t); }
        if let Some(c) = &o.capacity { offer["understory:capacity"] = json!(c); }
        if let Some(u) = &o.url { offer["url"] = json!(u); }
        offer
    }).collect::<Vec<_>>()),
    );
    put(
        "identifier",
        json!(
            profile
                .identifiers
                .iter()
                .map(|id| {
                    let (list, value) = id
                        .rsplit_once('-')
                        .map_or((id.as_str(), ""), |(l, _)| (l, &id[l.len() + 1..]));
                    json!({"type": "PropertyValue", "propertyID": list, "value": value, "understory:orgId": id})
                })
                .collect::<Vec<_>>()
        ),
    );
    put("sameAs", json!(profile.website.iter().collect::<Vec<_>>()));
    put(
        "foundingDate",
        profile.founding_year.map_or(Value::Null, |y| json!(y.to_string())),
    );
    put(
        "numberOfEmployees",
        profile.employees.as_ref().map_or(
            Value::Null,
            |b| json!({"type": "https://schema.org/QuantitativeValue", "understory:band": b}),
        ),
    );
    put(
        "understory:volunteers",
        profile.volunteers.as_ref().map_or(
            Value::Null,
            |b| json!({"type": "https://schema.org/QuantitativeValue", "understory:band": b}),
        ),
    );
    put(
        "contactPoint",
        json!(
            profile
                .contacts
                .iter()
                .map(|c| {
                    let mut cp = json!({"type": "https://schema.org/ContactPoint", "contactType": c.role});
                    if let Some(e) = &c.email {
                        cp["email"] = json!(e);
                    }
                    if let Some(u) = &c.url {
                        cp["url"] = json!(u);
                    }
                    cp
                })
                .collect::<Vec<_>>()
        ),
    );
    put(
        "memberOf",
        json!(
            profile
                .networks
                .iter()
                .map(|n| json!({"type": "https://schema.org/Organization", "name": n.name, "url": n.url}))
                .collect::<Vec<_>>()
        ),
    );
    put(
        "understory:policies",
        json!(
            profile
                .policies
                .iter()
                .map(|p| json!({"kind": p.kind, "url": p.url}))
                .collect::<Vec<_>>()
        ),
    );
    put("understory:listedIn", json!(listed_in));
    m
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items.iter().filter_map(term_code).collect(),
        Some(other) => term_code(other).into_iter().collect(),
        None => Vec::new(),
    }
}

fn term_code(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o
            .get("termCode")
            .or_else(|| o.get("identifier"))
            .or_else(|| o.get("name"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        _ => None,
    }
}

/// What a remote actor says of itself: our schema where present, otherwise themes from its
/// hashtags. Values that do not fit the vocabularies are dropped, never trusted.
pub fn parse_remote(doc: &Value, vocab: &Vocab) -> Profile {
    let keep = |codes: Vec<String>, known: &dyn Fn(&str) -> Option<String>| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for c in codes {
            if let Some(k) = known(c.trim())
                && !out.contains(&k)
                && out.len() < crate::domain::profile::MAX_ITEMS
            {
                out.push(k);
            }
        }
        out
    };
    let mut themes = keep(strings(doc.get("knowsAbout")), &|c| {
        let c = c.trim_start_matches('#');
        vocab
            .themes
            .get(c)
            .map(|t| t.code.clone())
            .or_else(|| is_hashtag(c).then(|| c.to_owned()))
    });
    if themes.is_empty() {
        let tags = doc.get("tag").and_then(Value::as_array).cloned().unwrap_or_default();
        let names: Vec<String> = tags
            .iter()
            .filter(|t| super::type_of(t) == Some("Hashtag"))
            .filter_map(|t| t.get("name").and_then(Value::as_str).map(str::to_owned))
            .collect();
        themes = keep(names, &|c| {
            let c = c.trim_start_matches('#');
            vocab
                .themes
                .get(c)
                .map(|t| t.code.clone())
                .or_else(|| is_hashtag(c).then(|| c.to_owned()))
        });
    }
    let places = strings(doc.get("areaServed"))
        .into_iter()
        .filter_map(|p| crate::domain::profile::parse_place(&p, vocab))
        .take(crate::domain::profile::MAX_ITEMS)
        .collect();
    let offers = doc
        .get("makesOffer")
        .and_then(Value::as_array)
        .map(|offers| {
            offers
                .iter()
                .filter_map(|o| o.pointer("/itemOffered/serviceType").and_then(term_code))
                .filter_map(|c| {
                    vocab.offers.get(&c).map(|t| crate::domain::profile::Offer {
                        code: t.code.clone(),
                        terms: None,
                        capacity: None,
                        url: None,
                    })
                })
                .take(crate::domain::profile::MAX_ITEMS)
                .collect()
        })
        .unwrap_or_default();
    Profile {
        kinds: keep(strings(doc.get("understory:organizationKind")), &|c| {
            vocab.kinds.get(c).map(|t| t.code.clone())
        }),
        themes,
        communities: keep(strings(doc.get("understory:communitiesServed")), &|c| {
            vocab.communities.get(c).map(|t| t.code.clone())
        }),
        places,
        ways_of_working: keep(strings(doc.get("understory:waysOfWorking")), &|c| {
            vocab.ways.get(c).map(|t| t.code.clone())
        }),
        offers,
        languages: keep(strings(doc.get("knowsLanguage")), &|c| {
            crate::domain::language_tag(c).ok()
        }),
        identifiers: keep(
            doc.get("identifier")
                .and_then(Value::as_array)
                .map(|ids| {
                    ids.iter()
                        .filter_map(|i| i.get("understory:orgId").and_then(Value::as_str).map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            &|c| is_org_id(c).then(|| c.to_owned()),
        ),
        website: strings(doc.get("sameAs"))
            .into_iter()
            .find(|s| s.starts_with("https://")),
        ..Profile::default()
    }
}
