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
