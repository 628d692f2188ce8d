//! How the API's documents spell the domain's types, for the OpenAPI description.
//! The domain stays free of documentation concerns; these types exist only so
//! `/openapi.json` can describe the JSON the domain types serialize to.

use std::collections::BTreeMap;

use utoipa::ToSchema;

/// A single-account role.
#[derive(serde::Serialize, ToSchema)]
#[schema(as = SingleRole)]
#[allow(dead_code)]
#[serde(rename_all = "snake_case")]
pub enum SingleRoleDoc {
    /// Manages users.
    Owner,
    /// View-only today.
    Admin,
    /// View-only today.
    Standard,
}

/// A multi-account organization-level role.
#[derive(serde::Serialize, ToSchema)]
#[schema(as = OrgRole)]
#[allow(dead_code)]
#[serde(rename_all = "snake_case")]
pub enum OrgRoleDoc {
    /// Manages users; admin on every account.
    Owner,
    /// Access only to assigned accounts.
    Contributor,
}

/// A per-account role.
#[derive(serde::Serialize, ToSchema)]
#[schema(as = AccountRole)]
#[allow(dead_code)]
#[serde(rename_all = "snake_case")]
pub enum AccountRoleDoc {
    /// Admin on the account.
    Admin,
    /// Standard on the account.
    Standard,
}

/// An organization's shape.
#[derive(serde::Serialize, ToSchema)]
#[schema(as = OrgShape)]
#[allow(dead_code)]
#[serde(rename_all = "snake_case")]
pub enum OrgShapeDoc {
    /// One account; roles owner, admin, standard.
    Single,
    /// Several accounts; org roles owner, contributor plus account roles.
    Multi,
}

/// A whole role as stored and answered: `{"shape":"single","role":"admin"}`,
/// `{"shape":"multi","org_role":"owner"}` or
/// `{"shape":"multi","org_role":"contributor","accounts":{"<account id>":"standard"}}`.
#[derive(serde::Serialize, ToSchema)]
#[schema(as = Role)]
#[allow(dead_code)]
pub struct RoleDoc {
    shape: OrgShapeDoc,
    #[schema(nullable = false)]
    role: Option<SingleRoleDoc>,
    #[schema(nullable = false)]
    org_role: Option<OrgRoleDoc>,
    #[schema(nullable = false)]
    accounts: Option<BTreeMap<String, AccountRoleDoc>>,
}
