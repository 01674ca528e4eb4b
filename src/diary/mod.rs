//! Signing users into the unmodified legacy diary: its cookies kept server-side
//! ([`jar`]), its login form driven by configurable rules ([`signin`]), its login and
//! logout endpoints ([`endpoints`]), when its session is over ([`expiry`], with
//! `Location` values resolved like a browser by [`location`]), browser login forms read as the diary reads them
//! ([`form`]), who the diary says is signed in ([`probe`]) and which children it lists
//! for a parent ([`children`]), the stored passwords
//! ([`vault`]), or a signed assertion header for diaries that trust the gateway
//! ([`assertion`]).

pub mod assertion;
pub mod children;
pub mod config;
pub mod endpoints;
pub mod expiry;
pub mod form;
pub mod jar;
pub mod location;
pub mod logout;
pub mod probe;
pub mod signin;
pub mod vault;
