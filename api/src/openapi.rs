//! The OpenAPI 3.1 description at `/openapi.json`. It is collected from the same
//! `routes!` calls that serve each route (see [`routes`]), with the request and
//! response bodies' schemas derived from their Rust types, so the document and the
//! router cannot list different operations.

use axum::Json;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as Document;
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::SESSION_COOKIE;
use crate::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "Roster", description = "User management for a B2B partner portal: owners invite people by email with a role, resend or cancel invitations, change roles and remove members. Every error is an RFC 9457 problem document whose `type` names the rule that was broken."),
    modifiers(&SessionSchemes),
)]
struct ApiDoc;

/// Declares the two ways a session is presented.
struct SessionSchemes;

impl Modify for SessionSchemes {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(SESSION_COOKIE))),
        );
    }
}

/// Every route of the API with its documentation.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(crate::health::router())
        .routes(routes!(serve))
        .merge(crate::routes::router())
}

/// The OpenAPI 3.1 document.
pub fn document() -> Document {
    routes().split_for_parts().1
}

/// This description.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object)))]
pub(crate) async fn serve() -> Json<Document> {
    Json(document())
}
