//! Open data: the directory as CSV, schema.org JSON-LD and Open Referral HSDS, and the CSV
//! import operators use to onboard many organisations at once.

use std::collections::HashSet;

use serde_json::{Value, json};

use super::{Error, Result, audit::Who, directory::split};
use crate::{
    domain::{
        Handle, plain_text,
        profile::{OfferInput, PlaceInput, ProfileInput},
    },
    state::AppState,
    store::{self, orgs::Org},
};

/// The CSV columns, in order. Several values in one cell are separated by `;`.
pub const CSV_COLUMNS: [&str; 15] = [
    "handle",
    "name",
    "summary",
    "kind",
    "themes",
    "places",
    "ways_of_working",
    "offers",
    "languages",
    "website",
    "identifiers",
    "discoverable",
    "communities",
    "listed_in",
    "indexable",
];
/// Organisations written per transaction during an import.
pub const IMPORT_BATCH: usize = 1_000;

fn cells(list: &str) -> Vec<String> {
    split(list).into_iter().map(str::to_owned).collect()
}

/// One CSV row of an organisation.
pub fn csv_row(org: &Org) -> Vec<String> {
    let p = org.profile();
    let places: Vec<String> = p
        .places
        .iter()
        .map(|x| x.code.clone().unwrap_or_else(|| x.name.clone()))
        .collect();
    vec![
        org.handle.clone(),
        org.name.clone(),
        org.summary.clone(),
        p.kinds.join(";"),
        p.themes.join(";"),
        places.join(";"),
        p.ways_of_working.join(";"),
        p.offers.iter().map(|o| o.code.clone()).collect::<Vec<_>>().join(";"),
        p.languages.join(";"),
        p.website.clone().unwrap_or_default(),
        p.identifiers.join(";"),
        (org.listed_in == "public").to_string(),
        p.communities.join(";"),
        org.listed_in.clone(),
        org.indexable.to_string(),
    ]
}

/// Organisations for export: all live ones (operators), or those listed at home or wider.
pub async fn orgs_for_export(state: &AppState, listed_only: bool) -> Result<Vec<Org>> {
    let orgs = store::orgs::list(&state.db).await?;
    Ok(orgs
        .into_iter()
        .filter(|o| !listed_only || super::directory::listed_at_home(&o.listed_in))
        .collect())
}

/// A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, carriage return
/// first) gets a leading `'`, as OWASP advises; [`from_cell`] takes it off on import.
pub fn to_cell(value: String) -> String {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value
    }
}

/// A cell as written by [`to_cell`]: `'` before a formula character is dropped.
pub fn from_cell(value: &str) -> &str {
    match value.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
        _ => value,
    }
}

/// Writes organisations as CSV, formula cells neutralised ([`to_cell`]).
pub fn to_csv(orgs: &[Org]) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let io = |e: csv::Error| Error::Internal(e.to_string());
    w.write_record(CSV_COLUMNS).map_err(io)?;
    for org in orgs {
        w.write_record(csv_row(org).into_iter().map(to_cell)).map_err(io)?;
    }
    w.into_inner().map_err(|e| Error::Internal(e.to_string()))
}

/// The organisations as a schema.org JSON-LD graph.
pub fn to_jsonld(state: &AppState, orgs: &[Org]) -> Value {
    let graph: Vec<Value> = orgs.iter().map(|o| schema_org(state, o)).collect();
    json!({"@context": "https://schema.org/", "@graph": graph})
}

/// One organisation as schema.org (also embedded in its profile page).
pub fn schema_org(state: &AppState, org: &Org) -> Value {
    let p = org.profile();
    let v = &state.vocab;
    json!({
        "@type": "Organization",
        "@id": state.urls.org(&org.handle),
        "name": org.name,
        "description": org.summary,
        "url": state.urls.profile(&org.handle),
        "sameAs": p.website,
        "knowsAbout": p.themes.iter().map(|t| json!({"@type": "DefinedTerm", "termCode": t, "name": v.themes.label(t)})).collect::<Vec<_>>(),
        "areaServed": p.places.iter().map(|x| json!({"@type": "AdministrativeArea", "name": x.name, "identifier": x.code})).collect::<Vec<_>>(),
        "knowsLanguage": p.languages,
        "makesOffer": p.offers.iter().map(|o| json!({"@type": "Offer", "itemOffered": {"@type": "Service", "serviceType": v.offers.label(&o.code)}})).collect::<Vec<_>>(),
        "identifier": p.identifiers,
        "foundingDate": p.founding_year.map(|y| y.to_string()),
        "contactPoint": p.contacts.iter().map(|c| json!({"@type": "ContactPoint", "contactType": c.role, "email": c.email, "url": c.url})).collect::<Vec<_>>(),
    })
}

/// The organisations as Open Referral HSDS 3.0 `organization` objects.
pub fn to_hsds(state: &AppState, orgs: &[Org]) -> Value {
    let v = &state.vocab;
    json!(orgs.iter().map(|o| {
        let p = o.profile();
        let mut attributes = Vec::new();
        for (vocabulary, codes, terms) in [("themes", &p.themes, &v.themes), ("ways_of_working", &p.ways_of_working, &v.ways), ("communities", &p.communities, &v.communities), ("kinds", &p.kinds, &v.kinds)] {
            for c in codes {
                attributes.push(json!({"taxonomy_term": {"code": c, "name": terms.label(c), "taxonomy": format!("https://w3id.org/understory/vocab/{vocabulary}")}}));
            }
        }
        json!({
            "id": state.urls.org(&o.handle),
            "name": o.name,
            "description": o.summary,
            "website": p.website,
            "year_incorporated": p.founding_year,
            "organization_identifiers": p.identifiers.iter().map(|id| {
                let scheme = id.rsplit_once('-').map_or(id.as_str(), |(l, _)| l);
                json!({"identifier_scheme": scheme, "identifier": id})
            }).collect::<Vec<_>>(),
            "attributes": attributes,
            "languages": p.languages.iter().map(|l| json!({"code": l})).collect::<Vec<_>>(),
            "service_areas": p.places.iter().map(|x| json!({"name": x.name, "extent": x.code})).collect::<Vec<_>>(),
        })
    }).collect::<Vec<_>>())
}

/// A checked CSV row, ready to insert.
#[derive(Debug, Clone)]
pub struct ImportRow {
    /// 1-based line number (the header is line 1).
    pub line: u64,
    handle: String,
    name: String,
    summary: String,
    listed_in: String,
    indexable: bool,
    profile: String,
}

/// The outcome of checking a file.
#[derive(Debug, Default)]
pub struct Checked {
    /// Rows that passed.
    pub rows: Vec<ImportRow>,
    /// `line N: field: reason`, one per problem.
    pub errors: Vec<String>,
    /// Rows an earlier run of the same import already wrote (an import cut short resumes).
    pub already_imported: usize,
}

fn parse_bool(field: &str, raw: &str) -> std::result::Result<Option<bool>, String> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "" => Ok(None),
        "true" | "yes" | "1" => Ok(Some(true)),
        "false" | "no" | "0" => Ok(Some(false)),
        other => Err(format!("{field}: {other:?} must be true or false")),
    }
}

/// Checks every row of a CSV file; nothing is written.
pub async fn check_csv(state: &AppState, data: &[u8]) -> Result<Checked> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(data);
    let headers = reader
        .headers()
        .map_err(|e| Error::Invalid(format!("line 1: {e}")))?
        .clone();
    for required in &CSV_COLUMNS[..12] {
        if !headers.iter().any(|h| h == *required) {
            return Err(Error::Invalid(format!(
                "line 1: {required}: missing column (columns: {})",
                CSV_COLUMNS.join(",")
            )));
        }
    }
    if let Some(unknown) = headers.iter().find(|h| !CSV_COLUMNS.contains(h)) {
        return Err(Error::Invalid(format!(
            "line 1: {unknown}: unknown column (columns: {})",
            CSV_COLUMNS.join(",")
        )));
    }
    let existing: HashSet<String> = store::orgs::all_handles(&state.db).await?.into_iter().collect();
    let imported: std::collections::HashMap<String, String> =
        store::orgs::imported(&state.db).await?.into_iter().collect();
    let mut seen = HashSet::new();
    let mut checked = Checked::default();
    for (i, record) in reader.records().enumerate() {
        let line = i as u64 + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                checked.errors.push(format!("line {line}: {e}"));
                continue;
            }
        };
        let get = |name: &str| {
            headers
                .iter()
                .position(|h| h == name)
                .and_then(|p| record.get(p))
                .map_or("", from_cell)
                .to_owned()
        };
        let mut problems: Vec<String> = Vec::new();
        let handle = get("handle");
        // Written by an earlier run of this import that was cut short: skip, do not refuse.
        if imported.get(&handle).is_some_and(|n| *n == get("name").trim()) && seen.insert(handle.clone()) {
            checked.already_imported += 1;
            continue;
        }
        match Handle::parse(&handle) {
            Err(e) => problems.push(format!("handle: {e}")),
            Ok(_) if existing.contains(&handle) => problems.push(format!("handle: {handle} is taken")),
            Ok(_) if !seen.insert(handle.clone()) => {
                problems.push(format!("handle: {handle} appears twice in the file"))
            }
            Ok(_) => {}
        }
        let name = plain_text("name", &get("name"), super::orgs::MAX_NAME_CHARS, true)
            .map_err(|e| problems.push(e.to_string()))
            .unwrap_or_default();
        let summary = plain_text("summary", &get("summary"), super::orgs::MAX_SUMMARY_CHARS, false)
            .map_err(|e| problems.push(e.to_string()))
            .unwrap_or_default();
        let input = ProfileInput {
            kinds: cells(&get("kind")),
            themes: cells(&get("themes")),
            communities: cells(&get("communities")),
            places: cells(&get("places")).into_iter().map(PlaceInput::Text).collect(),
            ways_of_working: cells(&get("ways_of_working")),
            offers: cells(&get("offers")).into_iter().map(OfferInput::Code).collect(),
            languages: cells(&get("languages")),
            identifiers: cells(&get("identifiers")),
            website: Some(get("website")).filter(|w| !w.is_empty()),
            ..ProfileInput::default()
        };
        let profile = match input.validate(&state.vocab) {
            Ok(p) => serde_json::to_string(&p).unwrap_or_default(),
            Err(e) => {
                problems.extend(e.0.into_iter().map(|m| m.replacen("kinds", "kind", 1)));
                String::new()
            }
        };
        let discoverable = parse_bool("discoverable", &get("discoverable"))
            .map_err(|e| problems.push(e))
            .ok()
            .flatten();
        let indexable = parse_bool("indexable", &get("indexable"))
            .map_err(|e| problems.push(e))
            .ok()
            .flatten()
            .unwrap_or(false);
        let listed_in = match get("listed_in").as_str() {
            "" => if discoverable == Some(true) { "public" } else { "none" }.to_owned(),
            l if crate::domain::profile::LISTED_IN.contains(&l) => l.to_owned(),
            l => {
                problems.push(format!("listed_in: {l:?} must be one of none, home, network, public"));
                String::new()
            }
        };
        if problems.is_empty() {
            checked.rows.push(ImportRow {
                line,
                handle,
                name,
                summary,
                listed_in,
                indexable,
                profile,
            });
        } else {
            checked
                .errors
                .extend(problems.into_iter().map(|p| format!("line {line}: {p}")));
        }
    }
    Ok(checked)
}

/// Writes checked rows in batches (no keys are made: they come on first use). `progress` is
/// called with the number written so far.
pub async fn import(state: &AppState, who: &Who, rows: &[ImportRow], mut progress: impl FnMut(usize)) -> Result<usize> {
    let mut written = 0;
    for batch in rows.chunks(IMPORT_BATCH) {
        let now = state.clock.now_ms();
        let mut tx = state.db.begin().await?;
        for row in batch {
            let new = store::orgs::NewOrg {
                handle: &row.handle,
                name: &row.name,
                summary: &row.summary,
                manually_approves_followers: false,
                now,
            };
            let id = store::orgs::insert(&mut tx, &new).await.map_err(|e| {
                if e.is_unique_violation() {
                    Error::Conflict(format!("line {}: handle: {} is taken", row.line, row.handle))
                } else {
                    e.into()
                }
            })?;
            let change = store::orgs::ProfileChange {
                name: row.name.clone(),
                summary: row.summary.clone(),
                manually_approves_followers: false,
                public_lists: false,
                discoverable: row.listed_in == "public",
                indexable: row.indexable,
                listed_in: row.listed_in.clone(),
                profile: row.profile.clone(),
            };
            store::orgs::update_profile(&mut tx, id, &change, now).await?;
            let org = store::orgs::find_in(&mut tx, id)
                .await?
                .ok_or_else(|| Error::Internal("organisation vanished".into()))?;
            super::directory::sync_org(&mut tx, state, &org).await?;
            super::audit::record(
                &mut tx,
                state,
                who,
                Some(id),
                "org.import",
                json!({"handle": row.handle, "line": row.line}),
            )
            .await?;
        }
        tx.commit().await?;
        written += batch.len();
        progress(written);
    }
    Ok(written)
}
