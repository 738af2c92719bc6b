//! Our own config-repo: every kustomization renders with `kubectl kustomize` (Kustomize
//! v5.5.0), `deployer render` prints the same bytes, and the rendered objects keep the
//! promises of the issue (probes, security, sizing, no deprecated fields).
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value as Yaml;

/// The documents of a YAML stream as JSON values (read with deployer's YAML core).
pub(crate) fn parse_stream(text: &str) -> Vec<Yaml> {
    deployer::yaml::parse_resources(text, &deployer::yaml::Limits::default())
        .unwrap()
        .into_iter()
        .map(deployer::yaml::value::to_json)
        .collect()
}

fn config_repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../config-repo")
}

const OVERLAYS: [&str; 3] = ["dev", "staging", "prod"];

/// Every kustomization directory of config-repo.
fn kustomization_dirs() -> Vec<PathBuf> {
    let root = config_repo();
    let mut dirs = vec![root.join("base"), root.join("install"), root.join("argocd")];
    dirs.extend(OVERLAYS.iter().map(|o| root.join("overlays").join(o)));
    dirs
}

/// `kubectl kustomize DIR`; panics with a clear message when kubectl is missing.
pub(crate) fn kubectl_kustomize(dir: &Path) -> String {
    let out = Command::new("kubectl").arg("kustomize").arg(dir).output().unwrap_or_else(|e| {
        panic!("kubectl (with its embedded Kustomize v5.5.0) is required for this test; install kubectl v1.32: {e}")
    });
    assert!(
        out.status.success(),
        "kubectl kustomize {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn deployer_render(dir: &Path) -> Result<String, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_deployer"))
        .arg("render")
        .arg(dir)
        .output()
        .unwrap();
    if out.status.success() {
        Ok(String::from_utf8(out.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn docs(dir: &Path) -> Vec<Yaml> {
    parse_stream(&kubectl_kustomize(dir))
}

fn find<'a>(docs: &'a [Yaml], kind: &str, name: &str) -> &'a Yaml {
    docs.iter()
        .find(|d| d["kind"].as_str() == Some(kind) && d["metadata"]["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no {kind}/{name}"))
}

#[test]
fn deployer_render_matches_kubectl_kustomize_byte_for_byte() {
    let mut failures = Vec::new();
    for dir in kustomization_dirs() {
        let expected = kubectl_kustomize(&dir);
        match deployer_render(&dir) {
            Ok(actual) if actual == expected => {}
            Ok(actual) => failures.push(format!(
                "{}: output differs\n{}",
                dir.display(),
                first_difference(&expected, &actual)
            )),
            Err(stderr) => failures.push(format!(
                "{}: deployer render failed: {stderr}",
                dir.display()
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} differ:\n{}",
        failures.len(),
        kustomization_dirs().len(),
        failures.join("\n")
    );
}

fn first_difference(expected: &str, actual: &str) -> String {
    for (i, (e, a)) in expected.lines().zip(actual.lines()).enumerate() {
        if e != a {
            return format!(
                "  line {}: kubectl: {e:?}\n  line {}: deployer: {a:?}",
                i + 1,
                i + 1
            );
        }
    }
    format!(
        "  lengths differ: kubectl {} lines, deployer {} lines",
        expected.lines().count(),
        actual.lines().count()
    )
}

#[test]
fn kustomization_files_use_no_deprecated_fields() {
    // Deprecated in kustomize v5 (kustomize edit fix rewrites them).
    const DEPRECATED: [&str; 7] = [
        "bases",
        "commonLabels",
        "patchesJson6902",
        "patchesStrategicMerge",
        "vars",
        "imageTags",
        "crds",
    ];
    for dir in kustomization_dirs() {
        let text = std::fs::read_to_string(dir.join("kustomization.yaml")).unwrap();
        let doc = &parse_stream(&text)[0];
        for field in DEPRECATED {
            assert!(
                doc[field].is_null(),
                "{}: deprecated field {field}",
                dir.display()
            );
        }
        if let Some(labels) = doc["labels"].as_array() {
            for l in labels {
                assert_ne!(
                    l["includeSelectors"].as_bool(),
                    Some(true),
                    "{}: labels must not enter selectors",
                    dir.display()
                );
            }
        }
    }
}

#[test]
fn overlays_have_namespace_config_and_probes_on_the_real_endpoints() {
    for env in OVERLAYS {
        let docs = docs(&config_repo().join("overlays").join(env));
        let ns = format!("delivery-{env}");
        for d in &docs {
            assert_eq!(
                d["metadata"]["namespace"].as_str(),
                Some(ns.as_str()),
                "{env}: {:?}",
                d["metadata"]["name"]
            );
        }
        let api_cm = docs
            .iter()
            .find(|d| {
                d["kind"].as_str() == Some("ConfigMap")
                    && d["metadata"]["name"]
                        .as_str()
                        .unwrap()
                        .starts_with("api-config-")
            })
            .unwrap();
        assert_eq!(api_cm["data"]["APP_ENV"].as_str(), Some(env));
        for key in [
            "LOG_LEVEL",
            "LOG_FORMAT",
            "SHUTDOWN_TIMEOUT",
            "PRESTOP_DELAY",
        ] {
            assert!(
                api_cm["data"][key].as_str().is_some(),
                "{env}: api-config lacks {key}"
            );
        }
        let fe_cm = docs
            .iter()
            .find(|d| {
                d["kind"].as_str() == Some("ConfigMap")
                    && d["metadata"]["name"]
                        .as_str()
                        .unwrap()
                        .starts_with("frontend-config-")
            })
            .unwrap();
        assert_eq!(
            fe_cm["data"]["API_UPSTREAM"].as_str(),
            Some("http://api-service:8080")
        );

        for (deploy, cm) in [("api-service", api_cm), ("frontend-service", fe_cm)] {
            let d = find(&docs, "Deployment", deploy);
            let pod = &d["spec"]["template"]["spec"];
            let c = &pod["containers"][0];
            assert_eq!(
                c["livenessProbe"]["httpGet"]["path"].as_str(),
                Some("/healthz")
            );
            assert_eq!(
                c["readinessProbe"]["httpGet"]["path"].as_str(),
                Some("/readyz")
            );
            assert_eq!(c["ports"][0]["containerPort"].as_i64(), Some(8080));
            assert_eq!(
                c["envFrom"][0]["configMapRef"]["name"], cm["metadata"]["name"],
                "generated name must be referenced"
            );
            assert!(
                c["image"]
                    .as_str()
                    .unwrap()
                    .starts_with("acrdeliverystack.azurecr.io/"),
                "{env}/{deploy}"
            );
            assert_eq!(pod["securityContext"]["runAsNonRoot"].as_bool(), Some(true));
            assert_eq!(pod["securityContext"]["runAsUser"].as_i64(), Some(65532));
            assert_eq!(
                pod["securityContext"]["seccompProfile"]["type"].as_str(),
                Some("RuntimeDefault")
            );
            assert_eq!(pod["automountServiceAccountToken"].as_bool(), Some(false));
            assert_eq!(
                c["securityContext"]["readOnlyRootFilesystem"].as_bool(),
                Some(true)
            );
            assert_eq!(
                c["securityContext"]["allowPrivilegeEscalation"].as_bool(),
                Some(false)
            );
            assert_eq!(
                c["securityContext"]["capabilities"]["drop"][0].as_str(),
                Some("ALL")
            );
            for r in ["requests", "limits"] {
                assert!(
                    c["resources"][r]["memory"].as_str().is_some(),
                    "{env}/{deploy}: no {r}.memory"
                );
                assert!(
                    !c["resources"][r]["cpu"].is_null(),
                    "{env}/{deploy}: no {r}.cpu"
                );
            }
            // Grace period covers PRESTOP_DELAY + SHUTDOWN_TIMEOUT (5s + 5s).
            assert!(pod["terminationGracePeriodSeconds"].as_i64().unwrap() > 10);
            // The selector is exactly the name label: nothing an overlay adds may enter it.
            let sel = d["spec"]["selector"]["matchLabels"].as_object().unwrap();
            assert_eq!(sel.len(), 1, "{env}/{deploy}: selector {sel:?}");
            find(&docs, "PodDisruptionBudget", deploy);
        }
        find(&docs, "Service", "api-service");
        find(&docs, "Service", "frontend-service");
        let ingress = find(&docs, "Ingress", "delivery");
        assert_eq!(
            ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"].as_str(),
            Some("frontend-service")
        );
        assert_eq!(
            !ingress["spec"]["tls"].is_null(),
            env == "prod",
            "{env}: TLS only (and always) in prod"
        );
    }
}

#[test]
fn prod_is_sized_for_availability() {
    let docs = docs(&config_repo().join("overlays/prod"));
    for name in ["api-service", "frontend-service"] {
        let d = find(&docs, "Deployment", name);
        assert!(d["spec"]["replicas"].as_i64().unwrap() >= 3, "{name}");
        let spread = d["spec"]["template"]["spec"]["topologySpreadConstraints"]
            .as_array()
            .unwrap();
        let keys: Vec<_> = spread
            .iter()
            .map(|c| c["topologyKey"].as_str().unwrap())
            .collect();
        assert_eq!(
            keys,
            ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]
        );
        let pdb = find(&docs, "PodDisruptionBudget", name);
        assert_eq!(pdb["spec"]["maxUnavailable"].as_i64(), Some(1));
    }
}

#[test]
fn agent_rbac_is_namespaced_and_has_no_wildcards_or_secrets() {
    let docs = docs(&config_repo().join("install"));
    assert!(
        !docs.iter().any(|d| matches!(
            d["kind"].as_str(),
            Some("ClusterRole" | "ClusterRoleBinding")
        )),
        "no cluster-wide grants"
    );
    let roles: Vec<_> = docs
        .iter()
        .filter(|d| d["kind"].as_str() == Some("Role"))
        .filter(|d| d["metadata"]["name"].as_str() == Some("deployer-agent"))
        .collect();
    // CI's promotion reads one ConfigMap, by name, and nothing else.
    let reader = find(&docs, "Role", "deployer-promotion-reader");
    assert_eq!(
        reader["rules"],
        serde_json::json!([{"apiGroups": [""], "resources": ["configmaps"],
            "resourceNames": ["deployer-inventory-staging"], "verbs": ["get"]}])
    );
    let mut namespaces: Vec<_> = roles
        .iter()
        .map(|r| r["metadata"]["namespace"].as_str().unwrap())
        .collect();
    namespaces.sort();
    assert_eq!(
        namespaces,
        [
            "delivery-dev",
            "delivery-prod",
            "delivery-staging",
            "deployer-system"
        ]
    );
    for role in roles {
        for rule in role["rules"].as_array().unwrap() {
            for field in ["apiGroups", "resources", "verbs"] {
                for v in rule[field].as_array().unwrap() {
                    assert_ne!(v.as_str(), Some("*"), "wildcard in {field}");
                    assert_ne!(
                        v.as_str(),
                        Some("secrets"),
                        "the overlays generate no Secrets"
                    );
                }
            }
        }
    }
    let namespaces: Vec<_> = docs
        .iter()
        .filter(|d| d["kind"].as_str() == Some("Namespace"))
        .collect();
    assert_eq!(namespaces.len(), 4);
    for ns in namespaces {
        let enforce = ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"].as_str();
        assert_eq!(enforce, Some("restricted"), "{:?}", ns["metadata"]["name"]);
    }
    for env in OVERLAYS {
        let agent = find(&docs, "Deployment", &format!("deployer-agent-{env}"));
        assert_eq!(
            agent["spec"]["template"]["spec"]["serviceAccountName"].as_str(),
            Some(format!("deployer-agent-{env}").as_str())
        );
        assert_eq!(agent["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesystem"].as_bool(), Some(true));
    }
}

/// config-repo/install runs the real agent, one per environment: each Deployment's command
/// line is accepted by the deployer's own parser and says what the install promises (its
/// overlay, main, the token mounted from the Secret, leader election in its namespace), runs
/// as that environment's ServiceAccount, which only that environment's Role binds; and the
/// built binary gets past its argument parsing with exactly those arguments.
#[test]
fn the_install_runs_one_real_agent_per_environment() {
    use clap::Parser;
    use deployer::cli::{Cli, Command as Cmd};

    let docs = docs(&config_repo().join("install"));
    let deployments: Vec<&Yaml> = docs
        .iter()
        .filter(|d| d["kind"].as_str() == Some("Deployment"))
        .collect();
    assert_eq!(deployments.len(), OVERLAYS.len());
    for env in OVERLAYS {
        let name = format!("deployer-agent-{env}");
        let d = find(&docs, "Deployment", &name);
        let pod = &d["spec"]["template"]["spec"];
        let container = &pod["containers"][0];
        let args: Vec<String> = container["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect();
        let cli = Cli::try_parse_from(std::iter::once("deployer".to_string()).chain(args.clone()))
            .unwrap_or_else(|e| panic!("{name}: {args:?}: {e}"));
        let Cmd::Agent(agent) = cli.command else {
            panic!("{name} does not run `deployer agent`: {args:?}")
        };
        assert_eq!(agent.overlay, Path::new("overlays").join(env), "{name}");
        assert_eq!(agent.branch, "main", "{name}");
        assert!(agent.repo.starts_with("https://"), "{name}: {}", agent.repo);
        assert!(!agent.no_leader_election, "{name}");
        // The token file lies in the mounted Secret.
        let token = agent.git_token_file.clone().unwrap();
        let mount = container["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| token.starts_with(m["mountPath"].as_str().unwrap()))
            .unwrap_or_else(|| panic!("{name}: {} is in no volume", token.display()));
        let volume = pod["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == mount["name"])
            .unwrap();
        assert_eq!(
            volume["secret"]["secretName"].as_str(),
            Some("deployer-git-credentials"),
            "{name}"
        );
        assert_eq!(mount["readOnly"].as_bool(), Some(true), "{name}");
        // The Lease goes in the pod's namespace, named for the environment.
        let pod_ns = container["env"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == "POD_NAMESPACE")
            .unwrap();
        assert_eq!(
            pod_ns["valueFrom"]["fieldRef"]["fieldPath"].as_str(),
            Some("metadata.namespace")
        );
        // The identity: bound in this environment's namespace and in deployer-system only.
        let sa = pod["serviceAccountName"].as_str().unwrap();
        assert_eq!(sa, name);
        let mut bound: Vec<&str> = docs
            .iter()
            .filter(|d| d["kind"].as_str() == Some("RoleBinding"))
            .filter(|b| {
                b["subjects"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|s| s["name"].as_str() == Some(sa))
            })
            .map(|b| b["metadata"]["namespace"].as_str().unwrap())
            .collect();
        bound.sort_unstable();
        bound.dedup();
        let mut want = vec![format!("delivery-{env}"), "deployer-system".to_string()];
        want.sort_unstable();
        assert_eq!(bound, want, "{name}");
        // Its own Lease only: a Role naming this environment's Lease, bound to this agent alone.
        let lease_role = find(&docs, "Role", &format!("deployer-agent-lease-{env}"));
        assert_eq!(
            lease_role["rules"][0]["resourceNames"],
            serde_json::json!([name]),
            "{name}"
        );
        let lease_binding = find(&docs, "RoleBinding", &format!("deployer-agent-lease-{env}"));
        let subjects: Vec<&str> = lease_binding["subjects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        assert_eq!(subjects, [sa], "{name}");
        // Selectors keep the three Deployments (and their Services) apart.
        assert_eq!(
            d["spec"]["selector"]["matchLabels"]["app.kubernetes.io/instance"].as_str(),
            Some(name.as_str())
        );
        let svc = find(&docs, "Service", &name);
        assert_eq!(
            svc["spec"]["selector"]["app.kubernetes.io/instance"].as_str(),
            Some(name.as_str())
        );

        // The built binary: past argument parsing (exit 64 is a usage error), stopped by the
        // missing cluster it was pointed at.
        let missing = tempfile::tempdir().unwrap();
        let kubeconfig = missing.path().join("no-such-kubeconfig");
        let out = Command::new(env!("CARGO_BIN_EXE_deployer"))
            .args(&args)
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(["--bind", "127.0.0.1", "--port", "0"])
            .env("POD_NAMESPACE", "deployer-system")
            .env("POD_NAME", format!("{name}-0"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{name}: {stdout}{stderr}");
        assert!(
            stderr.contains("no-such-kubeconfig") || stdout.contains("no-such-kubeconfig"),
            "{name}: {stdout}{stderr}"
        );
    }
}

#[test]
fn argocd_applications_match_the_original_sync_policy() {
    let docs = docs(&config_repo().join("argocd"));
    assert_eq!(docs.len(), 3);
    for env in ["dev", "staging", "prod"] {
        let app = find(&docs, "Application", &format!("delivery-{env}"));
        assert_eq!(
            app["spec"]["source"]["path"].as_str(),
            Some(format!("overlays/{env}").as_str())
        );
        let policy = &app["spec"]["syncPolicy"];
        assert_eq!(policy["automated"]["prune"].as_bool(), Some(true));
        assert_eq!(policy["automated"]["selfHeal"].as_bool(), Some(true));
        assert_eq!(
            policy["syncOptions"][0].as_str(),
            Some("CreateNamespace=true")
        );
    }
}
