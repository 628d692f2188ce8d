//! The page's files, compiled into the binary so that `roster serve` needs nothing
//! beside it, each with an ETag derived from its content.

use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// One embedded file.
pub struct Asset {
    /// Its path under `/assets/`.
    pub path: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes.
    pub body: &'static [u8],
    etag: OnceLock<String>,
}

impl Asset {
    const fn new(path: &'static str, content_type: &'static str, body: &'static [u8]) -> Self {
        Self {
            path,
            content_type,
            body,
            etag: OnceLock::new(),
        }
    }

    /// A strong ETag: the first 16 hex digits of the content's SHA-256.
    pub fn etag(&self) -> &str {
        self.etag.get_or_init(|| {
            let digest = Sha256::digest(self.body);
            let hex = hex::encode(&digest[..8]);
            format!("\"{hex}\"")
        })
    }
}

const JS: &str = "text/javascript; charset=utf-8";

/// The HTML every page path answers with.
pub static SHELL: Asset = Asset::new(
    "index.html",
    "text/html; charset=utf-8",
    include_bytes!("../assets/index.html"),
);

/// Every file under `/assets/`, the shell included.
pub static ALL: [Asset; 17] = [
    Asset::new(
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/app.css"),
    ),
    Asset::new(
        "icon.svg",
        "image/svg+xml",
        include_bytes!("../assets/icon.svg"),
    ),
    Asset::new("js/app.js", JS, include_bytes!("../assets/js/app.js")),
    Asset::new("js/api.js", JS, include_bytes!("../assets/js/api.js")),
    Asset::new("js/dom.js", JS, include_bytes!("../assets/js/dom.js")),
    Asset::new("js/roles.js", JS, include_bytes!("../assets/js/roles.js")),
    Asset::new(
        "js/sign_in.js",
        JS,
        include_bytes!("../assets/js/sign_in.js"),
    ),
    Asset::new("js/home.js", JS, include_bytes!("../assets/js/home.js")),
    Asset::new("js/users.js", JS, include_bytes!("../assets/js/users.js")),
    Asset::new("js/live.js", JS, include_bytes!("../assets/js/live.js")),
    Asset::new(
        "js/member_dialogs.js",
        JS,
        include_bytes!("../assets/js/member_dialogs.js"),
    ),
    Asset::new("js/accept.js", JS, include_bytes!("../assets/js/accept.js")),
    Asset::new("js/sso.js", JS, include_bytes!("../assets/js/sso.js")),
    Asset::new(
        "js/api_keys.js",
        JS,
        include_bytes!("../assets/js/api_keys.js"),
    ),
    Asset::new(
        "js/bulk_invite.js",
        JS,
        include_bytes!("../assets/js/bulk_invite.js"),
    ),
    Asset::new(
        "js/activity.js",
        JS,
        include_bytes!("../assets/js/activity.js"),
    ),
    Asset::new(
        "js/account.js",
        JS,
        include_bytes!("../assets/js/account.js"),
    ),
];

/// The file at `path` under `/assets/`.
pub fn find(path: &str) -> Option<&'static Asset> {
    if path == SHELL.path {
        return Some(&SHELL);
    }
    ALL.iter().find(|a| a.path == path)
}
