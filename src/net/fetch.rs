//! Signed GETs of ActivityPub documents, WebFinger lookups, and signed delivery POSTs.

use std::time::Duration;

use reqwest::{StatusCode, header};
use serde_json::Value;
use url::Url;

use super::{HttpClient, MAX_REDIRECTS, NetError, read_at_most, read_limited};
use crate::httpsig::{KeyPair, sign::ACTIVITY_ACCEPT, sign_get, sign_post};

/// The key a request is signed with.
pub struct Signer<'a> {
    /// The private key.
    pub key: &'a KeyPair,
    /// `<actor>#main-key`.
    pub key_id: &'a str,
}

/// What a delivery attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostOutcome {
    /// 2xx: delivered.
    Delivered,
    /// A 4xx other than 408/429: the receiver will never take it; do not retry.
    Refused(u16),
    /// Worth retrying later (5xx, 408, 429, 3xx, network); `retry_after` from the peer if given.
    Retry {
        /// Why.
        reason: String,
        /// The peer's `Retry-After`, in seconds.
        retry_after: Option<Duration>,
    },
}

fn is_activity_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    matches!(
        essence.as_str(),
        "application/activity+json" | "application/ld+json" | "application/json" | "application/jrd+json"
    )
}

impl HttpClient {
    /// GETs an ActivityPub document, signed by `signer`, following at most three redirects
    /// (each re-checked). Returns the final URL and the JSON.
    pub async fn fetch_json(&self, url: &Url, signer: &Signer<'_>, now_ms: i64) -> Result<(Url, Value), NetError> {
        self.get_json(url, ACTIVITY_ACCEPT, Some(signer), now_ms).await
    }

    /// GETs JSON with `accept`, signed when a signer is given.
    pub async fn get_json(
        &self,
        url: &Url,
        accept: &str,
        signer: Option<&Signer<'_>>,
        now_ms: i64,
    ) -> Result<(Url, Value), NetError> {
        let (current, response) = self
            .get_following(url, |current| {
                let mut request = self.fetch_client().get(current.clone());
                match signer {
                    Some(s) => {
                        // The signed headers include `accept`; adding it twice would break the signature.
                        let headers =
                            sign_get(s.key, s.key_id, current, accept, now_ms).map_err(|e| NetError::Invalid {
                                url: current.to_string(),
                                reason: e.to_string(),
                            })?;
                        for (name, value) in headers {
                            request = request.header(name, value);
                        }
                    }
                    None => request = request.header(header::ACCEPT, accept),
                }
                Ok(request)
            })
            .await?;
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !is_activity_json(content_type) {
            return Err(NetError::Invalid {
                url: current.to_string(),
                reason: format!("content type {content_type:?}"),
            });
        }
        let body = read_limited(&current, response).await?;
        let value = serde_json::from_slice(&body).map_err(|e| NetError::Invalid {
            url: current.to_string(),
            reason: format!("bad JSON: {e}"),
        })?;
        Ok((current, value))
    }

    /// GETs a file (a remote picture), unsigned, reading at most `max` bytes.
    pub async fn get_bytes(&self, url: &Url, accept: &str, max: usize) -> Result<Vec<u8>, NetError> {
        let (current, response) = self
            .get_following(url, |current| {
                Ok(self.fetch_client().get(current.clone()).header(header::ACCEPT, accept))
            })
            .await?;
        read_at_most(&current, response, max).await
    }

    /// Sends the GET `request` builds for each URL, following at most three redirects, each
    /// re-checked against the address rules. Returns the final URL and its 2xx response.
    async fn get_following(
        &self,
        url: &Url,
        request: impl Fn(&Url) -> Result<reqwest::RequestBuilder, NetError>,
    ) -> Result<(Url, reqwest::Response), NetError> {
        let mut current = url.clone();
        for _ in 0..=MAX_REDIRECTS {
            self.check_url(&current).await?;
            let response = request(&current)?.send().await.map_err(|source| NetError::Transport {
                url: current.to_string(),
                source,
            })?;
            let status = response.status();
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                current = current.join(location).map_err(|_| NetError::Invalid {
                    url: current.to_string(),
                    reason: "bad redirect".into(),
                })?;
                continue;
            }
            if !status.is_success() {
                return Err(NetError::Status {
                    url: current.to_string(),
                    status,
                });
            }
            return Ok((current, response));
        }
        Err(NetError::Invalid {
            url: url.to_string(),
            reason: "too many redirects".into(),
        })
    }

    /// Resolves `user@domain` to an actor id through WebFinger (https, or http in local-test
    /// mode), requiring a `self` link of an ActivityPub type.
    pub async fn webfinger(&self, user: &str, domain: &str, now_ms: i64) -> Result<Url, NetError> {
        let scheme = if self.mode().allows_http() { "http" } else { "https" };
        let mut url =
            Url::parse(&format!("{scheme}://{domain}/.well-known/webfinger")).map_err(|_| NetError::Invalid {
                url: domain.to_owned(),
                reason: "bad domain".into(),
            })?;
        url.query_pairs_mut()
            .append_pair("resource", &format!("acct:{user}@{domain}"));
        let (_, jrd) = self
            .get_json(&url, "application/jrd+json, application/json", None, now_ms)
            .await?;
        let links = jrd.get("links").and_then(Value::as_array).cloned().unwrap_or_default();
        links
            .iter()
            .filter(|l| l.get("rel").and_then(Value::as_str) == Some("self"))
            .filter(|l| l.get("type").and_then(Value::as_str).is_some_and(is_activity_json))
            .find_map(|l| l.get("href").and_then(Value::as_str).and_then(|h| Url::parse(h).ok()))
            .ok_or(NetError::Invalid {
                url: url.to_string(),
                reason: "no ActivityPub self link".into(),
            })
    }

    /// POSTs a signed activity to an inbox. Redirects are not followed (they count as retry).
    pub async fn post_activity(
        &self,
        inbox: &Url,
        signer: &Signer<'_>,
        body: &[u8],
        now_ms: i64,
        timeout: Duration,
    ) -> Result<PostOutcome, NetError> {
        self.check_url(inbox).await?;
        let headers = sign_post(signer.key, signer.key_id, inbox, body, now_ms).map_err(|e| NetError::Invalid {
            url: inbox.to_string(),
            reason: e.to_string(),
        })?;
        let mut request = self
            .delivery_client()
            .post(inbox.clone())
            .timeout(timeout)
            .body(body.to_vec());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                return Ok(PostOutcome::Retry {
                    reason: super::causes(&e),
                    retry_after: None,
                });
            }
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        Ok(match status {
            s if s.is_success() => PostOutcome::Delivered,
            StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS => PostOutcome::Retry {
                reason: status.to_string(),
                retry_after,
            },
            s if s.is_client_error() => PostOutcome::Refused(s.as_u16()),
            _ => PostOutcome::Retry {
                reason: status.to_string(),
                retry_after,
            },
        })
    }
}
