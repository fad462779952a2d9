//! `understory admin ...`, `understory token ...` and `understory audit`: accounts, tokens and
//! the audit log from the shell (the operator's bootstrap path).

use clap::Subcommand;

use crate::{
    clock::rfc3339,
    service::{
        accounts::{self, Role},
        audit::{self, Who},
        mail,
        tokens::{self, Scope},
    },
    state::AppState,
    store,
};

/// `understory admin ...`
#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Create a staff user and print a one-time sign-in link.
    CreateUser {
        /// The user's email address.
        email: String,
        /// Make the user an operator of this instance.
        #[arg(long)]
        operator: bool,
        /// Give the user a role in this organisation.
        #[arg(long, value_name = "HANDLE", requires = "role")]
        org: Option<String>,
        /// The role in that organisation: owner or editor.
        #[arg(long, value_name = "ROLE", requires = "org")]
        role: Option<String>,
    },
    /// Print a one-time link for a user who forgot their password.
    ResetPassword {
        /// The user's email address.
        email: String,
    },
    /// List staff users with their roles.
    ListUsers,
    /// Remove a user: their roles end and their tokens stop working.
    RemoveUser {
        /// The user's email address.
        email: String,
    },
}

/// `understory token ...`
#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create an API token for a user and print it (it is shown once).
    Create {
        /// The token owner's email address.
        email: String,
        /// Scope the token to this organisation (the user must be a member).
        #[arg(
            long,
            value_name = "HANDLE",
            required_unless_present = "operator",
            conflicts_with = "operator"
        )]
        org: Option<String>,
        /// Scope the token to the operator endpoints (the user must be an operator).
        #[arg(long)]
        operator: bool,
        /// A label to recognise the token by.
        #[arg(long, value_name = "LABEL")]
        name: Option<String>,
    },
    /// List tokens (never their secrets).
    List {
        /// Only this user's tokens.
        #[arg(long, value_name = "EMAIL")]
        user: Option<String>,
    },
    /// Revoke a token by its number (from `token list`).
    Revoke {
        /// The token's number.
        id: i64,
    },
}

/// Runs `understory admin ...`.
pub async fn admin(state: &AppState, cmd: AdminCommand) -> anyhow::Result<()> {
    let who = &Who::Cli;
    match cmd {
        AdminCommand::CreateUser {
            email,
            operator,
            org,
            role,
        } => {
            let org = match (&org, &role) {
                (Some(h), Some(r)) => Some((h.as_str(), Role::parse(r)?)),
                _ => None,
            };
            let (user, link) = accounts::create_user(state, who, &email, operator, org).await?;
            sent_or_print(state, &user.email, &link);
        }
        AdminCommand::ResetPassword { email } => {
            let link = accounts::reset_password(state, who, &email).await?;
            sent_or_print(state, &email, &link);
        }
        AdminCommand::ListUsers => {
            for user in store::users::list(&state.db).await? {
                let roles: Vec<String> = store::users::memberships_of(&state.db, user.id)
                    .await?
                    .into_iter()
                    .map(|m| format!("{}:{}", m.handle, m.role))
                    .collect();
                let status = match (user.removed_at, &user.password_hash) {
                    (Some(_), _) => "removed",
                    (None, None) => "invited",
                    (None, Some(_)) => "active",
                };
                let operator = if user.is_operator { "operator" } else { "-" };
                println!("{}\t{status}\t{operator}\t{}", user.email, roles.join(","));
            }
        }
        AdminCommand::RemoveUser { email } => {
            accounts::remove_user(state, who, &email).await?;
            println!("removed {email}");
        }
    }
    Ok(())
}

/// The link is always printed (the fallback when mail is not set up or slow).
fn sent_or_print(state: &AppState, email: &str, link: &str) {
    if mail::enabled(state) {
        eprintln!("a sign-in link was queued for {email}; it is also printed here");
    }
    println!("{link}");
}

/// Runs `understory token ...`.
pub async fn token(state: &AppState, cmd: TokenCommand) -> anyhow::Result<()> {
    let who = &Who::Cli;
    match cmd {
        TokenCommand::Create {
            email,
            org,
            operator,
            name,
        } => {
            let scope = if operator {
                Scope::Operator
            } else {
                Scope::Org(org.unwrap_or_default())
            };
            let (id, secret) = tokens::create(state, who, &email, &scope, name.as_deref()).await?;
            eprintln!("token {id} created; it is shown once, keep it secret");
            println!("{secret}");
        }
        TokenCommand::List { user } => {
            for t in tokens::list(state, user.as_deref()).await? {
                let scope = if t.operator {
                    "operator".to_owned()
                } else {
                    t.handle.unwrap_or_default()
                };
                let status = if t.revoked_at.is_some() { "revoked" } else { "live" };
                let used = t.last_used_at.map_or("never".to_owned(), rfc3339);
                println!(
                    "{}\t{}\t{scope}\t{}\t{status}\tcreated {}\tused {used}",
                    t.id,
                    t.email,
                    t.name,
                    rfc3339(t.created_at)
                );
            }
        }
        TokenCommand::Revoke { id } => {
            tokens::revoke(state, who, id, None).await?;
            println!("revoked token {id}");
        }
    }
    Ok(())
}

/// Runs `understory audit`.
pub async fn audit(state: &AppState, org: Option<&str>, limit: i64) -> anyhow::Result<()> {
    for e in audit::list(state, org, limit).await? {
        println!(
            "{}\t{}\t{}\t{}\t{}",
            rfc3339(e.at),
            e.actor,
            e.handle.unwrap_or_else(|| "-".into()),
            e.action,
            e.details
        );
    }
    Ok(())
}
