//! `understory peer ...` and `understory domain ...`: directory peering and domain blocks.

use clap::Subcommand;

use crate::{
    clock::rfc3339,
    service::{audit::Who, peering},
    state::AppState,
    store,
};

/// `understory peer ...`
#[derive(Subcommand, Debug)]
pub enum PeerCommand {
    /// Ask another instance to peer: our instance actor follows theirs.
    Add {
        /// The other instance's domain (host or host:port).
        domain: String,
    },
    /// List peers and the state of each direction.
    List,
    /// Stop peering with an instance and drop its organisations from our directory.
    Remove {
        /// The domain.
        domain: String,
    },
    /// Block an instance: end peering, drop its organisations, refuse all it sends.
    Block {
        /// The domain.
        domain: String,
        /// Why (kept in the audit log).
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Peering requests waiting for approval (policy `approval`).
    Requests,
    /// Accept a waiting peering request.
    Approve {
        /// The domain.
        domain: String,
    },
    /// Read a peer's directory now (normally done after acceptance and every ten minutes).
    Sync {
        /// The domain.
        domain: String,
    },
}

/// `understory domain ...`
#[derive(Subcommand, Debug)]
pub enum DomainCommand {
    /// Refuse everything from a domain and purge its organisations.
    Block {
        /// The domain.
        domain: String,
        /// Why (kept in the audit log).
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Lift a block.
    Unblock {
        /// The domain.
        domain: String,
    },
    /// List blocked domains.
    List,
}

/// Runs `understory peer ...`.
pub async fn peer(state: &AppState, cmd: PeerCommand) -> anyhow::Result<()> {
    let who = &Who::Cli;
    match cmd {
        PeerCommand::Add { domain } => {
            let peer = peering::add(state, who, &domain).await?;
            println!("peering requested with {} ({})", peer.domain, peer.actor);
        }
        PeerCommand::List => {
            for p in store::peers::list(&state.db).await? {
                println!("{}", peering::describe(&p));
            }
        }
        PeerCommand::Remove { domain } => {
            peering::remove(state, who, &domain).await?;
            println!("peering with {domain} ended");
        }
        PeerCommand::Block { domain, reason } => {
            peering::block(state, who, &domain, &reason).await?;
            println!("blocked {domain}");
        }
        PeerCommand::Requests => {
            for p in peering::requests(state).await? {
                println!("{}\t{}\tsince {}", p.domain, p.actor, rfc3339(p.created_at));
            }
        }
        PeerCommand::Approve { domain } => {
            peering::approve(state, who, &domain).await?;
            println!("accepted peering with {domain}");
        }
        PeerCommand::Sync { domain } => {
            let n = peering::sync(state, &domain).await?;
            println!("read {n} organisations from {domain}");
        }
    }
    Ok(())
}

/// Runs `understory domain ...`.
pub async fn domain(state: &AppState, cmd: DomainCommand) -> anyhow::Result<()> {
    let who = &Who::Cli;
    match cmd {
        DomainCommand::Block { domain, reason } => {
            peering::block(state, who, &domain, &reason).await?;
            println!("blocked {domain}");
        }
        DomainCommand::Unblock { domain } => {
            peering::unblock(state, who, &domain).await?;
            println!("unblocked {domain}");
        }
        DomainCommand::List => {
            for (domain, reason, at) in store::peers::blocks(&state.db).await? {
                println!("{domain}\t{}\t{reason}", rfc3339(at));
            }
        }
    }
    Ok(())
}

/// `understory directory ...`
#[derive(Subcommand, Debug)]
pub enum DirectoryCommand {
    /// Add an actor of any software (user@domain or URL); listed only if `discoverable`.
    Add {
        /// user@domain or an actor URL.
        target: String,
    },
    /// Keep an entry out of this instance's directory whatever it consents to.
    Hide {
        /// The actor URL.
        actor: String,
        /// Why (kept in the audit log).
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Lift a hide.
    Unhide {
        /// The actor URL.
        actor: String,
    },
    /// List hidden entries.
    Hidden,
}

/// `understory report ...`
#[derive(Subcommand, Debug)]
pub enum ReportCommand {
    /// Reports received and sent, newest first.
    List,
    /// Report a remote actor to its instance (a `Flag` from our instance actor).
    Send {
        /// user@domain or an actor URL.
        target: String,
        /// What is wrong.
        #[arg(long, default_value = "")]
        comment: String,
    },
    /// Mark a report resolved.
    Resolve {
        /// The report's number (from `report list`).
        id: i64,
    },
}

/// Runs `understory directory ...`.
pub async fn directory(state: &AppState, cmd: DirectoryCommand) -> anyhow::Result<()> {
    let who = &Who::Cli;
    match cmd {
        DirectoryCommand::Add { target } => {
            let (actor, listed) = crate::service::moderation::add(state, who, &target).await?;
            let note = if listed {
                "listed"
            } else {
                "stored, not listed: it is not discoverable"
            };
            println!("{} ({note})", actor.ap_id);
        }
        DirectoryCommand::Hide { actor, reason } => {
            crate::service::moderation::hide(state, who, &actor, &reason).await?;
            println!("hidden {actor}");
        }
        DirectoryCommand::Unhide { actor } => {
            crate::service::moderation::unhide(state, who, &actor).await?;
            println!("unhidden {actor}");
        }
        DirectoryCommand::Hidden => {
            for (actor, reason, at) in store::directory::hidden(&state.db).await? {
                println!("{actor}\t{}\t{reason}", rfc3339(at));
            }
        }
    }
    Ok(())
}

/// Runs `understory report ...`.
pub async fn report(state: &AppState, cmd: ReportCommand) -> anyhow::Result<()> {
    let who = &Who::Cli;
    match cmd {
        ReportCommand::List => {
            for r in store::reports::list(&state.db).await? {
                let status = if r.resolved_at.is_some() { "resolved" } else { "open" };
                println!(
                    "{}\t{}\t{status}\t{}\tby {}\tabout {}\t{}",
                    r.id,
                    r.direction,
                    rfc3339(r.created_at),
                    r.reporter,
                    r.target,
                    r.content
                );
            }
        }
        ReportCommand::Send { target, comment } => {
            let id = crate::service::moderation::send(state, who, &target, &comment).await?;
            println!("report sent: {id}");
        }
        ReportCommand::Resolve { id } => {
            crate::service::moderation::resolve(state, who, id).await?;
            println!("resolved report {id}");
        }
    }
    Ok(())
}
