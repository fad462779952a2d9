//! Rate limits per client address, and the honest client address behind a reverse proxy.
//!
//! Each class of request has its own token bucket per address: a client may burst up to the
//! class's limit and then gets one more request every `60 s / limit`. Over the limit the answer
//! is 429 with `Retry-After`. Addresses in `UNDERSTORY_RATE_LIMIT_EXEMPT` (benchmarks,
//! monitoring) are not limited. The client address is the connection's peer, unless the peer is
//! a trusted proxy (`UNDERSTORY_TRUSTED_PROXIES`, loopback by default): then it is the right-most
//! address in `X-Forwarded-For` that is not itself a trusted proxy.

use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    str::FromStr,
    sync::Mutex,
};

use axum::{
    Json,
    extract::{ConnectInfo, Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::state::AppState;

/// Requests per minute per address to the staff JSON API.
pub const API_PER_MINUTE: u32 = 300;
/// Searches per minute per address (directory pages, CSV/JSON-LD exports, search APIs).
pub const SEARCH_PER_MINUTE: u32 = 120;
/// Inbox POSTs per minute per address (a big server's shared inbox sends many).
pub const INBOX_PER_MINUTE: u32 = 1200;
/// Sign-in and set-password attempts per minute per address (on top of the failure limits).
pub const SIGN_IN_PER_MINUTE: u32 = 30;
/// Public form posts per minute per address: join requests (each mails every operator) and
/// follow-from-anywhere (each makes a WebFinger lookup).
pub const FORMS_PER_MINUTE: u32 = 10;
/// First views of remote pictures per minute per address (each may fetch and decode).
pub const REMOTE_MEDIA_PER_MINUTE: u32 = 300;
/// Buckets kept before full ones are forgotten.
const MAX_BUCKETS: usize = 100_000;

/// What a request is, for its limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    /// `/api/understory/v1/...` (but search).
    Api,
    /// Directory search in any form.
    Search,
    /// ActivityPub inbox POSTs.
    Inbox,
    /// Sign-in forms.
    SignIn,
    /// Public forms that send mail or make requests: `/join`, `/@{handle}/follow`.
    Forms,
    /// Remote pictures through our cache, `/media/remote/{key}`.
    RemoteMedia,
}

impl Class {
    /// Requests per minute allowed.
    pub fn per_minute(self) -> u32 {
        match self {
            Self::Api => API_PER_MINUTE,
            Self::Search => SEARCH_PER_MINUTE,
            Self::Inbox => INBOX_PER_MINUTE,
            Self::SignIn => SIGN_IN_PER_MINUTE,
            Self::Forms => FORMS_PER_MINUTE,
            Self::RemoteMedia => REMOTE_MEDIA_PER_MINUTE,
        }
    }

    /// The class of a request, if it is limited.
    pub fn of(method: &Method, path: &str) -> Option<Self> {
        let post = method == Method::POST;
        if post && (path == "/inbox" || path.ends_with("/inbox")) {
            return Some(Self::Inbox);
        }
        if post && (path == "/login" || path.starts_with("/login/link/") || path.starts_with("/setup/")) {
            return Some(Self::SignIn);
        }
        if post && (path == "/join" || (path.starts_with("/@") && path.ends_with("/follow"))) {
            return Some(Self::Forms);
        }
        if path.starts_with("/media/remote/") {
            return Some(Self::RemoteMedia);
        }
        if path.starts_with("/directory")
            || path == "/api/understory/v1/directory"
            || path == "/api/v1/directory"
            || path.starts_with("/tags/")
        {
            return Some(Self::Search);
        }
        path.starts_with("/api/understory/").then_some(Self::Api)
    }
}

/// A range of addresses: `10.0.0.0/8`, `::1/128`, or a bare address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let raw = raw.trim();
        let (addr, prefix) = match raw.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (raw, None),
        };
        let addr = normalise(
            addr.parse()
                .map_err(|_| format!("{raw:?} is not an address or CIDR range"))?,
        );
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{raw:?}: the prefix must be 0-{max}"))?,
            None => max,
        };
        Ok(Self { addr, prefix })
    }
}

impl Cidr {
    /// Whether `ip` is in the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, normalise(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Parses a comma-separated list of CIDR ranges.
pub fn parse_list(raw: &str) -> Result<Vec<Cidr>, String> {
    raw.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(str::parse)
        .collect()
}

/// `::ffff:1.2.3.4` is `1.2.3.4`.
fn normalise(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The client's address given the connection's peer, the request headers and the proxies we
/// trust. An untrusted peer's `X-Forwarded-For` is ignored: anyone can send one.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[Cidr]) -> IpAddr {
    let peer = normalise(peer);
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .map(normalise)
        .collect();
    forwarded.into_iter().rev().find(|ip| !is_trusted(*ip)).unwrap_or(peer)
}

/// The client address of a request, set by [`middleware`] for handlers that need it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

struct Bucket {
    tokens: f64,
    at_ms: i64,
}

/// Token buckets by class and address, in memory (a restart forgives everyone).
#[derive(Default)]
pub struct Limiter {
    buckets: Mutex<HashMap<(Class, IpAddr), Bucket>>,
}

impl Limiter {
    /// Takes one request from the bucket; `Err(seconds)` to wait when it is empty.
    pub fn take(&self, class: Class, ip: IpAddr, now_ms: i64) -> Result<(), u64> {
        let limit = f64::from(class.per_minute());
        let per_ms = limit / 60_000.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_BUCKETS {
            buckets.retain(|(c, _), b| {
                b.tokens + (now_ms - b.at_ms).max(0) as f64 * f64::from(c.per_minute()) / 60_000.0
                    < f64::from(c.per_minute())
            });
        }
        let bucket = buckets.entry((class, ip)).or_insert(Bucket {
            tokens: limit,
            at_ms: now_ms,
        });
        bucket.tokens = (bucket.tokens + (now_ms - bucket.at_ms).max(0) as f64 * per_ms).min(limit);
        bucket.at_ms = bucket.at_ms.max(now_ms);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - bucket.tokens) / per_ms / 1000.0).ceil().max(1.0) as u64)
        }
    }
}

/// Finds the client address, and answers 429 with `Retry-After` when its class's bucket is empty.
pub async fn middleware(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
    next: Next,
) -> Response {
    let ip = client_address(peer.ip(), request.headers(), &state.config.trusted_proxies);
    request.extensions_mut().insert(ClientAddr(ip));
    let exempt = state.config.rate_limit_exempt.iter().any(|c| c.contains(ip));
    if !exempt
        && let Some(class) = Class::of(request.method(), request.uri().path())
        && let Err(wait) = state.limiter.take(class, ip, state.clock.now_ms())
    {
        tracing::info!(%ip, ?class, wait, "rate limited");
        let body = json!({"error": format!("too many requests; try again in {wait} s")});
        let mut r = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
        if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return r;
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_match_their_ranges() {
        let list = parse_list("127.0.0.0/8, ::1, 10.1.0.0/16, fd00::/8").unwrap();
        for (ip, inside) in [
            ("127.4.5.6", true),
            ("::ffff:127.0.0.1", true),
            ("::1", true),
            ("10.1.200.3", true),
            ("10.2.0.1", false),
            ("fd12::1", true),
            ("fe80::1", false),
            ("8.8.8.8", false),
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(list.iter().any(|c| c.contains(ip)), inside, "{ip}");
        }
        assert!(parse_list("10.0.0.0/33").is_err());
        assert!(parse_list("not-an-ip").is_err());
        assert!(parse_list("0.0.0.0/0").unwrap()[0].contains("1.2.3.4".parse().unwrap()));
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = parse_list("127.0.0.0/8,10.0.0.0/8").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 203.0.113.9, 10.0.0.2"),
        );
        let proxy: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(
            client_address(proxy, &headers, &trusted),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        let stranger: IpAddr = "198.51.100.7".parse().unwrap();
        assert_eq!(client_address(stranger, &headers, &trusted), stranger);
        assert_eq!(client_address(proxy, &HeaderMap::new(), &trusted), proxy);
    }

    #[test]
    fn buckets_allow_the_limit_then_refill_at_its_rate() {
        let limiter = Limiter::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..SIGN_IN_PER_MINUTE {
            assert!(limiter.take(Class::SignIn, ip, 0).is_ok());
        }
        assert_eq!(limiter.take(Class::SignIn, ip, 0), Err(2));
        // Another address and another class have their own buckets.
        assert!(limiter.take(Class::SignIn, "192.0.2.2".parse().unwrap(), 0).is_ok());
        assert!(limiter.take(Class::Api, ip, 0).is_ok());
        assert!(limiter.take(Class::SignIn, ip, 2_000).is_ok());
        assert!(limiter.take(Class::SignIn, ip, 2_000).is_err());
    }

    #[test]
    fn requests_are_classed() {
        assert_eq!(Class::of(&Method::POST, "/orgs/a/inbox"), Some(Class::Inbox));
        assert_eq!(Class::of(&Method::GET, "/orgs/a/inbox"), None);
        assert_eq!(Class::of(&Method::GET, "/directory"), Some(Class::Search));
        assert_eq!(
            Class::of(&Method::GET, "/api/understory/v1/directory"),
            Some(Class::Search)
        );
        assert_eq!(
            Class::of(&Method::POST, "/api/understory/v1/orgs/a/updates"),
            Some(Class::Api)
        );
        assert_eq!(Class::of(&Method::POST, "/login"), Some(Class::SignIn));
        assert_eq!(Class::of(&Method::GET, "/@acme"), None);
    }
}
