//! Conformance of `deployer::render::build` with kustomize v5.5.0.
#![allow(clippy::unwrap_used)]
