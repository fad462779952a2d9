//! The expertise profile (reference/civil-society-directory.md section 1.10.2): what an
//! organisation fills in by hand, validated field by field against the vocabularies.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{language_tag, plain_text, vocab::Vocab};

/// Most values in one list field.
pub const MAX_ITEMS: usize = 20;
/// Employee and volunteer size bands.
pub const SIZE_BANDS: [&str; 6] = ["0", "1-9", "10-49", "50-249", "250-999", "1000+"];
/// Offer terms.
pub const OFFER_TERMS: [&str; 3] = ["paid", "expenses", "pro-bono"];
/// Offer capacity.
pub const OFFER_CAPACITY: [&str; 3] = ["open", "limited", "closed"];
/// Policy kinds.
pub const POLICY_KINDS: [&str; 5] = [
    "safeguarding",
    "research-ethics",
    "privacy",
    "publishing-principles",
    "ethics",
];
/// Reach: where an organisation is listed (DESIGN.md section 7).
pub const LISTED_IN: [&str; 4] = ["none", "home", "network", "public"];

/// A place served: an ISO 3166 code, or free text for places codes do not name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Place {
    /// ISO 3166-1 alpha-2 or ISO 3166-2 code, uppercase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The place's name (from the vocabulary for codes). Names stored before the vocabulary
    /// dropped ISO 3166-2's bracketed alternatives (`Wales [Cymru GB-CYM]`) read as `Wales`.
    #[serde(default, deserialize_with = "place_name")]
    pub name: String,
}

fn place_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let raw = <String as serde::Deserialize>::deserialize(d)?;
    Ok(crate::domain::vocab::split_label(&raw).0.to_owned())
}

impl Place {
    /// The country a place lies in, if coded.
    pub fn country(&self) -> Option<&str> {
        self.code.as_deref().map(|c| c.split('-').next().unwrap_or(c))
    }
}

/// Something partners may ask for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Offer {
    /// Offer code from the vocabulary.
    pub code: String,
    /// `paid`, `expenses` or `pro-bono`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terms: Option<String>,
    /// `open`, `limited` or `closed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<String>,
    /// Where to ask.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// A role contact (never a person's private address).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// What the contact is for: `partnerships`, `press`, `general`, ...
    pub role: String,
    /// Role email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Contact form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// A named link (networks, memberships).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// Name.
    pub name: String,
    /// Address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// A published policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// One of [`POLICY_KINDS`].
    pub kind: String,
    /// Where it is published.
    pub url: String,
}

/// The structured profile, stored as JSON beside the organisation's name and summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Profile {
    /// Organisation kinds.
    pub kinds: Vec<String>,
    /// Expertise themes (hashtag-shaped; starter codes or the organisation's own).
    pub themes: Vec<String>,
    /// Communities served.
    pub communities: Vec<String>,
    /// Places served.
    pub places: Vec<Place>,
    /// Ways of working.
    pub ways_of_working: Vec<String>,
    /// Engagement offers.
    pub offers: Vec<Offer>,
    /// BCP 47 languages.
    pub languages: Vec<String>,
    /// org-id.guide identifiers such as `GB-CHC-1234567`.
    pub identifiers: Vec<String>,
    /// Website (https).
    pub website: Option<String>,
    /// Role contacts.
    pub contacts: Vec<Contact>,
    /// Year founded.
    pub founding_year: Option<i32>,
    /// Employees band.
    pub employees: Option<String>,
    /// Volunteers band.
    pub volunteers: Option<String>,
    /// Networks and memberships.
    pub networks: Vec<Link>,
    /// Policies.
    pub policies: Vec<Policy>,
    /// Name per language.
    pub name_map: BTreeMap<String, String>,
    /// Summary per language.
    pub summary_map: BTreeMap<String, String>,
}

/// The input form of places and offers: a bare string or the full object.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum PlaceInput {
    /// `"GB-MAN"` or `"Salford"`.
    Text(String),
    /// `{code?, name}`.
    Full(Place),
}

/// An offer as given: a code, or the full object.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OfferInput {
    /// `"advisory"`.
    Code(String),
    /// `{code, terms?, capacity?, url?}`.
    Full(Offer),
}

/// The profile as staff send it (API, profile files, CSV rows), before validation.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProfileInput {
    /// See [`Profile`].
    pub kinds: Vec<String>,
    /// See [`Profile`].
    pub themes: Vec<String>,
    /// See [`Profile`].
    pub communities: Vec<String>,
    /// See [`Profile`].
    pub places: Vec<PlaceInput>,
    /// See [`Profile`].
    pub ways_of_working: Vec<String>,
    /// See [`Profile`].
    pub offers: Vec<OfferInput>,
    /// See [`Profile`].
    pub languages: Vec<String>,
    /// See [`Profile`].
    pub identifiers: Vec<String>,
    /// See [`Profile`].
    pub website: Option<String>,
    /// See [`Profile`].
    pub contacts: Vec<Contact>,
    /// See [`Profile`].
    pub founding_year: Option<i32>,
    /// See [`Profile`].
    pub employees: Option<String>,
    /// See [`Profile`].
    pub volunteers: Option<String>,
    /// See [`Profile`].
    pub networks: Vec<Link>,
    /// See [`Profile`].
    pub policies: Vec<Policy>,
    /// See [`Profile`].
    pub name_map: BTreeMap<String, String>,
    /// See [`Profile`].
    pub summary_map: BTreeMap<String, String>,
}

/// Every problem found, each naming its field (`themes[2]: ...`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.join("; "))]
pub struct ProfileErrors(pub Vec<String>);

/// Whether `tag` can be a Mastodon hashtag: letters, digits, `_`, not only digits, 2-60 long.
pub fn is_hashtag(tag: &str) -> bool {
    (2..=60).contains(&tag.chars().count())
        && tag.chars().all(|c| c.is_alphanumeric() || c == '_')
        && !tag.chars().all(|c| c.is_ascii_digit())
}

/// Whether `id` has the shape of an org-id.guide identifier: `XX-LIST-identifier`.
pub fn is_org_id(id: &str) -> bool {
    let mut parts = id.splitn(3, '-');
    let (Some(country), Some(list), Some(rest)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    country.len() == 2
        && country.chars().all(|c| c.is_ascii_uppercase())
        && (2..=10).contains(&list.len())
        && list.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        && !rest.is_empty()
        && rest.len() <= 60
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '/' | '_'))
}

fn check_url(field: &str, raw: &str, errors: &mut Vec<String>) -> Option<String> {
    match url::Url::parse(raw.trim()) {
        Ok(u) if matches!(u.scheme(), "https" | "http") && u.host_str().is_some() && u.username().is_empty() => {
            Some(u.to_string())
        }
        _ => {
            errors.push(format!("{field}: {raw:?} is not an http(s) URL"));
            None
        }
    }
}

fn check_email(field: &str, raw: &str, errors: &mut Vec<String>) -> Option<String> {
    let e = raw.trim().to_lowercase();
    let ok = e.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.'))
        && !e
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '<' | '>' | ',' | ';'))
        && e.len() <= 254;
    if ok {
        Some(e)
    } else {
        errors.push(format!("{field}: {raw:?} is not an email address"));
        None
    }
}

fn codes(
    field: &str,
    items: &[String],
    known: impl Fn(&str) -> Option<String>,
    errors: &mut Vec<String>,
) -> Vec<String> {
    if items.len() > MAX_ITEMS {
        errors.push(format!("{field}: at most {MAX_ITEMS} values, got {}", items.len()));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, raw) in items.iter().enumerate() {
        let raw = raw.trim();
        match known(raw) {
            Some(code) if !out.contains(&code) => out.push(code),
            Some(_) => {}
            None => errors.push(format!("{field}[{i}]: unknown code {raw:?}")),
        }
    }
    out
}

impl ProfileInput {
    /// Validates every field against `vocab`; returns the profile or every problem found.
    pub fn validate(&self, vocab: &Vocab) -> Result<Profile, ProfileErrors> {
        let mut errors = Vec::new();
        let e = &mut errors;
        let kinds = codes("kinds", &self.kinds, |c| vocab.kinds.get(c).map(|t| t.code.clone()), e);
        let themes = codes(
            "themes",
            &self.themes,
            |c| {
                let c = c.trim_start_matches('#');
                vocab
                    .themes
                    .get(c)
                    .map(|t| t.code.clone())
                    .or_else(|| is_hashtag(c).then(|| c.to_owned()))
            },
            e,
        );
        let communities = codes(
            "communities",
            &self.communities,
            |c| vocab.communities.get(c).map(|t| t.code.clone()),
            e,
        );
        let ways_of_working = codes(
            "ways_of_working",
            &self.ways_of_working,
            |c| vocab.ways.get(c).map(|t| t.code.clone()),
            e,
        );
        let places = self.places(vocab, e);
        let offers = self.offers(vocab, e);
        let languages = codes("languages", &self.languages, |c| language_tag(c).ok(), e);
        let identifiers = codes(
            "identifiers",
            &self.identifiers,
            |c| is_org_id(c).then(|| c.to_owned()),
            e,
        );
        let website = self
            .website
            .as_deref()
            .filter(|w| !w.trim().is_empty())
            .and_then(|w| check_url("website", w, e));
        if self.contacts.len() > MAX_ITEMS {
            e.push(format!("contacts: at most {MAX_ITEMS}"));
        }
        let mut contacts = Vec::new();
        for (i, c) in self.contacts.iter().enumerate() {
            let role = plain_text("role", &c.role, 40, true)
                .map_err(|err| e.push(format!("contacts[{i}].{err}")))
                .ok();
            let email = c
                .email
                .as_deref()
                .and_then(|m| check_email(&format!("contacts[{i}].email"), m, e));
            let url = c
                .url
                .as_deref()
                .and_then(|u| check_url(&format!("contacts[{i}].url"), u, e));
            if email.is_none() && url.is_none() && c.email.is_none() && c.url.is_none() {
                e.push(format!("contacts[{i}]: give an email or a url"));
            }
            if let Some(role) = role {
                contacts.push(Contact { role, email, url });
            }
        }
        if let Some(year) = self.founding_year
            && !(1000..=2100).contains(&year)
        {
            e.push(format!("founding_year: {year} is not a year"));
        }
        for (field, band) in [("employees", &self.employees), ("volunteers", &self.volunteers)] {
            if let Some(b) = band
                && !SIZE_BANDS.contains(&b.as_str())
            {
                e.push(format!("{field}: {b:?} must be one of {}", SIZE_BANDS.join(", ")));
            }
        }
        let networks = self.networks(e);
        let policies = self.policies(e);
        let name_map = Self::language_map("name_map", &self.name_map, 100, e);
        let summary_map = Self::language_map("summary_map", &self.summary_map, 2000, e);
        if !errors.is_empty() {
            return Err(ProfileErrors(errors));
        }
        Ok(Profile {
            kinds,
            themes,
            communities,
            places,
            ways_of_working,
            offers,
            languages,
            identifiers,
            website,
            contacts,
            founding_year: self.founding_year,
            employees: self.employees.clone(),
            volunteers: self.volunteers.clone(),
            networks,
            policies,
            name_map,
            summary_map,
        })
    }

    fn places(&self, vocab: &Vocab, e: &mut Vec<String>) -> Vec<Place> {
        if self.places.len() > MAX_ITEMS {
            e.push(format!("places: at most {MAX_ITEMS} values"));
        }
        let mut out: Vec<Place> = Vec::new();
        for (i, p) in self.places.iter().enumerate() {
            let place = match p {
                PlaceInput::Text(t) => parse_place(t, vocab),
                PlaceInput::Full(Place { code: Some(code), .. }) => vocab.places.get(code).map(|t| Place {
                    code: Some(t.code.clone()),
                    name: t.label.clone(),
                }),
                PlaceInput::Full(Place { code: None, name }) => parse_place(name, vocab),
            };
            match place {
                Some(place) if !out.contains(&place) => out.push(place),
                Some(_) => {}
                None => e.push(format!("places[{i}]: not an ISO 3166 code or a place name")),
            }
        }
        out
    }

    fn offers(&self, vocab: &Vocab, e: &mut Vec<String>) -> Vec<Offer> {
        let mut out: Vec<Offer> = Vec::new();
        for (i, o) in self.offers.iter().enumerate() {
            let offer = match o {
                OfferInput::Code(c) => Offer {
                    code: c.clone(),
                    terms: None,
                    capacity: None,
                    url: None,
                },
                OfferInput::Full(o) => o.clone(),
            };
            let Some(term) = vocab.offers.get(offer.code.trim()) else {
                e.push(format!("offers[{i}]: unknown code {:?}", offer.code));
                continue;
            };
            if offer.terms.as_deref().is_some_and(|t| !OFFER_TERMS.contains(&t)) {
                e.push(format!("offers[{i}].terms: must be one of {}", OFFER_TERMS.join(", ")));
            }
            if offer.capacity.as_deref().is_some_and(|c| !OFFER_CAPACITY.contains(&c)) {
                e.push(format!(
                    "offers[{i}].capacity: must be one of {}",
                    OFFER_CAPACITY.join(", ")
                ));
            }
            let url = offer
                .url
                .as_deref()
                .and_then(|u| check_url(&format!("offers[{i}].url"), u, e));
            if !out.iter().any(|x| x.code == term.code) {
                out.push(Offer {
                    code: term.code.clone(),
                    url,
                    ..offer
                });
            }
        }
        if out.len() > MAX_ITEMS {
            e.push(format!("offers: at most {MAX_ITEMS} values"));
        }
        out
    }

    fn networks(&self, e: &mut Vec<String>) -> Vec<Link> {
        let mut out = Vec::new();
        for (i, n) in self.networks.iter().take(MAX_ITEMS).enumerate() {
            match plain_text("name", &n.name, 200, true) {
                Ok(name) => {
                    let url = n
                        .url
                        .as_deref()
                        .and_then(|u| check_url(&format!("networks[{i}].url"), u, e));
                    out.push(Link { name, url });
                }
                Err(err) => e.push(format!("networks[{i}].{err}")),
            }
        }
        out
    }

    fn policies(&self, e: &mut Vec<String>) -> Vec<Policy> {
        let mut out = Vec::new();
        for (i, p) in self.policies.iter().take(MAX_ITEMS).enumerate() {
            if !POLICY_KINDS.contains(&p.kind.as_str()) {
                e.push(format!(
                    "policies[{i}].kind: must be one of {}",
                    POLICY_KINDS.join(", ")
                ));
                continue;
            }
            if let Some(url) = check_url(&format!("policies[{i}].url"), &p.url, e) {
                out.push(Policy {
                    kind: p.kind.clone(),
                    url,
                });
            }
        }
        out
    }

    fn language_map(
        field: &str,
        map: &BTreeMap<String, String>,
        max: usize,
        e: &mut Vec<String>,
    ) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (lang, text) in map {
            match (language_tag(lang), plain_text("text", text, max, true)) {
                (Ok(l), Ok(t)) => {
                    out.insert(l, t);
                }
                (Err(err), _) => e.push(format!("{field}.{lang}: {err}")),
                (_, Err(err)) => e.push(format!("{field}.{lang}: {err}")),
            }
        }
        out
    }
}

/// A place from text: a known ISO 3166 code (any case), or free text.
pub fn parse_place(raw: &str, vocab: &Vocab) -> Option<Place> {
    let raw = raw.trim();
    let looks_like_code = raw.len() <= 6
        && raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && raw.chars().take(2).all(|c| c.is_ascii_alphabetic());
    if looks_like_code && let Some(term) = vocab.places.get(raw) {
        return Some(Place {
            code: Some(term.code.clone()),
            name: term.label.clone(),
        });
    }
    plain_text("place", raw, 100, true)
        .ok()
        .map(|name| Place { code: None, name })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab() -> Vocab {
        Vocab::builtin()
    }

    #[test]
    fn a_rich_profile_validates_and_normalises() {
        let input: ProfileInput = serde_json::from_value(serde_json::json!({
            "kinds": ["charity"], "themes": ["#housingandhomelessness", "DigitalInclusion", "DampAndMould"],
            "communities": ["social-housing-tenants"], "places": ["gb-man", "Salford", {"code": "GB"}],
            "ways_of_working": ["community-organising"], "offers": ["advisory", {"code": "user-research-with-consent", "terms": "paid", "capacity": "limited"}],
            "languages": ["en", "PL"], "identifiers": ["GB-CHC-1234567"], "website": "https://tenants.example",
            "contacts": [{"role": "partnerships", "email": "Partners@Tenants.example"}], "founding_year": 2014,
            "employees": "1-9", "name_map": {"cy": "Undeb Tenantiaid"}
        }))
        .unwrap();
        let p = input.validate(&vocab()).unwrap();
        assert_eq!(
            p.themes,
            vec!["HousingAndHomelessness", "DigitalInclusion", "DampAndMould"]
        );
        assert_eq!(
            p.places[0],
            Place {
                code: Some("GB-MAN".into()),
                name: "Manchester".into()
            }
        );
        assert_eq!(
            p.places[1],
            Place {
                code: None,
                name: "Salford".into()
            }
        );
        assert_eq!(p.places[2].country(), Some("GB"));
        assert_eq!(p.languages, vec!["en", "pl"]);
        assert_eq!(p.contacts[0].email.as_deref(), Some("partners@tenants.example"));
    }

    #[test]
    fn each_bad_field_is_named() {
        let input: ProfileInput = serde_json::from_value(serde_json::json!({
            "kinds": ["alien"], "themes": ["not a tag"], "identifiers": ["1234567"], "website": "javascript:alert(1)",
            "offers": [{"code": "advisory", "terms": "free beer"}], "languages": ["english please"],
            "founding_year": 99999, "employees": "lots", "contacts": [{"role": "x", "email": "nope"}],
            "places": ["<b>x</b>"]
        }))
        .unwrap();
        let errors = input.validate(&vocab()).unwrap_err().0;
        for field in [
            "kinds[0]",
            "themes[0]",
            "identifiers[0]",
            "website",
            "offers[0].terms",
            "languages[0]",
            "founding_year",
            "employees",
            "contacts[0].email",
            "places[0]",
        ] {
            assert!(
                errors.iter().any(|e| e.starts_with(field)),
                "{field} not named in {errors:?}"
            );
        }
        let too_many = ProfileInput {
            themes: (0..21).map(|i| format!("Theme{i}")).collect(),
            ..Default::default()
        };
        assert!(too_many.validate(&vocab()).unwrap_err().0[0].starts_with("themes: at most 20"));
        assert!(serde_json::from_value::<ProfileInput>(serde_json::json!({"colour": "red"})).is_err());
    }

    #[test]
    fn org_ids_are_shape_checked() {
        for ok in [
            "GB-CHC-1234567",
            "GB-COH-01234567",
            "XI-IATI-ABC.1",
            "US-EIN-12-3456789",
        ] {
            assert!(is_org_id(ok), "{ok}");
        }
        for bad in ["", "GB", "GB-CHC", "gb-chc-1", "GB-CHC-12 34", "GBR-CHC-1"] {
            assert!(!is_org_id(bad), "{bad}");
        }
    }
}
