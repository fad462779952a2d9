//! `understory backup DIR` and `understory restore DIR`: a consistent copy of the database and
//! the media, with a manifest of checksums, readable only by its owner (it holds every
//! organisation's private key).
//!
//! SQLite is copied with `VACUUM INTO`, a transactionally consistent snapshot taken while the
//! instance runs; PostgreSQL with `pg_dump -Fc`. The media are copied after the database, so
//! every file the snapshot names is already there (files are content-addressed and never
//! rewritten). The remote-picture cache is left out: it refills on demand. The manifest is
//! written last: a directory without one is not a backup.

use std::{
    fs,
    io::{Read, Write},
    os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt},
    path::Path,
    process::Command,
};

use anyhow::{Context, bail};
use aws_lc_rs::digest;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::{
    config::{Config, sqlite_file},
    state::AppState,
};

/// The manifest's `format`.
pub const FORMAT: &str = "understory-backup/1";
/// The manifest's file name.
pub const MANIFEST: &str = "manifest.json";
const SQLITE_FILE: &str = "understory.db";
const PG_FILE: &str = "understory.pgdump";
const MEDIA: &str = "media";

/// What a backup holds.
#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// The Understory version that wrote it.
    pub version: String,
    /// When (RFC 3339).
    pub created: String,
    /// The instance's public URL: actors' ids contain it, so a restore must keep it.
    pub public_url: String,
    /// `sqlite` or `postgres`.
    pub database: String,
    /// Every file but the manifest, with its size and SHA-256.
    pub files: Vec<FileEntry>,
}

/// One file of a backup.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileEntry {
    /// Path relative to the backup directory, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Hex SHA-256 of the content.
    pub sha256: String,
}

/// Writes a backup of the running instance into `dir` (new, or an empty directory).
pub async fn backup(state: &AppState, dir: &Path) -> anyhow::Result<Manifest> {
    if dir.exists() && fs::read_dir(dir)?.next().is_some() {
        bail!("{} is not empty; choose a new directory", dir.display());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    let (database, file) = if state.db.is_sqlite() {
        let target = dir.join(SQLITE_FILE);
        let path = target.to_str().context("backup path must be UTF-8")?;
        state.db.backup_sqlite(path).await?;
        ("sqlite", SQLITE_FILE)
    } else {
        pg_tool(
            "pg_dump",
            &state.config.database_url,
            &["-Fc", "--no-owner", "--no-privileges", "-f"],
            &dir.join(PG_FILE),
        )?;
        ("postgres", PG_FILE)
    };
    fs::set_permissions(dir.join(file), fs::Permissions::from_mode(0o600))?;
    let (bytes, sha256) = hash_file(&dir.join(file))?;
    let mut files = vec![FileEntry {
        path: file.to_owned(),
        bytes,
        sha256,
    }];
    let media = &state.config.media_dir;
    if media.exists() {
        // Hashed as they are copied: each file is read once.
        files.extend(copy_tree(media, &dir.join(MEDIA), &|rel: &Path| {
            rel.starts_with("cache")
        })?);
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let manifest = Manifest {
        format: FORMAT.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        created: crate::clock::rfc3339(state.clock.now_ms()),
        public_url: state.config.public_url.to_string(),
        database: database.into(),
        files,
    };
    let tmp = dir.join(".manifest.tmp");
    write_private(&tmp, &serde_json::to_vec_pretty(&manifest)?)?;
    fs::rename(&tmp, dir.join(MANIFEST))?;
    Ok(manifest)
}

/// Restores the backup in `dir` into the empty data location `config` names (database and
/// media directory). Every checksum is verified before anything is written.
pub async fn restore(config: &Config, dir: &Path) -> anyhow::Result<Manifest> {
    let manifest: Manifest = serde_json::from_slice(
        &fs::read(dir.join(MANIFEST)).with_context(|| format!("{} has no {MANIFEST}: not a backup", dir.display()))?,
    )
    .context("the manifest is not valid JSON")?;
    if manifest.format != FORMAT {
        bail!("unknown backup format {:?} (expected {FORMAT})", manifest.format);
    }
    for entry in &manifest.files {
        let (bytes, sha256) =
            hash_file(&dir.join(&entry.path)).with_context(|| format!("{} is missing or unreadable", entry.path))?;
        if bytes != entry.bytes || sha256 != entry.sha256 {
            bail!("{}: checksum mismatch; the backup is damaged", entry.path);
        }
    }
    if Url::parse(&manifest.public_url).ok().as_ref() != Some(&config.public_url) {
        bail!(
            "the backup is of {} but UNDERSTORY_PUBLIC_URL is {}: actors' ids contain the URL, set it to the backup's",
            manifest.public_url,
            config.public_url
        );
    }
    let media_target = &config.media_dir;
    if media_target.exists() && fs::read_dir(media_target)?.next().is_some() {
        bail!("the media directory {} is not empty", media_target.display());
    }
    match (manifest.database.as_str(), sqlite_file(&config.database_url)) {
        ("sqlite", Some(target)) => {
            if target.exists() && fs::metadata(&target)?.len() > 0 {
                bail!(
                    "{} already exists; restore into an empty data location",
                    target.display()
                );
            }
            if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
                fs::create_dir_all(parent)?;
            }
            let tmp = target.with_extension("restoring");
            fs::copy(dir.join(SQLITE_FILE), &tmp)?;
            fs::set_permissions(&tmp, fs::Permissions::from_mode(0o600))?;
            fs::rename(&tmp, &target)?;
        }
        ("postgres", None) if !config.database_url.starts_with("sqlite:") => {
            let db = crate::store::Db::connect(&config.database_url).await?;
            let tables = db.table_count().await?;
            db.close().await;
            if tables > 0 {
                bail!("the PostgreSQL database already has {tables} tables; restore into an empty one");
            }
            pg_tool(
                "pg_restore",
                &config.database_url,
                &["--no-owner", "--no-privileges", "--exit-on-error"],
                &dir.join(PG_FILE),
            )?;
        }
        (kind, _) => bail!(
            "the backup holds a {kind} database but UNDERSTORY_DATABASE_URL is {}",
            if config.database_url.starts_with("sqlite:") {
                "SQLite"
            } else {
                "PostgreSQL"
            }
        ),
    }
    if dir.join(MEDIA).exists() {
        copy_tree(&dir.join(MEDIA), media_target, &|_| false)?;
    }
    Ok(manifest)
}

/// Runs `pg_dump` or `pg_restore` against `database_url`, the password passed in the
/// environment (not on the command line, where other users could read it).
fn pg_tool(tool: &str, database_url: &str, args: &[&str], file: &Path) -> anyhow::Result<()> {
    let mut url = Url::parse(database_url).context("UNDERSTORY_DATABASE_URL is not a URL")?;
    let password = url.password().map(str::to_owned);
    let _ = url.set_password(None);
    let mut command = Command::new(tool);
    command.args(args);
    if tool == "pg_dump" {
        command.arg(file).arg(url.as_str());
    } else {
        command.arg("-d").arg(url.as_str()).arg(file);
    }
    if let Some(password) = password {
        command.env("PGPASSWORD", password);
    }
    let output = command.output().map_err(|e| {
        anyhow::anyhow!(
            "cannot run {tool} ({e}): install the PostgreSQL client tools of the server's major version \
             (Debian: postgresql-client), or run `{tool}` yourself (docs/operations/backup.md)"
        )
    })?;
    if !output.status.success() {
        bail!("{tool} failed: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(())
}

/// Copies the files under `from` to `to` (directories 0700, files 0600), skipping paths
/// (relative to `from`) that `skip` names, and returns each copied file as a manifest entry
/// (its path relative to `to`'s parent, so `media/...`).
fn copy_tree(from: &Path, to: &Path, skip: &dyn Fn(&Path) -> bool) -> anyhow::Result<Vec<FileEntry>> {
    fn walk(
        root: &Path,
        dir: &Path,
        to: &Path,
        skip: &dyn Fn(&Path) -> bool,
        out: &mut Vec<FileEntry>,
    ) -> anyhow::Result<()> {
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let path = entry.path();
            let rel = path.strip_prefix(root)?;
            if skip(rel) || rel.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
                continue;
            }
            let target = to.join(rel);
            if entry.file_type()?.is_dir() {
                fs::DirBuilder::new().recursive(true).mode(0o700).create(&target)?;
                walk(root, &path, to, skip, out)?;
            } else if entry.file_type()?.is_file() {
                let mut file = create_private(&target)?;
                let (bytes, sha256) = stream(fs::File::open(&path)?, Some(&mut file))?;
                file.sync_all()?;
                let top = to
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                out.push(FileEntry {
                    path: format!("{top}/{}", rel.to_string_lossy().replace('\\', "/")),
                    bytes,
                    sha256,
                });
            }
        }
        Ok(())
    }
    fs::DirBuilder::new().recursive(true).mode(0o700).create(to)?;
    let mut out = Vec::new();
    walk(from, from, to, skip, &mut out)?;
    Ok(out)
}

/// A new file readable by its owner only; an existing one is refused.
fn create_private(path: &Path) -> anyhow::Result<fs::File> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut file = create_private(path)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}

fn hash_file(path: &Path) -> anyhow::Result<(u64, String)> {
    stream(fs::File::open(path)?, None)
}

/// Reads `from` to the end in chunks, writing each to `to` if given; returns the size and the
/// hex SHA-256 of what was read.
fn stream(mut from: impl Read, mut to: Option<&mut fs::File>) -> anyhow::Result<(u64, String)> {
    let mut context = digest::Context::new(&digest::SHA256);
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        context.update(&buf[..n]);
        if let Some(to) = to.as_mut() {
            to.write_all(&buf[..n])?;
        }
    }
    Ok((total, hex::encode(context.finish())))
}
