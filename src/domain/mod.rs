//! Pure types and rules: no database, no HTTP. Everything here is parsed at the boundary.

pub mod handle;
pub mod html;
pub mod index;
pub mod media;
pub mod profile;
pub mod text;
pub mod totp;
pub mod vocab;

pub use handle::Handle;

/// A rule of the domain that input broke; the message says which and why.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DomainError {
    /// The handle is not 1-30 characters of `a-z0-9_`.
    #[error("handle {0:?} must be 1-30 characters of a-z, 0-9 and _ (lowercase only)")]
    InvalidHandle(String),
    /// A required text is empty or too long.
    #[error("{field}: {reason}")]
    InvalidText {
        /// Which field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A language tag that is not BCP 47 shaped.
    #[error("language {0:?} is not a BCP 47 tag such as en or pt-BR")]
    InvalidLanguage(String),
}

/// Checks a plain-text field: trimmed non-empty (when required), at most `max` characters,
/// no control characters other than newlines and tabs, and no HTML markup.
pub fn plain_text(field: &'static str, raw: &str, max: usize, required: bool) -> Result<String, DomainError> {
    let value = raw.trim();
    let fail = |reason: String| Err(DomainError::InvalidText { field, reason });
    if required && value.is_empty() {
        return fail("must not be empty".into());
    }
    if value.chars().count() > max {
        return fail(format!("must be at most {max} characters"));
    }
    if value.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return fail("must not contain control characters".into());
    }
    if value.contains('<') && value.contains('>') {
        return fail("must be plain text, not HTML".into());
    }
    Ok(value.to_owned())
}

/// A BCP 47 language tag, checked for shape (`en`, `pt-BR`, `zh-Hant`), lowercased primary subtag.
pub fn language_tag(raw: &str) -> Result<String, DomainError> {
    let parts: Vec<&str> = raw.split('-').collect();
    let primary_ok = parts
        .first()
        .is_some_and(|p| (2..=3).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphabetic()));
    let rest_ok = parts
        .iter()
        .skip(1)
        .all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()));
    if primary_ok && rest_ok {
        let mut tag = parts[0].to_ascii_lowercase();
        for p in &parts[1..] {
            tag.push('-');
            tag.push_str(p);
        }
        Ok(tag)
    } else {
        Err(DomainError::InvalidLanguage(raw.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_refuses_html_and_controls() {
        assert!(plain_text("name", "<b>x</b>", 10, true).is_err());
        assert!(plain_text("name", "a\u{7}b", 10, true).is_err());
        assert!(plain_text("name", "   ", 10, true).is_err());
        assert_eq!(plain_text("name", " Acme ", 10, true).unwrap(), "Acme");
        assert!(plain_text("name", "x".repeat(11).as_str(), 10, true).is_err());
    }

    #[test]
    fn language_tags_are_shape_checked() {
        assert_eq!(language_tag("EN").unwrap(), "en");
        assert_eq!(language_tag("pt-BR").unwrap(), "pt-BR");
        assert!(language_tag("english language").is_err());
        assert!(language_tag("").is_err());
    }
}
