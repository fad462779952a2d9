//! Settings: an optional `understory.toml` with `UNDERSTORY_*` environment overrides.
//!
//! Every setting has a default, so `understory serve` runs with no file at all.

use std::{fmt, net::SocketAddr, path::Path};

use serde::Deserialize;
use url::Url;

use crate::http::limit::{Cidr, parse_list};

/// Default public URL: a local-test instance on this machine.
pub const DEFAULT_PUBLIC_URL: &str = "http://localhost:8080";
/// Default listen address.
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
/// Default database: a SQLite file in the working directory, created if missing.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://understory.db";

/// How strictly the instance treats remote addresses (DESIGN.md section 2, three modes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `http://` public URL: http and loopback/private addresses allowed for federation.
    LocalTest,
    /// `https://` public URL: https only, loopback and private addresses refused.
    Production,
    /// Production rules, but private and loopback addresses allowed (closed networks, labs).
    Lab,
}

impl Mode {
    /// Whether outgoing requests may reach loopback and private addresses.
    pub fn allows_private_addresses(self) -> bool {
        matches!(self, Self::LocalTest | Self::Lab)
    }

    /// Whether outgoing requests may use plain http.
    pub fn allows_http(self) -> bool {
        self == Self::LocalTest
    }
}

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// The file form: every key optional, unknown keys refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    public_url: Option<String>,
    bind: Option<String>,
    database_url: Option<String>,
    log_format: Option<LogFormat>,
    allow_private_networks: Option<bool>,
    smtp_url: Option<String>,
    smtp_from: Option<String>,
    vocab_dir: Option<String>,
    peering_policy: Option<String>,
    peer_gossip: Option<bool>,
    peer_gossip_max: Option<usize>,
    media_dir: Option<String>,
    media_cache_max_mb: Option<u64>,
    trusted_proxies: Option<String>,
    rate_limit_exempt: Option<String>,
    extra_ca_file: Option<String>,
    metrics: Option<bool>,
    metrics_allow: Option<String>,
    retain_activity_ids_days: Option<u32>,
    retain_deliveries_days: Option<u32>,
    retain_remote_notes_days: Option<u32>,
    log_client_addresses: Option<bool>,
    authorized_fetch: Option<bool>,
}

/// The instance's settings, resolved from defaults, the file and the environment.
#[derive(Clone)]
pub struct Config {
    /// Scheme, host and port of the instance: the domain of every actor.
    pub public_url: Url,
    /// Address the HTTP server listens on.
    pub bind: SocketAddr,
    /// `sqlite://...` or `postgres://...`.
    pub database_url: String,
    /// Log output format.
    pub log_format: LogFormat,
    /// Allow private addresses with an https public URL (lab mode).
    pub allow_private_networks: bool,
    /// `smtp://` or `smtps://` URL of the mail relay; without it no mail is sent.
    pub smtp_url: Option<String>,
    /// Sender address of mail.
    pub smtp_from: String,
    /// Directory of vocabulary CSV files that add or rename terms.
    pub vocab_dir: Option<std::path::PathBuf>,
    /// How peering requests are answered: `open`, `approval` or `closed`.
    pub peering_policy: String,
    /// Send peering requests to Understory instances our peers list (off by default).
    pub peer_gossip: bool,
    /// Most peering requests gossip sends in all.
    pub peer_gossip_max: usize,
    /// Where uploaded media and the remote-picture cache live.
    pub media_dir: std::path::PathBuf,
    /// Largest total size of cached remote pictures, in bytes.
    pub media_cache_max_bytes: u64,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<Cidr>,
    /// Addresses that are never rate-limited (benchmarks, monitoring).
    pub rate_limit_exempt: Vec<Cidr>,
    /// A PEM bundle of certificate authorities trusted for outgoing TLS besides the system's.
    pub extra_ca_file: Option<std::path::PathBuf>,
    /// The certificates read from `extra_ca_file` (read and checked when the settings load).
    pub extra_ca: Vec<reqwest::Certificate>,
    /// Serve Prometheus metrics at `/metrics`.
    pub metrics: bool,
    /// Client addresses `/metrics` answers.
    pub metrics_allow: Vec<Cidr>,
    /// How long: seen activity ids, delivered outbox rows, received remote notes (0 = keep).
    pub retention: Retention,
    /// Put client IP addresses in request logs.
    pub log_client_addresses: bool,
    /// ActivityPub GETs of organisations, updates and collections need a valid signature from
    /// an unblocked domain (Mastodon's secure mode).
    pub authorized_fetch: bool,
    /// How long a client may take to send request headers before its connection is closed
    /// (`http::server::HEADER_READ_TIMEOUT`; tests shorten it).
    pub header_read_timeout: std::time::Duration,
}

/// Retention periods, in days, applied by the pruning job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Ids of activities received (replays are refused while they are kept).
    pub activity_ids_days: u32,
    /// Outbox rows whose every delivery is done.
    pub deliveries_days: u32,
    /// Replies, mentions and posts received from other servers; 0 keeps them.
    pub remote_notes_days: u32,
}

/// One setting as the configuration reference shows it.
pub struct SettingDoc {
    /// Key in `understory.toml` (empty: environment only).
    pub key: &'static str,
    /// Environment variable.
    pub env: &'static str,
    /// Default, as written in the reference.
    pub default: &'static str,
    /// What it does.
    pub about: &'static str,
}

/// Every setting. `understory config reference` prints it as `docs/operations/configuration.md`
/// and a test keeps the two, the file keys and the environment names in step.
pub const SETTINGS: &[SettingDoc] = &[
    SettingDoc {
        key: "public_url",
        env: "UNDERSTORY_PUBLIC_URL",
        default: DEFAULT_PUBLIC_URL,
        about: "Scheme, host and optional port of the instance: the domain of every actor. `http://` is local-test mode (http and private addresses allowed, with a warning); `https://` is production. Never change it once others follow you.",
    },
    SettingDoc {
        key: "bind",
        env: "UNDERSTORY_BIND",
        default: DEFAULT_BIND,
        about: "Address and port the HTTP server listens on (behind a reverse proxy: a loopback address).",
    },
    SettingDoc {
        key: "database_url",
        env: "UNDERSTORY_DATABASE_URL",
        default: DEFAULT_DATABASE_URL,
        about: "`sqlite://PATH` (created if missing) or `postgres://user:password@host/db` (the database must exist). Tables are created and migrated at start-up. The password is redacted from logs.",
    },
    SettingDoc {
        key: "log_format",
        env: "UNDERSTORY_LOG_FORMAT",
        default: "text",
        about: "`text` or `json` (one object per line, for log collectors).",
    },
    SettingDoc {
        key: "",
        env: "UNDERSTORY_LOG",
        default: "info,sqlx=warn",
        about: "A tracing filter, such as `debug` or `info,understory::delivery=debug`; `tower_http=debug` logs every request.",
    },
    SettingDoc {
        key: "log_client_addresses",
        env: "UNDERSTORY_LOG_CLIENT_ADDRESSES",
        default: "false",
        about: "Put the client's IP address in request log lines. Off, logs carry none (see docs/privacy.md).",
    },
    SettingDoc {
        key: "authorized_fetch",
        env: "UNDERSTORY_AUTHORIZED_FETCH",
        default: "false",
        about: "Require a valid HTTP signature from an unblocked domain on ActivityPub GETs of organisations, their updates and collections (as Mastodon's secure mode), so a domain block also stops that server reading them. The instance actor, WebFinger, NodeInfo and the HTML pages stay open (docs/FEDERATION.md).",
    },
    SettingDoc {
        key: "allow_private_networks",
        env: "UNDERSTORY_ALLOW_PRIVATE_NETWORKS",
        default: "false",
        about: "With an https public URL, let outgoing fetches and deliveries reach loopback and private addresses (labs, closed networks; docs/operations/lab.md). Everything else stays strict; a warning is logged at start-up.",
    },
    SettingDoc {
        key: "extra_ca_file",
        env: "UNDERSTORY_EXTRA_CA_FILE",
        default: "none",
        about: "A PEM bundle of certificate authorities trusted for outgoing TLS in addition to the system's store.",
    },
    SettingDoc {
        key: "smtp_url",
        env: "UNDERSTORY_SMTP_URL",
        default: "none",
        about: "`smtp://user:pass@host:587?tls=required` or `smtps://...`: mail relay for invitations, resets and notifications. Without it no mail is sent and links are printed.",
    },
    SettingDoc {
        key: "smtp_from",
        env: "UNDERSTORY_SMTP_FROM",
        default: "Understory <understory@HOST>",
        about: "Sender of mail.",
    },
    SettingDoc {
        key: "vocab_dir",
        env: "UNDERSTORY_VOCAB_DIR",
        default: "none",
        about: "Directory of vocabulary CSV files that add or rename themes, kinds, ways of working, offers and communities.",
    },
    SettingDoc {
        key: "peering_policy",
        env: "UNDERSTORY_PEERING_POLICY",
        default: "approval",
        about: "How directory peering requests are answered: `open` (accepted), `approval` (an operator decides) or `closed` (rejected).",
    },
    SettingDoc {
        key: "peer_gossip",
        env: "UNDERSTORY_PEER_GOSSIP",
        default: "false",
        about: "Ask Understory instances that our peers list to peer with us.",
    },
    SettingDoc {
        key: "peer_gossip_max",
        env: "UNDERSTORY_PEER_GOSSIP_MAX",
        default: "20",
        about: "Most peering requests gossip sends in all.",
    },
    SettingDoc {
        key: "media_dir",
        env: "UNDERSTORY_MEDIA_DIR",
        default: "media/ beside the SQLite file",
        about: "Uploaded pictures and documents, and the remote-picture cache (`cache/`). For PostgreSQL the default is `media/` in the working directory: set it.",
    },
    SettingDoc {
        key: "media_cache_max_mb",
        env: "UNDERSTORY_MEDIA_CACHE_MAX_MB",
        default: "1024",
        about: "Cap of the remote-picture cache in MiB; the least recently used pictures are evicted.",
    },
    SettingDoc {
        key: "trusted_proxies",
        env: "UNDERSTORY_TRUSTED_PROXIES",
        default: DEFAULT_TRUSTED_PROXIES,
        about: "CIDRs of reverse proxies whose `X-Forwarded-For` is believed (rate limits, metrics access, logs).",
    },
    SettingDoc {
        key: "rate_limit_exempt",
        env: "UNDERSTORY_RATE_LIMIT_EXEMPT",
        default: "none",
        about: "CIDRs never rate-limited (monitoring, benchmarks).",
    },
    SettingDoc {
        key: "metrics",
        env: "UNDERSTORY_METRICS",
        default: "false",
        about: "Serve Prometheus metrics at `/metrics` (docs/operations/monitoring.md).",
    },
    SettingDoc {
        key: "metrics_allow",
        env: "UNDERSTORY_METRICS_ALLOW",
        default: DEFAULT_METRICS_ALLOW,
        about: "CIDRs of clients `/metrics` answers; others get 403.",
    },
    SettingDoc {
        key: "retain_activity_ids_days",
        env: "UNDERSTORY_RETAIN_ACTIVITY_IDS_DAYS",
        default: "30",
        about: "Days the ids of received activities are kept (a replay inside this window is recognised; signatures older than an hour are refused anyway).",
    },
    SettingDoc {
        key: "retain_deliveries_days",
        env: "UNDERSTORY_RETAIN_DELIVERIES_DAYS",
        default: "7",
        about: "Days an outbox activity is kept once every delivery of it is done.",
    },
    SettingDoc {
        key: "retain_remote_notes_days",
        env: "UNDERSTORY_RETAIN_REMOTE_NOTES_DAYS",
        default: "365",
        about: "Days replies, mentions and posts received from other servers are kept; 0 keeps them.",
    },
];

/// The configuration reference in Markdown (`understory config reference`).
pub fn reference_markdown() -> String {
    let mut out = String::from(
        "# Configuration reference\n\n\
         Generated from the code by `understory config reference`; do not edit by hand.\n\n\
         Settings come from an optional TOML file (`understory --config /etc/understory/understory.toml serve`) \
         and `UNDERSTORY_*` environment variables, which win over the file. Unknown keys in the file are an \
         error, and a bad value stops start-up with a message naming the setting. \
         `understory config check` prints the settings in effect (passwords redacted).\n\n\
         | environment | file key | default | what it does |\n|---|---|---|---|\n",
    );
    for s in SETTINGS {
        let key = if s.key.is_empty() {
            "(environment only)".to_owned()
        } else {
            format!("`{}`", s.key)
        };
        out.push_str(&format!("| `{}` | {key} | `{}` | {} |\n", s.env, s.default, s.about));
    }
    out
}

/// A setting that could not be used; the message names it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Loads the file at `path` (if given, it must exist) then applies environment overrides.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let file = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
                toml::from_str::<FileConfig>(&text).map_err(|e| ConfigError(format!("{}: {e}", path.display())))?
            }
            None => FileConfig::default(),
        };
        Self::resolve(file, |name| std::env::var(name).ok())
    }

    /// Builds a config from explicit values (tests and embedding); no file, no environment.
    pub fn for_url(public_url: &str, database_url: &str) -> Result<Self, ConfigError> {
        let file = FileConfig {
            public_url: Some(public_url.to_owned()),
            database_url: Some(database_url.to_owned()),
            ..FileConfig::default()
        };
        Self::resolve(file, |_| None)
    }

    fn resolve(file: FileConfig, env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        // A true/false setting, off unless set.
        let flag = |name: &str, file: Option<bool>| match env(name) {
            Some(v) => parse_bool(name, &v),
            None => Ok(file.unwrap_or(false)),
        };
        let public_url = env("UNDERSTORY_PUBLIC_URL")
            .or(file.public_url)
            .unwrap_or_else(|| DEFAULT_PUBLIC_URL.to_owned());
        let bind = env("UNDERSTORY_BIND")
            .or(file.bind)
            .unwrap_or_else(|| DEFAULT_BIND.to_owned());
        let database_url = env("UNDERSTORY_DATABASE_URL")
            .or(file.database_url)
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        let log_format = match env("UNDERSTORY_LOG_FORMAT") {
            Some(v) if v == "json" => LogFormat::Json,
            Some(v) if v == "text" => LogFormat::Text,
            Some(v) => {
                return Err(ConfigError(format!(
                    "UNDERSTORY_LOG_FORMAT: expected text or json, got {v:?}"
                )));
            }
            None => file.log_format.unwrap_or_default(),
        };
        let allow_private_networks = flag("UNDERSTORY_ALLOW_PRIVATE_NETWORKS", file.allow_private_networks)?;
        let public_url = parse_public_url(&public_url)?;
        let smtp_url = env("UNDERSTORY_SMTP_URL").or(file.smtp_url).filter(|u| !u.is_empty());
        if let Some(url) = &smtp_url
            && !(url.starts_with("smtp://") || url.starts_with("smtps://"))
        {
            return Err(ConfigError(
                "UNDERSTORY_SMTP_URL: must start with smtp:// or smtps://".into(),
            ));
        }
        let smtp_from = env("UNDERSTORY_SMTP_FROM").or(file.smtp_from).unwrap_or_else(|| {
            format!(
                "Understory <understory@{}>",
                public_url.host_str().unwrap_or("localhost")
            )
        });
        let peering_policy = env("UNDERSTORY_PEERING_POLICY")
            .or(file.peering_policy)
            .unwrap_or_else(|| "approval".into());
        if !matches!(peering_policy.as_str(), "open" | "approval" | "closed") {
            return Err(ConfigError(format!(
                "UNDERSTORY_PEERING_POLICY: {peering_policy:?} must be open, approval or closed"
            )));
        }
        let peer_gossip = flag("UNDERSTORY_PEER_GOSSIP", file.peer_gossip)?;
        let peer_gossip_max = match env("UNDERSTORY_PEER_GOSSIP_MAX") {
            Some(v) => v
                .parse()
                .map_err(|_| ConfigError(format!("UNDERSTORY_PEER_GOSSIP_MAX: {v:?} is not a number")))?,
            None => file.peer_gossip_max.unwrap_or(20),
        };
        let media_dir = env("UNDERSTORY_MEDIA_DIR")
            .or(file.media_dir)
            .filter(|d| !d.is_empty())
            .map_or_else(|| default_media_dir(&database_url), Into::into);
        let media_cache_max_mb = match env("UNDERSTORY_MEDIA_CACHE_MAX_MB") {
            Some(v) => v
                .parse()
                .map_err(|_| ConfigError(format!("UNDERSTORY_MEDIA_CACHE_MAX_MB: {v:?} is not a number")))?,
            None => file.media_cache_max_mb.unwrap_or(DEFAULT_MEDIA_CACHE_MAX_MB),
        };
        let cidrs = |name: &str, raw: String| parse_list(&raw).map_err(|e| ConfigError(format!("{name}: {e}")));
        let trusted_proxies = cidrs(
            "UNDERSTORY_TRUSTED_PROXIES",
            env("UNDERSTORY_TRUSTED_PROXIES")
                .or(file.trusted_proxies)
                .unwrap_or_else(|| DEFAULT_TRUSTED_PROXIES.to_owned()),
        )?;
        let rate_limit_exempt = cidrs(
            "UNDERSTORY_RATE_LIMIT_EXEMPT",
            env("UNDERSTORY_RATE_LIMIT_EXEMPT")
                .or(file.rate_limit_exempt)
                .unwrap_or_default(),
        )?;
        let extra_ca_file: Option<std::path::PathBuf> = env("UNDERSTORY_EXTRA_CA_FILE")
            .or(file.extra_ca_file)
            .filter(|f| !f.is_empty())
            .map(Into::into);
        let extra_ca = match &extra_ca_file {
            Some(path) => read_ca_bundle(path)?,
            None => Vec::new(),
        };
        let days = |name: &str, file: Option<u32>, default: u32| match env(name) {
            Some(v) => v
                .parse()
                .map_err(|_| ConfigError(format!("{name}: {v:?} is not a number of days"))),
            None => Ok(file.unwrap_or(default)),
        };
        let retention = Retention {
            activity_ids_days: days("UNDERSTORY_RETAIN_ACTIVITY_IDS_DAYS", file.retain_activity_ids_days, 30)?,
            deliveries_days: days("UNDERSTORY_RETAIN_DELIVERIES_DAYS", file.retain_deliveries_days, 7)?,
            remote_notes_days: days(
                "UNDERSTORY_RETAIN_REMOTE_NOTES_DAYS",
                file.retain_remote_notes_days,
                365,
            )?,
        };
        let metrics_allow = cidrs(
            "UNDERSTORY_METRICS_ALLOW",
            env("UNDERSTORY_METRICS_ALLOW")
                .or(file.metrics_allow)
                .unwrap_or_else(|| DEFAULT_METRICS_ALLOW.to_owned()),
        )?;
        Ok(Self {
            metrics: flag("UNDERSTORY_METRICS", file.metrics)?,
            metrics_allow,
            retention,
            log_client_addresses: flag("UNDERSTORY_LOG_CLIENT_ADDRESSES", file.log_client_addresses)?,
            authorized_fetch: flag("UNDERSTORY_AUTHORIZED_FETCH", file.authorized_fetch)?,
            header_read_timeout: crate::http::server::HEADER_READ_TIMEOUT,
            extra_ca_file,
            extra_ca,
            trusted_proxies,
            rate_limit_exempt,
            media_dir,
            media_cache_max_bytes: media_cache_max_mb * 1024 * 1024,
            peer_gossip,
            peer_gossip_max,
            peering_policy,
            public_url,
            bind: bind
                .parse()
                .map_err(|e| ConfigError(format!("UNDERSTORY_BIND: {bind:?} is not an address: {e}")))?,
            database_url: check_database_url(database_url)?,
            log_format,
            allow_private_networks,
            smtp_url,
            smtp_from,
            vocab_dir: env("UNDERSTORY_VOCAB_DIR")
                .or(file.vocab_dir)
                .filter(|d| !d.is_empty())
                .map(Into::into),
        })
    }

    /// The federation mode this configuration puts the instance in.
    pub fn mode(&self) -> Mode {
        match (self.public_url.scheme(), self.allow_private_networks) {
            ("http", _) => Mode::LocalTest,
            (_, true) => Mode::Lab,
            _ => Mode::Production,
        }
    }

    /// `host` or `host:port`: the domain part of every handle and the instance actor's name.
    pub fn authority(&self) -> String {
        authority_of(&self.public_url).unwrap_or_default()
    }
}

/// Proxies trusted by default: a reverse proxy on the same machine.
pub const DEFAULT_TRUSTED_PROXIES: &str = "127.0.0.0/8,::1/128";

/// Clients `/metrics` answers by default: this machine.
pub const DEFAULT_METRICS_ALLOW: &str = "127.0.0.0/8,::1/128";

/// Default cap of the remote-picture cache, in MiB.
pub const DEFAULT_MEDIA_CACHE_MAX_MB: u64 = 1024;

/// The media directory when none is set: `media/` beside the SQLite file, or in the working
/// directory for PostgreSQL and in-memory databases.
pub fn default_media_dir(database_url: &str) -> std::path::PathBuf {
    match sqlite_file(database_url).as_deref().and_then(Path::parent) {
        Some(parent) => parent.join("media"),
        None => "media".into(),
    }
}

/// The SQLite file a `sqlite:` URL names, if it names one (not an in-memory database).
pub fn sqlite_file(database_url: &str) -> Option<std::path::PathBuf> {
    let rest = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && !path.contains(":memory:") && !database_url.contains("mode=memory")).then(|| path.into())
}

/// `host[:port]` of a URL, lowercased, without userinfo.
pub fn authority_of(url: &Url) -> Option<String> {
    let host = url.host_str()?.to_ascii_lowercase();
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    })
}

/// Reads a PEM bundle of certificate authorities; a file without any is refused.
pub fn read_ca_bundle(path: &Path) -> Result<Vec<reqwest::Certificate>, ConfigError> {
    let name = "UNDERSTORY_EXTRA_CA_FILE";
    let pem = std::fs::read(path).map_err(|e| ConfigError(format!("{name}: cannot read {}: {e}", path.display())))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| ConfigError(format!("{name}: {}: not a PEM bundle: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(ConfigError(format!(
            "{name}: {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        )));
    }
    Ok(certs)
}

fn parse_bool(name: &str, value: &str) -> Result<bool, ConfigError> {
    match value {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(ConfigError(format!("{name}: expected true or false, got {value:?}"))),
    }
}

fn parse_public_url(raw: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(raw).map_err(|e| ConfigError(format!("UNDERSTORY_PUBLIC_URL: {raw:?}: {e}")))?;
    let ok = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some()
        && url.path() == "/"
        && url.query().is_none()
        && url.username().is_empty();
    if !ok {
        return Err(ConfigError(format!(
            "UNDERSTORY_PUBLIC_URL: {raw:?} must be http(s)://host[:port] with no path"
        )));
    }
    Ok(url)
}

fn check_database_url(raw: String) -> Result<String, ConfigError> {
    if raw.starts_with("sqlite:") || raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
        Ok(raw)
    } else {
        Err(ConfigError(format!(
            "UNDERSTORY_DATABASE_URL: {raw:?} must start with sqlite: or postgres://"
        )))
    }
}

/// A URL with its password replaced, for logs.
fn redact_url(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("redacted"));
            url.to_string()
        }
        _ => raw.to_owned(),
    }
}

impl fmt::Debug for Config {
    /// Redacts the database password, which may sit in the URL.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let db = redact_url(&self.database_url);
        f.debug_struct("Config")
            .field("public_url", &self.public_url.as_str())
            .field("bind", &self.bind)
            .field("database_url", &db)
            .field("log_format", &self.log_format)
            .field("allow_private_networks", &self.allow_private_networks)
            .field("smtp_url", &self.smtp_url.as_deref().map(redact_url))
            .field("smtp_from", &self.smtp_from)
            .field("vocab_dir", &self.vocab_dir)
            .field("peering_policy", &self.peering_policy)
            .field("peer_gossip", &self.peer_gossip)
            .field("peer_gossip_max", &self.peer_gossip_max)
            .field("extra_ca_file", &self.extra_ca_file)
            .field("media_dir", &self.media_dir)
            .field("media_cache_max_bytes", &self.media_cache_max_bytes)
            .field("trusted_proxies", &self.trusted_proxies.len())
            .field("rate_limit_exempt", &self.rate_limit_exempt.len())
            .field("metrics", &self.metrics)
            .field("retention", &self.retention)
            .field("log_client_addresses", &self.log_client_addresses)
            .field("authorized_fetch", &self.authorized_fetch)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn defaults_are_a_local_test_instance_on_sqlite() {
        let config = Config::resolve(FileConfig::default(), |_| None).unwrap();
        assert_eq!(config.mode(), Mode::LocalTest);
        assert_eq!(config.authority(), "localhost:8080");
        assert_eq!(config.database_url, "sqlite://understory.db");
    }

    #[test]
    fn environment_overrides_the_file() {
        let file = FileConfig {
            public_url: Some("https://a.example".into()),
            ..Default::default()
        };
        let config = Config::resolve(file, env_of(&[("UNDERSTORY_PUBLIC_URL", "https://b.example")])).unwrap();
        assert_eq!(config.authority(), "b.example");
        assert_eq!(config.mode(), Mode::Production);
    }

    #[test]
    fn media_lives_beside_the_sqlite_file() {
        assert_eq!(
            default_media_dir("sqlite:///var/lib/understory/u.db?mode=rwc"),
            Path::new("/var/lib/understory/media")
        );
        assert_eq!(default_media_dir("sqlite://understory.db"), Path::new("media"));
        assert_eq!(default_media_dir("sqlite::memory:"), Path::new("media"));
        assert_eq!(default_media_dir("postgres://localhost/u"), Path::new("media"));
        let config = Config::resolve(FileConfig::default(), env_of(&[("UNDERSTORY_MEDIA_DIR", "/srv/m")])).unwrap();
        assert_eq!(config.media_dir, Path::new("/srv/m"));
        assert!(
            Config::resolve(
                FileConfig::default(),
                env_of(&[("UNDERSTORY_MEDIA_CACHE_MAX_MB", "lots")])
            )
            .is_err()
        );
    }

    #[test]
    fn proxies_and_exemptions_are_cidr_lists() {
        let config = Config::resolve(FileConfig::default(), env_of(&[])).unwrap();
        assert_eq!(config.trusted_proxies.len(), 2);
        assert!(config.rate_limit_exempt.is_empty());
        let config = Config::resolve(
            FileConfig::default(),
            env_of(&[("UNDERSTORY_RATE_LIMIT_EXEMPT", "127.0.0.1/32, 10.0.0.0/8")]),
        )
        .unwrap();
        assert_eq!(config.rate_limit_exempt.len(), 2);
        let err = Config::resolve(
            FileConfig::default(),
            env_of(&[("UNDERSTORY_TRUSTED_PROXIES", "10.0.0.0/99")]),
        )
        .err()
        .unwrap();
        assert!(err.to_string().starts_with("UNDERSTORY_TRUSTED_PROXIES"), "{err}");
    }

    #[test]
    fn bad_values_name_the_setting() {
        let err = Config::resolve(FileConfig::default(), env_of(&[("UNDERSTORY_PUBLIC_URL", "ftp://x")]))
            .err()
            .unwrap();
        assert!(err.0.contains("UNDERSTORY_PUBLIC_URL"));
        let err = Config::resolve(FileConfig::default(), env_of(&[("UNDERSTORY_BIND", "nope")]))
            .err()
            .unwrap();
        assert!(err.0.contains("UNDERSTORY_BIND"));
        assert!(toml::from_str::<FileConfig>("colour = 1").is_err());
    }

    #[test]
    fn debug_redacts_the_database_password() {
        let mut config = Config::for_url("https://a.example", "postgres://u:secret@db/x").unwrap();
        config.smtp_url = Some("smtp://mail:hunter2@relay.example:587".into());
        let shown = format!("{config:?}");
        assert!(!shown.contains("secret") && !shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn private_networks_make_lab_mode() {
        let config = Config::resolve(
            FileConfig::default(),
            env_of(&[
                ("UNDERSTORY_PUBLIC_URL", "https://lab.test:8443"),
                ("UNDERSTORY_ALLOW_PRIVATE_NETWORKS", "true"),
            ]),
        )
        .unwrap();
        assert_eq!(config.mode(), Mode::Lab);
        assert_eq!(config.authority(), "lab.test:8443");
    }

    #[test]
    fn the_reference_lists_every_setting_once_and_is_current() {
        // Every environment name the resolver reads is documented, and nothing else is.
        let read = std::cell::RefCell::new(std::collections::BTreeSet::new());
        Config::resolve(FileConfig::default(), |name| {
            read.borrow_mut().insert(name.to_owned());
            None
        })
        .unwrap();
        let documented: std::collections::BTreeSet<String> = SETTINGS
            .iter()
            .filter(|s| !s.key.is_empty())
            .map(|s| s.env.to_owned())
            .collect();
        assert_eq!(read.into_inner(), documented);
        // Every file key is documented: serde lists the accepted keys when it meets an unknown one.
        let err = toml::from_str::<FileConfig>("no_such_key = 1").unwrap_err().to_string();
        let accepted: std::collections::BTreeSet<String> =
            err.split('`').skip(3).step_by(2).map(str::to_owned).collect();
        let keys: std::collections::BTreeSet<String> = SETTINGS
            .iter()
            .filter(|s| !s.key.is_empty())
            .map(|s| s.key.to_owned())
            .collect();
        assert_eq!(accepted, keys, "{err}");
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/operations/configuration.md");
        assert_eq!(
            std::fs::read_to_string(path).unwrap_or_default(),
            reference_markdown(),
            "docs/operations/configuration.md is stale: cargo run -- config reference > docs/operations/configuration.md"
        );
    }

    #[test]
    fn retention_and_metrics_settings() {
        let config = Config::resolve(FileConfig::default(), |_| None).unwrap();
        assert_eq!(
            config.retention,
            Retention {
                activity_ids_days: 30,
                deliveries_days: 7,
                remote_notes_days: 365
            }
        );
        assert!(!config.metrics && !config.log_client_addresses);
        let err = Config::resolve(
            FileConfig::default(),
            env_of(&[("UNDERSTORY_RETAIN_DELIVERIES_DAYS", "-1")]),
        )
        .err()
        .unwrap();
        assert!(err.0.starts_with("UNDERSTORY_RETAIN_DELIVERIES_DAYS"), "{err}");
        let config: FileConfig = toml::from_str("metrics = true\nretain_remote_notes_days = 0").unwrap();
        let config = Config::resolve(config, |_| None).unwrap();
        assert!(config.metrics);
        assert_eq!(config.retention.remote_notes_days, 0);
    }

    #[test]
    fn an_extra_ca_file_must_hold_certificates() {
        let dir = std::env::temp_dir().join(format!("understory-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        for (path, expect) in [
            (empty.to_str().unwrap().to_owned(), "holds no PEM certificate"),
            (dir.join("missing.pem").to_str().unwrap().to_owned(), "cannot read"),
        ] {
            let err = Config::resolve(
                FileConfig {
                    extra_ca_file: Some(path),
                    ..Default::default()
                },
                |_| None,
            )
            .err()
            .unwrap();
            assert!(
                err.0.starts_with("UNDERSTORY_EXTRA_CA_FILE") && err.0.contains(expect),
                "{err}"
            );
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
