//! Shared by the benchmarks: deterministic synthetic organisations and the fixed query mix.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::{
    process::Child,
    time::{Duration, Instant},
};

pub const THEMES: [&str; 24] = [
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
pub const WORDS: [&str; 24] = [
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
pub const KINDS: [&str; 8] = [
    "charity",
    "charity",
    "charity",
    "community-group",
    "community-group",
    "ngo",
    "social-enterprise",
    "funder",
];
pub const COUNTRIES: [&str; 6] = ["FR", "DE", "KE", "IN", "BR", "US"];
pub const GB_REGIONS: [&str; 6] = ["GB-MAN", "GB-LND", "GB-BIR", "GB-LDS", "GB-GLG", "GB-CRF"];
pub const OFFERS: [&str; 6] = [
    "advisory",
    "co-design",
    "research-partnership",
    "user-research-with-consent",
    "data-partnership",
    "speaking-and-training",
];
pub const WAYS: [&str; 6] = [
    "direct-service-delivery",
    "research-and-evidence",
    "advocacy-and-campaigning",
    "community-organising",
    "programme-design",
    "fieldwork-and-outreach",
];
pub const LANGS: [&str; 5] = ["en", "en", "fr", "cy", "pl"];

/// Makes the query string of one benchmark query.
pub type QueryMaker = Box<dyn Fn(&mut Rng) -> String>;

/// A small deterministic generator (xorshift), so every run generates the same data.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// Skewed towards the start of a list (a rough Zipf).
    pub fn skewed(&mut self, n: usize) -> usize {
        let a = self.below(n);
        let b = self.below(n);
        a.min(b)
    }
}

pub fn generate(n: usize) -> (String, Vec<usize>) {
    generate_prefixed(n, "org", 0x5eed_1234_abcd_9876, "true")
}

/// Like [`generate`], with handles `{prefix}{i}`, another seed and a `discoverable` value.
pub fn generate_prefixed(n: usize, prefix: &str, seed: u64, discoverable: &str) -> (String, Vec<usize>) {
    let mut rng = Rng(seed);
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
            "{prefix}{i},Organisation {i} {w1},{summary},{},{},{places},{},{},{},,,{discoverable}\n",
            KINDS[rng.below(KINDS.len())],
            themes.iter().map(|t| THEMES[*t]).collect::<Vec<_>>().join(";"),
            WAYS[rng.skewed(WAYS.len())],
            offers.join(";"),
            LANGS[rng.below(LANGS.len())],
        ));
    }
    (csv, theme_counts)
}

pub fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

pub fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// Runs the fixed mix against `base` (the directory API URL) and prints a table.
pub async fn run_mix(client: &reqwest::Client, base: &str, n: usize, queries: usize, theme_counts: &[usize]) {
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
}

/// Unused marker so `Duration` stays imported for callers' convenience.
pub const TICK: Duration = Duration::from_millis(1);

/// A server process, killed when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A number field of `/proc/{pid}/status` (`VmRSS:`, `VmHWM:` in KiB, `Threads:`); 0 if absent.
pub fn proc_status(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
}

/// A memory field of `/proc/{pid}/status` in MiB.
pub fn proc_mib(pid: u32, field: &str) -> f64 {
    proc_status(pid, field) / 1024.0
}
