//! `understory org import FILE.csv` and `understory org export --format ...`.

use std::{io::Write, path::Path};

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::{
    service::{audit::Who, open_data},
    state::AppState,
};

/// Checks every row, reports each bad one as `line N: field: reason`, and imports nothing if
/// any is bad unless `skip_invalid`.
pub async fn import(state: &AppState, file: &Path, skip_invalid: bool) -> anyhow::Result<()> {
    let data = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let checked = open_data::check_csv(state, &data).await?;
    for error in &checked.errors {
        eprintln!("{error}");
    }
    if !checked.errors.is_empty() && !skip_invalid {
        bail!(
            "{} problem(s) found; nothing was imported (use --skip-invalid to import the good rows)",
            checked.errors.len()
        );
    }
    let bar = ProgressBar::with_draw_target(Some(checked.rows.len() as u64), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} organisations ({per_sec}, {eta} left)") {
        bar.set_style(style);
    }
    let written = open_data::import(state, &Who::Cli, &checked.rows, |n| bar.set_position(n as u64)).await?;
    bar.finish_and_clear();
    let skipped = if checked.errors.is_empty() {
        String::new()
    } else {
        " (bad rows skipped)".to_owned()
    };
    let resumed = match checked.already_imported {
        0 => String::new(),
        n => format!("; {n} were already imported by an earlier run"),
    };
    println!("imported {written} organisations{skipped}{resumed}");
    Ok(())
}

/// Writes every live organisation in `format`.
pub async fn export(state: &AppState, format: &str) -> anyhow::Result<()> {
    let orgs = open_data::orgs_for_export(state, false).await?;
    let bytes = match format {
        "csv" => open_data::to_csv(&orgs)?,
        "jsonld" => serde_json::to_vec_pretty(&open_data::to_jsonld(state, &orgs))?,
        "hsds" => serde_json::to_vec_pretty(&open_data::to_hsds(state, &orgs))?,
        other => bail!("--format {other:?}: use csv, jsonld or hsds"),
    };
    let mut out = std::io::stdout().lock();
    out.write_all(&bytes)?;
    if !bytes.ends_with(b"\n") {
        out.write_all(b"\n")?;
    }
    Ok(())
}
