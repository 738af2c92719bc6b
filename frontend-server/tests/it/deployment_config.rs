//! Issue 10 point 5: unknown pages behave the same wherever the stack runs. `FALLBACK` is
//! read from every place that starts frontend-server — `docker-compose.yml`, `make run`
//! (`scripts/run-local.sh`) and each overlay of `config-repo/` (all of them, so a new
//! overlay is covered) — and must be the same valid mode everywhere.

use std::path::Path;

use frontend_server::{FallbackMode, FrontendConfig};
use yaml_rust2::{Yaml, YamlLoader};

use crate::support::{repo_root, vars};

/// The mode all three places use: Gatsby's own convention (`404.html` with 404).
const EXPECTED: FallbackMode = FallbackMode::Gatsby;

fn load_yaml(path: &Path) -> Yaml {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    YamlLoader::load_from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()))
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("{} is empty", path.display()))
}

/// `environment:` of a compose service, as a map or as a list of `KEY=value`.
fn compose_fallback(compose: &Yaml, service: &str) -> Option<String> {
    let env = &compose["services"][service]["environment"];
    if let Some(value) = env["FALLBACK"].as_str() {
        return Some(value.to_owned());
    }
    env.as_vec()?
        .iter()
        .filter_map(Yaml::as_str)
        .find_map(|kv| kv.strip_prefix("FALLBACK=").map(str::to_owned))
}

/// The `FALLBACK=` literal of the `frontend-config` generator of a kustomization.
fn overlay_fallback(kustomization: &Yaml) -> Option<String> {
    kustomization["configMapGenerator"]
        .as_vec()?
        .iter()
        .filter(|g| g["name"].as_str() == Some("frontend-config"))
        .flat_map(|g| g["literals"].as_vec().cloned().unwrap_or_default())
        .find_map(|l| l.as_str()?.strip_prefix("FALLBACK=").map(str::to_owned))
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
        let file = dir.join("kustomization.yaml");
        let place = file.strip_prefix(&root).unwrap().display().to_string();
        let value = overlay_fallback(&load_yaml(&file))
            .unwrap_or_else(|| panic!("{place}: frontend-config has no FALLBACK literal"));
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
    let compose = YamlLoader::load_from_str(
        "services:\n  frontend:\n    environment:\n      - A=1\n      - FALLBACK=spa\n",
    )
    .unwrap();
    assert_eq!(
        compose_fallback(&compose[0], "frontend").as_deref(),
        Some("spa")
    );
    let k = YamlLoader::load_from_str(
        "configMapGenerator:\n  - name: api-config\n    literals: [FALLBACK=x]\n  - name: frontend-config\n    literals: [A=1, FALLBACK=spa]\n",
    )
    .unwrap();
    assert_eq!(overlay_fallback(&k[0]).as_deref(), Some("spa"));
    assert_eq!(
        run_local_fallback("x=1\nfallback=\"${FALLBACK:-spa}\"\n").as_deref(),
        Some("spa")
    );
    assert_eq!(parsed("test", "spa"), FallbackMode::Spa);
}
