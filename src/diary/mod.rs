//! Signing users into the legacy diary. For now only the credential vault.

pub mod vault;
