//! Mail to staff: invitations, password resets, and notifications (a follower awaiting
//! approval, a reply or mention). Queued with the event, sent by the mail worker; without
//! `UNDERSTORY_SMTP_URL` nothing is queued and the CLI prints links instead.

use std::time::Duration;

use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor, message::Mailbox};
use tokio_util::sync::CancellationToken;

use super::{Error, Result};
use crate::{
    state::AppState,
    store::{self, Tx},
};

/// Messages sent per pass.
const BATCH: i64 = 50;
/// How often the worker looks for mail when idle.
const IDLE_POLL: Duration = Duration::from_secs(5);
/// Attempts before a message is given up (about a day of retries).
const MAX_ATTEMPTS: i32 = 12;

/// Whether mail is set up.
pub fn enabled(state: &AppState) -> bool {
    state.config.smtp_url.is_some()
}

/// Queues a message inside `tx` when mail is set up; returns whether it was queued.
pub async fn queue(tx: &mut Tx, state: &AppState, to: &str, subject: &str, body: &str) -> Result<bool> {
    if !enabled(state) {
        return Ok(false);
    }
    store::mail::enqueue(tx, to, subject, body, state.clock.now_ms()).await?;
    Ok(true)
}

/// Queues a message to every owner and editor of an organisation.
pub async fn notify_staff(tx: &mut Tx, state: &AppState, org_id: i64, subject: &str, body: &str) -> Result<()> {
    if !enabled(state) {
        return Ok(());
    }
    for member in store::users::members_in(tx, org_id).await? {
        queue(tx, state, &member.email, subject, body).await?;
    }
    Ok(())
}

fn transport(state: &AppState) -> Result<AsyncSmtpTransport<Tokio1Executor>> {
    let url = state
        .config
        .smtp_url
        .as_deref()
        .ok_or_else(|| Error::Internal("mail is not set up".into()))?;
    Ok(AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
        .map_err(|e| Error::Internal(format!("UNDERSTORY_SMTP_URL: {e}")))?
        .timeout(Some(Duration::from_secs(20)))
        .build())
}

/// One pass: sends the messages that are due. Returns how many were attempted.
pub async fn deliver_due(state: &AppState) -> Result<usize> {
    if !enabled(state) {
        return Ok(0);
    }
    let due = store::mail::due(&state.db, state.clock.now_ms(), BATCH).await?;
    if due.is_empty() {
        return Ok(0);
    }
    let mailer = transport(state)?;
    let from: Mailbox = state
        .config
        .smtp_from
        .parse()
        .map_err(|e| Error::Internal(format!("UNDERSTORY_SMTP_FROM: {e}")))?;
    for mail in &due {
        let outcome = match mail.recipient.parse::<Mailbox>() {
            Ok(to) => match Message::builder()
                .from(from.clone())
                .to(to)
                .subject(&mail.subject)
                .body(mail.body.clone())
            {
                Ok(message) => mailer.send(message).await.map(|_| ()).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            },
            Err(e) => Err(e.to_string()),
        };
        let now = state.clock.now_ms();
        match outcome {
            Ok(()) => store::mail::sent(&state.db, mail.id, now).await?,
            Err(e) => {
                let attempts = mail.attempts + 1;
                tracing::warn!(to = %mail.recipient, error = %e, attempts, "sending mail failed");
                let next = if attempts >= MAX_ATTEMPTS {
                    i64::MAX
                } else {
                    now + 60_000 * (1_i64 << attempts.min(10))
                };
                store::mail::failed(&state.db, mail.id, attempts, next, &e).await?;
            }
        }
    }
    Ok(due.len())
}

/// The mail worker loop.
pub async fn run(state: AppState, stop: CancellationToken) {
    while !stop.is_cancelled() {
        let sent = deliver_due(&state).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "mail pass failed");
            0
        });
        if sent == 0 {
            tokio::select! { _ = stop.cancelled() => break, _ = tokio::time::sleep(IDLE_POLL) => {} }
        }
    }
}
