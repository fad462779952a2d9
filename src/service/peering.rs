//! Directory peering (DESIGN.md section 7): instance actors follow each other; the follower
//! backfills the other's listed organisations from `/actor/directory` and then receives `Add`,
//! `Update` and `Remove` as they change. Only domains are shared with third parties; each
//! profile is taken from its origin.

use std::time::Duration;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use url::Url;

use super::{
    Error, Result,
    audit::{self, Who},
    inbox::Outcome,
    remote, token,
};
use crate::{
    clock::rfc3339,
    config::authority_of,
    delivery,
    protocol::{AS_CONTEXT, actor::org_actor, id_of, type_of},
    state::AppState,
    store::{self, Tx, orgs::Org, peers::Peer},
};

/// Items per page of `/actor/directory`.
pub const PAGE_SIZE: i64 = 100;
/// How often accepted peers are synced again (catches changes missed while one was down).
pub const SYNC_INTERVAL_MS: i64 = 10 * 60 * 1000;
/// Rows changed this long before the cursor are read again (out-of-order commits).
const CURSOR_OVERLAP_MS: i64 = 5_000;
/// Most pages read in one sync.
const MAX_PAGES: usize = 10_000;
/// Longest one directory sync may run before it stops and resumes from its cursor next time.
pub const SYNC_DEADLINE: Duration = Duration::from_secs(120);
/// Peers synced at once by the worker.
pub const SYNC_CONCURRENCY: usize = 4;

/// Whether a reach lists the organisation in peers' directories.
pub fn listed_for_peers(listed_in: &str) -> bool {
    matches!(listed_in, "network" | "public")
}

fn domain_of(url: &str) -> Option<String> {
    Url::parse(url).ok().as_ref().and_then(authority_of)
}

fn check_domain(raw: &str) -> Result<String> {
    let d = raw.trim().trim_end_matches('/').to_ascii_lowercase();
    let d = d
        .strip_prefix("https://")
        .or_else(|| d.strip_prefix("http://"))
        .unwrap_or(&d)
        .to_owned();
    let ok = !d.is_empty()
        && d.len() <= 253
        && d.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
    if ok {
        Ok(d)
    } else {
        Err(Error::Invalid(format!("domain: {raw:?} is not a domain name")))
    }
}

async fn refuse_blocked(state: &AppState, domain: &str) -> Result<()> {
    if super::remote::is_blocked(state, domain).await? {
        return Err(Error::Forbidden(format!("{domain} is blocked on this instance")));
    }
    Ok(())
}

/// `understory peer add DOMAIN`: our instance actor follows theirs (found by WebFinger).
pub async fn add(state: &AppState, who: &Who, domain: &str) -> Result<Peer> {
    let domain = check_domain(domain)?;
    if domain == state.urls.authority() {
        return Err(Error::Invalid("domain: an instance cannot peer with itself".into()));
    }
    refuse_blocked(state, &domain).await?;
    let actor_url = state.http.webfinger(&domain, &domain, state.clock.now_ms()).await?;
    let actor = remote::fetch_actor(state, &actor_url).await?;
    if actor.domain != domain {
        return Err(Error::Invalid(format!(
            "domain: {domain}'s instance actor lives on {}",
            actor.domain
        )));
    }
    let me = state.urls.instance_actor();
    let follow_id = state.urls.activity(&me, "follows", &token());
    let activity = crate::protocol::activities::follow(&follow_id, &me, &actor.ap_id);
    let mut tx = state.db.begin().await?;
    store::peers::upsert(&mut tx, &domain, &actor.ap_id, &actor.inbox, state.clock.now_ms()).await?;
    store::peers::set_outgoing(&mut tx, &domain, "pending", Some(&follow_id)).await?;
    delivery::to_inboxes(&mut tx, state, None, &activity, std::slice::from_ref(&actor.inbox)).await?;
    audit::record(&mut tx, state, who, None, "peer.add", json!({"domain": domain})).await?;
    let peer = store::peers::find_in(&mut tx, &domain)
        .await?
        .ok_or_else(|| Error::Internal("peer vanished".into()))?;
    tx.commit().await?;
    delivery::notify(state);
    Ok(peer)
}

fn answer(kind: &str, state: &AppState, follow_id: &str, follower: &str) -> Value {
    let me = state.urls.instance_actor();
    json!({"@context": AS_CONTEXT, "id": state.urls.activity(&me, &kind.to_lowercase(), &token()), "type": kind,
           "actor": me, "to": [follower], "object": {"id": follow_id, "type": "Follow", "actor": follower, "object": me}})
}

/// A Follow of our instance actor: answered by the operator's policy (open, approval, closed)
/// and domain blocks.
pub async fn on_follow(
    tx: &mut Tx,
    state: &AppState,
    activity: &Value,
    signer: &store::actors::RemoteActor,
) -> Result<Outcome> {
    let follow_id = activity.get("id").and_then(Value::as_str).unwrap_or_default();
    // Peering state belongs to a domain's instance actor only: the one we know, or, for a first
    // request, an Application or Service whose username is its domain (FEP-d556, as ours and
    // Mastodon's are). Any other actor of that domain changes nothing.
    let known = store::peers::find_in(tx, &signer.domain).await?.map(|p| p.actor);
    let is_instance_actor = match known.as_deref() {
        Some(actor) if !actor.is_empty() => actor == signer.ap_id,
        _ => matches!(signer.actor_type.as_str(), "Application" | "Service") && signer.username == signer.domain,
    };
    if !is_instance_actor {
        return Err(Error::Forbidden(format!(
            "only the instance actor of {} may ask to peer; {} is not it",
            signer.domain, signer.ap_id
        )));
    }
    store::peers::upsert(tx, &signer.domain, &signer.ap_id, &signer.inbox, state.clock.now_ms()).await?;
    let decision = match state.config.peering_policy.as_str() {
        "open" => "accepted",
        "closed" => "rejected",
        _ => "pending",
    };
    store::peers::set_incoming(tx, &signer.domain, decision, Some(follow_id)).await?;
    let reply = match decision {
        "accepted" => Some("Accept"),
        "rejected" => Some("Reject"),
        _ => None,
    };
    if let Some(kind) = reply {
        let activity = answer(kind, state, follow_id, &signer.ap_id);
        delivery::to_inboxes(tx, state, None, &activity, std::slice::from_ref(&signer.inbox)).await?;
    }
    Ok(Outcome::Processed)
}

/// An Accept or Reject of our instance actor's Follow; returns whether it was one.
pub async fn on_answer(
    tx: &mut Tx,
    follow_id: &str,
    signer: &store::actors::RemoteActor,
    accepted: bool,
) -> Result<bool> {
    match store::peers::find_in(tx, &signer.domain).await? {
        Some(peer) if peer.outgoing_follow.as_deref() == Some(follow_id) && peer.actor == signer.ap_id => {
            store::peers::set_outgoing(tx, &peer.domain, if accepted { "accepted" } else { "rejected" }, None).await?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// An Undo of a peer's Follow of our instance actor.
pub async fn on_undo_follow(tx: &mut Tx, signer: &store::actors::RemoteActor) -> Result<bool> {
    match store::peers::find_in(tx, &signer.domain).await? {
        Some(peer) if peer.actor == signer.ap_id => {
            store::peers::set_incoming(tx, &peer.domain, "none", None).await?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// `understory peer requests`: peers waiting for approval.
pub async fn requests(state: &AppState) -> Result<Vec<Peer>> {
    Ok(store::peers::list(&state.db)
        .await?
        .into_iter()
        .filter(|p| p.incoming == "pending")
        .collect())
}

/// `understory peer approve DOMAIN`: accepts a waiting peering request.
pub async fn approve(state: &AppState, who: &Who, domain: &str) -> Result<()> {
    let domain = check_domain(domain)?;
    let peer = store::peers::find(&state.db, &domain)
        .await?
        .filter(|p| p.incoming == "pending")
        .ok_or_else(|| Error::NotFound(format!("peering request from {domain}")))?;
    let follow_id = peer.incoming_follow.clone().unwrap_or_default();
    let mut tx = state.db.begin().await?;
    store::peers::set_incoming(&mut tx, &domain, "accepted", None).await?;
    let activity = answer("Accept", state, &follow_id, &peer.actor);
    delivery::to_inboxes(&mut tx, state, None, &activity, std::slice::from_ref(&peer.inbox)).await?;
    audit::record(&mut tx, state, who, None, "peer.approve", json!({"domain": domain})).await?;
    tx.commit().await?;
    delivery::notify(state);
    Ok(())
}

/// `understory peer remove DOMAIN`: ends peering both ways and drops that peer's organisations.
pub async fn remove(state: &AppState, who: &Who, domain: &str) -> Result<()> {
    let domain = check_domain(domain)?;
    let peer = store::peers::find(&state.db, &domain)
        .await?
        .ok_or_else(|| Error::NotFound(format!("peer {domain}")))?;
    let mut tx = state.db.begin().await?;
    end_peering(&mut tx, state, &peer).await?;
    audit::record(&mut tx, state, who, None, "peer.remove", json!({"domain": domain})).await?;
    tx.commit().await?;
    delivery::notify(state);
    Ok(())
}

async fn end_peering(tx: &mut Tx, state: &AppState, peer: &Peer) -> Result<()> {
    let me = state.urls.instance_actor();
    if let (Some(follow), true) = (&peer.outgoing_follow, peer.outgoing != "none") {
        let f = crate::protocol::activities::follow(follow, &me, &peer.actor);
        let undo = crate::protocol::activities::undo(&state.urls.activity(&me, "undo", &token()), &me, &f, &peer.actor);
        delivery::to_inboxes(tx, state, None, &undo, std::slice::from_ref(&peer.inbox)).await?;
    }
    if let (Some(follow), "accepted" | "pending") = (&peer.incoming_follow, peer.incoming.as_str()) {
        let reject = answer("Reject", state, follow, &peer.actor);
        delivery::to_inboxes(tx, state, None, &reject, std::slice::from_ref(&peer.inbox)).await?;
    }
    store::peers::remove(tx, &peer.domain).await?;
    store::directory::unlist_domain(tx, &peer.domain, state.clock.now_ms()).await?;
    Ok(())
}

/// `understory peer block DOMAIN` / `domain block`: refuses everything from the domain, ends
/// any peering and removes its organisations from the directory.
pub async fn block(state: &AppState, who: &Who, domain: &str, reason: &str) -> Result<()> {
    let domain = check_domain(domain)?;
    let mut tx = state.db.begin().await?;
    store::peers::block(&mut tx, &domain, reason, state.clock.now_ms()).await?;
    if let Some(peer) = store::peers::find_in(&mut tx, &domain).await? {
        end_peering(&mut tx, state, &peer).await?;
    }
    store::directory::unlist_domain(&mut tx, &domain, state.clock.now_ms()).await?;
    audit::record(
        &mut tx,
        state,
        who,
        None,
        "domain.block",
        json!({"domain": domain, "reason": reason}),
    )
    .await?;
    tx.commit().await?;
    delivery::notify(state);
    Ok(())
}

/// `understory domain unblock DOMAIN`.
pub async fn unblock(state: &AppState, who: &Who, domain: &str) -> Result<()> {
    let domain = check_domain(domain)?;
    let mut tx = state.db.begin().await?;
    if !store::peers::unblock(&mut tx, &domain).await? {
        return Err(Error::NotFound(format!("block of {domain}")));
    }
    audit::record(&mut tx, state, who, None, "domain.unblock", json!({"domain": domain})).await?;
    tx.commit().await?;
    Ok(())
}

/// The document peers store for an organisation: its actor without the key (a directory
/// entry, never used to verify anything).
pub fn profile_doc(state: &AppState, org: &Org) -> Value {
    let mut doc = org_actor(&state.urls, org, "", &state.vocab);
    if let Some(map) = doc.as_object_mut() {
        map.shift_remove("publicKey");
        map.shift_remove("@context");
    }
    doc
}

/// Writes `Add`, `Update` or `Remove` of an organisation for every peer that follows us, when
/// its peer listing changed (`was` is its reach before the change).
pub async fn announce(tx: &mut Tx, state: &AppState, was: &str, org: &Org) -> Result<()> {
    let (before, after) = (
        listed_for_peers(was),
        listed_for_peers(&org.listed_in) && org.deleted_at.is_none(),
    );
    let kind = match (before, after) {
        (false, true) => "Add",
        (true, true) => "Update",
        (true, false) => "Remove",
        (false, false) => return Ok(()),
    };
    let inboxes = store::peers::follower_inboxes(tx).await?;
    if inboxes.is_empty() {
        return Ok(());
    }
    let me = state.urls.instance_actor();
    let object = if kind == "Remove" {
        json!(state.urls.org(&org.handle))
    } else {
        profile_doc(state, org)
    };
    let activity = json!({"@context": crate::protocol::context(), "id": state.urls.activity(&me, "directory", &token()),
        "type": kind, "actor": me, "object": object, "target": format!("{me}/directory")});
    delivery::to_inboxes(tx, state, None, &activity, &inboxes).await?;
    Ok(())
}

/// Whether `signer` is the instance actor of a peer we follow (whose directory we replicate).
pub async fn replicated_peer(state: &AppState, signer: &store::actors::RemoteActor) -> Result<bool> {
    Ok(store::peers::find_by_actor(&state.db, &signer.ap_id)
        .await?
        .is_some_and(|p| p.outgoing == "accepted"))
}

/// `Add`, `Update` or `Remove` from a peer: the profile is taken from its origin (same host as
/// the sender, or fetched again from the organisation's own server).
pub async fn on_directory_activity(
    tx: &mut Tx,
    state: &AppState,
    kind: &str,
    object: &Value,
    signer: &store::actors::RemoteActor,
) -> Result<Outcome> {
    let id = id_of(object).ok_or_else(|| Error::Invalid(format!("{kind} names no object")))?;
    let origin = domain_of(id).ok_or_else(|| Error::Invalid("object id is not a URL".into()))?;
    if kind == "Remove" {
        if origin != signer.domain {
            return Err(Error::Forbidden("a peer may remove only its own organisations".into()));
        }
        store::directory::unlist(tx, id, state.clock.now_ms()).await?;
        return Ok(Outcome::Processed);
    }
    refuse_blocked(state, &origin).await?;
    if origin == signer.domain && object.is_object() {
        super::directory::sync_item(tx, state, object).await?;
    } else {
        // Another host's organisation: never trust the sender's copy; ask the origin.
        let url = Url::parse(id).map_err(|_| Error::Invalid("object id is not a URL".into()))?;
        let (from, doc) = match remote::fetch_signed(state, &url).await {
            Ok(found) => found,
            Err(Error::Remote(crate::net::NetError::Status { status, .. })) if status.as_u16() == 410 => {
                // The origin says it is gone: drop it everywhere we list it.
                store::directory::unlist(tx, id, state.clock.now_ms()).await?;
                return Ok(Outcome::Processed);
            }
            Err(e) => return Err(e),
        };
        if id_of(&doc) != Some(id) || domain_of(from.as_str()).as_deref() != Some(origin.as_str()) {
            return Err(Error::Forbidden("the origin does not confirm this organisation".into()));
        }
        super::directory::sync_item(tx, state, &doc).await?;
    }
    Ok(Outcome::Processed)
}

/// One page of our directory for a peer: organisations changed after `(after_ms, after_id)`;
/// those no longer listed for peers appear as Tombstones (their id only).
pub async fn collection_page(state: &AppState, after_ms: i64, after_id: i64) -> Result<Value> {
    let me = state.urls.instance_actor();
    let rows = store::directory::local_changed_after(&state.db, after_ms, after_id, PAGE_SIZE).await?;
    let mut items = Vec::with_capacity(rows.len());
    let mut last = None;
    for (row_id, changed_at, org_id) in &rows {
        last = Some((*changed_at, *row_id));
        let Some(org) = store::orgs::find(&state.db, *org_id).await? else {
            continue;
        };
        let mut item = if listed_for_peers(&org.listed_in) && org.deleted_at.is_none() {
            profile_doc(state, &org)
        } else {
            json!({"id": state.urls.org(&org.handle), "type": "Tombstone", "formerType": "Organization"})
        };
        item["understory:changedAt"] = json!(changed_at);
        items.push(item);
    }
    let base = format!("{me}/directory");
    let next = (rows.len() as i64 == PAGE_SIZE)
        .then(|| last.map(|(ms, id)| format!("{base}?after={ms}.{id}")))
        .flatten();
    let mut page = json!({"@context": crate::protocol::context(), "id": format!("{base}?after={after_ms}.{after_id}"),
        "type": "OrderedCollectionPage", "partOf": base, "orderedItems": items});
    if let Some(next) = next {
        page["next"] = json!(next);
    }
    Ok(page)
}

/// Backfills (or catches up on) a peer's directory from its `/actor/directory`, from the
/// saved cursor; returns how many organisations were read.
pub async fn sync(state: &AppState, domain: &str) -> Result<usize> {
    let peer = store::peers::find(&state.db, domain)
        .await?
        .filter(|p| p.outgoing == "accepted")
        .ok_or_else(|| Error::NotFound(format!("accepted peer {domain}")))?;
    let start = (peer.synced_until - CURSOR_OVERLAP_MS).max(0);
    let mut url =
        Url::parse(&format!("{}/directory?after={start}.0", peer.actor)).map_err(|e| Error::Invalid(e.to_string()))?;
    let mut read = 0;
    let mut until = peer.synced_until;
    // A `next` seen before (a page pointing at itself, or a cycle) ends the sync with an error;
    // so does a sync that outlasts SYNC_DEADLINE (a slow peer).
    let mut seen = std::collections::HashSet::new();
    let started = tokio::time::Instant::now();
    for _ in 0..MAX_PAGES {
        if started.elapsed() > SYNC_DEADLINE {
            let reason = format!("sync took longer than {} s; resumes next time", SYNC_DEADLINE.as_secs());
            store::peers::synced(&state.db, domain, until, state.clock.now_ms(), Some(&reason)).await?;
            return Err(Error::Remote(crate::net::NetError::Invalid {
                url: url.to_string(),
                reason,
            }));
        }
        if !seen.insert(url.to_string()) {
            let reason = format!("the directory's next page {url} was already read (a loop)");
            store::peers::synced(&state.db, domain, until, state.clock.now_ms(), Some(&reason)).await?;
            return Err(Error::Invalid(reason));
        }
        let page = match remote::fetch_signed(state, &url).await {
            Ok((_, page)) => page,
            Err(e) => {
                store::peers::synced(&state.db, domain, until, state.clock.now_ms(), Some(&e.to_string())).await?;
                return Err(e);
            }
        };
        let items = page
            .get("orderedItems")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut tx = state.db.begin().await?;
        for item in &items {
            let Some(id) = id_of(item) else { continue };
            if domain_of(id).as_deref() != Some(domain) {
                continue; // a peer lists only its own organisations
            }
            if type_of(item) == Some("Tombstone") {
                store::directory::unlist(&mut tx, id, state.clock.now_ms()).await?;
            } else {
                super::directory::sync_item(&mut tx, state, item).await?;
            }
            if let Some(ms) = item.get("understory:changedAt").and_then(Value::as_i64) {
                until = until.max(ms);
            }
            read += 1;
        }
        tx.commit().await?;
        match page.get("next").and_then(Value::as_str).map(Url::parse) {
            Some(Ok(next)) if domain_of(next.as_str()).as_deref() == Some(domain) => url = next,
            _ => break,
        }
    }
    store::peers::synced(&state.db, domain, until, state.clock.now_ms(), None).await?;
    Ok(read)
}

/// Gossip (off unless `UNDERSTORY_PEER_GOSSIP`): reads accepted peers' published peer lists
/// and asks those domains to peer when they run Understory (NodeInfo `software.name`), never
/// more than `UNDERSTORY_PEER_GOSSIP_MAX` requests in all, never to blocked domains. Peer lists
/// of other software (`/api/v1/instance/peers`) are never used. Returns the domains asked.
pub async fn gossip(state: &AppState) -> Result<Vec<String>> {
    let peers = store::peers::list(&state.db).await?;
    let mut budget = state
        .config
        .peer_gossip_max
        .saturating_sub(peers.iter().filter(|p| p.outgoing != "none").count());
    let mut asked = Vec::new();
    for peer in peers.iter().filter(|p| p.outgoing == "accepted") {
        if budget == 0 {
            break;
        }
        let scheme = if state.http.mode().allows_http() {
            "http"
        } else {
            "https"
        };
        let Ok(url) = Url::parse(&format!("{scheme}://{}/api/understory/v1/peers", peer.domain)) else {
            continue;
        };
        let Ok((_, list)) = state
            .http
            .get_json(&url, "application/json", None, state.clock.now_ms())
            .await
        else {
            continue;
        };
        for domain in list
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p.get("domain").and_then(Value::as_str))
        {
            if budget == 0 {
                break;
            }
            let known = store::peers::find(&state.db, domain).await?.is_some() || asked.iter().any(|d| d == domain);
            if known || domain == state.urls.authority() || super::remote::is_blocked(state, domain).await? {
                continue;
            }
            if !runs_understory(state, domain).await {
                continue;
            }
            match add(state, &Who::Cli, domain).await {
                Ok(_) => {
                    asked.push(domain.to_owned());
                    budget -= 1;
                }
                Err(e) => tracing::info!(domain, error = %e, "gossip: peering request not sent"),
            }
        }
    }
    Ok(asked)
}

async fn runs_understory(state: &AppState, domain: &str) -> bool {
    let scheme = if state.http.mode().allows_http() {
        "http"
    } else {
        "https"
    };
    let Ok(url) = Url::parse(&format!("{scheme}://{domain}/.well-known/nodeinfo")) else {
        return false;
    };
    let Ok((_, links)) = state
        .http
        .get_json(&url, "application/json", None, state.clock.now_ms())
        .await
    else {
        return false;
    };
    let Some(href) = links
        .pointer("/links/0/href")
        .and_then(Value::as_str)
        .and_then(|h| Url::parse(h).ok())
    else {
        return false;
    };
    if domain_of(href.as_str()).as_deref() != Some(domain) {
        return false;
    }
    let Ok((_, info)) = state
        .http
        .get_json(&href, "application/json", None, state.clock.now_ms())
        .await
    else {
        return false;
    };
    info.pointer("/software/name").and_then(Value::as_str) == Some(crate::federation::nodeinfo::SOFTWARE)
}

/// The peer sync worker: syncs accepted peers not synced within [`SYNC_INTERVAL_MS`], up to
/// [`SYNC_CONCURRENCY`] at once, so one slow peer does not hold the others.
pub async fn run_worker(state: AppState, stop: CancellationToken) {
    use futures_util::StreamExt;
    while !stop.is_cancelled() {
        let now = state.clock.now_ms();
        let peers = store::peers::list(&state.db).await.unwrap_or_default();
        let due: Vec<&Peer> = peers
            .iter()
            .filter(|p| p.outgoing == "accepted" && p.last_sync_at.is_none_or(|t| now - t > SYNC_INTERVAL_MS))
            .collect();
        futures_util::stream::iter(due)
            .for_each_concurrent(SYNC_CONCURRENCY, |peer| {
                let state = &state;
                async move {
                    if let Err(e) = sync(state, &peer.domain).await {
                        tracing::warn!(peer = %peer.domain, error = %e, "directory sync failed; will retry");
                    }
                }
            })
            .await;
        if let Err(e) = remote::refresh_stale(&state, 20).await {
            tracing::warn!(error = %e, "refreshing directory entries failed");
        }
        if state.config.peer_gossip
            && peers
                .iter()
                .any(|p| p.outgoing == "accepted" && p.last_sync_at.is_none_or(|t| now - t > SYNC_INTERVAL_MS))
            && let Err(e) = gossip(&state).await
        {
            tracing::warn!(error = %e, "peer gossip failed");
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = state.peer_notify.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    }
}

/// A summary line of a peer for listings.
pub fn describe(p: &Peer) -> String {
    let synced = p.last_sync_at.map_or("never".to_owned(), rfc3339);
    format!(
        "{}\twe follow: {}\tthey follow: {}\tsynced: {synced}",
        p.domain, p.outgoing, p.incoming
    )
}
