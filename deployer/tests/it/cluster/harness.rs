//! A real control plane for the cluster tests: one per test binary, started on first use by
//! `scripts/controlplane.sh run` (which goes down when this process's end closes its stdin),
//! or the cluster named by `DEPLOYER_TEST_KUBECONFIG`. Each test works in its own namespace.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};

pub struct ControlPlane {
    pub kubeconfig: PathBuf,
    // Held open for the life of the process: its closing stops the control plane.
    _stdin: Mutex<Option<ChildStdin>>,
    _child: Mutex<Option<Child>>,
}

static CONTROL_PLANE: OnceLock<ControlPlane> = OnceLock::new();

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The shared control plane (started once; panics with the script's output if it cannot).
pub fn control_plane() -> &'static ControlPlane {
    CONTROL_PLANE.get_or_init(|| {
        if let Some(kc) = std::env::var_os("DEPLOYER_TEST_KUBECONFIG") {
            return ControlPlane {
                kubeconfig: PathBuf::from(kc),
                _stdin: Mutex::new(None),
                _child: Mutex::new(None),
            };
        }
        let dir = std::env::temp_dir().join(format!("deployer-cp-{}", std::process::id()));
        let mut child = Command::new("bash")
            .arg(repo_root().join("scripts/controlplane.sh"))
            .arg("run")
            .arg(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("bash scripts/controlplane.sh run");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut kubeconfig = None;
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("reading controlplane.sh output");
            if let Some(path) = line.strip_prefix("ready ") {
                kubeconfig = Some(PathBuf::from(path));
                break;
            }
        }
        let kubeconfig = kubeconfig.unwrap_or_else(|| {
            panic!(
                "scripts/controlplane.sh did not come up (run `bash scripts/controlplane.sh build` first; logs in {})",
                dir.display()
            )
        });
        let stdin = child.stdin.take();
        ControlPlane {
            kubeconfig,
            _stdin: Mutex::new(stdin),
            _child: Mutex::new(Some(child)),
        }
    })
}

/// A fresh namespace name for one test.
pub fn namespace(test: &str) -> String {
    format!("{test}-{:04x}", fastrand::u16(..))
}

/// Runs the built `deployer` against the control plane.
pub fn deployer(args: &[&str]) -> Output {
    let cp = control_plane();
    Command::new(env!("CARGO_BIN_EXE_deployer"))
        .args(args)
        .arg("--kubeconfig")
        .arg(&cp.kubeconfig)
        .output()
        .expect("running deployer")
}

/// Runs kubectl against the control plane; panics on failure.
pub fn kubectl(args: &[&str]) -> String {
    let out = kubectl_output(args, None);
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn kubectl_output(args: &[&str], editor: Option<&str>) -> Output {
    let cp = control_plane();
    let mut cmd = Command::new("kubectl");
    cmd.arg("--kubeconfig").arg(&cp.kubeconfig).args(args);
    if let Some(e) = editor {
        cmd.env("KUBE_EDITOR", e);
    }
    cmd.output().expect("kubectl is required for these tests")
}

/// A kube client on the control plane, for assertions through the API.
pub async fn client() -> kube::Client {
    let cp = control_plane();
    let kc = kube::config::Kubeconfig::read_from(&cp.kubeconfig).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("kube config");
    kube::Client::try_from(config).expect("kube client")
}

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A kubeconfig in `dir` with the control plane's cluster entry and a bearer `token` only (a
/// token next to the admin's client certificate would never be looked at: the API server
/// authenticates the certificate first).
pub fn token_kubeconfig(dir: &Path, token: &str) -> PathBuf {
    let admin = std::fs::read_to_string(&control_plane().kubeconfig).expect("admin kubeconfig");
    let field = |name: &str| {
        admin
            .lines()
            .find_map(|l| l.trim().strip_prefix(name).map(str::to_string))
            .unwrap_or_else(|| panic!("no {name} in the admin kubeconfig"))
    };
    let (server, ca) = (field("server: "), field("certificate-authority: "));
    let kc = dir.join("token.kubeconfig");
    std::fs::write(
        &kc,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\n    certificate-authority: {ca}\nusers:\n- name: u\n  user:\n    token: {}\ncontexts:\n- name: u\n  context: {{cluster: c, user: u}}\ncurrent-context: u\n",
            token.trim()
        ),
    )
    .expect("writing the token kubeconfig");
    kc
}

/// Writes `overlay/kustomization.yaml`: the dev overlay in namespace `ns`, plus `extra`
/// kustomization lines.
pub fn write_dev_overlay(overlay: &Path, ns: &str, extra: &str) {
    std::fs::create_dir_all(overlay).expect("creating the overlay directory");
    std::fs::write(
        overlay.join("kustomization.yaml"),
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: {ns}\nresources:\n  - ../dev\n{extra}"
        ),
    )
    .expect("writing the overlay");
}
