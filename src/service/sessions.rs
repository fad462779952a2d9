//! Signing in on the web: passwords (argon2id), TOTP second factors (required for operators),
//! sessions stored as hashes, rate-limited attempts, sign out here or everywhere.

use std::{collections::HashMap, sync::Mutex};

use serde_json::json;

use super::{
    Error, Result,
    accounts::{self, secret_hash},
    audit::{self, Who},
    token,
};
use crate::{
    domain::totp,
    state::AppState,
    store::{self, sessions::Session},
};

/// How long a session lasts without use.
pub const SESSION_IDLE_MS: i64 = 14 * 24 * 3600 * 1000;
/// Failed sign-ins allowed per email in [`SIGN_IN_WINDOW_MS`].
pub const SIGN_IN_MAX_PER_EMAIL: usize = 5;
/// Failed sign-ins allowed per client address in [`SIGN_IN_WINDOW_MS`].
pub const SIGN_IN_MAX_PER_ADDRESS: usize = 20;
/// The window of the sign-in limits.
pub const SIGN_IN_WINDOW_MS: i64 = 15 * 60 * 1000;

/// Failed attempts by key (`email:...`, `ip:...`), in memory: a restart forgives them.
#[derive(Default)]
pub struct SignInLimiter {
    failures: Mutex<HashMap<String, Vec<i64>>>,
}

impl SignInLimiter {
    /// Reserves one attempt for each `(key, max)` at once, before the password is checked: an
    /// attempt counts as a failure until it succeeds, so concurrent tries cannot all pass the
    /// check before any is counted. Returns the milliseconds to wait when a key is over its max.
    fn reserve(&self, keys: &[(&str, usize)], now: i64) -> std::result::Result<(), i64> {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        for (key, max) in keys {
            let list = map.entry((*key).to_owned()).or_default();
            list.retain(|t| now - t < SIGN_IN_WINDOW_MS);
            if list.len() >= *max {
                return Err(list
                    .first()
                    .map_or(SIGN_IN_WINDOW_MS, |first| first + SIGN_IN_WINDOW_MS - now));
            }
        }
        for (key, _) in keys {
            map.entry((*key).to_owned()).or_default().push(now);
        }
        Ok(())
    }

    /// A reserved attempt succeeded: the email's failures are forgiven and the address's
    /// reservation handed back.
    fn succeeded(&self, email_key: &str, ip_key: &str, now: i64) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(email_key);
        if let Some(list) = map.get_mut(ip_key)
            && let Some(at) = list.iter().rposition(|t| *t == now)
        {
            list.remove(at);
        }
    }
}

/// The result of a sign-in attempt.
#[derive(Debug)]
pub enum SignIn {
    /// Signed in: the cookie secret, and whether a second factor must still be set up.
    Ok {
        /// The cookie value.
        secret: String,
        /// An operator without a second factor must set one up before anything else.
        needs_totp_setup: bool,
    },
    /// Wrong email, password or code (one answer for all, so accounts cannot be probed).
    Refused,
    /// Too many failures: try again after this many milliseconds.
    Limited(i64),
}

/// Checks a sign-in and opens a session.
pub async fn sign_in(state: &AppState, email: &str, password: &str, code: &str, address: &str) -> Result<SignIn> {
    let now = state.clock.now_ms();
    let email_key = format!("email:{}", email.trim().to_lowercase());
    let ip_key = format!("ip:{address}");
    let limiter = &state.sign_in_limiter;
    let keys = [
        (email_key.as_str(), SIGN_IN_MAX_PER_EMAIL),
        (ip_key.as_str(), SIGN_IN_MAX_PER_ADDRESS),
    ];
    if let Err(wait) = limiter.reserve(&keys, now) {
        return Ok(SignIn::Limited(wait));
    }
    // The attempt was counted as a failure when reserved.
    let refuse = || Ok(SignIn::Refused);
    let Ok(user) = accounts::live_user(state, email).await else {
        return refuse();
    };
    let Some(phc) = user.password_hash.clone() else {
        return refuse();
    };
    let password = password.to_owned();
    let ok = accounts::password_work(state, move || accounts::verify_password(&password, &phc))
        .await
        .unwrap_or(false);
    if !ok {
        return refuse();
    }
    let (secret, enabled, _) = store::sessions::totp(&state.db, user.id).await?;
    let mut tx = state.db.begin().await?;
    if enabled {
        let step = secret
            .as_deref()
            .and_then(totp::base32_decode)
            .and_then(|s| totp::matching_step(&s, code, now));
        match step {
            Some(step) if store::sessions::use_totp_step(&mut tx, user.id, step, false).await? => {}
            _ => return refuse(),
        }
    }
    limiter.succeeded(&email_key, &ip_key, now);
    let cookie = format!("{}{}", token(), token());
    store::sessions::insert(
        &mut tx,
        &secret_hash(&cookie),
        user.id,
        &token(),
        enabled || !user.is_operator,
        now,
        now + SESSION_IDLE_MS,
    )
    .await?;
    let who = Who::User {
        id: user.id,
        email: user.email.clone(),
    };
    audit::record(
        &mut tx,
        state,
        &who,
        None,
        "session.sign_in",
        json!({"address": address}),
    )
    .await?;
    tx.commit().await?;
    Ok(SignIn::Ok {
        secret: cookie,
        needs_totp_setup: user.is_operator && !enabled,
    })
}

/// The live session of a cookie, refreshing its expiry at most once a minute.
pub async fn session(state: &AppState, cookie: &str) -> Result<Option<Session>> {
    let now = state.clock.now_ms();
    let found = store::sessions::find(&state.db, &secret_hash(cookie), now).await?;
    if let Some(s) = &found
        && now - s.last_seen_at > 60_000
    {
        store::sessions::touch(&state.db, &s.id_hash, now, now + SESSION_IDLE_MS).await?;
    }
    Ok(found)
}

/// Signs out this session.
pub async fn sign_out(state: &AppState, session: &Session) -> Result<()> {
    store::sessions::revoke(&state.db, &session.id_hash, state.clock.now_ms()).await?;
    Ok(())
}

/// Signs out every session of the user (also on other devices).
pub async fn sign_out_everywhere(state: &AppState, session: &Session) -> Result<u64> {
    let mut tx = state.db.begin().await?;
    let n = store::sessions::revoke_all(&mut tx, session.user_id, state.clock.now_ms()).await?;
    let who = Who::User {
        id: session.user_id,
        email: session.email.clone(),
    };
    audit::record(
        &mut tx,
        state,
        &who,
        None,
        "session.sign_out_everywhere",
        json!({"sessions": n}),
    )
    .await?;
    tx.commit().await?;
    Ok(n)
}

/// A new TOTP secret for the user (base32), shown once for the authenticator app.
pub async fn totp_setup(state: &AppState, session: &Session) -> Result<String> {
    let (existing, enabled, _) = store::sessions::totp(&state.db, session.user_id).await?;
    if enabled {
        return Err(Error::Conflict("two-factor sign-in is already on".into()));
    }
    if let Some(secret) = existing {
        return Ok(secret);
    }
    let mut bytes = [0u8; 20];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| Error::Internal("no randomness".into()))?;
    let secret = totp::base32_encode(&bytes);
    store::sessions::set_totp_secret(&state.db, session.user_id, &secret).await?;
    Ok(secret)
}

/// The otpauth URI of a secret (what authenticator apps scan).
pub fn totp_uri(state: &AppState, email: &str, secret: &str) -> String {
    let issuer = state.urls.authority();
    let label: String = url::form_urlencoded::byte_serialize(format!("{issuer}:{email}").as_bytes()).collect();
    let issuer_q: String = url::form_urlencoded::byte_serialize(issuer.as_bytes()).collect();
    format!("otpauth://totp/{label}?secret={secret}&issuer={issuer_q}&algorithm=SHA1&digits=6&period=30")
}

/// Turns two-factor sign-in on with a code from the app; this session counts as checked.
pub async fn totp_enable(state: &AppState, session: &Session, code: &str) -> Result<()> {
    let (secret, _, _) = store::sessions::totp(&state.db, session.user_id).await?;
    let secret = secret
        .and_then(|s| totp::base32_decode(&s))
        .ok_or_else(|| Error::Invalid("code: set up the authenticator first".into()))?;
    let step = totp::matching_step(&secret, code, state.clock.now_ms())
        .ok_or_else(|| Error::Invalid("code: wrong code".into()))?;
    let mut tx = state.db.begin().await?;
    if !store::sessions::use_totp_step(&mut tx, session.user_id, step, true).await? {
        return Err(Error::Invalid(
            "code: this code was used already; wait for the next one".into(),
        ));
    }
    store::sessions::set_mfa_ok(&mut tx, &session.id_hash).await?;
    let who = Who::User {
        id: session.user_id,
        email: session.email.clone(),
    };
    audit::record(&mut tx, state, &who, None, "user.totp_enable", json!({})).await?;
    tx.commit().await?;
    Ok(())
}
