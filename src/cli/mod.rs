//! The command line: `serve` runs the instance; every other command opens the database itself
//! (running pending migrations), also while `serve` runs.

mod admin;
mod open_data;
mod peer;

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::{
    app::{self, App, AppOptions},
    clock::Clock,
    config::Config,
    service::{
        self,
        audit::Who,
        keys::{KeySource, KeyStore},
        orgs::{NewOrgInput, ProfileEdit},
    },
    state::AppState,
    store,
};

/// Understory: expertise profiles of civil-society organisations, federated over ActivityPub.
#[derive(Parser, Debug)]
#[command(name = "understory", version, about, long_about = None)]
pub struct Cli {
    /// Settings file (TOML); UNDERSTORY_* environment variables override it.
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the instance: HTTP server and delivery worker.
    Serve,
    /// Manage organisations and their updates.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Show the delivery queue: pending deliveries and failing instances.
    Deliveries,
    /// Peer directories with other Understory instances.
    #[command(subcommand)]
    Peer(peer::PeerCommand),
    /// Block or unblock whole domains.
    #[command(subcommand)]
    Domain(peer::DomainCommand),
    /// Add, hide and unhide directory entries.
    #[command(subcommand)]
    Directory(peer::DirectoryCommand),
    /// Reports (Flag) received and sent.
    #[command(subcommand)]
    Report(peer::ReportCommand),
    /// Manage staff accounts and operators.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(admin::TokenCommand),
    /// Show the audit log: who changed what and when.
    Audit {
        /// Only this organisation's entries.
        #[arg(long, value_name = "HANDLE")]
        org: Option<String>,
        /// How many entries (newest first).
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Write a backup while the instance runs: the database (SQLite snapshot or pg_dump -Fc),
    /// the media and a manifest of checksums, readable only by you (it holds private keys).
    Backup {
        /// A new (or empty) directory.
        dir: PathBuf,
    },
    /// Restore a backup made by `understory backup` into the empty data location the settings
    /// name (database and media directory); checksums are verified first.
    Restore {
        /// The backup directory.
        dir: PathBuf,
    },
    /// Remove now what is past its retention period (serve does it every hour).
    Prune,
    /// The settings: `reference` prints every one, `check` the values in effect.
    #[command(subcommand)]
    Config(ConfigCommand),
}

/// `understory config ...`
#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Print the configuration reference (Markdown): every setting, its default, its
    /// environment name.
    Reference,
    /// Load the settings (file and environment) and print them, passwords redacted.
    Check,
}

/// `understory org ...`
#[derive(Subcommand, Debug)]
pub enum OrgCommand {
    /// Create an organisation and print its actor URL.
    Create(CreateArgs),
    /// Publish an update to the organisation's followers and print its URL.
    Post {
        /// The organisation's handle.
        handle: String,
        /// The update's text (plain text; links and #hashtags are made for you).
        text: String,
        /// BCP 47 language of the text.
        #[arg(long, value_name = "CODE")]
        lang: Option<String>,
        /// A content warning shown before the text (and the pictures).
        #[arg(long, value_name = "TEXT")]
        cw: Option<String>,
        /// Attach a picture (JPEG, PNG, WebP, GIF) or a PDF; up to four, repeat the flag.
        #[arg(long = "attach", value_name = "FILE")]
        attach: Vec<PathBuf>,
        /// Alt text of the attachment in the same position (required for pictures).
        #[arg(long = "alt", value_name = "TEXT")]
        alt: Vec<String>,
    },
    /// Change an update's text (followers receive the edit).
    EditPost {
        /// The organisation's handle.
        handle: String,
        /// The update's number (the last part of its URL).
        id: i64,
        /// The new text.
        text: String,
    },
    /// Delete an update (followers receive the deletion; its URL answers 410).
    DeletePost {
        /// The organisation's handle.
        handle: String,
        /// The update's number.
        id: i64,
    },
    /// Change profile settings (followers receive the new profile).
    Edit(EditArgs),
    /// Replace an organisation's whole profile from a TOML or JSON file.
    ImportProfile {
        /// The organisation's handle.
        handle: String,
        /// The profile file (`.toml` or `.json`).
        file: PathBuf,
    },
    /// Create many organisations from a CSV file (columns: handle,name,summary,kind,themes,
    /// places,ways_of_working,offers,languages,website,identifiers,discoverable).
    Import {
        /// The CSV file.
        file: PathBuf,
        /// Import the good rows even if some are bad (the bad ones are reported).
        #[arg(long)]
        skip_invalid: bool,
    },
    /// With a handle: that organisation's profile, updates and followers as JSON (for moving
    /// elsewhere, and for access requests). Without: every organisation (listed or not) in
    /// `--format`.
    Export {
        /// One organisation's handle.
        handle: Option<String>,
        /// csv, jsonld or hsds (all organisations only).
        #[arg(long, default_value = "csv")]
        format: String,
    },
    /// Delete an organisation for good: followers, followed accounts and peers receive
    /// `Delete`; its addresses answer 410; its handle can never be taken again.
    Delete {
        /// The organisation's handle.
        handle: String,
        /// Confirm (the deletion cannot be undone).
        #[arg(long)]
        yes: bool,
    },
    /// Prepare to receive an organisation moving here: list its old actor in alsoKnownAs.
    Alias {
        /// The organisation's handle (here).
        handle: String,
        /// The old actor's URL.
        old_actor: String,
    },
    /// Move an organisation to another actor (which must list this one as an alias first).
    Move {
        /// The organisation's handle (here).
        handle: String,
        /// The new actor's URL.
        new_actor: String,
    },
    /// List organisations.
    List,
    /// Follow a remote account (user@domain or actor URL) as this organisation.
    Follow {
        /// The organisation's handle.
        handle: String,
        /// user@domain or an actor URL.
        target: String,
    },
    /// List the accounts an organisation follows, with the state of each follow.
    Following {
        /// The organisation's handle.
        handle: String,
    },
    /// Show what reached the organisation from accounts it follows, replies and mentions,
    /// newest first.
    Inbox {
        /// The organisation's handle.
        handle: String,
        /// How many notes.
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
    /// List followers (or follow requests with --pending).
    Followers {
        /// The organisation's handle.
        handle: String,
        /// Show requests waiting for approval instead.
        #[arg(long)]
        pending: bool,
    },
    /// Approve a pending follow request.
    Approve {
        /// The organisation's handle.
        handle: String,
        /// The follower's actor URL.
        actor: String,
    },
    /// Refuse a pending follow request.
    Reject {
        /// The organisation's handle.
        handle: String,
        /// The follower's actor URL.
        actor: String,
    },
}

/// `org create` arguments.
#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Handle: 1-30 characters of a-z, 0-9 and _ (the `handle` in @handle@domain).
    pub handle: String,
    /// Display name.
    #[arg(long)]
    pub name: String,
    /// Plain-text summary.
    #[arg(long, default_value = "")]
    pub summary: String,
    /// Approve followers by hand.
    #[arg(long)]
    pub approve_followers: bool,
}

/// `org edit` arguments.
#[derive(Args, Debug)]
pub struct EditArgs {
    /// The organisation's handle.
    pub handle: String,
    /// New display name.
    #[arg(long)]
    pub name: Option<String>,
    /// New summary.
    #[arg(long)]
    pub summary: Option<String>,
    /// Approve followers by hand (true or false).
    #[arg(long, value_name = "BOOL")]
    pub approve_followers: Option<bool>,
    /// Publish the followers list, not just the count (true or false).
    #[arg(long, value_name = "BOOL")]
    pub public_lists: Option<bool>,
    /// Where the organisation is listed: none, home, network or public.
    #[arg(long, value_name = "REACH")]
    pub listed_in: Option<String>,
    /// true means listed in public (every directory, Mastodon's too); false means none.
    #[arg(long, value_name = "BOOL", conflicts_with = "listed_in")]
    pub discoverable: Option<bool>,
    /// Consent to full-text search of updates (true or false).
    #[arg(long, value_name = "BOOL")]
    pub indexable: Option<bool>,
    /// New avatar (a picture, cropped to 400x400).
    #[arg(long, value_name = "FILE", conflicts_with = "remove_avatar")]
    pub avatar: Option<PathBuf>,
    /// New header picture (cropped to 1500x500).
    #[arg(long, value_name = "FILE", conflicts_with = "remove_header")]
    pub header: Option<PathBuf>,
    /// Remove the avatar.
    #[arg(long)]
    pub remove_avatar: bool,
    /// Remove the header picture.
    #[arg(long)]
    pub remove_header: bool,
}

/// Reads a file to upload, refusing one over `limit` bytes before reading it.
fn read_upload(path: &std::path::Path, limit: usize) -> anyhow::Result<Vec<u8>> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    if size > limit as u64 {
        bail!("{}: {size} bytes; the limit is {limit} bytes", path.display());
    }
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Config(ConfigCommand::Reference) = cli.command {
        print!("{}", crate::config::reference_markdown());
        return Ok(());
    }
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve => serve(config).await,
        Command::Org(cmd) => org(&open(config).await?, cmd).await,
        Command::Admin(cmd) => admin::admin(&open(config).await?, cmd).await,
        Command::Peer(cmd) => peer::peer(&open(config).await?, cmd).await,
        Command::Domain(cmd) => peer::domain(&open(config).await?, cmd).await,
        Command::Directory(cmd) => peer::directory(&open(config).await?, cmd).await,
        Command::Report(cmd) => peer::report(&open(config).await?, cmd).await,
        Command::Token(cmd) => admin::token(&open(config).await?, cmd).await,
        Command::Audit { org, limit } => admin::audit(&open(config).await?, org.as_deref(), limit).await,
        Command::Deliveries => {
            let state = open(config).await?;
            let s = store::outbox::status(&state.db).await?;
            println!(
                "pending deliveries: {}\nfailing instances: {}\ndead instances: {}",
                s.pending, s.failing_instances, s.dead_instances
            );
            Ok(())
        }
        Command::Backup { dir } => {
            let state = open(config).await?;
            let manifest = service::backup::backup(&state, &dir).await?;
            let bytes: u64 = manifest.files.iter().map(|f| f.bytes).sum();
            println!(
                "backed up {} ({} database, {} files, {bytes} bytes) to {}; mode 0600: it holds private keys",
                manifest.public_url,
                manifest.database,
                manifest.files.len(),
                dir.display()
            );
            Ok(())
        }
        Command::Restore { dir } => {
            let manifest = service::backup::restore(&config, &dir).await?;
            println!(
                "restored {} from the backup of {} ({} files, checksums verified); start it with `understory serve`",
                manifest.public_url,
                manifest.created,
                manifest.files.len()
            );
            Ok(())
        }
        Command::Prune => {
            let state = open(config).await?;
            let p = service::retention::prune(&state).await?;
            println!(
                "removed: {} activity ids, {} deliveries, {} outbox activities, {} remote notes, {} ended sessions/links/mail, {} private keys of deleted organisations, {} unused media files",
                p.activity_ids, p.deliveries, p.activities, p.remote_notes, p.sessions_links_mail, p.keys, p.media
            );
            Ok(())
        }
        Command::Config(_) => {
            println!("{config:#?}");
            Ok(())
        }
    }
}

async fn open(config: Config) -> anyhow::Result<AppState> {
    let db = app::open_database(&config).await?;
    AppState::new(db, config, Clock::System, KeyStore::new(KeySource::Generate))
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("cannot listen on {} (UNDERSTORY_BIND)", config.bind))?;
    let db = app::open_database(&config).await?;
    let app = App::build(config, db, listener, AppOptions::default()).await?;
    if let Some(link) = service::setup::link_if_needed(app.state()).await? {
        tracing::warn!(%link, "no operator yet: open this one-time link to create the first operator account");
        eprintln!("No operator yet. Open this one-time link to set up the instance: {link}");
    }
    let shutdown = CancellationToken::new();
    let signal = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown requested");
        signal.cancel();
    });
    app.run(shutdown).await
}

async fn wait_for_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

async fn org(state: &AppState, cmd: OrgCommand) -> anyhow::Result<()> {
    let who = &Who::Cli;
    match cmd {
        OrgCommand::Create(a) => {
            let input = NewOrgInput {
                handle: a.handle,
                name: a.name,
                summary: a.summary,
                approve_followers: a.approve_followers,
            };
            let org = service::orgs::create(state, who, &input).await?;
            println!("{}", state.urls.org(&org.handle));
        }
        OrgCommand::Post {
            handle,
            text,
            lang,
            cw,
            attach,
            alt,
        } => {
            if alt.len() > attach.len() {
                bail!("--alt given {} times for {} --attach files", alt.len(), attach.len());
            }
            let mut attachments = Vec::with_capacity(attach.len());
            for (n, path) in attach.iter().enumerate() {
                attachments.push(service::posts::Upload {
                    bytes: read_upload(path, crate::domain::media::MAX_DOCUMENT_BYTES)?,
                    description: alt.get(n).cloned(),
                    file_name: path.file_name().map(|f| f.to_string_lossy().into_owned()),
                });
            }
            let draft = service::posts::Draft {
                text,
                lang,
                content_warning: cw,
                attachments,
            };
            let (post, _) = service::posts::publish_draft(state, who, &handle, draft).await?;
            println!("{}", state.urls.update(&handle, post.id));
        }
        OrgCommand::EditPost { handle, id, text } => {
            service::posts::edit(state, who, &handle, id, &text).await?;
            println!("{}", state.urls.update(&handle, id));
        }
        OrgCommand::DeletePost { handle, id } => {
            service::posts::delete(state, who, &handle, id).await?;
            println!("deleted {}", state.urls.update(&handle, id));
        }
        OrgCommand::Edit(a) => {
            use crate::store::orgs::Picture;
            // Read and check every file first: a bad one changes nothing.
            let mut pictures = Vec::new();
            for (which, path, remove) in [
                (Picture::Avatar, &a.avatar, a.remove_avatar),
                (Picture::Header, &a.header, a.remove_header),
            ] {
                if let Some(path) = path {
                    let bytes = read_upload(path, crate::domain::media::MAX_IMAGE_BYTES)?;
                    let prepared = service::orgs::prepare_picture(which, bytes)
                        .await
                        .with_context(|| path.display().to_string())?;
                    pictures.push((which, Some(prepared)));
                } else if remove {
                    pictures.push((which, None));
                }
            }
            for (which, prepared) in &pictures {
                service::orgs::set_picture(state, who, &a.handle, *which, prepared.as_ref()).await?;
            }
            let settings = a.name.is_some()
                || a.summary.is_some()
                || a.approve_followers.is_some()
                || a.public_lists.is_some()
                || a.listed_in.is_some()
                || a.discoverable.is_some()
                || a.indexable.is_some();
            let pictures = a.avatar.is_some() || a.header.is_some() || a.remove_avatar || a.remove_header;
            if pictures && !settings {
                println!("{}", state.urls.org(&a.handle));
                return Ok(());
            }
            let edit = ProfileEdit {
                name: a.name,
                summary: a.summary,
                approve_followers: a.approve_followers,
                public_lists: a.public_lists,
                listed_in: a.listed_in,
                discoverable: a.discoverable,
                indexable: a.indexable,
                profile: None,
            };
            let org = service::orgs::edit(state, who, &a.handle, &edit).await?;
            println!("{}", state.urls.org(&org.handle));
        }
        OrgCommand::ImportProfile { handle, file } => {
            let doc = service::profiles::read_file(&file)?;
            let org = service::profiles::replace(state, who, &handle, doc).await?;
            println!("{}", state.urls.org(&org.handle));
        }
        OrgCommand::Import { file, skip_invalid } => open_data::import(state, &file, skip_invalid).await?,
        OrgCommand::Export { handle: None, format } => open_data::export(state, &format).await?,
        OrgCommand::Export {
            handle: Some(handle),
            format,
        } => {
            if format != "csv" {
                bail!("--format applies to the export of all organisations; one organisation exports as JSON");
            }
            let doc = service::orgs::export(state, &handle).await?;
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        OrgCommand::Delete { handle, yes } => {
            let org = service::orgs::find_live(state, &handle).await?;
            if !yes {
                bail!(
                    "this deletes {} for good ({} answers 410 and the handle stays reserved); run again with --yes",
                    org.name,
                    state.urls.org(&handle)
                );
            }
            let sent = service::orgs::delete(state, who, &handle).await?;
            println!(
                "deleted {}; Delete goes to {sent} inboxes (the running server delivers it)",
                state.urls.org(&handle)
            );
        }
        OrgCommand::Alias { handle, old_actor } => {
            service::moves::alias(state, who, &handle, &old_actor).await?;
            println!(
                "{} now lists {old_actor} as an earlier identity",
                state.urls.org(&handle)
            );
        }
        OrgCommand::Move { handle, new_actor } => {
            service::moves::move_org(state, who, &handle, &new_actor).await?;
            println!(
                "{} moved to {new_actor}; followers are being told",
                state.urls.org(&handle)
            );
        }
        OrgCommand::List => {
            for org in store::orgs::list(&state.db).await? {
                println!("{}\t{}\t{}", org.handle, org.name, state.urls.org(&org.handle));
            }
        }
        OrgCommand::Follow { handle, target } => {
            let actor = service::follows::follow(state, who, &handle, &target).await?;
            println!("follow request sent to {actor}");
        }
        OrgCommand::Following { handle } => {
            let org = service::orgs::find_live(state, &handle).await?;
            for (actor, follow_state) in store::follows::following(&state.db, org.id).await? {
                println!("{actor} {follow_state}");
            }
        }
        OrgCommand::Inbox { handle, limit } => {
            let org = service::orgs::find_live(state, &handle).await?;
            for note in store::inbox::notes_for(&state.db, org.id, limit.clamp(1, 500)).await? {
                let when = chrono::DateTime::from_timestamp_millis(note.published).unwrap_or_default();
                println!(
                    "{} {} {} {}\n  {}",
                    when.format("%Y-%m-%d %H:%M"),
                    note.reason,
                    note.actor_ap_id,
                    note.ap_id,
                    crate::domain::html::plain_name_long(&note.content_html)
                );
            }
        }
        OrgCommand::Followers { handle, pending } => {
            let which = if pending {
                store::follows::PENDING
            } else {
                store::follows::ACCEPTED
            };
            for f in service::follows::followers(state, &handle, which).await? {
                println!("{}", f.ap_id);
            }
        }
        OrgCommand::Approve { handle, actor } => service::follows::answer(state, who, &handle, &actor, true).await?,
        OrgCommand::Reject { handle, actor } => service::follows::answer(state, who, &handle, &actor, false).await?,
    }
    Ok(())
}
