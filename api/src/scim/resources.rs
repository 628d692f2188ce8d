//! How Roster's members and roles look as SCIM resources, and the discovery
//! documents that describe exactly what is served.
//!
//! A member is a `User`: `id` is their Roster id, `userName` and the one work
//! email their address, `name.formatted` and `displayName` their name; `active`
//! false while suspended; `externalId` the directory's id. A role is a `Group`:
//! `owner`, `admin` and `standard` in a single-account organization; `owner` and,
//! for each account, `<account id>.admin` and `<account id>.standard` in a
//! multi-account one.

use roster_domain::{AccountId, AccountRole, MultiRole, OrgShape, Role, SingleRole};
use roster_projections::queries::MemberRow;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// What building resources needs to know about the organization.
pub struct Context {
    /// `…/scim/v2`, absolute.
    pub base: String,
    /// Its shape (which groups exist).
    pub shape: OrgShape,
    /// Its accounts, by name.
    pub accounts: Vec<(AccountId, String)>,
}

/// A group: id, display name, and whether a role belongs to it.
struct GroupDef {
    id: String,
    display: String,
    holds: Box<dyn Fn(&Role) -> bool>,
}

impl Context {
    fn group_defs(&self) -> Vec<GroupDef> {
        match self.shape {
            OrgShape::Single => [
                (SingleRole::Owner, "owner", "Owner"),
                (SingleRole::Admin, "admin", "Admin"),
                (SingleRole::Standard, "standard", "Standard"),
            ]
            .into_iter()
            .map(|(role, id, display)| GroupDef {
                id: id.to_owned(),
                display: display.to_owned(),
                holds: Box::new(move |r: &Role| *r == Role::Single(role)),
            })
            .collect(),
            OrgShape::Multi => {
                let mut defs = vec![GroupDef {
                    id: "owner".to_owned(),
                    display: "Owner".to_owned(),
                    holds: Box::new(|r: &Role| *r == Role::Multi(MultiRole::Owner)),
                }];
                for (account, name) in &self.accounts {
                    for (role, word, title) in [
                        (AccountRole::Admin, "admin", "Admin"),
                        (AccountRole::Standard, "standard", "Standard"),
                    ] {
                        let account = *account;
                        defs.push(GroupDef {
                            id: format!("{account}.{word}"),
                            display: format!("{name}: {title}"),
                            holds: Box::new(move |r: &Role| match r {
                                Role::Multi(MultiRole::Contributor(held)) => held
                                    .iter()
                                    .any(|(a, held_role)| *a == account && *held_role == role),
                                _ => false,
                            }),
                        });
                    }
                }
                defs
            }
        }
    }

    /// A member as a SCIM `User`.
    pub fn user(&self, m: &MemberRow) -> Value {
        let groups: Vec<Value> = self
            .group_defs()
            .into_iter()
            .filter(|g| (g.holds)(&m.role))
            .map(|g| {
                json!({
                    "value": g.id,
                    "display": g.display,
                    "$ref": format!("{}/Groups/{}", self.base, g.id),
                    "type": "direct",
                })
            })
            .collect();
        let mut user = json!({
            "schemas": [USER_SCHEMA],
            "id": m.user_id.to_string(),
            "userName": m.email,
            "name": { "formatted": m.full_name },
            "displayName": m.full_name,
            "emails": [{ "value": m.email, "type": "work", "primary": true }],
            "active": !m.suspended,
            "groups": groups,
        });
        if let Some(x) = &m.external_id {
            user["externalId"] = json!(x);
        }
        let version = version_of(&user);
        user["meta"] = json!({
            "resourceType": "User",
            "created": m.joined_at,
            "lastModified": m.updated_at,
            "location": format!("{}/Users/{}", self.base, m.user_id),
            "version": version,
        });
        user
    }

    /// Every group, with its members.
    pub fn groups(&self, members: &[MemberRow]) -> Vec<Value> {
        self.group_defs()
            .into_iter()
            .map(|g| {
                let held: Vec<Value> = members
                    .iter()
                    .filter(|m| (g.holds)(&m.role))
                    .map(|m| {
                        json!({
                            "value": m.user_id.to_string(),
                            "display": m.full_name,
                            "$ref": format!("{}/Users/{}", self.base, m.user_id),
                            "type": "User",
                        })
                    })
                    .collect();
                let mut group = json!({
                    "schemas": [GROUP_SCHEMA],
                    "id": g.id,
                    "displayName": g.display,
                    "members": held,
                });
                let version = version_of(&group);
                group["meta"] = json!({
                    "resourceType": "Group",
                    "location": format!("{}/Groups/{}", self.base, g.id),
                    "version": version,
                });
                group
            })
            .collect()
    }
}

/// A weak ETag of a resource's content: it changes exactly when the content does.
fn version_of(resource: &Value) -> String {
    let digest = Sha256::digest(resource.to_string().as_bytes());
    format!("W/\"{}\"", hex::encode(&digest[..8]))
}

/// What the service supports, exactly.
pub fn service_provider_config() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://github.com/roster/roster/blob/main/docs/SCIM.md",
        "patch": { "supported": true },
        "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
        "filter": { "supported": true, "maxResults": super::MAX_COUNT },
        "changePassword": { "supported": false },
        "sort": { "supported": false },
        "etag": { "supported": true },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Organization API key",
            "description": "An API key of the organization with the scim scope, sent as Authorization: Bearer rst_…",
            "primary": true,
        }],
        "meta": { "resourceType": "ServiceProviderConfig", "location": "/scim/v2/ServiceProviderConfig" },
    })
}

/// The resource types served.
pub fn resource_types() -> Vec<Value> {
    [("User", "/Users", USER_SCHEMA, "A member of the organization"), ("Group", "/Groups", GROUP_SCHEMA, "A role of the organization")]
        .into_iter()
        .map(|(id, endpoint, schema, description)| {
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
                "id": id,
                "name": id,
                "endpoint": endpoint,
                "description": description,
                "schema": schema,
                "meta": { "resourceType": "ResourceType", "location": format!("/scim/v2/ResourceTypes/{id}") },
            })
        })
        .collect()
}

fn attribute(name: &str, kind: &str, multi: bool, mutability: &str, description: &str) -> Value {
    json!({
        "name": name,
        "type": kind,
        "multiValued": multi,
        "description": description,
        "required": false,
        "caseExact": false,
        "mutability": mutability,
        "returned": "default",
        "uniqueness": if name == "userName" { "server" } else { "none" },
    })
}

/// `a`, marked required.
fn required(mut a: Value) -> Value {
    a["required"] = json!(true);
    a
}

/// A `$ref` sub-attribute: the URI of a resource of type `to`.
fn reference(to: &str) -> Value {
    let mut r = attribute("$ref", "reference", false, "readOnly", "The resource's URI");
    r["referenceTypes"] = json!([to]);
    r
}

/// The schemas of the attributes served.
pub fn schemas() -> Vec<Value> {
    let mut name = attribute("name", "complex", false, "readWrite", "The member's name");
    name["subAttributes"] = json!([attribute(
        "formatted",
        "string",
        false,
        "readWrite",
        "The whole name (on writes, also givenName and familyName are read)"
    )]);
    let mut emails = attribute(
        "emails",
        "complex",
        true,
        "readOnly",
        "The member's address, as a work email",
    );
    emails["subAttributes"] = json!([
        attribute("value", "string", false, "readOnly", "The address"),
        attribute("type", "string", false, "readOnly", "Always work"),
        attribute("primary", "boolean", false, "readOnly", "Always true"),
    ]);
    let mut groups = attribute(
        "groups",
        "complex",
        true,
        "readOnly",
        "The roles the member holds",
    );
    groups["subAttributes"] = json!([
        attribute("value", "string", false, "readOnly", "The group's id"),
        reference("Group"),
        attribute("display", "string", false, "readOnly", "The group's name"),
        attribute("type", "string", false, "readOnly", "Always direct"),
    ]);
    let mut members = attribute(
        "members",
        "complex",
        true,
        "readWrite",
        "The members holding the role: adding one gives them the role, removing one takes them back to the default role",
    );
    members["subAttributes"] = json!([
        attribute("value", "string", false, "immutable", "The member's id"),
        reference("User"),
        attribute("display", "string", false, "readOnly", "The member's name"),
        attribute("type", "string", false, "readOnly", "Always User"),
    ]);
    let mut user_name = attribute(
        "userName",
        "string",
        false,
        "immutable",
        "The member's email address, unique in the organization: Roster identifies people by it",
    );
    user_name["required"] = json!(true);
    vec![
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": USER_SCHEMA,
            "name": "User",
            "description": "A member of the organization",
            "attributes": [
                user_name,
                required(name),
                required(attribute("displayName", "string", false, "readWrite", "The member's name (always set)")),
                emails,
                required(attribute("active", "boolean", false, "readWrite", "False while suspended: listed, without access (always set)")),
                attribute("externalId", "string", false, "readWrite", "The directory's id for the member"),
                groups,
            ],
            "meta": { "resourceType": "Schema", "location": format!("/scim/v2/Schemas/{USER_SCHEMA}") },
        }),
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": GROUP_SCHEMA,
            "name": "Group",
            "description": "A role of the organization",
            "attributes": [
                attribute("displayName", "string", false, "readOnly", "The role's name"),
                members,
            ],
            "meta": { "resourceType": "Schema", "location": format!("/scim/v2/Schemas/{GROUP_SCHEMA}") },
        }),
    ]
}
