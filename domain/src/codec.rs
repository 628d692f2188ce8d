//! Turning domain events into stored payloads and back, upcasting old shapes.
//!
//! The envelope keeps `event_type` and `schema_version` beside the payload; the
//! payload is the event's fields. Reading runs every stored shape through
//! [`DomainEvent::upcast`] to the current one first, so old events load forever.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::organization::OrgEvent;
use crate::user::UserEvent;

/// Why a stored event could not be turned back into a domain event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// No such event type in this aggregate.
    #[error("unknown event type {0:?}")]
    UnknownType(String),
    /// A schema version newer than this build knows (a newer Roster wrote it).
    #[error("{event_type} schema version {version} is newer than this build understands")]
    UnsupportedVersion {
        /// The type.
        event_type: String,
        /// The version found.
        version: u32,
    },
    /// The payload does not have the shape its version promises.
    #[error("malformed {event_type} payload: {reason}")]
    Malformed {
        /// The type.
        event_type: String,
        /// What serde said.
        reason: String,
    },
}

/// An event enum stored through this codec: tagged with `type` in serde.
pub trait DomainEvent: Serialize + DeserializeOwned {
    /// The stable type name.
    fn event_type(&self) -> &'static str;
    /// The current schema version of this event's type.
    fn schema_version(&self) -> u32;
    /// The current schema version of the named type, if the type exists.
    fn current_version(event_type: &str) -> Option<u32>;
    /// Reads a payload of the current version of `event_type` in place, without
    /// copying it first (the generic way copies it and adds the `type` tag for
    /// the tagged enum): rebuilds and catch-ups decode every event of the log.
    /// `None` when the type has no such way.
    fn decode_current<'de, D: serde::Deserializer<'de>>(
        event_type: &str,
        payload: D,
    ) -> Option<Result<Self, D::Error>> {
        let _ = (event_type, payload);
        None
    }
    /// Brings an older payload one or more versions forward.
    fn upcast(event_type: &str, version: u32, payload: Map<String, Value>) -> Map<String, Value> {
        let _ = (event_type, version);
        payload
    }
}

/// Why an event could not be turned into a stored payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot encode {event_type}: {reason}")]
pub struct EncodeError {
    /// The type.
    pub event_type: &'static str,
    /// What serde said, or that the payload was not an object.
    pub reason: String,
}

/// The parts an event store needs: `(event_type, schema_version, payload)`. The
/// payload is always a JSON object; anything else is an error, never a `null`
/// stored in the log.
pub fn encode<E: DomainEvent>(event: &E) -> Result<(&'static str, u32, Value), EncodeError> {
    let failed = |reason: String| EncodeError {
        event_type: event.event_type(),
        reason,
    };
    let mut value = serde_json::to_value(event).map_err(|e| failed(e.to_string()))?;
    let Value::Object(map) = &mut value else {
        return Err(failed("the payload is not a JSON object".to_owned()));
    };
    map.remove("type");
    Ok((event.event_type(), event.schema_version(), value))
}

/// [`decode`] from the payload's JSON text: an event of the current version is
/// read straight from the text (no JSON tree in between); older ones go
/// through [`decode`] and its upcasters.
pub fn decode_text<E: DomainEvent>(
    event_type: &str,
    version: u32,
    payload: &str,
) -> Result<E, DecodeError> {
    let malformed = |reason: String| DecodeError::Malformed {
        event_type: event_type.to_owned(),
        reason,
    };
    if E::current_version(event_type) == Some(version) {
        let mut text = serde_json::Deserializer::from_str(payload);
        if let Some(decoded) = E::decode_current(event_type, &mut text) {
            return decoded
                .and_then(|event| text.end().map(|()| event))
                .map_err(|e| malformed(e.to_string()));
        }
    }
    let value: Value = serde_json::from_str(payload).map_err(|e| malformed(e.to_string()))?;
    decode(event_type, version, &value)
}

/// Rebuilds an event from its stored parts, upcasting older shapes.
pub fn decode<E: DomainEvent>(
    event_type: &str,
    version: u32,
    payload: &Value,
) -> Result<E, DecodeError> {
    let current = E::current_version(event_type)
        .ok_or_else(|| DecodeError::UnknownType(event_type.to_owned()))?;
    if version > current {
        return Err(DecodeError::UnsupportedVersion {
            event_type: event_type.to_owned(),
            version,
        });
    }
    let malformed = |reason: String| DecodeError::Malformed {
        event_type: event_type.to_owned(),
        reason,
    };
    let Value::Object(map) = payload else {
        return Err(malformed("payload is not an object".to_owned()));
    };
    if version == current {
        if let Some(decoded) = E::decode_current(event_type, payload) {
            return decoded.map_err(|e| malformed(e.to_string()));
        }
    }
    let mut map = if version < current {
        E::upcast(event_type, version, map.clone())
    } else {
        map.clone()
    };
    map.insert("type".to_owned(), Value::String(event_type.to_owned()));
    serde_json::from_value(Value::Object(map)).map_err(|e| malformed(e.to_string()))
}

impl DomainEvent for OrgEvent {
    fn event_type(&self) -> &'static str {
        OrgEvent::event_type(self)
    }

    fn decode_current<'de, D: serde::Deserializer<'de>>(
        event_type: &str,
        payload: D,
    ) -> Option<Result<Self, D::Error>> {
        use crate::organization as e;
        fn read<'de, T: serde::Deserialize<'de>, D: serde::Deserializer<'de>>(
            payload: D,
            wrap: fn(T) -> OrgEvent,
        ) -> Option<Result<OrgEvent, D::Error>> {
            Some(T::deserialize(payload).map(wrap))
        }
        match event_type {
            "OrganizationCreated" => {
                read::<e::OrganizationCreated, D>(payload, OrgEvent::OrganizationCreated)
            }
            "AccountAdded" => read::<e::AccountAdded, D>(payload, OrgEvent::AccountAdded),
            "AccountRenamed" => read::<e::AccountRenamed, D>(payload, OrgEvent::AccountRenamed),
            "UserInvited" => read::<e::UserInvited, D>(payload, OrgEvent::UserInvited),
            "InvitationResent" => {
                read::<e::InvitationResent, D>(payload, OrgEvent::InvitationResent)
            }
            "InvitationCancelled" => {
                read::<e::InvitationCancelled, D>(payload, OrgEvent::InvitationCancelled)
            }
            "InvitationChanged" => {
                read::<e::InvitationChanged, D>(payload, OrgEvent::InvitationChanged)
            }
            "InvitationExpired" => {
                read::<e::InvitationExpired, D>(payload, OrgEvent::InvitationExpired)
            }
            "InvitationAccepted" => {
                read::<e::InvitationAccepted, D>(payload, OrgEvent::InvitationAccepted)
            }
            "RoleChanged" => read::<e::RoleChanged, D>(payload, OrgEvent::RoleChanged),
            "MemberRemoved" => read::<e::MemberRemoved, D>(payload, OrgEvent::MemberRemoved),
            "MemberProvisioned" => {
                read::<e::MemberProvisioned, D>(payload, OrgEvent::MemberProvisioned)
            }
            "MemberSuspended" => read::<e::MemberSuspended, D>(payload, OrgEvent::MemberSuspended),
            "MemberDetailsChanged" => {
                read::<e::MemberDetailsChanged, D>(payload, OrgEvent::MemberDetailsChanged)
            }
            "MemberRestored" => read::<e::MemberRestored, D>(payload, OrgEvent::MemberRestored),
            "InvitationEmailSent" => {
                read::<e::InvitationEmailSent, D>(payload, OrgEvent::InvitationEmailSent)
            }
            "InvitationEmailFailed" => {
                read::<e::InvitationEmailFailed, D>(payload, OrgEvent::InvitationEmailFailed)
            }
            "ApiKeyCreated" => read::<e::ApiKeyCreated, D>(payload, OrgEvent::ApiKeyCreated),
            "ApiKeyRevoked" => read::<e::ApiKeyRevoked, D>(payload, OrgEvent::ApiKeyRevoked),
            "SsoConnectionConfigured" => {
                read::<e::SsoConnectionConfigured, D>(payload, OrgEvent::SsoConnectionConfigured)
            }
            "SsoConnectionChanged" => {
                read::<e::SsoConnectionChanged, D>(payload, OrgEvent::SsoConnectionChanged)
            }
            "SsoConnectionRemoved" => {
                read::<e::SsoConnectionRemoved, D>(payload, OrgEvent::SsoConnectionRemoved)
            }
            "SsoIdentityLinked" => {
                read::<e::SsoIdentityLinked, D>(payload, OrgEvent::SsoIdentityLinked)
            }
            "MemberJoinedBySso" => {
                read::<e::MemberJoinedBySso, D>(payload, OrgEvent::MemberJoinedBySso)
            }
            _ => None,
        }
    }

    fn schema_version(&self) -> u32 {
        OrgEvent::schema_version(self)
    }

    fn current_version(event_type: &str) -> Option<u32> {
        match event_type {
            "UserInvited" => Some(2),
            "OrganizationCreated"
            | "AccountAdded"
            | "AccountRenamed"
            | "InvitationChanged"
            | "InvitationResent"
            | "InvitationCancelled"
            | "InvitationExpired"
            | "InvitationAccepted"
            | "RoleChanged"
            | "MemberRemoved"
            | "InvitationEmailSent"
            | "InvitationEmailFailed"
            | "ApiKeyCreated"
            | "ApiKeyRevoked"
            | "MemberProvisioned"
            | "MemberSuspended"
            | "MemberDetailsChanged"
            | "MemberRestored"
            | "SsoConnectionConfigured"
            | "SsoConnectionChanged"
            | "SsoConnectionRemoved"
            | "SsoIdentityLinked"
            | "MemberJoinedBySso" => Some(1),
            _ => None,
        }
    }

    fn upcast(
        event_type: &str,
        version: u32,
        mut payload: Map<String, Value>,
    ) -> Map<String, Value> {
        // UserInvited v1 had no full_name: the owner typed none. Use the email's
        // local part, which is what the v1 invitation screen showed.
        if event_type == "UserInvited" && version == 1 && !payload.contains_key("full_name") {
            let name = payload
                .get("email")
                .and_then(Value::as_str)
                .and_then(|e| e.split('@').next())
                .filter(|local| !local.trim().is_empty())
                .unwrap_or("Invited user")
                .to_owned();
            payload.insert("full_name".to_owned(), Value::String(name));
        }
        payload
    }
}

impl DomainEvent for UserEvent {
    fn event_type(&self) -> &'static str {
        UserEvent::event_type(self)
    }

    fn schema_version(&self) -> u32 {
        1
    }

    fn current_version(event_type: &str) -> Option<u32> {
        match event_type {
            "UserRegistered" | "PasswordResetRequested" | "PasswordChanged" => Some(1),
            _ => None,
        }
    }
}
