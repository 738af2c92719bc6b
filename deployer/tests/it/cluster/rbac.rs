//! The agent's identity: config-repo/install's ServiceAccount and Roles, with a real token,
//! can sync its own environment and nothing else.
#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

use serde_json::Value;

use super::harness::{control_plane, kubectl, repo_root, text};

fn as_agent(kubeconfig: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_deployer"))
        .args(args)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .output()
        .unwrap()
}

/// kubectl with the agent's kubeconfig only (a token next to the admin's client certificate
/// would never be looked at: the API server authenticates the certificate first).
fn kubectl_as(kubeconfig: &std::path::Path, args: &[&str]) -> Output {
    Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn the_dev_agents_token_syncs_dev_and_is_refused_everywhere_else() {
    let root = repo_root();
    let install = root.join("config-repo/install");
    kubectl(&["apply", "--server-side", "-k", install.to_str().unwrap()]);
    let token = kubectl(&[
        "create",
        "token",
        "deployer-agent-dev",
        "-n",
        "deployer-system",
        "--duration",
        "1h",
    ]);
    // A kubeconfig with the admin's cluster entry and the agent's bearer token.
    let admin = std::fs::read_to_string(&control_plane().kubeconfig).unwrap();
    let server = admin
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: "))
        .unwrap()
        .to_string();
    let ca = admin
        .lines()
        .find_map(|l| l.trim().strip_prefix("certificate-authority: "))
        .unwrap()
        .to_string();
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("agent.kubeconfig");
    std::fs::write(
        &kc,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\n    certificate-authority: {ca}\nusers:\n- name: agent\n  user:\n    token: {}\ncontexts:\n- name: agent\n  context: {{cluster: c, user: agent}}\ncurrent-context: agent\n",
            token.trim()
        ),
    )
    .unwrap();
    let dev = root.join("config-repo/overlays/dev");
    let staging = root.join("config-repo/overlays/staging");

    let dev_arg = dev.to_str().unwrap();
    for args in [
        vec!["sync", dev_arg, "--timeout", "90s"],
        vec!["diff", dev_arg],
        vec!["status", dev_arg],
    ] {
        let out = as_agent(&kc, &args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
    // Pods ran under the restricted Pod Security profile of the install's namespaces.
    let deps: Value = serde_json::from_str(&kubectl(&[
        "get",
        "deployments",
        "-n",
        "delivery-dev",
        "-o",
        "json",
    ]))
    .unwrap();
    assert_eq!(deps["items"].as_array().unwrap().len(), 2);

    // Another environment: refused, nothing written there.
    let out = as_agent(
        &kc,
        &["sync", staging.to_str().unwrap(), "--timeout", "30s"],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains("403 Forbidden"),
        "{}",
        text(&out.stderr)
    );
    let none = kubectl(&[
        "get",
        "deployments,configmaps",
        "-n",
        "delivery-staging",
        "-o",
        "name",
    ]);
    assert!(!none.contains("deployment"), "{none}");
    assert!(!none.contains("deployer-inventory"), "{none}");
    // A namespace outside the install (and creating namespaces at all): refused.
    let out = as_agent(
        &kc,
        &[
            "sync",
            dev.to_str().unwrap(),
            "--namespace",
            "default",
            "--inventory",
            "x",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains("403 Forbidden"),
        "{}",
        text(&out.stderr)
    );
    // What the Role must not allow, asked of the API server's authorizer directly.
    for (verb, resource, ns) in [
        ("get", "secrets", "delivery-dev"),
        ("update", "deployments", "delivery-dev"),
        ("create", "namespaces", ""),
        ("patch", "deployments", "delivery-prod"),
        ("list", "clusterroles", ""),
    ] {
        let mut args = vec!["auth", "can-i", verb, resource];
        if !ns.is_empty() {
            args.extend(["-n", ns]);
        }
        let out = kubectl_as(&kc, &args);
        assert_eq!(
            text(&out.stdout).trim(),
            "no",
            "{verb} {resource} in {ns:?} must be denied"
        );
    }
    for (verb, resource) in [
        ("patch", "deployments"),
        ("delete", "ingresses"),
        ("watch", "deployments"),
        ("create", "configmaps"),
    ] {
        let out = kubectl_as(
            &kc,
            &["auth", "can-i", verb, resource, "-n", "delivery-dev"],
        );
        assert_eq!(
            text(&out.stdout).trim(),
            "yes",
            "{verb} {resource} in delivery-dev must be allowed"
        );
    }
}
