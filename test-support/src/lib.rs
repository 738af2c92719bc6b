//! Process-level test harness shared by the server crates' integration tests: start a built
//! binary on an ephemeral port, collect what it prints, signal it, wait for its exit.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

pub mod raw_http;

use std::{
    io::{BufRead, BufReader, Read},
    path::Path,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    thread,
    time::{Duration, Instant},
};

/// How long a test waits for a line or an exit before failing.
const WAIT: Duration = Duration::from_secs(20);

/// A server process whose output lines are collected; killed on drop.
#[derive(Debug)]
pub struct ServerProcess {
    pub child: Child,
    /// The port it bound (it is started with `PORT=0`).
    pub port: u16,
    /// stdout and stderr lines, in arrival order.
    pub lines: Arc<Mutex<Vec<String>>>,
    /// stdout lines only (the log stream).
    pub stdout: Arc<Mutex<Vec<String>>>,
    pub name: String,
}

impl ServerProcess {
    /// Starts `bin` with an empty environment plus `PORT=0` and `env` (later entries win),
    /// and waits for the line announcing the bound address (`listening`, JSON or pretty).
    pub fn start(bin: &Path, env: &[(&str, &str)]) -> ServerProcess {
        let mut cmd = Command::new(bin);
        cmd.env_clear()
            .env("PORT", "0")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stdout = Arc::new(Mutex::new(Vec::new()));
        collect(
            child.stdout.take().unwrap(),
            lines.clone(),
            Some(stdout.clone()),
        );
        collect(child.stderr.take().unwrap(), lines.clone(), None);
        let mut p = ServerProcess {
            child,
            port: 0,
            lines,
            stdout,
            name: bin.file_name().unwrap().to_string_lossy().into_owned(),
        };
        let line = p.wait_for_line(|l| l.contains("listening"));
        let after = &line[line.find("0.0.0.0:").expect("address in listening line") + 8..];
        let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
        p.port = digits.parse().unwrap();
        p
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The first output line matching `pred`, waiting for it to arrive.
    pub fn wait_for_line(&self, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(l) = self.lines.lock().unwrap().iter().find(|l| pred(l)) {
                return l.clone();
            }
            assert!(
                Instant::now() < deadline,
                "{}: line not seen; got {:?}",
                self.name,
                self.lines.lock().unwrap()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every stdout line parsed as JSON (fails the test on a line that is not JSON).
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lock()
            .unwrap()
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }

    /// Sends `sig` (`-TERM`, `-INT`, …) with kill(1).
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// The exit status, waiting at most `within`.
    pub fn wait_exit(&mut self, within: Duration) -> i32 {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().expect("exited by signal");
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit within {within:?}",
                self.name
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn collect(
    stream: impl Read + Send + 'static,
    all: Arc<Mutex<Vec<String>>>,
    own: Option<Arc<Mutex<Vec<String>>>>,
) {
    thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if let Some(own) = &own {
                own.lock().unwrap().push(line.clone());
            }
            all.lock().unwrap().push(line);
        }
    });
}
