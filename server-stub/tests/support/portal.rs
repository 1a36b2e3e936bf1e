//! A browser without a browser, for the Portal's HTTP-level tests: it keeps
//! cookies, reads the form tokens out of pages, posts forms from the
//! Portal's own origin (or another, or none), and never follows redirects,
//! so every answer's status can be checked.

use std::collections::BTreeMap;
use std::time::Duration;

use keyway_server::admin;
use reqwest::StatusCode;
use reqwest::blocking::Client;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};

/// One answer.
#[derive(Debug)]
pub struct Page {
    /// Its status.
    pub status: StatusCode,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body.
    pub body: String,
}

impl Page {
    /// Where a redirect goes.
    pub fn location(&self) -> Option<&str> {
        self.headers.get(LOCATION).and_then(|v| v.to_str().ok())
    }

    /// The value of the first `<input name="{name}" value="…">` of the page.
    pub fn field(&self, name: &str) -> Option<String> {
        let at = self.body.find(&format!("name=\"{name}\""))?;
        let rest = &self.body[at..];
        let end = rest.find('>')?;
        let tag = &rest[..end];
        let value = tag.split("value=\"").nth(1)?;
        Some(value[..value.find('"')?].to_owned())
    }

    /// The session's (or the sign-in page's) form token.
    pub fn csrf(&self) -> String {
        self.field("csrf")
            .unwrap_or_else(|| panic!("no form token in the page: {}", self.body))
    }
}

/// A cookie-keeping client of one Portal.
pub struct Browser {
    client: Client,
    /// The Portal's address (`http://127.0.0.1:port`).
    pub base: String,
    /// The cookies it holds.
    pub cookies: BTreeMap<String, String>,
}

impl Browser {
    /// A browser with no cookies.
    pub fn new(base: &str) -> Self {
        Self {
            client: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            base: base.to_owned(),
            cookies: BTreeMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn absorb(&mut self, headers: &HeaderMap) {
        for value in headers.get_all(SET_COOKIE) {
            let text = value.to_str().unwrap_or_default();
            let pair = text.split(';').next().unwrap_or_default();
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let removed = value.is_empty() || text.contains("Max-Age=0");
            if removed {
                self.cookies.remove(name.trim());
            } else {
                self.cookies
                    .insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
    }

    fn finish(&mut self, response: reqwest::blocking::Response) -> Page {
        let status = response.status();
        let headers = response.headers().clone();
        self.absorb(&headers);
        Page {
            status,
            headers,
            body: response.text().unwrap_or_default(),
        }
    }

    /// A GET.
    pub fn get(&mut self, path: &str) -> Page {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .expect("GET");
        self.finish(response)
    }

    /// A form post with extra headers (`Origin`, `Referer`,
    /// `Sec-Fetch-Site`) exactly as given: none are added.
    pub fn post_with(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Page {
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(fields).unwrap());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().expect("POST");
        self.finish(response)
    }

    /// A form post from the Portal's own pages (its `Origin`).
    pub fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let origin = self.base.clone();
        self.post_with(path, fields, &[("origin", &origin)])
    }

    /// Signs in through the sign-in page; the answer to the form.
    pub fn sign_in(&mut self, email: &str, password: &str) -> Page {
        let form = self.get("/sign-in");
        let csrf = form.csrf();
        self.post(
            "/sign-in",
            &[("csrf", &csrf), ("email", email), ("password", password)],
        )
    }

    /// The session cookie, if any.
    pub fn session(&self) -> Option<String> {
        self.cookies.get("keyway_session").cloned()
    }

    /// The form token of the signed-in session (read from the dashboard).
    pub fn session_csrf(&mut self) -> String {
        self.get("/").csrf()
    }
}

/// A Portal account of the fixture's user `who`: its address and password,
/// set with the operator's typed function (what `admin user set-password`
/// calls).
pub struct Account {
    /// The sign-in address.
    pub email: String,
    /// The password.
    pub password: String,
    /// The user's id.
    pub user_id: String,
}

/// Gives the fixture's user `who` a sign-in address and a password.
pub fn account(f: &super::Fixture, who: &str) -> Account {
    let account = Account {
        email: format!("{who}@keyway.example"),
        password: format!("{who} likes long passwords"),
        user_id: f.users[who].clone(),
    };
    let admin = f.admin();
    admin
        .run(admin::set_password(
            &admin.store,
            &account.user_id,
            Some(&account.email),
            &account.password,
        ))
        .unwrap_or_else(|e| panic!("set the password of {who}: {e}"));
    account
}

/// A browser signed in as the fixture's user `who` (given an account).
pub fn signed_in(f: &super::Fixture, who: &str) -> (Browser, Account) {
    let account = account(f, who);
    let mut browser = Browser::new(&f.server().base);
    let page = browser.sign_in(&account.email, &account.password);
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    (browser, account)
}

/// A fresh idempotency key for a form.
pub fn form_key() -> String {
    format!("form-{}", rand::random::<u64>())
}
