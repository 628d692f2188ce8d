//! The OpenAPI 3.1 description at `/openapi.json`, generated from [`ROUTES`] — the
//! same table a test walks to check that every documented operation is routed.

use serde_json::{json, Map, Value};

/// One documented operation.
#[derive(Debug, Clone, Copy)]
pub struct RouteDoc {
    /// HTTP method, lower case.
    pub method: &'static str,
    /// Path template, `{param}` style.
    pub path: &'static str,
    /// One line for people.
    pub summary: &'static str,
    /// Who may call it: `anyone`, `member` or `owner`.
    pub who: &'static str,
    /// Status of a successful answer.
    pub ok: u16,
}

const fn r(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    who: &'static str,
    ok: u16,
) -> RouteDoc {
    RouteDoc {
        method,
        path,
        summary,
        who,
        ok,
    }
}

/// Every operation the API serves.
pub const ROUTES: &[RouteDoc] = &[
    r(
        "get",
        "/healthz",
        "Liveness: the process is up",
        "anyone",
        200,
    ),
    r(
        "get",
        "/readyz",
        "Readiness: database reachable, no projection stuck",
        "anyone",
        200,
    ),
    r("get", "/metrics", "Prometheus metrics", "anyone", 200),
    r("get", "/openapi.json", "This description", "anyone", 200),
    r(
        "post",
        "/api/sessions",
        "Sign in with email and password",
        "anyone",
        201,
    ),
    r(
        "delete",
        "/api/sessions/current",
        "Sign out (revoke the session)",
        "member",
        204,
    ),
    r(
        "get",
        "/api/me",
        "Identity, organizations, roles and accounts",
        "member",
        200,
    ),
    r(
        "get",
        "/api/orgs/{org}/members",
        "Members, current user first; search, filter, pages, as_of",
        "owner",
        200,
    ),
    r(
        "patch",
        "/api/orgs/{org}/members/{user}",
        "Change a member's role(s)",
        "owner",
        200,
    ),
    r(
        "delete",
        "/api/orgs/{org}/members/{user}",
        "Remove a member",
        "owner",
        200,
    ),
    r(
        "get",
        "/api/orgs/{org}/invitations",
        "Pending and expired invitations",
        "owner",
        200,
    ),
    r(
        "post",
        "/api/orgs/{org}/invitations",
        "Invite a person with a role",
        "owner",
        201,
    ),
    r(
        "post",
        "/api/orgs/{org}/invitations/{id}/resend",
        "Resend: new link, new deadline",
        "owner",
        200,
    ),
    r(
        "delete",
        "/api/orgs/{org}/invitations/{id}",
        "Cancel an invitation",
        "owner",
        200,
    ),
    r(
        "get",
        "/api/orgs/{org}/accounts",
        "The organization's accounts",
        "owner",
        200,
    ),
    r(
        "post",
        "/api/orgs/{org}/accounts",
        "Add an account (multi-account organizations)",
        "owner",
        201,
    ),
    r(
        "get",
        "/api/orgs/{org}/history",
        "The organization's audit history",
        "owner",
        200,
    ),
    r(
        "get",
        "/api/invitations/{token}",
        "Preview an invitation link (does not use it)",
        "anyone",
        200,
    ),
    r(
        "post",
        "/api/invitations/accept",
        "Accept an invitation",
        "anyone",
        201,
    ),
];

/// The OpenAPI 3.1 document.
pub fn document() -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for route in ROUTES {
        let params: Vec<Value> = route
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
            .collect();
        let mut responses = Map::new();
        responses.insert(
            route.ok.to_string(),
            json!({ "description": "Success", "content": { "application/json": {} } }),
        );
        responses.insert("default".into(), json!({ "description": "An RFC 9457 problem", "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } } }));
        let mut op = json!({
            "summary": route.summary,
            "operationId": format!("{}_{}", route.method, route.path.replace(['/', '{', '}', '.'], "_").trim_matches('_')),
            "parameters": params,
            "responses": responses,
            "x-roster-caller": route.who,
        });
        if route.who != "anyone" {
            op["security"] = json!([{ "bearer": [] }, { "cookie": [] }]);
        }
        if let Some(entry) = paths
            .entry(route.path)
            .or_insert_with(|| json!({}))
            .as_object_mut()
        {
            entry.insert(route.method.to_owned(), op);
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": { "title": "Roster", "version": env!("CARGO_PKG_VERSION"), "description": "User management for a B2B partner portal." },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer" },
                "cookie": { "type": "apiKey", "in": "cookie", "name": crate::identity::SESSION_COOKIE }
            },
            "schemas": {
                "Problem": {
                    "type": "object",
                    "required": ["type", "title", "status", "detail"],
                    "properties": {
                        "type": { "type": "string", "format": "uri" },
                        "title": { "type": "string" },
                        "status": { "type": "integer" },
                        "detail": { "type": "string" },
                        "errors": { "type": "array", "items": { "type": "object", "properties": { "field": { "type": "string" }, "message": { "type": "string" } } } }
                    }
                }
            }
        }
    })
}

/// `GET /openapi.json`.
pub(crate) async fn serve() -> axum::Json<Value> {
    axum::Json(document())
}
