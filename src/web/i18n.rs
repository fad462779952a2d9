//! The message catalogue: every user-facing string of the pages comes from `locales/*.ftl`
//! (Project Fluent), English first. Templates call `t.get("key")` or `t.with("key", "name", value)`.

use std::{collections::HashMap, sync::Arc};

use fluent_bundle::{FluentArgs, FluentResource, concurrent::FluentBundle};
use unic_langid::LanguageIdentifier;

/// The catalogues that ship with the software.
const LOCALES: [(&str, &str); 1] = [("en", include_str!("../../locales/en.ftl"))];
/// The language used when a message or a language is missing.
pub const DEFAULT_LANGUAGE: &str = "en";

/// Loaded bundles by language.
pub struct Catalogue {
    bundles: HashMap<String, FluentBundle<FluentResource>>,
}

impl Catalogue {
    /// Loads the shipped catalogues; a syntax error in one is a start-up error.
    pub fn load() -> Result<Self, String> {
        let mut bundles = HashMap::new();
        for (lang, text) in LOCALES {
            let id: LanguageIdentifier = lang.parse().map_err(|e| format!("locale {lang}: {e:?}"))?;
            let resource =
                FluentResource::try_new(text.to_owned()).map_err(|(_, e)| format!("locales/{lang}.ftl: {e:?}"))?;
            let mut bundle = FluentBundle::new_concurrent(vec![id]);
            // Plain text in HTML: no bidi isolation marks around placeholders.
            bundle.set_use_isolating(false);
            bundle
                .add_resource(resource)
                .map_err(|e| format!("locales/{lang}.ftl: {e:?}"))?;
            bundles.insert(lang.to_owned(), bundle);
        }
        Ok(Self { bundles })
    }

    fn format(&self, lang: &str, key: &str, args: Option<&FluentArgs<'_>>) -> String {
        for candidate in [lang, DEFAULT_LANGUAGE] {
            let Some(bundle) = self.bundles.get(candidate) else {
                continue;
            };
            let Some(pattern) = bundle.get_message(key).and_then(|m| m.value()) else {
                continue;
            };
            let mut errors = Vec::new();
            return bundle.format_pattern(pattern, args, &mut errors).into_owned();
        }
        tracing::warn!(key, "message missing from the catalogue");
        key.to_owned()
    }
}

/// A catalogue bound to one language, handed to templates.
#[derive(Clone)]
pub struct T {
    catalogue: Arc<Catalogue>,
    lang: String,
}

impl T {
    /// Binds `catalogue` to `lang`.
    pub fn new(catalogue: Arc<Catalogue>, lang: &str) -> Self {
        Self {
            catalogue,
            lang: lang.to_owned(),
        }
    }

    /// The language of the page.
    pub fn lang(&self) -> &str {
        &self.lang
    }

    /// A message.
    pub fn get(&self, key: &str) -> String {
        self.catalogue.format(&self.lang, key, None)
    }

    /// A message with one argument.
    pub fn with(&self, key: &str, name: &str, value: impl std::fmt::Display) -> String {
        let mut args = FluentArgs::new();
        args.set(name.to_owned(), value.to_string());
        self.catalogue.format(&self.lang, key, Some(&args))
    }

    /// A message with several arguments.
    pub fn with_args(&self, key: &str, pairs: &[(&str, &str)]) -> String {
        let mut args = FluentArgs::new();
        for (name, value) in pairs {
            args.set((*name).to_owned(), (*value).to_owned());
        }
        self.catalogue.format(&self.lang, key, Some(&args))
    }

    /// "N likes · M boosts".
    pub fn update_counts(&self, likes: i64, shares: i64) -> String {
        let mut args = FluentArgs::new();
        args.set("likes", likes);
        args.set("shares", shares);
        self.catalogue.format(&self.lang, "update-counts", Some(&args))
    }

    /// A message with a count (plural forms); `n` is any number.
    pub fn count(&self, key: &str, n: impl std::fmt::Display) -> String {
        let mut args = FluentArgs::new();
        args.set("count", n.to_string().parse::<f64>().unwrap_or(0.0));
        self.catalogue.format(&self.lang, key, Some(&args))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_format_with_arguments_and_plurals() {
        let t = T::new(Arc::new(Catalogue::load().unwrap()), "en");
        assert_eq!(t.count("directory-total", 1), "1 organisation");
        assert_eq!(t.count("directory-total", 3), "3 organisations");
        assert_eq!(t.get("no-such-key"), "no-such-key");
        assert_eq!(
            T::new(Arc::new(Catalogue::load().unwrap()), "fr").get("nav-directory"),
            "Directory",
            "falls back to English"
        );
    }

    #[test]
    fn every_key_the_templates_use_exists() {
        let catalogue = Catalogue::load().unwrap();
        let t = T::new(Arc::new(catalogue), "en");
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/web/templates");
        for entry in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for part in text.split("t.").skip(1) {
                let Some(rest) = part
                    .strip_prefix("get(\"")
                    .or_else(|| part.strip_prefix("with(\""))
                    .or_else(|| part.strip_prefix("count(\""))
                else {
                    continue;
                };
                let key = &rest[..rest.find('"').unwrap()];
                assert_ne!(t.get(key), key, "{key} is missing from locales/en.ftl");
            }
        }
    }
}
