//! api integration tests: `endpoints` drives the real app in-process; `process` starts the
//! built binary and talks to it over loopback HTTP (signals, exit codes, logs).
#![allow(clippy::unwrap_used)]

mod connection;
mod endpoints;
mod gin_parity;
mod process;
