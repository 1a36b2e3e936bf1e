//! The API contract as the tests check it: the OpenAPI document's operations
//! and statuses, against the answers a server's request log records.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use utoipa::OpenApi as _;

/// The API contract: every (method, path template) the OpenAPI document
/// lists, with the statuses it documents.
pub struct Contract {
    operations: Vec<(String, Vec<String>, BTreeSet<u16>)>,
}

impl Contract {
    /// The server's own document (`keyway_server::api::ApiDoc`).
    pub fn get() -> &'static Self {
        static CONTRACT: OnceLock<Contract> = OnceLock::new();
        CONTRACT.get_or_init(|| {
            let doc = serde_json::to_value(keyway_server::api::ApiDoc::openapi()).unwrap();
            let mut operations = Vec::new();
            for (path, item) in doc["paths"].as_object().unwrap() {
                for (method, operation) in item.as_object().unwrap() {
                    let Some(responses) = operation["responses"].as_object() else {
                        continue;
                    };
                    let statuses = responses.keys().filter_map(|s| s.parse().ok()).collect();
                    let segments = path.split('/').map(str::to_owned).collect();
                    operations.push((method.to_uppercase(), segments, statuses));
                }
            }
            Contract { operations }
        })
    }

    /// Whether the document lists `status` as an answer of `method` on the
    /// concrete `path` (its query left out). A path no operation has may
    /// only answer 404, a method a path does not take only 405: the
    /// router's own refusals.
    pub fn documents(&self, method: &str, path: &str, status: u16) -> bool {
        let segments: Vec<&str> = path.split('/').collect();
        let fits = |template: &[String]| {
            template.len() == segments.len()
                && template.iter().zip(&segments).all(|(t, s)| {
                    t == s || (t.starts_with('{') && t.ends_with('}') && !s.is_empty())
                })
        };
        let on_path: Vec<_> = self
            .operations
            .iter()
            .filter(|(_, template, _)| fits(template))
            .collect();
        if on_path.is_empty() {
            return status == 404;
        }
        match on_path.iter().find(|(m, _, _)| m == method) {
            Some((_, _, statuses)) => statuses.contains(&status),
            None => status == 405,
        }
    }

    /// The answers a server gave, from its request log (the `METHOD PATH
    /// STATUS Nms` lines of `keyway_server::api`).
    pub fn answers(log: &[String]) -> Vec<(String, String, u16)> {
        log.iter()
            .filter_map(|line| {
                let (_, answer) = line.split_once(" keyway_server::api: ")?;
                let mut parts = answer.split_whitespace();
                let (method, path, status) = (parts.next()?, parts.next()?, parts.next()?);
                let ms = parts.next()?;
                ms.strip_suffix("ms")?.parse::<u64>().ok()?;
                Some((method.to_owned(), path.to_owned(), status.parse().ok()?))
            })
            .collect()
    }

    /// The answers in a server's log that the document does not list. Only
    /// the API's paths are its business (`keyway_server::api::is_api_path`):
    /// the Portal's HTML pages answer at every other path.
    pub fn undocumented(&self, log: &[String]) -> Vec<String> {
        Self::answers(log)
            .into_iter()
            .filter(|(_, path, _)| keyway_server::api::is_api_path(path))
            .filter(|(method, path, status)| !self.documents(method, path, *status))
            .map(|(method, path, status)| format!("{method} {path} {status}"))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }
}
