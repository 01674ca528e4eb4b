//! A protocol-faithful HTTPS stand-in for ESIA (Госуслуги), for the demo, the tests and
//! staging. Strict where ESIA is strict: every parameter, the client's certificate hash,
//! the timestamp window and the `client_secret` signature are checked (GOST through
//! OpenSSL's GOST engine, or the Ed25519 demo signature when the config allows it), codes
//! are single-use, short-lived and bound to client and redirect_uri, and refusals come
//! back the ESIA way. Tokens are RS256 JWTs with ESIA's claims; person data gives each
//! account level the signals real ESIA gives. See /docs/ESIA.md and `esia-mock.toml`.
//!
//! A request's journey: [`routes`] → [`authorize`] (`/ac`, persona form) → [`token`]
//! (`/te`) → [`person`] (`/rs/prns/...`); [`logout`] ends the SSO session. Shared checks
//! live in [`client_auth`] and [`signature`]; [`tokens`] builds JWTs; [`faults`] makes
//! the mock misbehave on demand.
//!
//! Driving the login page without a browser: `GET /aas/oauth2/v2/ac?...` answers 200 with
//! a form; take the pending id with [`pending_from_login_page`] and
//! `POST /aas/oauth2/v2/ac/login` with `pending=<id>&persona=<persona id>` (or
//! `persona=decline`). The answer is the 302 to `redirect_uri?code=…&state=…` and sets
//! the SSO cookie: a later /ac from the same cookie jar gets its code at once, until
//! `GET /idp/ext/Logout`.

mod authorize;
mod client_auth;
mod codes;
mod config;
mod faults;
mod keys;
mod logout;
mod pages;
mod person;
mod personas;
mod respond;
mod routes;
mod server;
mod signature;
mod state;
mod token;
mod tokens;

use std::path::Path;

pub use codes::{Code, EsiaError};
pub use config::{ClientRegistration, MockConfig, MockConfigError};
pub use faults::{Delay, Faults, Status, Switch, Times};
pub use pages::pending_from_login_page;
pub use personas::{DEFAULT_PERSONAS, Level, Persona};
pub use routes::{AC_PATH, LOGIN_PATH, LOGOUT_PATH, TE_PATH, TOKEN_CERT_PATH};
pub use server::{MockError, RunningMock, start};
pub use signature::{certificate_hash, decode_signature};
pub use state::MockState;

/// `esia-gateway esia-mock --config esia-mock.toml`: runs until Ctrl-C.
pub async fn run_cli(config_path: &Path) -> anyhow::Result<()> {
    let config = MockConfig::load(config_path)?;
    let mock = start(config).await?;
    println!("ESIA mock: {}", mock.base_url());
    println!(
        "  token-signing certificate: {}{}",
        mock.base_url(),
        TOKEN_CERT_PATH
    );
    if mock.ca_pem().is_some() {
        println!("  TLS: generated CA (set ca_out to write it to a file)");
    }
    println!("  personas (pick one on the login page):");
    for p in mock.personas() {
        println!(
            "    {:<12} OID {}  {} — {}",
            p.id,
            p.oid,
            p.full_name(),
            p.title
        );
    }
    println!("Ctrl-C stops it.");
    tokio::signal::ctrl_c().await?;
    mock.shutdown().await;
    Ok(())
}
