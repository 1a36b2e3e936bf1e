//! What Portal handlers take from a request, and the checks that come with
//! it: the signed-in user ([`Portal`], from the session cookie; otherwise a
//! redirect to the sign-in page), a signed-in user's form ([`Posted`]: the
//! request's origin, the session's CSRF token and the form's idempotency
//! key), a form posted before sign-in ([`Anonymous`]: the origin and the
//! form cookie's token), and the browser's cookies and address
//! ([`Browser`]). A post that fails a check is refused with `403` before
//! anything runs.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use serde::de::DeserializeOwned;

use super::page::{PageError, failure, redirect};
use crate::app::App;
use crate::auth::{Caller, Idem};
use crate::crypto::{new_token, same_secret};
use crate::db::Write;
use crate::error::{Error, ErrorKind, Result};
use crate::ops::accounts::{self, Session};
use crate::ops::idempotent::WriteFuture;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "keyway_session";
/// The cookie that pairs with the token of forms shown before sign-in.
pub const FORM_COOKIE: &str = "keyway_form";
/// MAC domain of the anonymous forms' token.
const FORM_MAC: &str = "portal-form";
/// The largest form body taken.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Whether the browser reached the Portal over https. The server speaks
/// plain HTTP, so only a trusted proxy (`--trusted-proxies`) can say so,
/// with `X-Forwarded-Proto: https`.
pub fn is_https(app: &App, parts: &Parts) -> bool {
    let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() else {
        return false;
    };
    let ip = peer.ip().to_canonical();
    if !app.trusted_proxies.iter().any(|net| net.contains(&ip)) {
        return false;
    }
    parts
        .headers
        .get_all("x-forwarded-proto")
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

/// Whether a post came from one of the Portal's own pages: its `Origin`
/// (or, without one, its `Referer`) is the Portal's own address, and
/// `Sec-Fetch-Site`, when sent, does not name another site.
pub fn same_origin(app: &App, parts: &Parts) -> bool {
    let text = |name| parts.headers.get(name).and_then(|v| v.to_str().ok());
    if text("sec-fetch-site").is_some_and(|site| site != "same-origin" && site != "none") {
        return false;
    }
    let Some(host) = text("host") else {
        return false;
    };
    let scheme = if is_https(app, parts) {
        "https"
    } else {
        "http"
    };
    let own = format!("{scheme}://{host}");
    match (text("origin"), text("referer")) {
        (Some(origin), _) => origin == own,
        (None, Some(referer)) => referer == own || referer.starts_with(&format!("{own}/")),
        (None, None) => false,
    }
}

/// A cookie the Portal sets: `HttpOnly; SameSite=Strict; Path=/`, and
/// `Secure` when the browser came over https. No `Max-Age`: the browser
/// forgets it when it closes, and the server ends it sooner.
pub fn cookie(name: &'static str, value: String, secure: bool) -> Cookie<'static> {
    Cookie::build((name, value))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/")
        .secure(secure)
        .build()
}

/// A cookie that removes the browser's cookie `name` (empty, expired);
/// add it to the answer's jar.
pub fn removal(name: &'static str) -> Cookie<'static> {
    let mut cookie = Cookie::build((name, "")).path("/").build();
    cookie.make_removal();
    cookie
}

/// The refusal of a post that did not come from a Portal page of this
/// session: nothing runs.
pub fn csrf_refused() -> Response {
    failure(
        StatusCode::FORBIDDEN,
        "csrf_failed",
        "This form did not come from a Portal page of your session, so nothing was changed. Go back, reload the page and try again.",
    )
}

fn malformed(detail: &str) -> Response {
    failure(StatusCode::BAD_REQUEST, "invalid_request", detail)
}

/// The sign-in page, coming back to this page afterwards (for a page view).
fn to_sign_in(parts: &Parts) -> Response {
    if parts.method != Method::GET {
        return redirect("/sign-in");
    }
    let here = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    match serde_urlencoded::to_string([("next", here)]) {
        Ok(query) => redirect(&format!("/sign-in?{query}")),
        Err(_) => redirect("/sign-in"),
    }
}

/// The browser: its cookies, whether it came over https, its address.
#[derive(Debug, Clone)]
pub struct Browser {
    /// Its cookies.
    pub jar: CookieJar,
    /// Whether it came over https (through a trusted proxy).
    pub https: bool,
    /// Its address, for rate limits (see [`App::client_ip`]).
    pub client: String,
}

impl FromRequestParts<App> for Browser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Response> {
        let client = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| app.client_ip(*peer, &parts.headers).to_string())
            .unwrap_or_default();
        Ok(Self {
            jar: CookieJar::from_headers(&parts.headers),
            https: is_https(app, parts),
            client,
        })
    }
}

impl Browser {
    /// The token a page shown before sign-in puts in its form, and the jar
    /// holding the form cookie it pairs with (a new cookie when the browser
    /// has none yet).
    pub fn form_token(&self, app: &App) -> Result<(CookieJar, String)> {
        let (jar, value) = match self.jar.get(FORM_COOKIE) {
            Some(c) if !c.value().is_empty() => (self.jar.clone(), c.value().to_owned()),
            _ => {
                let value = new_token("kwf")?;
                let jar = self
                    .jar
                    .clone()
                    .add(cookie(FORM_COOKIE, value.clone(), self.https));
                (jar, value)
            }
        };
        Ok((jar, app.store.key().lookup_mac(FORM_MAC, &value)))
    }

    /// The session cookie's token, if the browser sent one.
    pub fn session_token(&self) -> Option<String> {
        self.jar
            .get(SESSION_COOKIE)
            .map(|c| c.value().to_owned())
            .filter(|v| !v.is_empty())
    }
}

/// A signed-in manager or staff member; without a live session, the
/// request goes to the sign-in page.
#[derive(Debug, Clone)]
pub struct Portal(pub Session);

impl FromRequestParts<App> for Portal {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Response> {
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(token) = jar.get(SESSION_COOKIE).map(|c| c.value().to_owned()) else {
            return Err(to_sign_in(parts));
        };
        match accounts::session(&app.store, &token).await {
            Ok(session) => Ok(Self(session)),
            Err(e) if e.kind == ErrorKind::Unauthorized => Err(to_sign_in(parts)),
            Err(e) => Err(PageError(e).into_response()),
        }
    }
}

/// A form body's fields, refused with `400` if it is not a form or holds a
/// NUL character.
fn fields(body: &[u8]) -> Result<Vec<(String, String)>, &'static str> {
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|_| "The form could not be read; nothing was changed.")?;
    if fields
        .iter()
        .any(|(k, v)| k.contains('\0') || v.contains('\0'))
    {
        return Err("The form holds a character it may not; nothing was changed.");
    }
    Ok(fields)
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The body of a post, at most [`BODY_LIMIT`] bytes.
async fn body_of(body: axum::body::Body) -> Result<Bytes, Response> {
    axum::body::to_bytes(body, BODY_LIMIT).await.map_err(|_| {
        failure(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "The form is too large; nothing was changed.",
        )
    })
}

/// `T` from a form body; a missing or malformed field is `400`.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, &'static str> {
    serde_urlencoded::from_bytes(body)
        .map_err(|_| "A field of the form is missing or malformed; nothing was changed.")
}

/// A form a signed-in user posted, after the checks: it came from a Portal
/// page (origin), of this session (its `csrf` field is the session's
/// token). Its `idem` field makes a write run once however often the form
/// is sent.
#[derive(Debug)]
pub struct Posted<T> {
    /// The session.
    pub session: Session,
    /// The form.
    pub form: T,
    body: Bytes,
    idem: Option<String>,
    target: String,
}

impl<T: DeserializeOwned + Send> FromRequest<App> for Posted<T> {
    type Rejection = Response;

    async fn from_request(request: Request, app: &App) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        if !same_origin(app, &parts) {
            return Err(csrf_refused());
        }
        let Portal(session) = Portal::from_request_parts(&mut parts, app).await?;
        let body = body_of(body).await?;
        let fields = fields(&body).map_err(malformed)?;
        let token_ok = field(&fields, "csrf").is_some_and(|t| same_secret(t, &session.csrf));
        if !token_ok {
            return Err(csrf_refused());
        }
        let form = parse(&body).map_err(malformed)?;
        Ok(Self {
            session,
            form,
            idem: field(&fields, "idem").map(str::to_owned),
            target: format!("POST {}", parts.uri.path()),
            body,
        })
    }
}

impl<T> Posted<T> {
    /// The caller.
    pub fn caller(&self) -> &Caller {
        &self.session.caller
    }

    /// The form's idempotency key (`invalid_request` when it has none).
    pub fn idem(&self) -> Result<Idem> {
        let key = self
            .idem
            .as_deref()
            .filter(|k| !k.is_empty() && k.len() <= 200 && k.bytes().all(|b| b.is_ascii_graphic()))
            .ok_or_else(|| Error::invalid("the form is out of date; reload the page"))?;
        Ok(Idem {
            key: key.to_owned(),
            target: self.target.clone(),
        })
    }

    /// Runs `work` as one idempotent write of the caller's property, as the
    /// API's writes run ([`crate::ops::idempotent::run`]): a form sent twice
    /// changes things once and gets the first answer again.
    pub async fn write<V, F>(&self, app: &App, work: F) -> Result<V>
    where
        V: serde::Serialize + DeserializeOwned,
        F: for<'a> FnOnce(&'a mut Write, &'a Caller) -> WriteFuture<'a, V>,
    {
        let idem = self.idem()?;
        let answer = crate::ops::idempotent::run(
            &app.store,
            &self.session.caller,
            &idem,
            &self.body,
            200,
            work,
        )
        .await?;
        Ok(serde_json::from_str(&answer.body)?)
    }
}

/// A form posted from a page shown before sign-in (sign-in, set-password),
/// after the checks: it came from a Portal page (origin) of this browser
/// (its `csrf` field pairs with the browser's form cookie).
#[derive(Debug)]
pub struct Anonymous<T> {
    /// The browser.
    pub browser: Browser,
    /// The form.
    pub form: T,
}

impl<T: DeserializeOwned + Send> FromRequest<App> for Anonymous<T> {
    type Rejection = Response;

    async fn from_request(request: Request, app: &App) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        if !same_origin(app, &parts) {
            return Err(csrf_refused());
        }
        let browser = Browser::from_request_parts(&mut parts, app).await?;
        let body = body_of(body).await?;
        let fields = fields(&body).map_err(malformed)?;
        let expected = browser
            .jar
            .get(FORM_COOKIE)
            .map(|c| app.store.key().lookup_mac(FORM_MAC, c.value()));
        let token_ok = match (expected, field(&fields, "csrf")) {
            (Some(expected), Some(sent)) => same_secret(sent, &expected),
            _ => false,
        };
        if !token_ok {
            return Err(csrf_refused());
        }
        Ok(Self {
            browser,
            form: parse(&body).map_err(malformed)?,
        })
    }
}

/// A redirect that sets or clears cookies.
pub fn redirect_with(jar: CookieJar, to: &str) -> Response {
    (jar, redirect(to)).into_response()
}

/// A path on this Portal to go to after sign-in: only a local path (never
/// another site, `//host` or `/\host`); the dashboard otherwise.
pub fn local_path(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.chars().any(char::is_control) =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}
