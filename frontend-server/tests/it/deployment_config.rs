//! Issue 10 point 5: unknown pages behave the same wherever the stack runs. `FALLBACK` is
//! read from every place that starts frontend-server — `docker-compose.yml`, `make run`
//! (`scripts/run-local.sh`) and each overlay of `config-repo/` (all of them, so a new
//! overlay is covered; rendered by the deployer, so the value is what the cluster gets) —
//! and must be the same valid mode everywhere. YAML is read with the deployer's parser, the
//! project's one YAML reader.

use std::path::Path;

use deployer::yaml::{Limits, Value};
use frontend_server::{FallbackMode, FrontendConfig};

use crate::support::{repo_root, vars};

/// The mode all three places use: Gatsby's own convention (`404.html` with 404).
const EXPECTED: FallbackMode = FallbackMode::Gatsby;

fn parse_yaml(text: &str) -> Value {
    deployer::yaml::parse_one(text, &Limits::default()).unwrap_or_else(|e| panic!("not YAML: {e}"))
}

fn load_yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    parse_yaml(&text)
}

/// `environment:` of a compose service, as a map or as a list of `KEY=value`.
fn compose_fallback(compose: &Value, service: &str) -> Option<String> {
    let env = compose.path(&["services", service, "environment"])?;
    if let Some(value) = env.get("FALLBACK").and_then(Value::as_str) {
        return Some(value.to_owned());
    }
    env.as_seq()?
        .iter()
        .filter_map(Value::as_str)
        .find_map(|kv| kv.strip_prefix("FALLBACK=").map(str::to_owned))
}

/// `FALLBACK` of the rendered `frontend-config` ConfigMap of an overlay.
fn overlay_fallback(dir: &Path) -> Option<String> {
    let objects = deployer::render::build_objects(dir, &Default::default())
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    objects
        .iter()
        .filter(|o| o.kind == "ConfigMap" && o.name.starts_with("frontend-config"))
        .find_map(|o| o.body["data"]["FALLBACK"].as_str().map(str::to_owned))
}

/// The default in `fallback="${FALLBACK:-…}"` of the run script (exactly one such line).
fn run_local_fallback(script: &str) -> Option<String> {
    const START: &str = "fallback=\"${FALLBACK:-";
    let mut found = script
        .lines()
        .filter_map(|l| l.trim().strip_prefix(START)?.strip_suffix("}\""));
    let value = found.next()?;
    assert!(
        found.next().is_none(),
        "more than one FALLBACK default in run-local.sh"
    );
    Some(value.to_owned())
}

fn parsed(place: &str, value: &str) -> FallbackMode {
    FrontendConfig::from_vars(vars(&[("FALLBACK", value)]))
        .unwrap_or_else(|e| panic!("{place}: {e}"))
        .fallback
}

#[test]
fn fallback_is_the_same_in_compose_make_run_and_every_overlay() {
    let root = repo_root();
    let mut places = Vec::new();

    let compose = load_yaml(&root.join("docker-compose.yml"));
    let value = compose_fallback(&compose, "frontend")
        .expect("docker-compose.yml: services.frontend.environment has no FALLBACK");
    places.push(("docker-compose.yml".to_owned(), value));

    let script = std::fs::read_to_string(root.join("scripts/run-local.sh")).unwrap();
    let value = run_local_fallback(&script)
        .expect("scripts/run-local.sh: no line fallback=\"${FALLBACK:-…}\"");
    places.push(("scripts/run-local.sh".to_owned(), value));

    let overlays = root.join("config-repo/overlays");
    let mut dirs: Vec<_> = std::fs::read_dir(&overlays)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("kustomization.yaml").is_file())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 3, "overlays found: {dirs:?}");
    for dir in dirs {
        let place = dir.strip_prefix(&root).unwrap().display().to_string();
        let value = overlay_fallback(&dir)
            .unwrap_or_else(|| panic!("{place}: the rendered frontend-config has no FALLBACK"));
        places.push((place, value));
    }

    for (place, value) in &places {
        assert_eq!(
            parsed(place, value),
            EXPECTED,
            "{place} sets FALLBACK={value}; every place must use {EXPECTED:?}: {places:?}"
        );
    }
}

#[test]
fn the_readers_find_what_they_look_for() {
    let compose =
        parse_yaml("services:\n  frontend:\n    environment:\n      - A=1\n      - FALLBACK=spa\n");
    assert_eq!(
        compose_fallback(&compose, "frontend").as_deref(),
        Some("spa")
    );
    let compose = parse_yaml("services:\n  frontend:\n    environment:\n      FALLBACK: spa\n");
    assert_eq!(
        compose_fallback(&compose, "frontend").as_deref(),
        Some("spa")
    );
    let overlay = tempfile::tempdir().unwrap();
    std::fs::write(
        overlay.path().join("kustomization.yaml"),
        "configMapGenerator:\n  - name: api-config\n    literals: [FALLBACK=x]\n  - name: frontend-config\n    literals: [A=1, FALLBACK=spa]\n",
    )
    .unwrap();
    assert_eq!(overlay_fallback(overlay.path()).as_deref(), Some("spa"));
    assert_eq!(
        run_local_fallback("x=1\nfallback=\"${FALLBACK:-spa}\"\n").as_deref(),
        Some("spa")
    );
    assert_eq!(parsed("test", "spa"), FallbackMode::Spa);
}
