//! The directory: each organisation's row kept current in the same transaction as the change,
//! an in-memory facet index refreshed from those rows (also when another process wrote them),
//! and faceted search with native full-text matching and stable cursors.

use std::sync::{
    RwLock,
    atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering},
};

use roaring::RoaringBitmap;
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use super::Result;
use crate::{
    domain::{
        index::{Cursor, FACETS, FacetIndex, IndexDoc},
        profile::Profile,
        vocab::Vocab,
    },
    state::AppState,
    store::{
        self, Tx,
        actors::RemoteActor,
        directory::{Entry, IndexRow},
        orgs::Org,
    },
};

/// A refresh reads again the rows changed this long before it began, so rows committed out of
/// order by concurrent writers (whose change times were taken before their commit) are not
/// missed; re-applying an unchanged row is a no-op.
pub const REFRESH_OVERLAP_MS: i64 = 5_000;
/// Rows read and applied per step of the background refresher (and of the first build).
pub const REFRESH_BATCH: usize = 1_000;
/// Rows a search reads and applies at most when it finds the directory changed: more than
/// ordinary traffic changes in [`REFRESH_OVERLAP_MS`], few enough to cost a millisecond or two.
pub const SEARCH_REFRESH_BATCH: usize = 200;
/// How often the background refresher looks for changes (searches also do, when they run).
pub const REFRESH_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
/// Default and largest page sizes.
pub const DEFAULT_LIMIT: usize = 20;
/// Largest page size.
pub const MAX_LIMIT: usize = 100;
/// Values listed per facet in counts.
pub const VALUES_PER_FACET: usize = 50;
/// Most words used from a free-text query.
pub const MAX_QUERY_WORDS: usize = 8;

const NO_VERSION: i64 = i64::MIN;

/// The facet index and how far it has read the directory table.
///
/// Searches read the index under a read lock that is never held across an await; a refresh
/// reads rows from the database holding only the refresh gate, converts them, then takes the
/// write lock just to apply them, so searches meanwhile answer from the index as it was.
pub struct DirectoryIndex {
    index: RwLock<FacetIndex>,
    /// Held by whoever runs a refresh step (one bounded batch); searches wait at most for one.
    gate: Mutex<Progress>,
    /// The directory version the index is current with ([`NO_VERSION`] before the first build).
    current: AtomicI64,
    /// Refresh steps applied so far (a search that waited for another's step learns from this
    /// whether one ran).
    batches: AtomicU64,
    /// A refresh cycle bigger than one batch is under way (an import, say): searches then
    /// answer from the index as it stands instead of waiting their turn.
    catching_up: AtomicBool,
}

/// Where the refresh stands (behind the gate).
struct Progress {
    /// The version the index is current with; `None` until the first full build.
    version: Option<i64>,
    /// The next refresh cycle reads rows changed at or after this.
    resume: i64,
    /// A refresh cycle under way (more rows than one batch changed).
    cycle: Option<Cycle>,
}

/// One refresh cycle: keyset batches from `resume` until a batch comes back short.
struct Cycle {
    /// The version read when the cycle began; the index is current with it when the cycle ends.
    target: i64,
    /// The clock (ms) when that version was read: rows committed later changed after this,
    /// less the overlap.
    started: i64,
    /// The last `(changed_at, id)` applied.
    after: (i64, i64),
}

/// What a refresh step achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refreshed {
    /// The index is current with the version read at the start of its cycle.
    Current,
    /// One batch was applied and more rows remain.
    More,
}

impl Default for DirectoryIndex {
    fn default() -> Self {
        Self {
            index: RwLock::new(FacetIndex::new()),
            gate: Mutex::new(Progress {
                version: None,
                resume: i64::MIN,
                cycle: None,
            }),
            current: AtomicI64::new(NO_VERSION),
            batches: AtomicU64::new(0),
            catching_up: AtomicBool::new(false),
        }
    }
}

impl DirectoryIndex {
    /// Refresh batches applied since start (each at most [`REFRESH_BATCH`] rows, or
    /// [`SEARCH_REFRESH_BATCH`] when a search applied it).
    pub fn batches_applied(&self) -> u64 {
        self.batches.load(Ordering::Acquire)
    }

    fn current(&self) -> Option<i64> {
        Some(self.current.load(Ordering::Acquire)).filter(|v| *v != NO_VERSION)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, FacetIndex> {
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }
}

fn join(items: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    items
        .into_iter()
        .map(|s| s.as_ref().replace(';', ","))
        .collect::<Vec<_>>()
        .join(";")
}

/// Splits a `;`-joined list.
pub fn split(list: &str) -> Vec<&str> {
    list.split(';').map(str::trim).filter(|s| !s.is_empty()).collect()
}

/// Whether a reach lists the organisation in this instance's own directory.
pub fn listed_at_home(listed_in: &str) -> bool {
    matches!(listed_in, "home" | "network" | "public")
}

fn entry_of(profile: &Profile, vocab: &Vocab, base: Entry) -> Entry {
    let places = join(
        profile
            .places
            .iter()
            .map(|p| p.code.clone().unwrap_or_else(|| p.name.clone())),
    );
    let place_names = join(profile.places.iter().map(|p| p.name.clone()));
    let mut terms: Vec<String> = Vec::new();
    terms.extend(profile.themes.iter().map(|t| format!("{t} {}", vocab.themes.label(t))));
    terms.extend(profile.kinds.iter().map(|k| vocab.kinds.label(k).to_owned()));
    terms.extend(profile.ways_of_working.iter().map(|w| vocab.ways.label(w).to_owned()));
    terms.extend(profile.offers.iter().map(|o| vocab.offers.label(&o.code).to_owned()));
    terms.extend(
        profile
            .communities
            .iter()
            .map(|c| vocab.communities.label(c).to_owned()),
    );
    terms.extend(profile.places.iter().map(|p| p.name.clone()));
    // Other names of a coded place (Cymru for Wales) find it too; they are never shown.
    terms.extend(
        profile
            .places
            .iter()
            .filter_map(|p| vocab.places.get(p.code.as_deref()?))
            .flat_map(|t| t.aliases.iter().cloned()),
    );
    Entry {
        sort_name: base.name.to_lowercase(),
        kinds: join(&profile.kinds),
        themes: join(&profile.themes),
        communities: join(&profile.communities),
        places,
        place_names,
        ways: join(&profile.ways_of_working),
        offers: join(profile.offers.iter().map(|o| o.code.clone())),
        languages: join(&profile.languages),
        terms: terms.join(" "),
        website: profile.website.clone(),
        ..base
    }
}

/// The directory row of a local organisation.
pub fn org_entry(state: &AppState, org: &Org) -> Entry {
    let listed = org.deleted_at.is_none() && listed_at_home(&org.listed_in);
    let base = Entry {
        actor: state.urls.org(&org.handle),
        org_id: Some(org.id),
        handle: org.handle.clone(),
        domain: state.urls.authority().to_owned(),
        profile_url: state.urls.profile(&org.handle),
        name: org.name.clone(),
        summary: org.summary.clone(),
        listed_in: org.listed_in.clone(),
        listed,
        changed_at: state.clock.now_ms(),
        ..Entry::default()
    };
    entry_of(&org.profile(), &state.vocab, base)
}

/// Writes a local organisation's row inside `tx` (with its change).
pub async fn sync_org(tx: &mut Tx, state: &AppState, org: &Org) -> Result<()> {
    store::directory::upsert(tx, &org_entry(state, org)).await?;
    Ok(())
}

/// Writes (or unlists) a remote actor's row from its document: listed when it is an
/// `Organization` that consents with `discoverable`.
pub async fn sync_remote(tx: &mut Tx, state: &AppState, actor: &RemoteActor, doc: &Value) -> Result<()> {
    sync_remote_actor(tx, state, actor, doc, false).await
}

/// Like [`sync_remote`]; with `any_type` (an operator added it) actors of every type may be
/// listed, still only when `discoverable`.
pub async fn sync_remote_actor(
    tx: &mut Tx,
    state: &AppState,
    actor: &RemoteActor,
    doc: &Value,
    any_type: bool,
) -> Result<()> {
    let listed = actor.discoverable && (any_type || actor.actor_type == "Organization") && actor.deleted_at.is_none();
    if !listed {
        store::directory::unlist(tx, &actor.ap_id, state.clock.now_ms()).await?;
        return Ok(());
    }
    let profile = crate::protocol::profile::parse_remote(doc, &state.vocab);
    let summary = crate::domain::html::plain_name_long(&actor.summary);
    let base = Entry {
        actor: actor.ap_id.clone(),
        org_id: None,
        handle: actor.username.clone(),
        domain: actor.domain.clone(),
        profile_url: actor.url.clone().unwrap_or_else(|| actor.ap_id.clone()),
        name: actor.name.clone(),
        summary,
        listed_in: "public".into(),
        listed: true,
        changed_at: state.clock.now_ms(),
        ..Entry::default()
    };
    store::directory::upsert(tx, &entry_of(&profile, &state.vocab, base)).await?;
    Ok(())
}

/// Writes the row of an organisation a peer lists, from its profile document (no key needed):
/// listed when its `understory:listedIn` is `network` or `public`, or it is `discoverable`.
pub async fn sync_item(tx: &mut Tx, state: &AppState, doc: &Value) -> Result<()> {
    let id = doc
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| super::Error::Invalid("profile has no id".into()))?;
    // Only https (http in local-test mode) URLs are stored and linked (`javascript://host/...`
    // parses as a URL with a host).
    let id = &super::remote_url(state, "profile id", id)?;
    let url = url::Url::parse(id).map_err(|_| super::Error::Invalid("profile id is not a URL".into()))?;
    let domain =
        crate::config::authority_of(&url).ok_or_else(|| super::Error::Invalid("profile id has no host".into()))?;
    let listed_in = doc.get("understory:listedIn").and_then(Value::as_str).unwrap_or("none");
    let discoverable = doc.get("discoverable").and_then(Value::as_bool).unwrap_or(false);
    let listed = matches!(listed_in, "network" | "public") || discoverable;
    let text = |k: &str| doc.get(k).and_then(Value::as_str).unwrap_or("");
    let handle = text("preferredUsername");
    let profile_url = doc
        .get("url")
        .and_then(Value::as_str)
        .filter(|u| super::remote_url(state, "url", u).is_ok())
        .filter(|u| {
            url::Url::parse(u)
                .ok()
                .and_then(|u| crate::config::authority_of(&u))
                .as_deref()
                == Some(domain.as_str())
        })
        .unwrap_or(id);
    let profile = crate::protocol::profile::parse_remote(doc, &state.vocab);
    let base = Entry {
        actor: id.to_owned(),
        org_id: None,
        handle: crate::domain::html::plain_name(handle),
        domain,
        profile_url: profile_url.to_owned(),
        name: crate::domain::html::plain_name(if text("name").is_empty() { handle } else { text("name") }),
        summary: crate::domain::html::plain_name_long(text("summary")),
        listed_in: if listed { "network".into() } else { "none".into() },
        listed,
        changed_at: state.clock.now_ms(),
        ..Entry::default()
    };
    if store::directory::is_local_actor_in(tx, id).await? {
        return Err(super::Error::Forbidden(
            "a peer cannot replace a local organisation".into(),
        ));
    }
    store::directory::upsert(tx, &entry_of(&profile, &state.vocab, base)).await?;
    Ok(())
}

fn index_doc(e: &IndexRow, vocab: &Vocab) -> Option<IndexDoc> {
    let id = u32::try_from(e.id).ok()?;
    let mut values: Vec<(usize, String)> = Vec::new();
    let facet = |name: &str| FACETS.iter().position(|f| *f == name).unwrap_or(0);
    for (name, list) in [
        ("theme", &e.themes),
        ("kind", &e.kinds),
        ("way", &e.ways),
        ("offer", &e.offers),
        ("language", &e.languages),
        ("community", &e.communities),
    ] {
        values.extend(split(list).into_iter().map(|v| (facet(name), v.to_owned())));
    }
    for place in split(&e.places) {
        values.push((facet("place"), place.to_owned()));
        if vocab.places.get(place).is_some()
            && let Some((country, _)) = place.split_once('-')
        {
            values.push((facet("place"), country.to_owned()));
        }
    }
    values.push((facet("instance"), e.domain.clone()));
    values.sort();
    values.dedup();
    Some(IndexDoc {
        id,
        listed: e.listed,
        sort_name: e.sort_name.clone(),
        values,
    })
}

/// One refresh step, the gate held: reads at most `batch` changed rows (no lock on the index
/// meanwhile), then applies them under the write lock.
async fn step(state: &AppState, progress: &mut Progress, batch: usize) -> Result<Refreshed> {
    let dir = &state.directory;
    if progress.cycle.is_none() {
        let now = state.clock.now_ms();
        let (version, _) = store::directory::version(&state.db).await?;
        if progress.version == Some(version) {
            // Nothing was committed since the index was last current, so whatever commits from
            // now on changed after `now`, less the overlap: later cycles need not read further back.
            progress.resume = progress.resume.max(now.saturating_sub(REFRESH_OVERLAP_MS));
            return Ok(Refreshed::Current);
        }
        progress.cycle = Some(Cycle {
            target: version,
            started: now,
            after: (progress.resume, i64::MIN),
        });
    }
    let Some(cycle) = progress.cycle.as_mut() else {
        return Ok(Refreshed::Current);
    };
    let limit = i64::try_from(batch).unwrap_or(i64::MAX);
    let rows = store::directory::index_rows_after(&state.db, cycle.after.0, cycle.after.1, limit).await?;
    if let Some(last) = rows.last() {
        cycle.after = (last.changed_at, last.id);
    }
    let docs: Vec<IndexDoc> = rows.iter().filter_map(|r| index_doc(r, &state.vocab)).collect();
    if !docs.is_empty() {
        dir.index.write().unwrap_or_else(|e| e.into_inner()).apply(docs);
    }
    dir.batches.fetch_add(1, Ordering::AcqRel);
    if rows.len() == batch {
        dir.catching_up.store(true, Ordering::Release);
        return Ok(Refreshed::More);
    }
    // Caught up with every row committed before the cycle's version was read. Rows committed
    // since changed at or after the cycle's start, less the overlap.
    let (target, started) = (cycle.target, cycle.started);
    progress.cycle = None;
    progress.version = Some(target);
    progress.resume = started.saturating_sub(REFRESH_OVERLAP_MS);
    dir.current.store(target, Ordering::Release);
    dir.catching_up.store(false, Ordering::Release);
    Ok(Refreshed::Current)
}

/// Brings the index up to date before a search, boundedly. The first build is read whole.
/// After that, a search that finds the directory changed applies at most
/// [`SEARCH_REFRESH_BATCH`] rows, after waiting for the step under way if there is one (itself
/// that short, since the change is): so when fewer rows than that changed, as is usual, a
/// search sees every change committed before it began. When a bigger change is being read (an
/// import), searches do not wait: each answers from the index as far as it has got, applying
/// one short batch itself only if no one else is, while [`run_refresher`] reads the rest.
async fn fresh(state: &AppState) -> Result<()> {
    let dir = &state.directory;
    let now = state.clock.now_ms();
    let (version, _) = store::directory::version(&state.db).await?;
    if dir.current() == Some(version) {
        // Idle: let later cycles start later (only if no refresh is running; never waits).
        if let Ok(mut progress) = dir.gate.try_lock()
            && progress.cycle.is_none()
            && progress.version == Some(version)
        {
            progress.resume = progress.resume.max(now.saturating_sub(REFRESH_OVERLAP_MS));
        }
        return Ok(());
    }
    if dir.current().is_some() && dir.catching_up.load(Ordering::Acquire) {
        if let Ok(mut progress) = dir.gate.try_lock() {
            step(state, &mut progress, SEARCH_REFRESH_BATCH).await?;
        }
        return Ok(());
    }
    let seen = dir.batches_applied();
    let mut progress = dir.gate.lock().await;
    if progress.version.is_none() {
        while step(state, &mut progress, REFRESH_BATCH).await? == Refreshed::More {}
        return Ok(());
    }
    if progress.cycle.is_some() && dir.batches_applied() != seen {
        // The change turned out bigger than a batch, and a batch was applied while this search
        // waited: answer from it.
        return Ok(());
    }
    step(state, &mut progress, SEARCH_REFRESH_BATCH).await?;
    Ok(())
}

/// Refreshes until the index is current with the directory (one batch per turn of the gate, so
/// searches take turns with it). What the background refresher runs; also for tests and tools.
pub async fn refresh_until_current(state: &AppState) -> Result<()> {
    loop {
        let mut progress = state.directory.gate.lock().await;
        let done = step(state, &mut progress, REFRESH_BATCH).await? == Refreshed::Current;
        drop(progress);
        if done {
            return Ok(());
        }
        tokio::task::yield_now().await;
    }
}

/// The background refresher: every [`REFRESH_EVERY`] brings the index current, so a big import
/// (or another process's writes) is read in batches as it lands instead of by searches, until
/// `stop` is cancelled.
pub async fn run_refresher(state: AppState, stop: CancellationToken) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(REFRESH_EVERY) => {}
        }
        tokio::select! {
            () = stop.cancelled() => return,
            done = refresh_until_current(&state) => {
                if let Err(e) = done {
                    tracing::warn!(error = %e, "directory index refresh failed; trying again");
                }
            }
        }
    }
}

/// A directory query, parsed from `?q=&theme=&place=...&cursor=&limit=&counts=`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// Free text.
    pub q: String,
    /// `(facet index, values)`; values of one facet are alternatives, facets combine.
    pub filters: Vec<(usize, Vec<String>)>,
    /// Where the previous page ended.
    pub cursor: Option<Cursor>,
    /// Page size.
    pub limit: usize,
    /// Whether to count facet values.
    pub counts: bool,
}

/// Parses a query string; unknown parameters and bad values are 400s that name them.
pub fn parse_query(raw: Option<&str>) -> std::result::Result<Query, String> {
    let mut query = Query {
        limit: DEFAULT_LIMIT,
        counts: true,
        ..Query::default()
    };
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        let v = v.trim().to_owned();
        match k.as_ref() {
            "q" => query.q = v.chars().take(200).collect(),
            "cursor" if !v.is_empty() => {
                query.cursor = Some(decode_cursor(&v).ok_or("cursor: not a cursor from a previous page")?)
            }
            "cursor" => {}
            "limit" => {
                query.limit = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or(format!("limit: must be 1-{MAX_LIMIT}"))?;
            }
            "counts" => query.counts = v != "false" && v != "0",
            name => {
                let Some(facet) = FACETS.iter().position(|f| *f == name) else {
                    return Err(format!(
                        "{name}: unknown parameter (use q, {}, cursor, limit, counts)",
                        FACETS.join(", ")
                    ));
                };
                if v.is_empty() {
                    continue;
                }
                match query.filters.iter_mut().find(|(f, _)| *f == facet) {
                    Some((_, values)) => values.push(v),
                    None => query.filters.push((facet, vec![v])),
                }
            }
        }
    }
    Ok(query)
}

/// Encodes a cursor for the next page.
pub fn encode_cursor(c: &Cursor) -> String {
    format!("{}.{}", hex::encode(c.0.as_bytes()), c.1)
}

fn decode_cursor(raw: &str) -> Option<Cursor> {
    let (name, id) = raw.rsplit_once('.')?;
    Some((String::from_utf8(hex::decode(name).ok()?).ok()?, id.parse().ok()?))
}

/// Lowercase words of a free-text query (letters and digits only).
pub fn words(q: &str) -> Vec<String> {
    q.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .take(MAX_QUERY_WORDS)
        .collect()
}

/// One page of results.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// Matches in all.
    pub total: u64,
    /// This page, in name order.
    pub entries: Vec<Entry>,
    /// Cursor of the next page.
    pub next: Option<String>,
    /// Facet value counts within the matches.
    pub facets: Vec<(&'static str, Vec<(String, u64)>)>,
}

/// Runs a directory query (its time goes to the search histogram of `/metrics`).
pub async fn search(state: &AppState, query: &Query) -> Result<Page> {
    let started = std::time::Instant::now();
    let page = search_inner(state, query).await;
    state.metrics.search(started.elapsed());
    page
}

async fn search_inner(state: &AppState, query: &Query) -> Result<Page> {
    let text = words(&query.q);
    let text_ids = if text.is_empty() {
        None
    } else {
        Some(store::directory::text_matches(&state.db, &text).await?)
    };
    fresh(state).await?;
    // The read lock is held for the bitmap work only, never across an await.
    let (ids, next, facets, total) = {
        let index = state.directory.read();
        let mut result = index.all();
        if let Some(ids) = text_ids {
            result &= ids
                .into_iter()
                .filter_map(|i| u32::try_from(i).ok())
                .collect::<RoaringBitmap>();
        }
        for (facet, values) in &query.filters {
            result &= index.any_of(*facet, values);
        }
        let (ids, next) = index.page(&result, query.cursor.as_ref(), query.limit);
        let facets = if query.counts {
            index.counts(&result, VALUES_PER_FACET)
        } else {
            Vec::new()
        };
        (ids, next, facets, result.len())
    };
    let ids: Vec<i64> = ids.into_iter().map(i64::from).collect();
    let mut entries = store::directory::by_ids(&state.db, &ids).await?;
    entries.sort_by_key(|e| ids.iter().position(|i| *i == e.id));
    Ok(Page {
        total,
        entries,
        next: next.as_ref().map(encode_cursor),
        facets,
    })
}

/// The JSON of one result: codes with labels, and links to the home instance.
pub fn entry_json(state: &AppState, e: &Entry) -> Value {
    let v = &state.vocab;
    let labelled = |list: &str, terms: &crate::domain::vocab::Terms| -> Value {
        json!(
            split(list)
                .into_iter()
                .map(|c| json!({"code": c, "label": terms.label(c)}))
                .collect::<Vec<_>>()
        )
    };
    let places: Vec<Value> = split(&e.places)
        .into_iter()
        .map(|p| match v.places.get(p) {
            Some(t) => json!({"code": t.code, "name": t.label}),
            None => json!({"name": p}),
        })
        .collect();
    json!({
        "actor": e.actor, "handle": e.handle, "domain": e.domain, "acct": format!("@{}@{}", e.handle, e.domain),
        "name": e.name, "summary": e.summary, "url": e.profile_url, "local": e.org_id.is_some(),
        "kinds": labelled(&e.kinds, &v.kinds), "themes": labelled(&e.themes, &v.themes), "places": places,
        "ways_of_working": labelled(&e.ways, &v.ways), "offers": labelled(&e.offers, &v.offers),
        "communities": labelled(&e.communities, &v.communities), "languages": split(&e.languages), "website": e.website,
    })
}

/// The label of a facet value, for pages and responses.
pub fn facet_label(state: &AppState, facet: &str, value: &str) -> String {
    let v = &state.vocab;
    match facet {
        "theme" => v.themes.label(value),
        "place" => v.places.label(value),
        "kind" => v.kinds.label(value),
        "way" => v.ways.label(value),
        "offer" => v.offers.label(value),
        "community" => v.communities.label(value),
        _ => value,
    }
    .to_owned()
}

/// A page as the JSON API answers it.
pub fn page_json(state: &AppState, page: &Page) -> Value {
    let facets: serde_json::Map<String, Value> = page
        .facets
        .iter()
        .map(|(name, values)| {
            let list: Vec<Value> = values
                .iter()
                .map(|(value, count)| json!({"value": value, "label": facet_label(state, name, value), "count": count}))
                .collect();
            ((*name).to_owned(), json!(list))
        })
        .collect();
    json!({
        "total": page.total,
        "results": page.entries.iter().map(|e| entry_json(state, e)).collect::<Vec<_>>(),
        "next_cursor": page.next,
        "facets": facets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_parse_and_refuse_unknown_parameters() {
        let q = parse_query(Some(
            "q=housing+damp&theme=Health&theme=MentalHealth&place=GB&limit=5&counts=false",
        ))
        .unwrap();
        assert_eq!(q.q, "housing damp");
        assert_eq!(
            q.filters,
            vec![
                (0, vec!["Health".into(), "MentalHealth".into()]),
                (1, vec!["GB".into()])
            ]
        );
        assert_eq!((q.limit, q.counts), (5, false));
        assert!(parse_query(Some("colour=red")).unwrap_err().starts_with("colour"));
        assert!(parse_query(Some("limit=1000")).unwrap_err().starts_with("limit"));
        assert!(parse_query(Some("cursor=zz")).unwrap_err().starts_with("cursor"));
        let c = ("café".to_owned(), 42);
        assert_eq!(decode_cursor(&encode_cursor(&c)), Some(c));
        assert_eq!(
            words("Digital-inclusion, in LEEDS!"),
            vec!["digital", "inclusion", "in", "leeds"]
        );
    }
}
