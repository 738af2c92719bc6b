//! deployer: the GitOps half of the stack.
//!
//! Modules by role (each arrives with its issue):
//! - `yaml`: the one YAML and scalar core (parser, kustomize's scalar rules, printer) that
//!   `render` and `edit` share.
//! - `render`: native, Kustomize-compatible build of a kustomization directory.
//! - `edit`: `set-image` and `promote`: in-place edits of kustomization files.
//! - `images`: what image runs where; `reference`: the image reference grammar.
//! - `cluster`: reconcile rendered objects into a cluster (sync, diff, status, inventory, prune).
//! - `agent`: the in-cluster GitOps loop (git fetch, render, sync, self-heal, leader
//!   election, probes and metrics) on top of `cluster`.
//! - `cli`: the command-line surface (thin; all logic lives in the modules above).

pub mod agent;
pub mod cli;
pub mod cluster;
pub mod edit;
pub mod images;
pub mod reference;
pub mod render;
pub mod yaml;
