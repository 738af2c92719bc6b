//! deployer sync / diff / status against a real Kubernetes control plane
//! (scripts/controlplane.sh: kube-apiserver, etcd, controller-manager, scheduler, kwok).

mod agent;
mod agent_ops;
pub(crate) mod agent_support;
mod faults;
mod harness;
mod promote_gate;
mod rbac;
mod scenarios;
mod standin;
