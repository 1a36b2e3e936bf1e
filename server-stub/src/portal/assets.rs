//! The Portal's static files, inside the binary: one stylesheet (with its
//! print rules), one small script (progressive enhancement only) and the
//! icon. No fonts, no CDN, nothing from another site.

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::page::not_found;

/// `GET /assets/{file}`.
pub async fn serve(Path(file): Path<String>) -> Response {
    let (content_type, body): (&str, &'static [u8]) = match file.as_str() {
        "portal.css" => (
            "text/css; charset=utf-8",
            include_bytes!("assets/portal.css"),
        ),
        "portal.js" => (
            "text/javascript; charset=utf-8",
            include_bytes!("assets/portal.js"),
        ),
        "icon.svg" => ("image/svg+xml", include_bytes!("assets/icon.svg")),
        _ => return not_found(),
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "max-age=600"),
        ],
        body,
    )
        .into_response()
}
