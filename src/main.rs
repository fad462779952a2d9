//! Entry point: parse the command line, set up logging, run the command.

use clap::Parser;
use tracing_subscriber::{EnvFilter, fmt};
use understory::{cli, config::LogFormat};

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    let json = std::env::var("UNDERSTORY_LOG_FORMAT").is_ok_and(|v| v == "json");
    let filter = EnvFilter::try_from_env("UNDERSTORY_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    // Colours only on a terminal: journald and log files would keep the escape codes.
    let builder = fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if json || matches!(cli.command, cli::Command::Serve) && log_format_is_json(&cli) {
        builder.json().init();
    } else {
        builder.init();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn log_format_is_json(cli: &cli::Cli) -> bool {
    understory::config::Config::load(cli.config.as_deref()).is_ok_and(|c| c.log_format == LogFormat::Json)
}
