//! The address-checking HTTP client: every outgoing request (fetches, WebFinger, deliveries)
//! goes through it, so the mode's address rules hold everywhere.
//!
//! Domain names are checked at connect time by the crate's DNS-rebinding-safe resolver; IP
//! literals never reach a resolver, so they are checked here before the request is made.

pub mod fetch;

use std::{str::FromStr, sync::Arc, time::Duration};

use activitypub_federation::resolver::ValidatingDnsResolver;
use reqwest::{
    StatusCode,
    dns::{Name, Resolve},
    redirect::Policy,
};
use url::{Host, Url};

use crate::config::Mode;

/// Largest response body we read (Mastodon and the crate use the same bound).
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// Timeout of a fetch (actor, key, WebFinger).
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Timeout of a delivery POST: some servers process inbox POSTs synchronously.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);
/// Redirects followed on GET, each re-checked.
pub const MAX_REDIRECTS: usize = 3;

/// Why an outgoing request was not made or failed.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The URL breaks the mode's rules (scheme, private address, ...).
    #[error("refused address {url}: {reason}")]
    Refused {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// Connection, TLS or timeout failure; the message carries the whole chain of causes
    /// (an address refused at connect time, an unknown certificate issuer, ...).
    #[error("request to {url} failed: {}", causes(source))]
    Transport {
        /// The URL.
        url: String,
        /// The cause.
        source: reqwest::Error,
    },
    /// The response was too large.
    #[error("response from {0} exceeds {MAX_RESPONSE_BYTES} bytes")]
    TooLarge(String),
    /// A non-success status.
    #[error("{url} answered {status}")]
    Status {
        /// The URL.
        url: String,
        /// The status.
        status: StatusCode,
    },
    /// The body was not what we asked for.
    #[error("{url}: {reason}")]
    Invalid {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
}

/// An error and its sources, `: `-separated, each once (reqwest repeats some).
pub(crate) fn causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(e) = next {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// An HTTP client bound to one instance's address rules.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    delivery_client: reqwest::Client,
    resolver: Arc<ValidatingDnsResolver>,
    mode: Mode,
}

impl HttpClient {
    /// Builds the client for a mode; `user_agent` names the software and instance. TLS trusts
    /// the system's certificate store.
    pub fn new(mode: Mode, user_agent: &str) -> Result<Self, reqwest::Error> {
        Self::with_roots(mode, user_agent, &[])
    }

    /// As [`HttpClient::new`], also trusting `extra_roots` (`UNDERSTORY_EXTRA_CA_FILE`): the
    /// system's store stays trusted, these are added to it.
    pub fn with_roots(
        mode: Mode,
        user_agent: &str,
        extra_roots: &[reqwest::Certificate],
    ) -> Result<Self, reqwest::Error> {
        let resolver = Arc::new(ValidatingDnsResolver::new(vec![], !mode.allows_private_addresses()));
        let build = |timeout| {
            reqwest::Client::builder()
                .user_agent(user_agent)
                .redirect(Policy::none())
                .no_proxy()
                .connect_timeout(Duration::from_secs(10))
                .timeout(timeout)
                .pool_idle_timeout(Duration::from_secs(30))
                .dns_resolver(resolver.clone())
                .tls_certs_merge(extra_roots.iter().cloned())
                .build()
        };
        Ok(Self {
            client: build(FETCH_TIMEOUT)?,
            delivery_client: build(DELIVERY_TIMEOUT)?,
            resolver,
            mode,
        })
    }

    /// Refuses URLs the mode does not allow: https only in production, no userinfo, and IP
    /// literals in private ranges unless private networks are allowed.
    pub async fn check_url(&self, url: &Url) -> Result<(), NetError> {
        let refuse = |reason: &str| {
            Err(NetError::Refused {
                url: url.to_string(),
                reason: reason.to_owned(),
            })
        };
        match url.scheme() {
            "https" => {}
            "http" if self.mode.allows_http() => {}
            _ => return refuse("scheme not allowed"),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return refuse("credentials in URL");
        }
        match url.host() {
            None => return refuse("no host"),
            Some(Host::Domain("")) => return refuse("no host"),
            Some(Host::Domain(_)) => {}
            Some(Host::Ipv4(_) | Host::Ipv6(_)) if self.mode.allows_private_addresses() => {}
            Some(Host::Ipv4(ip)) => return self.check_literal(url, &ip.to_string()).await,
            Some(Host::Ipv6(ip)) => return self.check_literal(url, &ip.to_string()).await,
        }
        Ok(())
    }

    /// Runs an IP literal through the validating resolver, which parses it and checks its range.
    async fn check_literal(&self, url: &Url, ip: &str) -> Result<(), NetError> {
        let refused = |reason: String| NetError::Refused {
            url: url.to_string(),
            reason,
        };
        let name = Name::from_str(ip).map_err(|_| refused("bad address".into()))?;
        match self.resolver.resolve(name).await {
            Ok(_) => Ok(()),
            Err(e) => Err(refused(e.to_string())),
        }
    }

    /// The client for fetches (short timeout).
    pub(crate) fn fetch_client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The client for deliveries (longer timeout).
    pub(crate) fn delivery_client(&self) -> &reqwest::Client {
        &self.delivery_client
    }

    /// The mode these rules come from.
    pub fn mode(&self) -> Mode {
        self.mode
    }
}

/// Reads a response body up to [`MAX_RESPONSE_BYTES`].
pub async fn read_limited(url: &Url, response: reqwest::Response) -> Result<Vec<u8>, NetError> {
    read_at_most(url, response, MAX_RESPONSE_BYTES).await
}

/// Reads a response body up to `max` bytes; a longer one is refused without reading the rest.
pub async fn read_at_most(url: &Url, mut response: reqwest::Response, max: usize) -> Result<Vec<u8>, NetError> {
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Err(NetError::TooLarge(url.to_string()));
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > max {
                    return Err(NetError::TooLarge(url.to_string()));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(source) => {
                return Err(NetError::Transport {
                    url: url.to_string(),
                    source,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn production_refuses_private_literals_and_http() {
        let client = HttpClient::new(Mode::Production, "t").unwrap();
        for bad in [
            "http://example.com/",
            "https://127.0.0.1/",
            "https://10.0.0.1/",
            "https://[::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://169.254.1.1/",
            "https://u:p@example.com/",
        ] {
            assert!(client.check_url(&Url::parse(bad).unwrap()).await.is_err(), "{bad}");
        }
        assert!(
            client
                .check_url(&Url::parse("https://example.com:8443/").unwrap())
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn local_test_allows_loopback_over_http() {
        let client = HttpClient::new(Mode::LocalTest, "t").unwrap();
        assert!(
            client
                .check_url(&Url::parse("http://127.0.0.1:9/").unwrap())
                .await
                .is_ok()
        );
        assert!(
            client
                .check_url(&Url::parse("ftp://localhost/").unwrap())
                .await
                .is_err()
        );
    }
}
