//! Vocabularies: themes (What), organisation kinds, ways of working (How), engagement offers,
//! communities served (Who), and ISO 3166 places. The starter lists ship in `vocab/*.csv`; an
//! operator adds or renames terms by putting files of the same names in `UNDERSTORY_VOCAB_DIR`
//! (rows with a known code rename it, new codes are added), without a code change.

use std::{collections::HashMap, path::Path};

/// One term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// The code (a slug, a hashtag-shaped theme, or an ISO 3166 code).
    pub code: String,
    /// Human label.
    pub label: String,
    /// A crosswalk: SDG goals for themes (`;`-separated), IATI type for kinds.
    pub extra: String,
    /// Other names for search, never shown as the label: ISO 3166-2 lists local-language
    /// names in brackets (`Wales [Cymru GB-CYM]`): the label is `Wales`, `Cymru` an alias.
    pub aliases: Vec<String>,
}

/// Splits an ISO 3166-2 style name, `Wales [Cymru GB-CYM]`, into the name people read
/// (`Wales`), the other names (`Cymru`) and the alternative codes (`GB-CYM`). A lowercase note
/// in the brackets (`[city]`) is dropped.
pub fn split_label(raw: &str) -> (&str, Vec<String>, Vec<String>) {
    let raw = raw.trim();
    let Some(open) = raw.rfind(" [").filter(|_| raw.ends_with(']')) else {
        return (raw, Vec::new(), Vec::new());
    };
    let label = raw[..open].trim();
    let inside = &raw[open + 2..raw.len() - 1];
    let is_code = |t: &str| {
        t.split_once('-').is_some_and(|(a, b)| {
            a.len() == 2
                && a.chars().all(|c| c.is_ascii_uppercase())
                && (1..=3).contains(&b.len())
                && b.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        })
    };
    let codes: Vec<String> = inside
        .split_whitespace()
        .filter(|t| is_code(t))
        .map(str::to_owned)
        .collect();
    let name = inside
        .split_whitespace()
        .filter(|t| !is_code(t))
        .collect::<Vec<_>>()
        .join(" ");
    let aliases = if name.is_empty() || name == label || name.chars().all(|c| c.is_lowercase()) {
        Vec::new()
    } else {
        vec![name]
    };
    (label, aliases, codes)
}

/// An ordered list of terms with lookup by code (case-insensitive).
#[derive(Debug, Clone, Default)]
pub struct Terms {
    terms: Vec<Term>,
    by_code: HashMap<String, usize>,
}

impl Terms {
    fn parse(text: &str) -> Result<Self, String> {
        let mut terms = Self::default();
        terms.merge(text)?;
        Ok(terms)
    }

    fn merge(&mut self, text: &str) -> Result<(), String> {
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
        for (i, row) in reader.records().enumerate() {
            let row = row.map_err(|e| format!("line {}: {e}", i + 2))?;
            let code = row.get(0).unwrap_or("").trim();
            let label = row.get(1).unwrap_or("").trim();
            if code.is_empty() || label.is_empty() {
                return Err(format!("line {}: code and label are required", i + 2));
            }
            let (label, aliases, other_codes) = split_label(label);
            let term = Term {
                code: code.to_owned(),
                label: label.to_owned(),
                extra: row.get(2).unwrap_or("").trim().to_owned(),
                aliases,
            };
            let at = match self.by_code.get(&code.to_ascii_lowercase()) {
                Some(&at) => {
                    self.terms[at] = term;
                    at
                }
                None => {
                    self.by_code.insert(code.to_ascii_lowercase(), self.terms.len());
                    self.terms.push(term);
                    self.terms.len() - 1
                }
            };
            // An alternative code (GB-CYM for Wales) finds the same term, unless it is a term of its own.
            for other in other_codes {
                self.by_code.entry(other.to_ascii_lowercase()).or_insert(at);
            }
        }
        Ok(())
    }

    /// The term with this code, matched case-insensitively.
    pub fn get(&self, code: &str) -> Option<&Term> {
        self.by_code.get(&code.to_ascii_lowercase()).map(|&i| &self.terms[i])
    }

    /// The label of a code, or the code itself when it is not in the list (open vocabularies).
    pub fn label<'a>(&'a self, code: &'a str) -> &'a str {
        self.get(code).map_or(code, |t| t.label.as_str())
    }

    /// Every term, in file order.
    pub fn all(&self) -> &[Term] {
        &self.terms
    }
}

/// Every vocabulary the profile uses.
#[derive(Debug, Clone)]
pub struct Vocab {
    /// Expertise themes (open: organisations may add their own).
    pub themes: Terms,
    /// Organisation kinds.
    pub kinds: Terms,
    /// Ways of working.
    pub ways: Terms,
    /// Engagement offers.
    pub offers: Terms,
    /// Communities served.
    pub communities: Terms,
    /// ISO 3166-1 countries and ISO 3166-2 subdivisions.
    pub places: Terms,
}

const FILES: [(&str, &str); 6] = [
    ("themes.csv", include_str!("../../vocab/themes.csv")),
    ("kinds.csv", include_str!("../../vocab/kinds.csv")),
    ("ways.csv", include_str!("../../vocab/ways.csv")),
    ("offers.csv", include_str!("../../vocab/offers.csv")),
    ("communities.csv", include_str!("../../vocab/communities.csv")),
    ("places.csv", include_str!("../../vocab/places.csv")),
];

impl Vocab {
    /// The starter vocabularies, with the operator's files from `dir` merged over them.
    pub fn load(dir: Option<&Path>) -> Result<Self, String> {
        let mut lists = Vec::with_capacity(FILES.len());
        for (name, builtin) in FILES {
            let mut terms = Terms::parse(builtin).map_err(|e| format!("built-in {name}: {e}"))?;
            if let Some(dir) = dir {
                let path = dir.join(name);
                if path.exists() {
                    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                    terms.merge(&text).map_err(|e| format!("{}: {e}", path.display()))?;
                }
            }
            lists.push(terms);
        }
        let mut it = lists.into_iter();
        let mut next = || it.next().unwrap_or_default();
        Ok(Self {
            themes: next(),
            kinds: next(),
            ways: next(),
            offers: next(),
            communities: next(),
            places: next(),
        })
    }

    /// The starter vocabularies only.
    pub fn builtin() -> Self {
        Self::load(None).unwrap_or_else(|_| Self {
            themes: Terms::default(),
            kinds: Terms::default(),
            ways: Terms::default(),
            offers: Terms::default(),
            communities: Terms::default(),
            places: Terms::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starter_lists_load_with_the_issue_slugs() {
        let v = Vocab::builtin();
        assert!(v.themes.get("HousingAndHomelessness").is_some());
        assert!(v.themes.get("digitalinclusion").is_some(), "case-insensitive");
        assert!(v.ways.get("advocacy-and-campaigning").is_some());
        assert!(v.ways.get("research-and-evidence").is_some());
        assert!(v.offers.get("co-design").is_some() && v.offers.get("research-partnership").is_some());
        for kind in [
            "charity",
            "ngo",
            "community-group",
            "social-enterprise",
            "network",
            "funder",
            "research-institute",
        ] {
            assert!(v.kinds.get(kind).is_some(), "{kind}");
        }
        assert_eq!(v.places.get("GB").unwrap().label, "United Kingdom");
        let wales = v.places.get("GB-WLS").unwrap();
        assert_eq!(
            (wales.label.as_str(), wales.aliases.clone()),
            ("Wales", vec!["Cymru".to_owned()])
        );
        assert_eq!(v.places.get("gb-cym").unwrap().code, "GB-WLS");
        assert_eq!(v.places.get("YE-SA").unwrap().aliases, Vec::<String>::new());
        assert_eq!(v.places.get("SE-AB").unwrap().label, "Stockholms län");
        assert!(
            v.places.all().iter().all(|t| !t.label.contains('[')),
            "no bracketed label is left"
        );
        assert!(v.places.get("GB-MAN").is_some());
        assert!(v.places.all().len() > 5000);
    }

    #[test]
    fn an_operator_renames_and_adds_terms() {
        let dir = std::env::temp_dir().join(format!("vocab-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("themes.csv"),
            "code,label,sdg\nHealth,Health and wellbeing,3\nSportForGood,Sport for good,3\n",
        )
        .unwrap();
        let v = Vocab::load(Some(&dir)).unwrap();
        assert_eq!(v.themes.label("Health"), "Health and wellbeing");
        assert!(v.themes.get("SportForGood").is_some());
        std::fs::write(dir.join("ways.csv"), "code,label\nbroken\n").unwrap();
        assert!(Vocab::load(Some(&dir)).unwrap_err().contains("ways.csv"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
