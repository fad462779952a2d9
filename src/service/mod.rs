//! Use cases: what staff, operators and peers can make happen. Handlers and the CLI call these;
//! these call `store`, `protocol` and `delivery`.

pub mod accounts;
pub mod audit;
pub mod backup;
pub mod directory;
pub mod follows;
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
