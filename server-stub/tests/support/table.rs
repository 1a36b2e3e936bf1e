//! The authorization tables of `docs/security.md` (the API's and the
//! Portal's), parsed: one row per route and object, one cell per role with
//! the expected status and what the answer shows of the object's digits;
//! and the routes a router's source declares, which a table must list.

use std::collections::BTreeSet;

use reqwest::Method;

/// One row of a table.
#[derive(Debug, Clone)]
pub struct Row {
    /// The method.
    pub method: Method,
    /// The path, with `{id}` where the object's id goes.
    pub path: String,
    /// The object the row is about.
    pub object: String,
    /// Per role, the expected answer, or None for a cell that does not exist.
    pub cells: Vec<Option<Expected>>,
}

/// One cell: a status and what the answer shows of the object's digits.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    /// The status.
    pub status: u16,
    /// The digits.
    pub digits: Digits,
}

/// What a cell says of the object's digits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Digits {
    /// Nothing said.
    Any,
    /// The object is in the answer with its digits.
    Shown,
    /// The object is in the answer without its digits.
    Hidden,
    /// The object is not in the answer.
    Absent,
}

fn parse_cell(text: &str) -> Option<Expected> {
    if text == "—" {
        return None;
    }
    let (status, rest) = text.split_once(' ').unwrap_or((text, ""));
    let digits = match rest {
        "" => Digits::Any,
        "digits" => Digits::Shown,
        "no digits" => Digits::Hidden,
        "absent" => Digits::Absent,
        other => panic!("unknown cell qualifier `{other}` in `{text}`"),
    };
    Some(Expected {
        status: status
            .parse()
            .unwrap_or_else(|_| panic!("bad status in `{text}`")),
        digits,
    })
}

/// The table `name` of `doc`: between `<!-- {name}` and `<!-- end of the
/// {name} -->`, with `roles` role columns after the endpoint and the object.
pub fn table(doc: &str, name: &str, roles: usize) -> Vec<Row> {
    let start = doc
        .find(&format!("<!-- {name}"))
        .unwrap_or_else(|| panic!("the {name} in docs/security.md"));
    let end = doc[start..]
        .find(&format!("<!-- end of the {name} -->"))
        .expect("the table's end marker")
        + start;
    let mut rows = Vec::new();
    for line in doc[start..end].lines().skip(3) {
        let parts: Vec<&str> = line
            .trim()
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        assert_eq!(
            parts.len(),
            roles + 2,
            "a row of {} cells: {line}",
            roles + 2
        );
        let endpoint = parts[0].trim_matches('`');
        let (method, path) = endpoint.split_once(' ').expect("METHOD /path");
        rows.push(Row {
            method: method.parse().expect("a method"),
            path: path.to_owned(),
            object: parts[1].to_owned(),
            cells: parts[2..].iter().map(|c| parse_cell(c)).collect(),
        });
    }
    rows
}

/// Every (method, path) a router's `source` declares between
/// `Router::new()` and `end` (its fallback or its last layer).
pub fn routes(source: &str, end: &str) -> BTreeSet<(String, String)> {
    let body = &source[source.find("Router::new()").expect("the router")..];
    let body = &body[..body.find(end).expect("the router's end")];
    let mut out = BTreeSet::new();
    for chunk in body.split(".route(").skip(1) {
        let path = chunk.split('"').nth(1).expect("a quoted path").to_owned();
        for method in ["get", "post", "put", "delete"] {
            let calls = chunk.match_indices(&format!("{method}(")).any(|(at, _)| {
                !chunk[..at]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            });
            if calls {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

/// The table with the rows of a routes' set, for an assertion's message.
pub fn listed(rows: &[Row]) -> BTreeSet<(String, String)> {
    rows.iter()
        .map(|r| (r.method.to_string(), r.path.clone()))
        .collect()
}
