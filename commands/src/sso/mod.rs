//! Single sign-on's edges: sealing the client secret, and the protocol with an
//! organization's OpenID Connect provider. The rules are the domain's; the use
//! cases are in [`use_cases::sso`](crate::use_cases::sso).

pub mod provider;
pub mod seal;
