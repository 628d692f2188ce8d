//! Single sign-on: an organization's connection to its own OpenID Connect
//! provider, as the log records it. The protocol itself (discovery, the code
//! exchange, ID token checks) happens at the edge; the domain holds what was
//! configured and which provider identity (`sub`) is which person.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::role::Role;
use crate::text::{Email, TextError};

/// An email domain an organization's provider answers for: lower-case labels
/// of letters, digits and hyphens, at least two, at most 253 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailDomain(String);

/// Domains of public mailbox providers: anyone can have an address there, so
/// no organization's provider may answer for them.
const PUBLIC_MAIL: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "msn.com",
    "yahoo.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "aol.com",
    "proton.me",
    "protonmail.com",
    "gmx.com",
    "gmx.de",
    "gmx.net",
    "web.de",
    "yandex.ru",
    "mail.ru",
    "qq.com",
    "163.com",
    "zoho.com",
];

impl EmailDomain {
    /// Checks a domain as an owner typed it (`@` in front is allowed).
    pub fn parse(raw: &str) -> Result<Self, TextError> {
        let domain = Self::from_stored(raw.trim().trim_start_matches('@'))?;
        if PUBLIC_MAIL.contains(&domain.as_str()) {
            return Err(TextError::PublicMailDomain(domain.0));
        }
        Ok(domain)
    }

    /// Checks a domain read back from the log: its syntax only, so a later
    /// change to the list of public domains never makes the log unreadable.
    fn from_stored(raw: &str) -> Result<Self, TextError> {
        let domain = raw.trim().to_lowercase();
        if domain.is_empty() {
            return Err(TextError::Empty { field: "domain" });
        }
        let labels: Vec<&str> = domain.split('.').collect();
        let valid = domain.len() <= 253
            && labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if !valid {
            return Err(TextError::InvalidDomain(domain));
        }
        Ok(Self(domain))
    }

    /// The domain.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `email` is an address at this domain (not at a subdomain).
    pub fn holds(&self, email: &Email) -> bool {
        email
            .key()
            .rsplit_once('@')
            .is_some_and(|(_, domain)| domain == self.0)
    }
}

impl fmt::Display for EmailDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for EmailDomain {
    type Error = TextError;

    fn try_from(s: String) -> Result<Self, TextError> {
        Self::from_stored(&s)
    }
}

impl From<EmailDomain> for String {
    fn from(d: EmailDomain) -> String {
        d.0
    }
}

/// A client secret sealed by the server (authenticated encryption under a key
/// derived from its secret): the log and the tables never hold it in clear.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SealedSecret(pub String);

impl fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealedSecret(…)")
    }
}

/// How an organization's people sign in with its provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoConnection {
    /// The provider's issuer (its discovery document was checked when configured).
    pub issuer: String,
    /// Roster's client id at the provider.
    pub client_id: String,
    /// Roster's client secret at the provider, sealed.
    pub client_secret: SealedSecret,
    /// The email domains it answers for (at least one, sorted, no repeats).
    pub domains: Vec<EmailDomain>,
    /// Members at these domains must sign in with the provider: their password
    /// sign-in and password reset are refused.
    pub enforced: bool,
    /// People at these domains who sign in without an invitation join with
    /// this role; `None`: they are refused (the default).
    pub join_role: Option<Role>,
}

impl SsoConnection {
    /// The most domains one connection answers for.
    pub const MAX_DOMAINS: usize = 20;

    /// Whether `email` is at one of the connection's domains.
    pub fn answers_for(&self, email: &Email) -> bool {
        self.domains.iter().any(|d| d.holds(email))
    }
}

/// A provider's subject identifier (`sub`): at most 255 ASCII characters,
/// unique per issuer (OpenID Connect Core §2).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Subject(pub String);

impl Subject {
    /// The longest `sub` the specification allows.
    pub const MAX_LEN: usize = 255;
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
