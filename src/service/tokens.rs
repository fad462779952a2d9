//! API tokens: belong to a user, scoped to one organisation or to the operator, shown once,
//! stored as a hash, revocable.

use serde_json::json;

use super::{
    Error, Result,
    accounts::{self, Role, secret_hash},
    audit::{self, Who},
    token,
};
use crate::{
    state::AppState,
    store::{self, tokens::Token},
};

/// Longest token label.
pub const MAX_NAME_CHARS: usize = 100;

/// What a token may act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// One organisation (by handle when creating, by id once stored).
    Org(String),
    /// The instance's operator endpoints.
    Operator,
}

/// A verified bearer: the user behind the token and what it may do.
#[derive(Clone, Debug)]
pub struct Bearer {
    /// The token row id.
    pub token_id: i64,
    /// The user.
    pub user_id: i64,
    /// Their email.
    pub email: String,
    /// `Some((org_id, role))` for an organisation token.
    pub org: Option<(i64, Role)>,
    /// Operator scope (and the user is still an operator).
    pub operator: bool,
}

impl Bearer {
    /// The audit identity of the bearer.
    pub fn who(&self) -> Who {
        Who::User {
            id: self.user_id,
            email: self.email.clone(),
        }
    }
}

/// Creates a token and returns `(id, secret)`; the secret is shown once and never stored.
pub async fn create(
    state: &AppState,
    who: &Who,
    email: &str,
    scope: &Scope,
    name: Option<&str>,
) -> Result<(i64, String)> {
    let user = accounts::live_user(state, email).await?;
    let name = crate::domain::plain_text("name", name.unwrap_or("api"), MAX_NAME_CHARS, true)?;
    let org = match scope {
        Scope::Org(handle) => {
            let org = super::orgs::find_live(state, handle).await?;
            if store::users::role(&state.db, user.id, org.id).await?.is_none() {
                return Err(Error::Forbidden(format!("{} is not a member of {handle}", user.email)));
            }
            Some(org)
        }
        Scope::Operator if !user.is_operator => {
            return Err(Error::Forbidden(format!("{} is not an operator", user.email)));
        }
        Scope::Operator => None,
    };
    let secret = format!("ust_{}{}", token(), token());
    let mut tx = state.db.begin().await?;
    let org_id = org.as_ref().map(|o| o.id);
    let id = store::tokens::insert(
        &mut tx,
        &secret_hash(&secret),
        user.id,
        org_id,
        org.is_none(),
        &name,
        state.clock.now_ms(),
    )
    .await?;
    let scope_label = org.as_ref().map_or("operator".to_owned(), |o| o.handle.clone());
    audit::record(
        &mut tx,
        state,
        who,
        org_id,
        "token.create",
        json!({"id": id, "user": user.email, "scope": scope_label, "name": name}),
    )
    .await?;
    tx.commit().await?;
    Ok((id, secret))
}

/// Verifies a bearer token: live, its user live, and the user still holds the scope.
pub async fn authenticate(state: &AppState, secret: &str) -> Result<Bearer> {
    let refuse = || Error::Unauthorized("invalid or revoked token".into());
    let token = store::tokens::find_live(&state.db, &secret_hash(secret))
        .await?
        .ok_or_else(refuse)?;
    let user = store::users::find(&state.db, token.user_id).await?.ok_or_else(refuse)?;
    let org = match token.org_id {
        Some(org_id) => {
            let role = store::users::role(&state.db, user.id, org_id)
                .await?
                .ok_or_else(refuse)?;
            Some((org_id, Role::parse(&role)?))
        }
        None => None,
    };
    if token.operator && !user.is_operator {
        return Err(refuse());
    }
    store::tokens::touch(&state.db, token.id, state.clock.now_ms()).await?;
    Ok(Bearer {
        token_id: token.id,
        user_id: user.id,
        email: user.email,
        org,
        operator: token.operator,
    })
}

/// Tokens, all or of one user.
pub async fn list(state: &AppState, email: Option<&str>) -> Result<Vec<Token>> {
    let user_id = match email {
        Some(e) => Some(accounts::live_user(state, e).await?.id),
        None => None,
    };
    Ok(store::tokens::list(&state.db, user_id).await?)
}

/// Revokes a token by id. `owner` restricts it to that user's own tokens (API use).
pub async fn revoke(state: &AppState, who: &Who, id: i64, owner: Option<i64>) -> Result<()> {
    let token = store::tokens::find(&state.db, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("token {id}")))?;
    if owner.is_some_and(|o| o != token.user_id) {
        return Err(Error::NotFound(format!("token {id}")));
    }
    let mut tx = state.db.begin().await?;
    if !store::tokens::revoke(&mut tx, id, state.clock.now_ms()).await? {
        return Err(Error::Gone(format!("token {id} (already revoked)")));
    }
    audit::record(
        &mut tx,
        state,
        who,
        token.org_id,
        "token.revoke",
        json!({"id": id, "user": token.email}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
