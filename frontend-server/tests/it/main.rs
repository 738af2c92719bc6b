//! frontend-server integration tests, one module per area. Everything runs over real
//! loopback HTTP: the server in-process on port 0 ([`support::InProcess`]) or the built
//! binaries ([`support::Proc`]); the proxy is tested against the real `api` binary and a
//! scripted raw-TCP upstream; `e2e` drives headless Chromium; `nginx_parity` runs Debian's
//! nginx with the seed's configuration next to us.
#![allow(clippy::unwrap_used)]

mod cache;
mod compression;
mod connection;
mod deployment_config;
mod e2e;
mod freshness;
mod memory;
mod nginx_parity;
mod process;
mod proxy;
mod routing;
mod security;
mod static_files;
mod support;
