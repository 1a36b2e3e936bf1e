//! Portal accounts: managers and staff sign in with an email address and a
//! password (argon2id, [`crate::passwords`]); a session is a random token in
//! a cookie, stored as SHA-256, with an idle and an absolute expiry; a
//! password is set through a single-use, expiring link sent through the
//! notification outbox, or by an operator. Setting a password ends every
//! session of the account. Sign-in is rate-limited per account and per
//! client address and does the same work whether or not the address is
//! known; residents are refused, after their password is checked, so the
//! refusal tells nothing to someone without it.

use keyway_api::Role;

use super::limits::{give_back, rate_limit};
use super::recipients::normalize_email;
use crate::auth::Caller;
use crate::clock::now_secs;
use crate::crypto::{Cell, DataKey, new_id, new_token, token_hash};
use crate::db::accounts::{self, Account, NewLink, NewSession};
use crate::db::{Context, Store, properties};
use crate::error::{Error, ErrorKind, Result};
use crate::notify::{Message, enqueue};
use crate::passwords;

/// A session ends after this long without a request.
pub const SESSION_IDLE_SECS: i64 = 30 * 60;
/// A session ends this long after sign-in, however busy.
pub const SESSION_MAX_SECS: i64 = 12 * 3600;
/// A session's last use is written at most this often.
const TOUCH_EVERY_SECS: i64 = 60;
/// The window of the sign-in limits.
pub const SIGN_IN_WINDOW_SECS: i64 = 15 * 60;
/// Failed sign-in attempts per account (email address, known or not) in a
/// window.
pub const SIGN_INS_PER_ACCOUNT: i64 = 10;
/// Sign-in attempts per client address in a window (failed or not).
pub const SIGN_INS_PER_CLIENT: i64 = 60;
/// How long a set-password link works, by default.
pub const LINK_SECS: i64 = 72 * 3600;
/// MAC domain of users' email addresses.
const EMAIL_MAC: &str = "user-email";
/// MAC domain of sessions' form tokens.
const CSRF_MAC: &str = "portal-csrf";

/// A signed-in Portal user.
#[derive(Debug, Clone)]
pub struct Session {
    /// The session's id.
    pub id: String,
    /// Who, with the same rules as an API caller.
    pub caller: Caller,
    /// The session's form token (every form carries it; every POST is
    /// checked against it).
    pub csrf: String,
}

/// A new session: the token for the cookie (shown once) and the session.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The cookie's value.
    pub token: String,
    /// The session.
    pub session: Session,
}

/// The form token of the session whose cookie holds `token`.
pub fn csrf_of(key: &DataKey, token: &str) -> String {
    key.lookup_mac(CSRF_MAC, token)
}

fn email_mac(key: &DataKey, email: &str) -> String {
    key.lookup_mac(EMAIL_MAC, email)
}

/// An address in its stored form, or `invalid_email`.
pub fn check_email(email: &str) -> Result<String> {
    normalize_email(email).ok_or_else(|| {
        Error::new(
            ErrorKind::Invalid,
            "invalid_email",
            "this is not an email address",
        )
    })
}

fn invalid_credentials() -> Error {
    Error::new(
        ErrorKind::Unauthorized,
        "invalid_credentials",
        "that email address and password do not match an account",
    )
}

fn role_of(account: &Account) -> Result<Role> {
    Role::parse(&account.role).ok_or_else(|| Error::internal("role", account.role.as_str()))
}

fn caller_of(account: &Account, session_id: &str) -> Result<Caller> {
    Ok(Caller {
        user_id: account.user_id.clone(),
        name: account.name.clone(),
        role: role_of(account)?,
        property_id: account.property_id.clone(),
        unit_id: account.unit_id.clone(),
        principal: format!("portal:{session_id}"),
        device_id: None,
    })
}

/// Checks a password off the async threads (argon2id is slow on purpose).
async fn verify(password: &str, stored: Option<String>) -> Result<bool> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || passwords::verify(&password, stored.as_deref()))
        .await
        .map_err(|e| Error::internal("password check", e))
}

/// Hashes a new password off the async threads.
async fn hash(password: &str) -> Result<String> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || passwords::hash(&password))
        .await
        .map_err(|e| Error::internal("password hash", e))?
}

/// Signs in with an email address and a password from `client`: the limits
/// (attempts per client address, failures per account, counted whether or
/// not the address is known), one password check (against a decoy hash when there is no
/// account), then a new session. Residents are refused with
/// `portal_not_for_residents` once their password is right.
pub async fn sign_in(store: &Store, email: &str, password: &str, client: &str) -> Result<SignedIn> {
    let key = store.key();
    let email = normalize_email(email).unwrap_or_else(|| email.trim().to_lowercase());
    let mac = email_mac(key, &email);
    let window = SIGN_IN_WINDOW_SECS;
    rate_limit(
        store,
        &format!("portal-client:{client}"),
        window,
        SIGN_INS_PER_CLIENT,
    )
    .await?;
    // Every attempt counts against the account until it succeeds (then it
    // is given back): only failures add up, however many run at once.
    let account_bucket = format!("portal-account:{mac}");
    rate_limit(store, &account_bucket, window, SIGN_INS_PER_ACCOUNT).await?;
    let account = accounts::by_email_mac(&mut store.read().await?, &mac).await?;
    let stored = account.as_ref().and_then(|a| a.password_hash.clone());
    let matches =
        password.chars().count() <= passwords::MAX_CHARS && verify(password, stored).await?;
    let account = match account {
        Some(account) if matches => account,
        _ => return Err(invalid_credentials()),
    };
    give_back(store, &account_bucket, window).await?;
    if role_of(&account)? == Role::Resident {
        return Err(Error::new(
            ErrorKind::Forbidden,
            "portal_not_for_residents",
            "the Portal is for managers and staff; residents manage their codes in the Keyway app",
        ));
    }
    let token = new_token("kwp")?;
    let now = now_secs();
    let row = NewSession {
        id: new_id("ses"),
        token_hash: token_hash(&token),
        user_id: account.user_id.clone(),
        created_at: now,
        expires_at: now + SESSION_MAX_SECS,
    };
    crate::db::insert(&mut store.read().await?, std::slice::from_ref(&row)).await?;
    log::info!(
        "user {} signed in to the Portal (session {})",
        account.user_id,
        row.id
    );
    let session = Session {
        caller: caller_of(&account, &row.id)?,
        csrf: csrf_of(key, &token),
        id: row.id,
    };
    Ok(SignedIn { token, session })
}

/// The session whose cookie holds `token`: `session_expired` when it ended,
/// expired or sat idle too long (an expired one is ended for good).
pub async fn session(store: &Store, token: &str) -> Result<Session> {
    let expired = || {
        Error::new(
            ErrorKind::Unauthorized,
            "session_expired",
            "your session has ended; sign in again",
        )
    };
    let mut read = store.read().await?;
    let row = accounts::session_by_token(&mut read, &token_hash(token))
        .await?
        .ok_or_else(expired)?;
    let now = now_secs();
    let role = role_of(&row.account)?;
    if row.expires_at <= now
        || row.last_seen_at + SESSION_IDLE_SECS <= now
        || role == Role::Resident
    {
        accounts::end_session(&mut read, &row.id, now).await?;
        return Err(expired());
    }
    if now - row.last_seen_at >= TOUCH_EVERY_SECS {
        accounts::touch_session(&mut read, &row.id, now).await?;
    }
    Ok(Session {
        caller: caller_of(&row.account, &row.id)?,
        csrf: csrf_of(store.key(), token),
        id: row.id,
    })
}

/// Ends a session (sign-out).
pub async fn sign_out(store: &Store, session: &Session) -> Result<()> {
    accounts::end_session(&mut store.read().await?, &session.id, now_secs()).await?;
    log::info!("user {} signed out of the Portal", session.caller.user_id);
    Ok(())
}

/// Sets a user's password: checked against the rules, hashed, stored; every
/// session of the user ends and every unused set-password link stops
/// working, in one write. How many sessions ended.
pub async fn set_password(store: &Store, user_id: &str, password: &str) -> Result<u64> {
    passwords::check_new(password)?;
    let account = accounts::by_id(&mut store.read().await?, user_id)
        .await?
        .ok_or_else(|| Error::not_found("user"))?;
    let hashed = hash(password).await?;
    let mut w = store
        .begin_write(&account.property_id)
        .await?
        .ok_or_else(|| Error::not_found("property"))?;
    let now = now_secs();
    accounts::set_password(&mut w, user_id, &hashed, now).await?;
    let ended = accounts::end_sessions_of(&mut w, user_id, now).await?;
    accounts::use_links_of(&mut w, user_id, now).await?;
    w.commit().await?;
    log::info!("user {user_id}'s password was set; {ended} Portal session(s) ended");
    Ok(ended)
}

/// Changes the signed-in user's password after checking the current one
/// (failures limited like sign-in's, per account); the new one is checked
/// against the rules first. Every session ends, this one too.
pub async fn change_password(
    store: &Store,
    session: &Session,
    current: &str,
    new: &str,
) -> Result<()> {
    passwords::check_new(new)?;
    let user_id = &session.caller.user_id;
    let bucket = format!("portal-password:{user_id}");
    rate_limit(store, &bucket, SIGN_IN_WINDOW_SECS, SIGN_INS_PER_ACCOUNT).await?;
    let account = accounts::by_id(&mut store.read().await?, user_id)
        .await?
        .ok_or_else(|| Error::not_found("user"))?;
    if !verify(current, account.password_hash).await? {
        return Err(Error::new(
            ErrorKind::Unprocessable,
            "wrong_password",
            "the current password is not right",
        ));
    }
    give_back(store, &bucket, SIGN_IN_WINDOW_SECS).await?;
    set_password(store, user_id, new).await.map(|_| ())
}

/// Sets a password through a set-password link: `link_invalid` when the
/// link was used, replaced or has expired.
pub async fn redeem_link(store: &Store, token: &str, password: &str) -> Result<()> {
    passwords::check_new(password)?;
    let invalid = || {
        Error::new(
            ErrorKind::Unprocessable,
            "link_invalid",
            "this link was used already or has expired; ask your manager or operator for a new one",
        )
    };
    let found = accounts::unused_link(&mut store.read().await?, &token_hash(token)).await?;
    let (_, user_id, expires_at) = found.ok_or_else(invalid)?;
    if expires_at <= now_secs() {
        return Err(invalid());
    }
    set_password(store, &user_id, password).await.map(|_| ())
}

/// Whether a set-password link can still be used (the page asks before it
/// shows its form).
pub async fn link_is_usable(store: &Store, token: &str) -> Result<bool> {
    let found = accounts::unused_link(&mut store.read().await?, &token_hash(token)).await?;
    Ok(found.is_some_and(|(_, _, expires_at)| expires_at > now_secs()))
}

/// Sets a user's sign-in email address: `invalid_email`, or `email_taken`
/// when another account has it.
pub async fn set_email(store: &Store, user_id: &str, email: &str) -> Result<()> {
    let mut read = store.read().await?;
    if accounts::by_id(&mut read, user_id).await?.is_none() {
        return Err(Error::not_found("user"));
    }
    set_email_in(&mut read, user_id, email).await
}

/// [`set_email`] in a context that already holds the user (an operator's
/// write that creates them).
pub async fn set_email_in(cx: &mut impl Context, user_id: &str, email: &str) -> Result<()> {
    let email = check_email(email)?;
    let key = cx.key().clone();
    let sealed = key.seal_str(Cell::new("users", "email", user_id), &email)?;
    if !accounts::set_email(cx, user_id, &sealed, &email_mac(&key, &email)).await? {
        return Err(Error::conflict(
            "email_taken",
            "another account signs in with this email address",
        ));
    }
    Ok(())
}

/// A user's sign-in email address, if one is set.
pub async fn email_of(store: &Store, user_id: &str) -> Result<Option<String>> {
    let sealed = accounts::email_of(&mut store.read().await?, user_id).await?;
    Ok(match sealed {
        Some(sealed) => Some(
            store
                .key()
                .open_str(Cell::new("users", "email", user_id), &sealed)?,
        ),
        None => None,
    })
}

/// Sends a manager or staff member a set-password link through the outbox
/// (to their sign-in address): `{portal_url}/set-password?token=…`, working
/// once, for `valid_secs`. Returns when it stops working (Unix seconds).
pub async fn invite(
    store: &Store,
    user_id: &str,
    portal_url: &str,
    valid_secs: i64,
) -> Result<i64> {
    let account = accounts::by_id(&mut store.read().await?, user_id)
        .await?
        .ok_or_else(|| Error::not_found("user"))?;
    if role_of(&account)? == Role::Resident {
        return Err(Error::new(
            ErrorKind::Invalid,
            "portal_not_for_residents",
            "the Portal is for managers and staff; residents use the Keyway app",
        ));
    }
    let email = email_of(store, user_id).await?.ok_or_else(|| {
        Error::new(
            ErrorKind::Invalid,
            "no_email",
            "this user has no email address yet",
        )
    })?;
    let token = new_token("kwl")?;
    let now = now_secs();
    let link = NewLink {
        id: new_id("lnk"),
        token_hash: token_hash(&token),
        user_id: user_id.to_owned(),
        created_at: now,
        expires_at: now + valid_secs.max(60),
    };
    let mut w = store
        .begin_write(&account.property_id)
        .await?
        .ok_or_else(|| Error::not_found("property"))?;
    let property = properties::load(&mut w, &account.property_id).await?;
    crate::db::insert(&mut w, std::slice::from_ref(&link)).await?;
    let url = format!(
        "{}/set-password?token={token}",
        portal_url.trim_end_matches('/')
    );
    let message = Message {
        channel: "email".into(),
        to: email,
        subject: format!("Your Keyway Portal account at {}", property.name),
        body: format!(
            "Hello {}, set your password for the Keyway Portal of {} here: {url}\nThe link works once, for {} hours.",
            account.name,
            property.name,
            (link.expires_at - now) / 3600
        ),
    };
    enqueue(&mut w, &message).await?;
    w.commit().await?;
    log::info!("user {user_id} was sent a set-password link");
    Ok(link.expires_at)
}

/// Forgets sessions and links that ended more than a day ago (the sweep).
pub async fn forget_expired(store: &Store, now: i64) -> Result<()> {
    let mut read = store.read().await?;
    accounts::forget_sessions(&mut read, now - 86_400).await?;
    accounts::forget_links(&mut read, now - 86_400).await
}
