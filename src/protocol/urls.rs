//! The URL layout of DESIGN.md section 5, in one place.

use url::Url;

/// Builds every public URL of an instance from its public base URL.
#[derive(Clone, Debug)]
pub struct Urls {
    base: String,
    authority: String,
}

impl Urls {
    /// From the public URL (`https://orgs.example/`) and its authority (`orgs.example`).
    pub fn new(public_url: &Url, authority: &str) -> Self {
        Self {
            base: public_url.as_str().trim_end_matches('/').to_owned(),
            authority: authority.to_owned(),
        }
    }

    /// `https://orgs.example` (no trailing slash).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `orgs.example` or `localhost:8080`: the domain of handles.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The instance actor.
    pub fn instance_actor(&self) -> String {
        format!("{}/actor", self.base)
    }

    /// The shared inbox.
    pub fn shared_inbox(&self) -> String {
        format!("{}/inbox", self.base)
    }

    /// An organisation actor.
    pub fn org(&self, handle: &str) -> String {
        format!("{}/orgs/{handle}", self.base)
    }

    /// An organisation collection or endpoint (`inbox`, `outbox`, `followers`, ...).
    pub fn org_part(&self, handle: &str, part: &str) -> String {
        format!("{}/orgs/{handle}/{part}", self.base)
    }

    /// The profile page (`url` of the actor).
    pub fn profile(&self, handle: &str) -> String {
        format!("{}/@{handle}", self.base)
    }

    /// One update.
    pub fn update(&self, handle: &str, id: i64) -> String {
        format!("{}/orgs/{handle}/updates/{id}", self.base)
    }

    /// A stored file, by name (`<sha256>.<ext>`).
    pub fn media(&self, file: &str) -> String {
        format!("{}/media/{file}", self.base())
    }

    /// A remote picture served from our cache, by the hash of its URL.
    pub fn remote_media(&self, key: &str) -> String {
        format!("{}/media/remote/{key}", self.base())
    }

    /// The base of hashtag links (`.../tags/`).
    pub fn tag_base(&self) -> String {
        format!("{}/tags/", self.base)
    }

    /// A fresh activity id under an actor: `<actor>#<kind>/<token>`.
    pub fn activity(&self, actor: &str, kind: &str, token: &str) -> String {
        format!("{actor}#{kind}/{token}")
    }

    /// The handle of a local organisation actor URL, if `url` is one.
    pub fn handle_of_actor<'a>(&self, url: &'a str) -> Option<&'a str> {
        let rest = url.strip_prefix(&self.base)?.strip_prefix("/orgs/")?;
        (!rest.is_empty() && !rest.contains('/') && !rest.contains('#')).then_some(rest)
    }

    /// `(handle, update id)` of a local update URL, if `url` is one.
    pub fn update_of<'a>(&self, url: &'a str) -> Option<(&'a str, i64)> {
        let rest = url.strip_prefix(&self.base)?.strip_prefix("/orgs/")?;
        let (handle, rest) = rest.split_once('/')?;
        let id = rest.strip_prefix("updates/")?.parse().ok()?;
        Some((handle, id))
    }

    /// Whether `url` is on this instance.
    pub fn is_local(&self, url: &str) -> bool {
        url.strip_prefix(&self.base)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_local_urls() {
        let urls = Urls::new(&Url::parse("https://o.example").unwrap(), "o.example");
        assert_eq!(urls.handle_of_actor("https://o.example/orgs/acme"), Some("acme"));
        assert_eq!(urls.handle_of_actor("https://o.example/orgs/acme/inbox"), None);
        assert_eq!(
            urls.update_of("https://o.example/orgs/acme/updates/7"),
            Some(("acme", 7))
        );
        assert!(urls.is_local("https://o.example/x"));
        assert!(!urls.is_local("https://o.example.evil/x"));
    }
}
