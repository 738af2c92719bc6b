//! deployer: the GitOps half of the stack.
//!
//! Modules by role (each arrives with its issue):
//! - `render`: native, Kustomize-compatible build of a kustomization directory.
//! - `edit`: `set-image` and `promote`: in-place edits of kustomization files.
//! - `images`: what image runs where.
//! - `cluster`: reconcile rendered objects into a cluster (sync, diff, status, inventory, prune).
//! - `cli`: the command-line surface (thin; all logic lives in the modules above).

pub mod cli;
pub mod cluster;
pub mod edit;
pub mod images;
pub mod render;
