//! The real implementations of the login ports: the ESIA client as the
//! [`IdentityProvider`](super::ports::IdentityProvider) and the session service + store
//! as the [`SessionBackend`](super::ports::SessionBackend).
