//! Validated text values: the constructor is the only way in, so a value that
//! exists is valid, and the rules live in one place.

use std::fmt;
use std::hash::{Hash, Hasher};

use compact_str::CompactString;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use unicode_normalization::UnicodeNormalization;

/// Why a piece of text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Nothing left after trimming.
    #[error("{field} must not be empty")]
    Empty {
        /// The field's name.
        field: &'static str,
    },
    /// Longer than allowed.
    #[error("{field} must be at most {max} characters")]
    TooLong {
        /// The field's name.
        field: &'static str,
        /// The limit.
        max: usize,
    },
    /// Holds control characters (newlines, NUL, …).
    #[error("{field} must not contain control characters")]
    ControlCharacters {
        /// The field's name.
        field: &'static str,
    },
    /// Holds invisible or formatting characters (U+200B, U+202E, U+2028 …) that
    /// could disguise what a person reads.
    #[error("{field} must not contain invisible or formatting characters ({0})", .found)]
    InvisibleCharacters {
        /// The field's name.
        field: &'static str,
        /// The first such character, as U+XXXX.
        found: String,
    },
    /// Not an email address.
    #[error("email {0:?} is not a valid address")]
    InvalidEmail(String),
    /// Not a domain name.
    #[error("{0:?} is not a domain name (like example.com)")]
    InvalidDomain(String),
    /// A public mailbox provider's domain, where anyone can have an address.
    #[error("{0} is a public mailbox provider's domain: anyone can have an address there")]
    PublicMailDomain(String),
}

/// Format characters (Unicode category Cf) and the line and paragraph
/// separators: nothing a name or an address needs, and each can make text read
/// differently from what it is (a right-to-left override, a zero-width space).
fn invisible(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x0890..=0x0891 | 0x08E2
        | 0x180E | 0x200B..=0x200F | 0x2028..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F
        | 0xFEFF | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F
        | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F)
}

/// Input as a person typed it: trimmed, in Unicode NFC (so one name has one
/// spelling), without invisible or formatting characters.
fn normalized(field: &'static str, raw: &str) -> Result<String, TextError> {
    let text: String = raw.trim().nfc().collect();
    match text.chars().find(|c| invisible(*c)) {
        Some(c) => Err(TextError::InvisibleCharacters {
            field,
            found: format!("U+{:04X}", c as u32),
        }),
        None => Ok(text),
    }
}

/// Checks new input: [`normalized`], then the rules stored values obey.
fn checked(field: &'static str, raw: &str, max: usize) -> Result<CompactString, TextError> {
    stored(field, &normalized(field, raw)?, max)
}

/// The rules every stored value obeys. Values read back from the log are held
/// to these only: the log keeps what was accepted when it was written.
fn stored(field: &'static str, raw: &str, max: usize) -> Result<CompactString, TextError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(TextError::Empty { field });
    }
    if trimmed.chars().count() > max {
        return Err(TextError::TooLong { field, max });
    }
    if trimmed.chars().any(char::is_control) {
        return Err(TextError::ControlCharacters { field });
    }
    Ok(CompactString::new(trimmed))
}

/// Reads a text value through `make` from the string a format lends, so reading
/// an event back from the log makes no `String` on the way (a short value is
/// then held inline: no allocation at all).
struct TextVisitor<T> {
    expecting: &'static str,
    make: fn(&str) -> Result<T, TextError>,
}

impl<T> serde::de::Visitor<'_> for TextVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
        (self.make)(v).map_err(E::custom)
    }
}

macro_rules! bounded_text {
    ($(#[$doc:meta])* $name:ident, $field:literal, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(CompactString);

        impl $name {
            /// Most characters allowed after trimming.
            pub const MAX_CHARS: usize = $max;

            /// Trims and checks the text.
            pub fn parse(raw: &str) -> Result<Self, TextError> {
                checked($field, raw, Self::MAX_CHARS).map(Self)
            }

            /// A stored value (see [`stored`]); input goes through `parse`.
            fn from_stored(raw: &str) -> Result<Self, TextError> {
                stored($field, raw, Self::MAX_CHARS).map(Self)
            }

            /// The text as stored.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = TextError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::from_stored(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0.into_string()
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_str(TextVisitor {
                    expecting: "a string",
                    make: Self::from_stored,
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

bounded_text!(
    /// A person's full name: 1–100 characters after trimming, no control characters.
    PersonName, "full name", 100
);
bounded_text!(
    /// The name of an organization or an account: 1–100 characters, no control characters.
    DisplayName, "name", 100
);

/// An email address: trimmed, syntax-checked, at most 254 characters, and compared
/// case-insensitively (`Ann@X.com` and `ann@x.com` are one person) while keeping
/// the spelling it was given for display.
#[derive(Debug, Clone)]
pub struct Email {
    display: CompactString,
    key: CompactString,
}

impl Email {
    /// Longest address allowed (RFC 5321 path limit).
    pub const MAX_CHARS: usize = 254;

    /// Trims, normalizes and checks an address as a person typed it.
    pub fn parse(raw: &str) -> Result<Self, TextError> {
        Self::from_stored(&normalized("email", raw)?)
    }

    /// Checks an address read back from the log (see [`stored`]).
    fn from_stored(raw: &str) -> Result<Self, TextError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(TextError::Empty { field: "email" });
        }
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(TextError::TooLong {
                field: "email",
                max: Self::MAX_CHARS,
            });
        }
        if !is_valid_address(trimmed) {
            return Err(TextError::InvalidEmail(trimmed.to_owned()));
        }
        // The key is exactly `to_lowercase`; ASCII (nearly every address) is
        // folded without an intermediate `String`.
        let key = if !trimmed.is_ascii() {
            CompactString::from(trimmed.to_lowercase())
        } else if trimmed.bytes().any(|b| b.is_ascii_uppercase()) {
            trimmed.chars().map(|c| c.to_ascii_lowercase()).collect()
        } else {
            CompactString::new(trimmed)
        };
        Ok(Self {
            display: CompactString::new(trimmed),
            key,
        })
    }

    /// The address as given (trimmed).
    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The case-folded form that identity and uniqueness use.
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// A pragmatic check: one `@`, a local part of 1–64 printable characters without
/// spaces, and a domain of dot-separated labels of letters, digits and hyphens
/// (internationalized labels allowed), with at least one dot.
fn is_valid_address(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.chars().count() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| !c.is_control() && !c.is_whitespace() && !"@<>()[]\\,;:\"".contains(c));
    let domain_ok = domain.split('.').nth(1).is_some()
        && domain.chars().count() <= 253
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.chars().count() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    local_ok && domain_ok
}

impl PartialEq for Email {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for Email {}

impl Hash for Email {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key.hash(state);
    }
}

impl TryFrom<String> for Email {
    type Error = TextError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::from_stored(&value)
    }
}

impl From<Email> for String {
    fn from(value: Email) -> Self {
        value.display.into_string()
    }
}

impl Serialize for Email {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.display)
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(TextVisitor {
            expecting: "a string",
            make: Self::from_stored,
        })
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn invisible_and_formatting_characters_are_refused_in_names_and_emails() {
        for sneaky in [
            "Ann\u{202E}eeL",
            "Ann\u{200B}Lee",
            "Ann\u{2028}Lee",
            "\u{FEFF}Ann",
        ] {
            assert!(
                matches!(
                    PersonName::parse(sneaky),
                    Err(TextError::InvisibleCharacters { .. })
                ),
                "{sneaky:?}"
            );
        }
        assert!(matches!(
            Email::parse("ann\u{200B}@example.com"),
            Err(TextError::InvisibleCharacters { .. })
        ));
        assert!(DisplayName::parse("Eur\u{2029}ope").is_err());
    }

    #[test]
    fn input_is_normalized_to_nfc_so_one_name_has_one_spelling() {
        let decomposed = PersonName::parse("Zoe\u{0308}").expect("name");
        let composed = PersonName::parse("Zo\u{00EB}").expect("name");
        assert_eq!(decomposed, composed);
        assert_eq!(decomposed.as_str(), "Zo\u{00EB}");
    }

    #[test]
    fn values_already_in_the_log_still_load() {
        let old: PersonName =
            serde_json::from_value(serde_json::json!("Ann\u{200B}Lee")).expect("stored name");
        assert_eq!(old.as_str(), "Ann\u{200B}Lee");
    }

    #[test]
    fn emails_are_trimmed_and_compared_without_case() {
        let a = Email::parse("  Ann.Lee@Example.COM ").expect("valid");
        let b = Email::parse("ann.lee@example.com").expect("valid");
        assert_eq!(a, b);
        assert_eq!(a.as_str(), "Ann.Lee@Example.COM");
        assert_eq!(a.key(), "ann.lee@example.com");
    }

    #[test]
    fn malformed_emails_are_refused() {
        for bad in [
            "",
            "   ",
            "plain",
            "@example.com",
            "ann@",
            "ann@localhost",
            "ann@@example.com",
            "an n@example.com",
            "ann@exa mple.com",
            "ann@-example.com",
            "ann@example..com",
            ".ann@example.com",
            "ann\n@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn an_email_longer_than_254_characters_is_refused() {
        let long = format!("{}@{}.com", "a".repeat(64), "b".repeat(200));
        assert!(matches!(
            Email::parse(&long),
            Err(TextError::TooLong { .. })
        ));
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            PersonName::parse("  Zoë Ångström ")
                .expect("valid")
                .as_str(),
            "Zoë Ångström"
        );
        assert!(matches!(
            PersonName::parse(" \t "),
            Err(TextError::Empty { .. })
        ));
        assert!(PersonName::parse(&"é".repeat(100)).is_ok());
        assert!(matches!(
            PersonName::parse(&"é".repeat(101)),
            Err(TextError::TooLong { .. })
        ));
        assert!(matches!(
            PersonName::parse("Ann\u{0}Lee"),
            Err(TextError::ControlCharacters { .. })
        ));
    }

    #[test]
    fn deserializing_runs_the_same_checks() {
        assert!(serde_json::from_str::<Email>("\"not an email\"").is_err());
        assert!(serde_json::from_str::<PersonName>("\"\"").is_err());
        let email: Email = serde_json::from_str("\" x@y.io \"").expect("valid");
        assert_eq!(serde_json::to_string(&email).expect("json"), "\"x@y.io\"");
    }

    proptest! {
        #[test]
        fn any_accepted_name_is_trimmed_printable_and_short(raw in "\\PC{0,120}") {
            if let Ok(name) = PersonName::parse(&raw) {
                let s = name.as_str();
                prop_assert_eq!(s, s.trim());
                prop_assert!(!s.is_empty() && s.chars().count() <= 100);
                prop_assert!(!s.chars().any(char::is_control));
            }
        }

        #[test]
        fn simple_generated_addresses_parse_and_round_trip(
            local in "[a-zA-Z0-9_+-]{1,30}",
            domain in "[a-z0-9]{1,20}",
            tld in "[a-z]{2,6}",
        ) {
            let raw = format!("{local}@{domain}.{tld}");
            let email = Email::parse(&raw).expect("valid");
            prop_assert_eq!(email.as_str(), raw.as_str());
            let upper = Email::parse(&raw.to_uppercase()).expect("valid");
            prop_assert_eq!(email, upper);
        }

        #[test]
        fn parsing_never_panics_and_accepted_emails_are_bounded(raw in "\\PC{0,300}") {
            if let Ok(email) = Email::parse(&raw) {
                prop_assert!(email.as_str().chars().count() <= 254);
                prop_assert!(email.as_str().contains('@'));
            }
        }
    }
}
