//! esia-gateway: a TLS-terminating reverse proxy that puts ESIA (Госуслуги) login in
//! front of an unmodified legacy school e-diary.
//!
//! Modules follow a request's journey: `server` (listen, TLS, connections) → `proxy`
//! (forward to the diary) → `admin`; `config` turns `gateway.toml` into validated types.
//! The stand-ins for ESIA and the diary live apart, under `standins`.

pub mod admin;
pub mod body;
pub mod cli;
pub mod clock;
pub mod config;
pub mod cutover;
pub mod demo;
pub mod diary;
pub mod esia;
pub mod identity;
pub mod inject;
pub mod language;
pub mod link;
pub mod logging;
pub mod login;
pub mod metrics;
pub mod ops;
pub mod pages;
pub mod policy;
pub mod proxy;
pub mod secret;
pub mod server;
pub mod services;
pub mod session;
pub mod shutdown;
pub mod standins;
pub mod store;
pub mod tls;
pub mod units;
pub mod upstream;
