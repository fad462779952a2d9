//! Directory benchmark: generates N synthetic organisations with realistic distributions,
//! imports them through the same path as `understory org import`, starts a real server and
//! measures search latency over HTTP for a fixed mix of queries.
//!
//!     cargo bench --bench directory -- [--orgs 100000] [--queries 400] [--database postgres://...]
//!
//! The mix: 25% a country facet matching at least a quarter of organisations, 25% one theme
//! (about a tenth), 25% one or two realistic words, 25% three facets together. Each query runs
//! without counts (results) and with exact facet counts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use tokio_util::sync::CancellationToken;
use understory::{
    app::{App, AppOptions},
    clock::Clock,
    config::Config,
    service::{self, audit::Who, keys::KeySource, open_data},
    store::Db,
};

const THEMES: [&str; 24] = [
    "HousingAndHomelessness",
    "DigitalInclusion",
    "MentalHealth",
    "Health",
    "EducationAndSkills",
    "PovertyAndIncome",
    "MigrationAndRefugees",
    "ChildrenAndYouth",
    "AgeingAndCare",
    "EnergyAndClimate",
    "Environment",
    "HumanRights",
    "GenderEquality",
    "DisabilityRights",
    "RacialJustice",
    "FoodJustice",
    "CommunityDevelopment",
    "ArtsCultureHeritage",
    "WorkAndLivelihoods",
    "JusticeSystem",
    "DigitalRights",
    "PrivacyAndData",
    "OnlineSafety",
    "AIandSociety",
];
const WORDS: [&str; 24] = [
    "housing",
    "digital",
    "mental",
    "health",
    "skills",
    "poverty",
    "refugee",
    "youth",
    "care",
    "climate",
    "nature",
    "rights",
    "women",
    "disability",
    "racial",
    "food",
    "community",
    "arts",
    "employment",
    "justice",
    "privacy",
    "data",
    "safety",
    "technology",
];
const KINDS: [&str; 8] = [
    "charity",
    "charity",
    "charity",
    "community-group",
    "community-group",
    "ngo",
    "social-enterprise",
    "funder",
];
const COUNTRIES: [&str; 6] = ["FR", "DE", "KE", "IN", "BR", "US"];
const GB_REGIONS: [&str; 6] = ["GB-MAN", "GB-LND", "GB-BIR", "GB-LDS", "GB-GLG", "GB-CRF"];
const OFFERS: [&str; 6] = [
    "advisory",
    "co-design",
    "research-partnership",
    "user-research-with-consent",
    "data-partnership",
    "speaking-and-training",
];
const WAYS: [&str; 6] = [
    "direct-service-delivery",
    "research-and-evidence",
    "advocacy-and-campaigning",
    "community-organising",
    "programme-design",
    "fieldwork-and-outreach",
];
const LANGS: [&str; 5] = ["en", "en", "fr", "cy", "pl"];

/// Makes the query string of one benchmark query.
type QueryMaker = Box<dyn Fn(&mut Rng) -> String>;

/// A small deterministic generator (xorshift), so every run generates the same data.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// Skewed towards the start of a list (a rough Zipf).
    fn skewed(&mut self, n: usize) -> usize {
        let a = self.below(n);
        let b = self.below(n);
        a.min(b)
    }
}

fn generate(n: usize) -> (String, Vec<usize>) {
    let mut rng = Rng(0x5eed_1234_abcd_9876);
    let mut csv = String::from(
        "handle,name,summary,kind,themes,places,ways_of_working,offers,languages,website,identifiers,discoverable\n",
    );
    let mut theme_counts = vec![0; THEMES.len()];
    for i in 0..n {
        let mut themes: Vec<usize> = (0..1 + rng.below(3)).map(|_| rng.skewed(THEMES.len())).collect();
        themes.sort_unstable();
        themes.dedup();
        for t in &themes {
            theme_counts[*t] += 1;
        }
        let places = if rng.below(100) < 35 {
            GB_REGIONS[rng.below(GB_REGIONS.len())].to_owned()
        } else {
            COUNTRIES[rng.skewed(COUNTRIES.len())].to_owned()
        };
        let w1 = WORDS[themes[0]];
        let w2 = WORDS[rng.below(WORDS.len())];
        let summary = format!("We work on {w1} and {w2} with local people and we share what we learn.");
        let offers: Vec<&str> = (0..rng.below(3))
            .map(|_| OFFERS[rng.below(OFFERS.len())])
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        csv.push_str(&format!(
            "org{i},Organisation {i} {w1},{summary},{},{},{places},{},{},{},,,true\n",
            KINDS[rng.below(KINDS.len())],
            themes.iter().map(|t| THEMES[*t]).collect::<Vec<_>>().join(";"),
            WAYS[rng.skewed(WAYS.len())],
            offers.join(";"),
            LANGS[rng.below(LANGS.len())],
        ));
    }
    (csv, theme_counts)
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let n: usize = arg("--orgs").and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let queries: usize = arg("--queries").and_then(|v| v.parse().ok()).unwrap_or(400);
    let dir = tempfile::tempdir().unwrap();
    let mut cleanup: Option<(Db, String)> = None;
    let (db, label) = match arg("--database") {
        Some(url) if url.starts_with("postgres") => {
            let schema = format!("bench_{}", service::token());
            let admin = Db::connect(&url).await.unwrap();
            if let Db::Postgres(pool) = &admin {
                sqlx::query(&format!("create schema {schema}"))
                    .execute(pool)
                    .await
                    .unwrap();
            }
            cleanup = Some((admin, schema.clone()));
            (Db::connect_postgres_schema(&url, &schema).await.unwrap(), "PostgreSQL")
        }
        _ => (
            Db::connect(&format!("sqlite://{}", dir.path().join("bench.db").display()))
                .await
                .unwrap(),
            "SQLite",
        ),
    };
    db.migrate().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = Config::for_url(&format!("http://localhost:{port}"), "sqlite::memory:").unwrap();
    let app = App::build(
        config,
        db,
        listener,
        AppOptions {
            clock: Clock::System,
            keys: KeySource::Generate,
            workers: false,
        },
    )
    .await
    .unwrap();
    let state = app.state().clone();

    println!("directory benchmark: {n} organisations on {label}, {queries} queries per kind");
    let (csv, theme_counts) = generate(n);
    let started = Instant::now();
    let checked = open_data::check_csv(&state, csv.as_bytes()).await.unwrap();
    assert!(
        checked.errors.is_empty(),
        "{:?}",
        &checked.errors[..checked.errors.len().min(5)]
    );
    let bar = ProgressBar::new(n as u64);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} imported ({per_sec})") {
        bar.set_style(style);
    }
    open_data::import(&state, &Who::Cli, &checked.rows, |w| bar.set_position(w as u64))
        .await
        .unwrap();
    bar.finish_and_clear();
    let import_s = started.elapsed().as_secs_f64();
    println!(
        "import: {n} organisations in {import_s:.1} s ({:.0}/s), no keys made",
        n as f64 / import_s
    );

    let stop = CancellationToken::new();
    tokio::spawn(app.run(stop.clone()));
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}/api/understory/v1/directory");
    let started = Instant::now();
    let warm: serde_json::Value = client
        .get(format!("{base}?limit=1"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    println!(
        "first query (builds the in-memory index): {:.0} ms, total {}",
        started.elapsed().as_secs_f64() * 1000.0,
        warm["total"]
    );

    let tenth = (0..THEMES.len())
        .min_by_key(|i| (theme_counts[*i] as i64 - n as i64 / 10).abs())
        .unwrap();
    let mut rng = Rng(42);
    let kinds: [(&str, QueryMaker); 4] = [
        ("country facet", Box::new(|_| "place=GB".to_owned())),
        ("one theme", Box::new(move |_| format!("theme={}", THEMES[tenth]))),
        (
            "free text",
            Box::new(|r: &mut Rng| {
                if r.below(2) == 0 {
                    format!("q={}", WORDS[r.below(WORDS.len())])
                } else {
                    format!("q={}+{}", WORDS[r.below(8)], WORDS[r.below(WORDS.len())])
                }
            }),
        ),
        (
            "three facets",
            Box::new(|r: &mut Rng| {
                format!(
                    "theme={}&place=GB&kind={}",
                    THEMES[r.skewed(8)],
                    KINDS[r.below(KINDS.len())]
                )
            }),
        ),
    ];
    let mut all_results = Vec::new();
    let mut all_counts = Vec::new();
    println!(
        "{:<14} {:>9} {:>12} {:>12} {:>16} {:>16}",
        "query", "matches", "p50 results", "p99 results", "p50 with counts", "p99 with counts"
    );
    for (name, make) in &kinds {
        let mut results = Vec::new();
        let mut counts = Vec::new();
        let mut matches = 0u64;
        for _ in 0..queries {
            let q = make(&mut rng);
            let t = Instant::now();
            let r = client.get(format!("{base}?{q}&counts=false")).send().await.unwrap();
            let _ = r.bytes().await.unwrap();
            results.push(t.elapsed());
            let t = Instant::now();
            let body: serde_json::Value = client
                .get(format!("{base}?{q}"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            counts.push(t.elapsed());
            matches = matches.max(body["total"].as_u64().unwrap_or(0));
        }
        results.sort();
        counts.sort();
        println!(
            "{name:<14} {matches:>9} {:>9.2} ms {:>9.2} ms {:>13.2} ms {:>13.2} ms",
            percentile(&results, 0.5),
            percentile(&results, 0.99),
            percentile(&counts, 0.5),
            percentile(&counts, 0.99)
        );
        all_results.extend(results);
        all_counts.extend(counts);
    }
    all_results.sort();
    all_counts.sort();
    println!(
        "{:<14} {:>9} {:>9.2} ms {:>9.2} ms {:>13.2} ms {:>13.2} ms",
        "whole mix",
        "",
        percentile(&all_results, 0.5),
        percentile(&all_results, 0.99),
        percentile(&all_counts, 0.5),
        percentile(&all_counts, 0.99)
    );
    println!("targets: p99 results < 10 ms, p99 with counts < 50 ms, import of 100,000 < 60 s");
    stop.cancel();
    if let Some((Db::Postgres(pool), schema)) = cleanup {
        sqlx::query(&format!("drop schema {schema} cascade"))
            .execute(&pool)
            .await
            .unwrap();
    }
}
