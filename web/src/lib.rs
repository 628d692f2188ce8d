//! Roster's web page: a small static application embedded in the binary (no build
//! step, nothing from a CDN) that calls the same public JSON API as any client.
//!
//! * [`router`] serves the page's shell for every page path (`/`, `/sign-in`,
//!   `/invitations/{token}`, …) and the scripts and styles under `/assets/`.
//! * [`assets`] holds the embedded files and their content-derived ETags.
//!
//! The pages run under a strict Content-Security-Policy: scripts and styles only
//! from Roster itself, no inline code, requests only to Roster's own API.

pub mod assets;

use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use assets::Asset;

/// What a page may load and where it may send requests: only Roster itself.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// The paths that show the page; the script picks the view from the path, so a
/// reload or a shared link lands on the same view.
pub const PAGE_PATHS: &[&str] = &[
    "/",
    "/sign-in",
    "/forgot-password",
    "/reset-password/{user}/{token}",
    "/account",
    "/orgs/{org}/users",
    "/orgs/{org}/activity",
    "/orgs/{org}/api-keys",
    "/orgs/{org}/sso",
    "/invitations/{token}",
];

/// The page's routes, to merge beside the API's.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut router = Router::new().route("/assets/{*file}", get(asset));
    for path in PAGE_PATHS {
        router = router.route(path, get(shell));
    }
    router
}

/// The shell every page path answers with. Never cached: it names the current
/// assets, and the invitation path carries a token.
async fn shell(headers: HeaderMap) -> Response {
    let mut response = serve(&assets::SHELL, &headers);
    let h = response.headers_mut();
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        HeaderName::from_static("content-security-policy"),
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    response
}

/// What a browser that asked for a page at an unknown address gets: the page
/// itself with status 404, which shows "Page not found" with a way back, rather
/// than the API's problem document. A page address with a trailing slash is
/// sent to the address without it (308), so `/orgs/…/users/` still works.
/// `None` when the request is not a browser navigation, or is under `/api/`:
/// those keep the API's answer.
pub fn page_not_found(
    method: &axum::http::Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
) -> Option<Response> {
    let path = uri.path();
    let navigation = (method == axum::http::Method::GET || method == axum::http::Method::HEAD)
        && headers
            .get(axum::http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"));
    if !navigation || path.starts_with("/api/") || path == "/api" {
        return None;
    }
    let trimmed = path.trim_end_matches('/');
    // Never to another host: "//evil.example/" trimmed would be a
    // protocol-relative address.
    if path.ends_with('/')
        && trimmed.len() > 1
        && !trimmed.starts_with("//")
        && !trimmed.contains('\\')
    {
        let target = match uri.query() {
            Some(q) => format!("{trimmed}?{q}"),
            None => trimmed.to_owned(),
        };
        if let Ok(location) = HeaderValue::from_str(&target) {
            return Some(
                (
                    StatusCode::PERMANENT_REDIRECT,
                    [(axum::http::header::LOCATION, location)],
                )
                    .into_response(),
            );
        }
    }
    let mut response = (
        StatusCode::NOT_FOUND,
        [(
            CONTENT_TYPE,
            HeaderValue::from_static(assets::SHELL.content_type),
        )],
        assets::SHELL.body,
    )
        .into_response();
    let h = response.headers_mut();
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        HeaderName::from_static("content-security-policy"),
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    Some(response)
}

/// A script, style or icon; revalidated by ETag so a new binary's files are
/// picked up at once while unchanged ones cost a 304.
async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    match assets::find(&file) {
        Some(asset) => {
            let mut response = serve(asset, &headers);
            response
                .headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            response
        }
        None => (
            StatusCode::NOT_FOUND,
            [(CONTENT_TYPE, "text/plain; charset=utf-8")],
            "no such asset",
        )
            .into_response(),
    }
}

/// The asset itself, or 304 when the client holds this version already.
fn serve(asset: &Asset, request: &HeaderMap) -> Response {
    let etag = asset.etag();
    let fresh = request
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag));
    let etag = HeaderValue::from_str(etag).unwrap_or_else(|_| HeaderValue::from_static("\"\""));
    if fresh {
        return (StatusCode::NOT_MODIFIED, [(ETAG, etag)]).into_response();
    }
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static(asset.content_type)),
            (ETAG, etag),
        ],
        asset.body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_script_the_shell_loads_is_embedded() {
        let shell = std::str::from_utf8(assets::SHELL.body).expect("utf-8");
        for link in shell.split("\"/assets/").skip(1) {
            let file = link.split('"').next().unwrap_or_default();
            assert!(assets::find(file).is_some(), "{file} is embedded");
        }
    }

    #[test]
    fn every_module_import_is_embedded() {
        for asset in &assets::ALL {
            let Ok(text) = std::str::from_utf8(asset.body) else {
                continue;
            };
            for import in text.split("from \"./").skip(1) {
                let file = import.split('"').next().unwrap_or_default();
                assert!(
                    assets::find(&format!("js/{file}")).is_some(),
                    "{file}, imported by {}, is embedded",
                    asset.path
                );
            }
        }
    }

    #[test]
    fn etags_follow_the_content() {
        let a = assets::SHELL.etag();
        assert!(a.starts_with('"') && a.ends_with('"') && a.len() > 10);
        let other = assets::ALL
            .iter()
            .find(|x| x.path != assets::SHELL.path)
            .expect("more than one asset");
        assert_ne!(a, other.etag());
    }
}
