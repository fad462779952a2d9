//! Use cases: what staff, operators and peers can make happen. Handlers and the CLI call these;
//! these call `store`, `protocol` and `delivery`.

pub mod accounts;
pub mod audit;
pub mod backup;
pub mod directory;
pub mod follows;
pub mod health;
pub mod inbox;
pub mod joins;
pub mod keys;
pub mod mail;
pub mod media;
pub mod moderation;
pub mod moves;
pub mod open_data;
pub mod orgs;
pub mod peering;
pub mod posts;
pub mod profiles;
pub mod remote;
pub mod retention;
pub mod sessions;
pub mod setup;
pub mod tokens;

use crate::{domain::DomainError, net::NetError, store::StoreError};

/// What a use case can fail with; `error.rs` maps each variant to one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input broke a rule; the message names the field.
    #[error("{0}")]
    Invalid(String),
    /// A file or body over its size limit; the message says the limit.
    #[error("{0}")]
    TooLarge(String),
    /// The thing does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The thing existed and was deleted.
    #[error("{0} was deleted")]
    Gone(String),
    /// A unique name is taken.
    #[error("{0}")]
    Conflict(String),
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// A signature or credential was missing or wrong.
    #[error("{0}")]
    Unauthorized(String),
    /// A remote server could not be reached or answered badly.
    #[error(transparent)]
    Remote(#[from] NetError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Anything else that is our fault.
    #[error("{0}")]
    Internal(String),
}

impl From<DomainError> for Error {
    fn from(e: DomainError) -> Self {
        Self::Invalid(e.to_string())
    }
}

/// Result of a use case.
pub type Result<T> = std::result::Result<T, Error>;

/// A random token for activity ids (128 bits, hex).
pub fn token() -> String {
    let mut bytes = [0u8; 16];
    // The system RNG only fails if the OS has no entropy source at all.
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    hex::encode(bytes)
}

/// `raw` as a remote URL we may store ([`crate::protocol::web_url`]: https, or http in
/// local-test mode), normalised; `what` names it in the error.
pub fn remote_url(state: &crate::state::AppState, what: &str, raw: &str) -> Result<String> {
    let allow_http = state.config.public_url.scheme() == "http";
    crate::protocol::web_url(raw, allow_http)
        .map(|u| u.to_string())
        .ok_or_else(|| Error::Invalid(format!("{what} {raw:?} is not an https URL")))
}

#[cfg(test)]
mod tests {
    /// Every read made while a transaction is open goes through that transaction. A read through
    /// the pool instead waits for a second connection: with as many such requests as the pool
    /// has connections (8 concurrent inbox POSTs on PostgreSQL), each holds one and waits for
    /// another, and nothing moves until the pool times out. This checks the source of every
    /// service: inside a function that takes a `&mut Tx`, or between `begin()` and `commit()`,
    /// no `state.db` but `begin()`, and none of the helpers that read through the pool.
    #[test]
    fn no_pool_reads_under_an_open_transaction() {
        const POOL_HELPERS: [&str; 3] = ["find_live(state", "live_post(state", "find_any(state"];
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/service");
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let source = std::fs::read_to_string(&path).unwrap();
            let source = source.split("#[cfg(test)]").next().unwrap_or("");
            let mut in_fn_with_tx = false;
            let mut signature: Option<String> = None;
            let mut depth_at_fn = 0i32;
            let mut depth = 0i32;
            let mut open_tx = false;
            for (n, line) in source.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                if code.contains("fn ") && !code.contains("fn(") {
                    signature = Some(String::new());
                    depth_at_fn = depth;
                }
                if let Some(sig) = signature.as_mut() {
                    sig.push_str(code);
                    if code.contains('{') || code.trim_end().ends_with(';') {
                        in_fn_with_tx = sig.contains("&mut Tx") || sig.contains("&mut store::Tx");
                        signature = None;
                    }
                }
                if code.contains("db.begin()") {
                    open_tx = true;
                }
                let reads_pool = (code.contains("state.db") && !code.contains("state.db.begin()"))
                    || POOL_HELPERS.iter().any(|h| code.contains(h));
                if reads_pool && (in_fn_with_tx || open_tx) {
                    found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                }
                if code.contains(".commit()") {
                    open_tx = false;
                }
                depth += code.matches('{').count() as i32 - code.matches('}').count() as i32;
                if depth <= depth_at_fn && code.contains('}') {
                    in_fn_with_tx = false;
                    open_tx = false;
                }
            }
        }
        assert!(
            found.is_empty(),
            "pool reads under an open transaction:\n{}",
            found.join("\n")
        );
    }
}
