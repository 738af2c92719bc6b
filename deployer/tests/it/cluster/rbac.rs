//! The agent's identity: config-repo/install's ServiceAccount and Roles, with a real token,
//! can sync its own environment and nothing else, and the real `deployer agent` runs with it
//! (Lease, watches, record, Events, self-heal) without a single request refused.
#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

use std::time::Duration;

use serde_json::Value;

use super::agent_support::{Agent, events, git, wait_for};
use super::harness::{kubectl, kubectl_output, repo_root, text, token_kubeconfig};

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
    let dir = tempfile::tempdir().unwrap();
    let kc = token_kubeconfig(dir.path(), &token);
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
        ("create", "events.events.k8s.io", "delivery-prod"),
        ("update", "leases", "delivery-dev"),
        // Another environment's Lease: dev's agent may neither take nor read it.
        ("update", "leases/deployer-agent-prod", "deployer-system"),
        ("get", "leases/deployer-agent-staging", "deployer-system"),
        // Any Lease by name but its own.
        ("update", "leases", "deployer-system"),
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
        ("create", "events.events.k8s.io"),
        ("patch", "events.events.k8s.io"),
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

    the_agent_runs_with_the_dev_token(&kc);
}

/// The real agent with the dev ServiceAccount's token, as config-repo/install runs it
/// (leader election in deployer-system, overlays/dev of a real git repository): every call it
/// makes is allowed.
fn the_agent_runs_with_the_dev_token(kc: &std::path::Path) {
    for (verb, resource) in [
        ("get", "leases/deployer-agent-dev"),
        ("create", "leases"),
        ("update", "leases/deployer-agent-dev"),
    ] {
        let out = kubectl_as(
            kc,
            &["auth", "can-i", verb, resource, "-n", "deployer-system"],
        );
        assert_eq!(text(&out.stdout).trim(), "yes", "{verb} {resource}");
    }
    let (_tmp, repo) = crate::edit::config_repo_copy();
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "config repo"]);
    let c1 = git(&repo, &["rev-parse", "HEAD"]);
    let workdir = tempfile::tempdir().unwrap();
    let args: Vec<String> = [
        "agent",
        "--repo",
        repo.to_str().unwrap(),
        "--branch",
        "main",
        "--overlay",
        "overlays/dev",
        "--workdir",
        workdir.path().to_str().unwrap(),
        "--interval",
        "2s",
        "--lease-namespace",
        "deployer-system",
        "--sync-timeout",
        "90s",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut agent = Agent::start_as(kc, workdir, &args, &[]);
    let record = |key: &str| {
        let out = kubectl_output(
            &[
                "get",
                "configmap",
                "deployer-inventory-dev",
                "-n",
                "delivery-dev",
                "-o",
                &format!("jsonpath={{.data.agent\\.{key}}}"),
            ],
            None,
        );
        text(&out.stdout)
    };
    wait_for(Duration::from_secs(90), "the agent's synced record", || {
        (record("result") == "synced" && record("revision") == c1).then_some(())
    });
    let holder = kubectl(&[
        "get",
        "lease",
        "deployer-agent-dev",
        "-n",
        "deployer-system",
        "-o",
        "jsonpath={.spec.holderIdentity}",
    ]);
    assert!(!holder.is_empty(), "no Lease holder");

    // Self-heal through its watches.
    kubectl(&[
        "label",
        "deployment/api-service",
        "-n",
        "delivery-dev",
        "app.kubernetes.io/part-of=drifted",
        "--overwrite",
    ]);
    wait_for(
        Duration::from_secs(30),
        "the drifted label restored",
        || {
            (kubectl(&[
                "get",
                "deployment/api-service",
                "-n",
                "delivery-dev",
                "-o",
                "jsonpath={.metadata.labels.app\\.kubernetes\\.io/part-of}",
            ]) != "drifted")
                .then_some(())
        },
    );

    // A broken commit: recorded and published as a Warning Event with this identity.
    std::fs::write(
        repo.join("overlays/dev/kustomization.yaml"),
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - missing.yaml\n",
    )
    .unwrap();
    git(&repo, &["commit", "-q", "-am", "broken"]);
    let c2 = git(&repo, &["rev-parse", "HEAD"]);
    wait_for(
        Duration::from_secs(30),
        "the render failure recorded",
        || (record("result") == "render-failed" && record("revision") == c2).then_some(()),
    );
    wait_for(Duration::from_secs(15), "a RenderFailed Event", || {
        events("delivery-dev", "RenderFailed")
            .iter()
            .any(|n| n.contains(&c2))
            .then_some(())
    });

    assert_eq!(agent.stop(), Some(0), "{}", agent.log());
    let log = agent.log();
    let refused: Vec<&str> = log.lines().filter(|line| is_refusal(line)).collect();
    assert!(
        refused.is_empty(),
        "requests were refused: {refused:#?}\n{log}"
    );
}

/// Whether one line of the agent's JSON log reports a refused request: a `Forbidden` reason or
/// a 403 status anywhere but in the timestamp (whose nanoseconds may read "403").
fn is_refusal(line: &str) -> bool {
    let Ok(Value::Object(mut fields)) = serde_json::from_str(line) else {
        return line.to_lowercase().contains("forbidden");
    };
    fields.remove("time");
    let rest = Value::Object(fields).to_string();
    rest.to_lowercase().contains("forbidden")
        || rest
            .split(|c: char| !c.is_ascii_digit())
            .any(|number| number == "403")
}

#[test]
fn a_refusal_is_told_from_a_timestamp_that_reads_403() {
    let ts = r#"{"time":"2026-11-30T18:28:10.848403288Z","level":"INFO","msg":"starting"}"#;
    assert!(!is_refusal(ts));
    let api = r#"{"time":"2026-11-30T18:28:10.1Z","level":"WARN","msg":"leases \"x\" is forbidden: User cannot get"}"#;
    assert!(is_refusal(api));
    let code = r#"{"time":"2026-11-30T18:28:10.1Z","level":"WARN","msg":"refused","code":403}"#;
    assert!(is_refusal(code));
    assert!(!is_refusal(r#"{"time":"x","msg":"4030 objects"}"#));
}
