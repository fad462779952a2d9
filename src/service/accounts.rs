//! Staff accounts: users, their roles in organisations, operators, sign-in links and passwords.

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier, password_hash::SaltString};
use aws_lc_rs::digest;
use serde_json::json;

use super::{
    Error, Result,
    audit::{self, Who},
    mail, token,
};
use crate::{
    state::AppState,
    store::{self, Tx, users::User},
};

/// How long an invitation link works.
pub const INVITE_TTL_MS: i64 = 7 * 24 * 3600 * 1000;
/// How long a password-reset link works.
pub const RESET_TTL_MS: i64 = 3600 * 1000;
/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password accepted (hashing cost is bounded).
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// A role in an organisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Manages members and reads the audit log, and everything an editor does.
    Owner,
    /// Edits the profile, publishes updates, answers follow requests.
    Editor,
}

impl Role {
    /// Parses `owner` or `editor`.
    pub fn parse(raw: &str) -> Result<Self> {
        match raw {
            "owner" => Ok(Self::Owner),
            "editor" => Ok(Self::Editor),
            _ => Err(Error::Invalid(format!("role: {raw:?} must be owner or editor"))),
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Editor => "editor",
        }
    }
}

/// Lowercases and checks the shape of an email address.
pub fn parse_email(raw: &str) -> Result<String> {
    let email = raw.trim().to_lowercase();
    let ok = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        })
        && !email
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'))
        && email.matches('@').count() == 1;
    if ok {
        Ok(email)
    } else {
        Err(Error::Invalid(format!("email: {raw:?} is not an email address")))
    }
}

/// SHA-256 hex of a secret (links and tokens have 256 bits of entropy, so no slow hash is needed).
pub fn secret_hash(secret: &str) -> String {
    hex::encode(digest::digest(&digest::SHA256, secret.as_bytes()))
}

/// A new one-time sign-in link for `user_id`, stored as a hash; mailed when mail is set up.
async fn issue_link(tx: &mut Tx, state: &AppState, user: &User, purpose: &str, ttl: i64) -> Result<String> {
    let secret = format!("{}{}", token(), token());
    store::users::insert_link(tx, &secret_hash(&secret), user.id, purpose, state.clock.now_ms() + ttl).await?;
    let url = format!("{}/login/link/{secret}", state.urls.base());
    let (subject, intro) = if purpose == "invite" {
        (
            format!("You are invited to {}", state.urls.authority()),
            "You have been invited to help run an Understory instance.",
        )
    } else {
        (
            format!("Reset your password on {}", state.urls.authority()),
            "Someone asked to reset your password.",
        )
    };
    let hours = ttl / 3_600_000;
    let body = format!("{intro}\n\nChoose your password here (the link works once, for {hours} hours):\n\n{url}\n");
    mail::queue(tx, state, &user.email, &subject, &body).await?;
    Ok(url)
}

/// Creates a user (optionally an operator, optionally with a role in an organisation) and
/// returns it with a one-time sign-in link.
pub async fn create_user(
    state: &AppState,
    who: &Who,
    email: &str,
    operator: bool,
    org: Option<(&str, Role)>,
) -> Result<(User, String)> {
    let email = parse_email(email)?;
    let org = match org {
        Some((handle, role)) => Some((super::orgs::find_live(state, handle).await?, role)),
        None => None,
    };
    if store::users::find_by_email(&state.db, &email).await?.is_some() {
        return Err(Error::Conflict(format!("a user with email {email} exists")));
    }
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let id = match store::users::insert(&mut tx, &email, operator, now).await {
        Ok(id) => id,
        Err(e) if e.is_unique_violation() => return Err(Error::Conflict(format!("a user with email {email} exists"))),
        Err(e) => return Err(e.into()),
    };
    audit::record(
        &mut tx,
        state,
        who,
        None,
        "user.create",
        json!({"email": email, "operator": operator}),
    )
    .await?;
    if let Some((org, role)) = &org {
        store::users::set_membership(&mut tx, id, org.id, role.as_str(), now).await?;
        audit::record(
            &mut tx,
            state,
            who,
            Some(org.id),
            "member.add",
            json!({"email": email, "role": role.as_str()}),
        )
        .await?;
    }
    let user = User {
        id,
        email,
        password_hash: None,
        is_operator: operator,
        created_at: now,
        removed_at: None,
    };
    let link = issue_link(&mut tx, state, &user, "invite", INVITE_TTL_MS).await?;
    tx.commit().await?;
    Ok((user, link))
}

/// Gives a person a role in an organisation, creating their account if needed. Returns the
/// sign-in link when the account is new (mailed too when mail is set up).
pub async fn invite(state: &AppState, who: &Who, handle: &str, email: &str, role: Role) -> Result<Option<String>> {
    let email = parse_email(email)?;
    let org = super::orgs::find_live(state, handle).await?;
    match store::users::find_by_email(&state.db, &email).await? {
        Some(user) if user.removed_at.is_some() => Err(Error::Gone(format!("user {email}"))),
        Some(user) => {
            let mut tx = state.db.begin().await?;
            if role != Role::Owner {
                keep_an_owner(&mut tx, org.id, user.id, &org.handle).await?;
            }
            store::users::set_membership(&mut tx, user.id, org.id, role.as_str(), state.clock.now_ms()).await?;
            audit::record(
                &mut tx,
                state,
                who,
                Some(org.id),
                "member.add",
                json!({"email": email, "role": role.as_str()}),
            )
            .await?;
            let subject = format!("You can now help run {} on {}", org.name, state.urls.authority());
            let body = format!(
                "You were given the role {} for {}.\n\n{}/@{}\n",
                role.as_str(),
                org.name,
                state.urls.base(),
                org.handle
            );
            mail::queue(&mut tx, state, &email, &subject, &body).await?;
            tx.commit().await?;
            Ok(None)
        }
        None => Ok(Some(
            create_user(state, who, &email, false, Some((handle, role))).await?.1,
        )),
    }
}

/// Ends a person's role in an organisation. The last owner cannot be removed.
pub async fn remove_member(state: &AppState, who: &Who, handle: &str, email: &str) -> Result<()> {
    let email = parse_email(email)?;
    let org = super::orgs::find_live(state, handle).await?;
    let members = store::users::members(&state.db, org.id).await?;
    let member = members
        .iter()
        .find(|m| m.email == email)
        .ok_or_else(|| Error::NotFound(format!("member {email}")))?;
    let mut tx = state.db.begin().await?;
    keep_an_owner(&mut tx, org.id, member.user_id, &org.handle).await?;
    store::users::remove_membership(&mut tx, member.user_id, org.id).await?;
    audit::record(
        &mut tx,
        state,
        who,
        Some(org.id),
        "member.remove",
        json!({"email": email, "role": member.role}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Refuses a change that would leave `org_id` without an owner when `user_id` stops being one.
/// Checked inside the transaction that makes the change, with the owners locked, so two owners
/// removing each other at once cannot both succeed.
async fn keep_an_owner(tx: &mut store::Tx, org_id: i64, user_id: i64, handle: &str) -> Result<()> {
    let owners = store::users::lock_owners(tx, org_id).await?;
    if owners == [user_id] {
        return Err(Error::Conflict(format!(
            "this is the last owner of {handle}; make someone else owner first"
        )));
    }
    Ok(())
}

/// A fresh sign-in link for a forgotten password.
pub async fn reset_password(state: &AppState, who: &Who, email: &str) -> Result<String> {
    let user = live_user(state, email).await?;
    let mut tx = state.db.begin().await?;
    let link = issue_link(&mut tx, state, &user, "reset", RESET_TTL_MS).await?;
    audit::record(
        &mut tx,
        state,
        who,
        None,
        "user.reset_password",
        json!({"email": user.email}),
    )
    .await?;
    tx.commit().await?;
    Ok(link)
}

/// A live user by email.
pub async fn live_user(state: &AppState, email: &str) -> Result<User> {
    let email = parse_email(email)?;
    match store::users::find_by_email(&state.db, &email).await? {
        Some(u) if u.removed_at.is_none() => Ok(u),
        Some(_) => Err(Error::Gone(format!("user {email}"))),
        None => Err(Error::NotFound(format!("user {email}"))),
    }
}

/// Removes a user: memberships end, tokens are revoked, sign-in is refused.
pub async fn remove_user(state: &AppState, who: &Who, email: &str) -> Result<()> {
    let user = live_user(state, email).await?;
    let memberships = store::users::memberships_of(&state.db, user.id).await?;
    let mut tx = state.db.begin().await?;
    for m in &memberships {
        keep_an_owner(&mut tx, m.org_id, user.id, &m.handle).await?;
    }
    store::users::remove(&mut tx, user.id, state.clock.now_ms()).await?;
    // The entry names the account by id only: the address is erased with it.
    audit::record(&mut tx, state, who, None, "user.remove", json!({"user": user.id})).await?;
    tx.commit().await?;
    Ok(())
}

/// Whether a sign-in link works now (unused and unexpired).
pub async fn link_is_valid(state: &AppState, secret: &str) -> Result<bool> {
    Ok(
        matches!(store::users::find_link(&state.db, &secret_hash(secret)).await?,
        Some((_, expires, None)) if expires > state.clock.now_ms()),
    )
}

/// Uses a sign-in link to set the password. The link works once.
pub async fn set_password_with_link(state: &AppState, secret: &str, password: &str) -> Result<User> {
    check_password(password)?;
    let hash = secret_hash(secret);
    let (user_id, _, _) = store::users::find_link(&state.db, &hash)
        .await?
        .ok_or_else(|| Error::NotFound("sign-in link".into()))?;
    let user = store::users::find(&state.db, user_id)
        .await?
        .ok_or_else(|| Error::NotFound("user".into()))?;
    let typed = password.to_owned();
    let phc = password_work(state, move || hash_password(&typed))
        .await
        .ok_or_else(|| Error::Internal("password hashing failed".into()))??;
    let mut tx = state.db.begin().await?;
    if !store::users::use_link(&mut tx, &hash, state.clock.now_ms()).await? || user.removed_at.is_some() {
        return Err(Error::Gone("sign-in link (used or expired)".into()));
    }
    store::users::set_password(&mut tx, user.id, &phc).await?;
    let who = Who::User {
        id: user.id,
        email: user.email.clone(),
    };
    audit::record(
        &mut tx,
        state,
        &who,
        None,
        "user.set_password",
        json!({"email": user.email}),
    )
    .await?;
    tx.commit().await?;
    Ok(User {
        password_hash: Some(phc),
        ..user
    })
}

/// Refuses passwords outside the length rules.
pub fn check_password(password: &str) -> Result<()> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(Error::Invalid(format!(
            "password: must be at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(Error::Invalid(format!(
            "password: must be at most {MAX_PASSWORD_CHARS} characters"
        )));
    }
    Ok(())
}

/// Runs argon2 work (`f`) on the instance's [`crate::state::PASSWORD_WORKERS`] password
/// threads: each hash takes about 19 MiB, so a burst of sign-ins waits its turn instead of
/// growing memory by the burst. `None` if the work panicked.
pub async fn password_work<T: Send + 'static>(state: &AppState, f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    state.password_work.run(f).await
}

/// argon2id with the crate's default (OWASP) parameters and a random salt.
pub fn hash_password(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    aws_lc_rs::rand::fill(&mut salt).map_err(|_| Error::Internal("no randomness".into()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| Error::Internal(e.to_string()))?
        .to_string())
}

/// Checks a password against a stored argon2 hash.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked_and_lowercased() {
        assert_eq!(parse_email(" Ann@Example.org ").unwrap(), "ann@example.org");
        for bad in [
            "",
            "ann",
            "ann@",
            "@x.org",
            "a b@x.org",
            "a@b@x.org",
            "ann@localhost",
            "<a@x.org>",
        ] {
            assert!(parse_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let phc = hash_password("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &phc));
        assert!(!verify_password("wrong horse battery", &phc));
        assert!(check_password("short").is_err());
    }
}
