//! What the agent tests share: a real git repository holding a copy of config-repo, the
//! built `deployer agent` as a process (its JSON log lines collected, its /metrics read over
//! loopback), and reads of the inventory parent.
#![allow(clippy::unwrap_used, dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::harness::{control_plane, kubectl, kubectl_output, namespace};
use crate::edit::config_repo_copy;

pub const DROP_INGRESS: &str = "patches:\n  - patch: |-\n      $patch: delete\n      apiVersion: networking.k8s.io/v1\n      kind: Ingress\n      metadata:\n        name: delivery\n";

pub fn git(dir: &Path, args: &[&str]) -> String {
    crate::edit::git(dir, args).trim().to_string()
}

/// A git repository with config-repo and an overlay `overlays/<name>` = dev in its own
/// namespace.
pub struct Repo {
    pub _tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub name: String,
    pub ns: String,
}

impl Repo {
    pub fn new(name: &str) -> Repo {
        let (tmp, dir) = config_repo_copy();
        let repo = Repo {
            _tmp: tmp,
            dir,
            name: name.to_string(),
            ns: namespace(name),
        };
        git(&repo.dir, &["init", "-q", "-b", "main"]);
        repo.write_overlay("");
        repo.commit("initial");
        repo
    }

    pub fn overlay_rel(&self) -> String {
        format!("overlays/{}", self.name)
    }

    pub fn overlay(&self) -> PathBuf {
        self.dir.join(self.overlay_rel())
    }

    pub fn write_overlay(&self, extra: &str) {
        super::harness::write_dev_overlay(&self.overlay(), &self.ns, extra);
    }

    /// Commits everything; returns the commit id.
    pub fn commit(&self, message: &str) -> String {
        git(&self.dir, &["add", "-A"]);
        git(&self.dir, &["commit", "-q", "--allow-empty", "-m", message]);
        git(&self.dir, &["rev-parse", "HEAD"])
    }

    pub fn configmap(&self) -> String {
        format!("deployer-inventory-{}", self.name)
    }

    /// The inventory parent's data and annotations (None before the first write).
    pub fn parent(&self) -> Option<Value> {
        let out = kubectl_output(
            &[
                "get",
                "configmap",
                &self.configmap(),
                "-n",
                &self.ns,
                "-o",
                "json",
            ],
            None,
        );
        out.status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).unwrap())
    }

    pub fn data(&self, key: &str) -> Option<String> {
        self.parent()
            .and_then(|p| p["data"][key].as_str().map(str::to_string))
    }

    /// Waits until the agent's record says `result` for `revision`.
    pub fn wait_record(&self, result: &str, revision: &str, timeout: Duration) -> Value {
        wait_for(
            timeout,
            &format!("agent.result={result} at {revision}"),
            || {
                let p = self.parent()?;
                (p["data"]["agent.result"] == result && p["data"]["agent.revision"] == revision)
                    .then_some(p)
            },
        )
    }

    /// `kubectl get deployment <name> -o jsonpath=<path>` in this environment.
    pub fn deployment_field(&self, name: &str, jsonpath: &str) -> String {
        kubectl(&[
            "get",
            "deployment",
            name,
            "-n",
            &self.ns,
            "-o",
            &format!("jsonpath={jsonpath}"),
        ])
    }

    pub fn deployment_image(&self, name: &str) -> String {
        self.deployment_field(name, "{.spec.template.spec.containers[0].image}")
    }

    /// `spec.replicas` of a Deployment of this environment.
    pub fn replicas(&self, name: &str) -> i64 {
        self.deployment_field(name, "{.spec.replicas}")
            .parse()
            .unwrap()
    }

    /// Removes the suspend annotation from the inventory parent (as an operator would).
    pub fn resume(&self) {
        kubectl(&[
            "annotate",
            "configmap",
            &self.configmap(),
            "-n",
            &self.ns,
            "deployer.delivery-stack.io/suspend-",
        ]);
    }

    pub fn agent_args(&self, workdir: &Path) -> Vec<String> {
        vec![
            "agent".into(),
            "--repo".into(),
            self.dir.display().to_string(),
            "--overlay".into(),
            self.overlay_rel(),
            "--workdir".into(),
            workdir.display().to_string(),
        ]
    }
}

/// Polls `f` every 200 ms until it returns Some, or panics after `timeout`.
pub fn wait_for<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A running `deployer agent`.
pub struct Agent {
    child: Option<Child>,
    pub lines: Arc<Mutex<Vec<String>>>,
    pub port: u16,
    pub workdir: tempfile::TempDir,
}

impl Agent {
    /// Starts `deployer <args> --kubeconfig ... --bind 127.0.0.1 --port 0` and waits for its
    /// "listening" line.
    pub fn start(args: &[String], env: &[(&str, &str)]) -> Agent {
        Self::start_in(tempfile::tempdir().unwrap(), args, env)
    }

    pub fn start_in(workdir: tempfile::TempDir, args: &[String], env: &[(&str, &str)]) -> Agent {
        Self::start_as(&control_plane().kubeconfig, workdir, args, env)
    }

    /// As [`Agent::start_in`], with another identity's kubeconfig.
    pub fn start_as(
        kubeconfig: &Path,
        workdir: tempfile::TempDir,
        args: &[String],
        env: &[(&str, &str)],
    ) -> Agent {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_deployer"));
        cmd.args(args)
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                "0",
                "--log-level",
                "info,kube=warn",
            ])
            .env_remove("POD_NAMESPACE")
            .env_remove("POD_NAME")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let lines = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    lines.lock().unwrap().push(line);
                }
            });
        }
        let mut agent = Agent {
            child: Some(child),
            lines,
            port: 0,
            workdir,
        };
        agent.port = wait_for(
            Duration::from_secs(30),
            "the agent's listening line",
            || {
                if let Some(status) = agent.child.as_mut().unwrap().try_wait().unwrap() {
                    panic!("the agent exited ({status}):\n{}", agent.log());
                }
                agent.lines.lock().unwrap().iter().find_map(|l| {
                    let v: Value = serde_json::from_str(l).ok()?;
                    (v["msg"] == "listening").then(|| {
                        v["address"]
                            .as_str()
                            .unwrap()
                            .rsplit(':')
                            .next()
                            .unwrap()
                            .parse()
                            .unwrap()
                    })
                })
            },
        );
        agent
    }

    pub fn log(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// GET `path` on the agent's port: (status, body).
    pub fn get(&self, path: &str) -> (u16, String) {
        http_get(self.port, path)
    }

    /// The value of one metric line (`name{labels}` as printed), if present.
    pub fn metric(&self, series: &str) -> Option<f64> {
        let (_, body) = self.get("/metrics");
        body.lines().find_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            (name == series).then(|| value.parse().ok()).flatten()
        })
    }

    /// SIGTERM; returns the exit status.
    pub fn stop(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(s) = child.try_wait().unwrap() {
                return s.code();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return child.wait().unwrap().code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn http_get(port: u16, path: &str) -> (u16, String) {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new());
    };
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// name → resourceVersion of the overlay's objects in `ns` (the inventory parent excluded:
/// the agent records on it).
pub fn resource_versions(ns: &str) -> std::collections::BTreeMap<String, String> {
    resource_versions_selected(ns, &["-l", "deployer.delivery-stack.io/inventory"])
}

/// name → resourceVersion of every object of the kinds the overlay renders in `ns`, with
/// extra `kubectl get` arguments (a selector).
pub fn resource_versions_selected(
    ns: &str,
    extra: &[&str],
) -> std::collections::BTreeMap<String, String> {
    let mut args = vec![
        "get",
        "configmaps,services,deployments,poddisruptionbudgets,ingresses",
        "-n",
        ns,
        "-o",
        "json",
    ];
    args.extend_from_slice(extra);
    let v: Value = serde_json::from_str(&kubectl(&args)).unwrap();
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                format!(
                    "{}/{}",
                    o["kind"].as_str().unwrap(),
                    o["metadata"]["name"].as_str().unwrap()
                ),
                o["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect()
}

/// Events (events.k8s.io) in `ns` with `reason`: their notes.
pub fn events(ns: &str, reason: &str) -> Vec<String> {
    let out = kubectl(&["get", "events.events.k8s.io", "-n", ns, "-o", "json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["reason"] == reason)
        .map(|e| e["note"].as_str().unwrap_or_default().to_string())
        .collect()
}
