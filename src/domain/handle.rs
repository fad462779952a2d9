//! Organisation handles: the `handle` in `@handle@domain`.

use std::fmt;

use super::DomainError;

/// A valid handle: 1-30 characters of `a-z0-9_`. Uppercase is refused, never folded, because
/// GoToSocial compares WebFinger subjects byte for byte.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Handle(String);

impl Handle {
    /// Parses a handle, refusing anything outside the allowed shape.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let ok = (1..=30).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(DomainError::InvalidHandle(raw.to_owned()))
        }
    }

    /// The handle as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_lowercase_digits_and_underscore() {
        for ok in ["a", "open_aid", "org2026", &"x".repeat(30)] {
            assert!(Handle::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_everything_else() {
        for bad in ["", "OpenAid", "open-aid", "open.aid", "café", "a b", &"x".repeat(31)] {
            assert!(Handle::parse(bad).is_err(), "{bad:?}");
        }
    }
}
