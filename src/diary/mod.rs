//! Signing users into the unmodified legacy diary: its cookies kept server-side
//! ([`jar`]), its login form driven by configurable rules ([`signin`]), the stored
//! passwords ([`vault`]), or a signed assertion header for diaries that trust the
//! gateway ([`assertion`]).

pub mod assertion;
pub mod config;
pub mod jar;
pub mod signin;
pub mod vault;
