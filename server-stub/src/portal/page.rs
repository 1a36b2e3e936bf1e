//! How the Portal answers: pages rendered from templates inside the shell
//! every page shares (header, navigation, notice), redirects, error pages
//! for domain errors (the API's status codes, in words), and the security
//! headers every Portal answer carries.

use askama::Template;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use keyway_api::Role;

use crate::api::problem::status_of;
use crate::app::App;
use crate::error::{Error, ErrorKind};
use crate::ops::accounts::Session;

/// The content security policy of every Portal answer: nothing but the
/// Portal's own files, no inline script or style, forms only to itself,
/// never in a frame.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'none'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// One entry of the main navigation.
#[derive(Debug, Clone)]
pub struct NavItem {
    /// Where it goes.
    pub href: &'static str,
    /// What it says.
    pub label: &'static str,
    /// Whether it is the current section.
    pub current: bool,
}

/// The sections of the Portal, in the navigation's order.
const SECTIONS: &[(&str, &str)] = &[
    ("/", "Dashboard"),
    ("/carriers", "Carriers"),
    ("/couriers", "Couriers"),
    ("/recipients", "Recipients"),
    ("/one-time-pin", "Send one-time PIN"),
    ("/notifications", "Notifications"),
    ("/staff", "Staff"),
    ("/units", "Units"),
    ("/locks", "Locks"),
    ("/policy", "Policy"),
    ("/webhooks", "Webhooks"),
    ("/account", "My account"),
];

/// The signed-in user as the header shows them.
#[derive(Debug, Clone)]
pub struct ShellUser {
    /// Display name.
    pub name: String,
    /// "Manager" or "Staff".
    pub role: &'static str,
}

/// What every page shows around its content.
#[derive(Debug, Clone)]
pub struct Shell {
    /// The page's title (also its `<h1>` in most pages).
    pub title: String,
    /// The property's name.
    pub property: String,
    /// The property's time zone (times are shown in it).
    pub time_zone: String,
    /// The signed-in user, if any.
    pub user: Option<ShellUser>,
    /// The session's form token (the sign-out form carries it).
    pub csrf: String,
    /// The navigation, for signed-in users.
    pub nav: Vec<NavItem>,
    /// A short confirmation of what was just done.
    pub notice: Option<&'static str>,
}

impl Shell {
    /// The shell of a signed-in page in section `section` (its path), with
    /// the notice `?done=` asks for.
    pub async fn load(
        app: &App,
        session: &Session,
        title: &str,
        section: &str,
        done: Option<&str>,
    ) -> Result<Self, Error> {
        let me = crate::ops::session::me(&app.store, &session.caller).await?;
        let mut shell = Self::signed_in(session, &me.property.name, title, section);
        shell.time_zone = me.property.time_zone;
        shell.notice = super::views::notice(done);
        Ok(shell)
    }

    /// The shell of a signed-in page in section `section` (its path).
    pub fn signed_in(session: &Session, property: &str, title: &str, section: &str) -> Self {
        Self {
            title: title.to_owned(),
            property: property.to_owned(),
            time_zone: "UTC".to_owned(),
            user: Some(ShellUser {
                name: session.caller.name.clone(),
                role: match session.caller.role {
                    Role::Manager => "Manager",
                    Role::Staff => "Staff",
                    Role::Resident => "Resident",
                },
            }),
            csrf: session.csrf.clone(),
            nav: SECTIONS
                .iter()
                // Webhooks are managers' only.
                .filter(|(href, _)| *href != "/webhooks" || session.caller.role == Role::Manager)
                .map(|(href, label)| NavItem {
                    href,
                    label,
                    current: *href == section,
                })
                .collect(),
            notice: None,
        }
    }

    /// The shell of a page for someone not signed in.
    pub fn public(title: &str) -> Self {
        Self {
            title: title.to_owned(),
            property: String::new(),
            time_zone: "UTC".to_owned(),
            user: None,
            csrf: String::new(),
            nav: Vec::new(),
            notice: None,
        }
    }

    /// The same shell with a notice.
    pub fn with_notice(mut self, notice: Option<&'static str>) -> Self {
        self.notice = notice;
        self
    }
}

/// A rendered page with `status`; a template that fails to render is a
/// 500 page (it never should: templates are checked when compiled).
pub fn render(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => html_response(status, html),
        Err(e) => {
            log::error!("rendering a Portal page: {e}");
            failure(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "The page could not be shown.",
            )
        }
    }
}

fn html_response(status: StatusCode, html: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response()
}

/// A `303 See Other` to `to` (after a form, or to the sign-in page).
pub fn redirect(to: &str) -> Response {
    match HeaderValue::from_str(to) {
        Ok(location) => (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response(),
        Err(_) => (StatusCode::SEE_OTHER, [(header::LOCATION, "/")]).into_response(),
    }
}

/// The error page.
#[derive(Template)]
#[template(path = "portal/error.html")]
struct ErrorPage<'a> {
    shell: Shell,
    status: u16,
    code: &'a str,
    message: &'a str,
}

/// An error page: the status, a sentence, and the stable code.
pub fn failure(status: StatusCode, code: &str, message: &str) -> Response {
    let title = match status {
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::TOO_MANY_REQUESTS => "Too many attempts",
        s if s.is_server_error() => "Something went wrong",
        _ => "That did not work",
    };
    let page = ErrorPage {
        shell: Shell::public(title),
        status: status.as_u16(),
        code,
        message,
    };
    match page.render() {
        Ok(html) => html_response(status, html),
        Err(_) => (status, "error").into_response(),
    }
}

/// A domain error as a Portal answer: an ended session goes to the sign-in
/// page; everything else is an error page with the API's status code.
#[derive(Debug)]
pub struct PageError(pub Error);

impl From<Error> for PageError {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let e = self.0;
        if e.kind == ErrorKind::Unauthorized {
            return redirect("/sign-in");
        }
        let mut response = failure(status_of(e.kind), e.code, &e.detail);
        if let Some(seconds) = e.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// `?done=…`: what the page before did, for its notice.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Done {
    /// A word naming the action (see [`super::views::notice`]).
    pub done: Option<String>,
}

/// What Portal handlers return.
pub type PageResult = Result<Response, PageError>;

/// Adds the Portal's security headers: the content security policy, no
/// MIME sniffing, referrers only to the Portal itself, no framing, and
/// `Cache-Control: no-store` unless the answer set its own (the static
/// files do).
pub fn secure(headers: &mut HeaderMap) {
    let set = |headers: &mut HeaderMap, name, value| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        CONTENT_SECURITY_POLICY,
    );
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::REFERRER_POLICY, "same-origin");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(
        headers,
        header::HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        set(headers, header::CACHE_CONTROL, "no-store");
    }
}

/// The Portal's middleware: refuses an encoded NUL in the path or query,
/// turns axum's own bare refusals (a wrong method, a body too large) into
/// pages, and adds the security headers to every answer.
pub async fn portal_layer(request: Request, next: Next) -> Response {
    let uri = request.uri();
    let nul = |text: &str| text.contains("%00");
    let mut response = if nul(uri.path()) || uri.query().is_some_and(nul) {
        failure(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The address holds a character it may not.",
        )
    } else {
        let response = next.run(request).await;
        let status = response.status();
        let html = response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
        if (status.is_client_error() || status.is_server_error()) && !html {
            bare_refusal(status)
        } else {
            response
        }
    };
    secure(response.headers_mut());
    response
}

fn bare_refusal(status: StatusCode) -> Response {
    let (code, message) = match status {
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "This page does not take that request.",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "The form is too large."),
        StatusCode::NOT_FOUND => ("not_found", "There is no such page."),
        s if s.is_server_error() => (
            "internal",
            "The server failed; nothing was changed. Try again.",
        ),
        _ => (
            "invalid_request",
            "The request was malformed; nothing was changed.",
        ),
    };
    failure(status, code, message)
}

/// The page for an address that is neither the API nor a Portal page.
pub fn not_found() -> Response {
    let mut response = failure(StatusCode::NOT_FOUND, "not_found", "There is no such page.");
    secure(response.headers_mut());
    response
}
