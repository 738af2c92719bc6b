//! Regression tests named after the bugs of issue 8, each run through the `deployer` binary
//! and compared with `kubectl kustomize` (Kustomize v5.5.0) on the same directory.
#![allow(clippy::unwrap_used)]

use crate::support::{deployer, kubectl, same_as_kubectl, text, tree};
use std::process::Command;

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: app
        image: app:v1
";

const CONFIGMAP: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  x: target-name
";

#[test]
fn date_like_new_tag_stays_a_string() {
    let t = tree(&[
        ("d.yaml", DEPLOYMENT),
        (
            "kustomization.yaml",
            "resources: [d.yaml]\nimages: [{name: app, newTag: 2024-01-01}]\n",
        ),
    ]);
    let out = same_as_kubectl(t.path());
    assert!(out.contains("image: app:2024-01-01\n"), "{out}");
}

#[test]
fn date_like_values_anywhere_in_a_kustomization_stay_strings() {
    let t = tree(&[
        ("d.yaml", DEPLOYMENT),
        (
            "kustomization.yaml",
            "resources: [d.yaml]\nnamePrefix: 2024-01-01-\ncommonAnnotations: {released: 2024-01-02}\nlabels:\n- pairs: {day: 2024-01-03}\nconfigMapGenerator:\n- name: when\n  literals: [at=2024-01-04]\n",
        ),
    ]);
    let out = same_as_kubectl(t.path());
    assert!(out.contains("released: \"2024-01-02\""), "{out}");
    assert!(out.contains("name: 2024-01-01-web"), "{out}");
}

#[test]
fn set_image_with_a_date_like_tag_then_render_gives_the_tag_unchanged() {
    let t = tree(&[
        ("d.yaml", DEPLOYMENT),
        (
            "kustomization.yaml",
            "resources: [d.yaml]\nimages:\n- name: app\n  newTag: v1\n",
        ),
    ]);
    let dir = t.path().to_str().unwrap();
    let out = deployer(&["set-image", dir, "app=reg/app:2024-01-01"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let file = std::fs::read_to_string(t.path().join("kustomization.yaml")).unwrap();
    // Quoted, so that every YAML reader (and kustomize's YAML 1.1 decoder) sees a string.
    assert!(file.contains("newTag: \"2024-01-01\""), "{file}");
    let rendered = same_as_kubectl(t.path());
    assert!(
        rendered.contains("image: reg/app:2024-01-01\n"),
        "{rendered}"
    );
    // And the same with numeric-looking tags.
    for tag in ["1.10", "1234567", "0x1F", "1e3", "1_000", "0777"] {
        let out = deployer(&["set-image", dir, &format!("app=reg/app:{tag}")]);
        assert!(out.status.success(), "{tag}: {}", text(&out.stderr));
        let rendered = same_as_kubectl(t.path());
        assert!(
            rendered.contains(&format!("image: reg/app:{tag}\n")),
            "{tag}: {rendered}"
        );
    }
}

#[test]
fn misspelt_replacement_field_is_refused_with_file_line_and_field() {
    let t = tree(&[
        ("d.yaml", DEPLOYMENT),
        ("cm.yaml", CONFIGMAP),
        (
            "kustomization.yaml",
            "resources: [d.yaml, cm.yaml]\nreplacements:\n- source: {kind: ConfigMap, name: settings, fieldPath: data.x}\n  targets:\n  - select: {kind: Deployment}\n    fieldPath: [metadata.name]\n",
        ),
    ]);
    let theirs = kubectl(t.path());
    assert!(!theirs.status.success());
    assert!(text(&theirs.stderr).contains("unknown field \\\"fieldPath\\\""));
    let ours = deployer(&["render", t.path().to_str().unwrap()]);
    assert_eq!(ours.status.code(), Some(1));
    assert!(ours.stdout.is_empty());
    let err = text(&ours.stderr);
    assert!(
        err.contains("kustomization.yaml:6: field `replacements[0].targets[0].fieldPath`: unknown field `fieldPath` (did you mean `fieldPaths`?)"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn field_names_match_case_insensitively_like_kustomize() {
    let t = tree(&[
        ("d.yaml", DEPLOYMENT),
        (
            "kustomization.yaml",
            "Resources: [d.yaml]\nNAMEPREFIX: p-\nnameprefix: q-\n",
        ),
    ]);
    let out = same_as_kubectl(t.path());
    assert!(out.contains("name: q-web"), "{out}");
}

/// A strategic merge of containers where one element's `name` is written `~` or `null`
/// (fuzz seed 2601): kyaml matches elements on the key's written text, so the null-named
/// element matches no empty key value; kustomize drops it and merges the rest by name. We
/// matched the empty value against every element that has a `name` and duplicated `app`.
#[test]
fn a_null_merge_key_drops_its_element_and_the_rest_merge_by_name() {
    for null in ["~", "null"] {
        let t = tree(&[
            (
                "d.yaml",
                &format!(
                    "{DEPLOYMENT}      - name: side\n        image: side:v1\n      - name: {null}\n        image: c\n"
                ),
            ),
            (
                "kustomization.yaml",
                "resources: [d.yaml]\npatches:\n- patch: |\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata: {name: web}\n    spec:\n      template:\n        spec:\n          containers:\n          - name: app\n            env: [{name: PATCHED, value: \"1\"}]\n",
            ),
        ]);
        let out = same_as_kubectl(t.path());
        assert_eq!(out.matches("name: app").count(), 1, "{null}: {out}");
        assert!(
            out.contains("name: PATCHED") && out.contains("name: side"),
            "{null}: {out}"
        );
    }
}

/// kyaml's merge walker visits the destination's fields a patch does not name: a null
/// written as nothing (`tty:`, `minReadySeconds:`) is dropped, one written `~` or `null` is
/// kept, and a list element whose merge key is written as nothing replaces the whole list.
/// We left every field the patch did not name as it was.
#[test]
fn a_strategic_merge_drops_nulls_written_as_nothing_like_kustomize() {
    let patch = "patches:\n- patch: |\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata: {name: web}\n    spec:\n      replicas: 2\n      template:\n        spec:\n          containers:\n          - name: app\n            image: z\n";
    let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels:\n    a: ~\nspec:\n  paused: null\n  minReadySeconds:\n  replicas: 1\n  template:\n    spec:\n      containers:\n      - name: app\n        image: a\n        args: ~\n        tty:\n      - name: side\n        image: b\n        stdin:\n        command: null\n";
    let t = tree(&[
        ("d.yaml", deployment),
        (
            "kustomization.yaml",
            &format!("resources: [d.yaml]\n{patch}"),
        ),
    ]);
    let out = same_as_kubectl(t.path());
    assert!(
        !out.contains("tty") && !out.contains("stdin") && !out.contains("minReady"),
        "{out}"
    );
    assert!(
        out.contains("args: null") && out.contains("command: null") && out.contains("paused: null"),
        "{out}"
    );

    let keyless = format!(
        "{DEPLOYMENT}      - name: side\n        image: b\n      - name:\n        image: c\n"
    );
    let t = tree(&[
        ("d.yaml", &keyless),
        (
            "kustomization.yaml",
            &format!("resources: [d.yaml]\n{patch}"),
        ),
    ]);
    let out = same_as_kubectl(t.path());
    assert!(
        out.contains("image: c") && !out.contains("image: b"),
        "{out}"
    );
}

#[test]
fn set_image_refuses_a_file_render_refuses() {
    let body = "resources: [d.yaml]\nimages:\n- name: app\n  newTag: v1\nnamePrefx: x-\n";
    let t = tree(&[("d.yaml", DEPLOYMENT), ("kustomization.yaml", body)]);
    let out = deployer(&["set-image", t.path().to_str().unwrap(), "app:v2"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("unknown field `namePrefx`"), "{err}");
    assert_eq!(
        std::fs::read_to_string(t.path().join("kustomization.yaml")).unwrap(),
        body
    );
}

#[test]
fn numbers_print_as_kustomize_prints_them() {
    let t = tree(&[
        (
            "cm.yaml",
            "apiVersion: v1\nkind: Foo\nmetadata: {name: n}\nspec:\n  values: [123456789.123, 18446744073709551615, 123456789012345678901234567890, 100000000000000000000, 1e-7, 0.000001, 1.0, 1234567.5]\n",
        ),
        ("kustomization.yaml", "resources: [cm.yaml]\n"),
    ]);
    let out = same_as_kubectl(t.path());
    assert!(out.contains("- 1.23456789123e+08\n"), "{out}");
    assert!(out.contains("- 18446744073709551615\n"), "{out}");
}

#[test]
fn characters_outside_the_bmp_are_escaped_like_kustomize() {
    let t = tree(&[
        (
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: e}\ndata:\n  a: \"\u{1F600} smile\"\n  b: \"a\\u0085b\"\n  c: \"tab\\there\"\n",
        ),
        ("kustomization.yaml", "resources: [cm.yaml]\n"),
    ]);
    let out = same_as_kubectl(t.path());
    assert!(out.contains("a: \"\\U0001F600 smile\""), "{out}");
}

#[test]
fn container_ports_with_partly_matching_keys_merge_like_kustomize() {
    let t = tree(&[
        (
            "d.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    spec:\n      containers:\n      - name: c\n        image: x\n        ports:\n        - containerPort: 80\n        - containerPort: 90\n          protocol: UDP\n",
        ),
        (
            "kustomization.yaml",
            "resources: [d.yaml]\npatches:\n- patch: |\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata: {name: d}\n    spec:\n      template:\n        spec:\n          containers:\n          - name: c\n            ports:\n            - containerPort: 80\n              protocol: TCP\n              name: http\n",
        ),
    ]);
    same_as_kubectl(t.path());
}

/// Found by the long differential run (seeds 380, 615, 792, 1090): with buildMetadata, kustomize
/// turns annotations into strings after each transformer, not when it loads a file, so a
/// JSON patch first re-formats a number (`1E-3` becomes `0.001`) and writes a null `null`.
#[test]
fn annotations_become_strings_after_the_first_transformer() {
    let t = tree(&[
        (
            "d.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n  annotations: {a: 1E-3, b: 1., c: 100000000000000000000}\n",
        ),
        (
            "kustomization.yaml",
            "resources: [d.yaml]\nbuildMetadata: [originAnnotations]\npatches:\n- target: {kind: Deployment}\n  patch: |\n    - op: add\n      path: /metadata/annotations/x\n      value: 1\n    - op: add\n      path: /metadata/annotations/y\n      value: null\n",
        ),
    ]);
    let out = same_as_kubectl(t.path());
    assert!(out.contains("a: \"0.001\""), "{out}");
    assert!(out.contains("\"y\": \"null\""), "{out}");
}

/// Renders a tree whose `bad.yaml` breaks a limit: deployer (a debug build, here) must fail
/// within a second of CPU time and 32 MiB above what one object costs, naming the file and
/// the limit. (CPU time, not wall time: the test suite shares the machine. The documents a
/// limit allows are held until it is crossed: 10,000 small ones take 12-15 MiB in a debug
/// build; reading on through the documents test's 50,001 would take over 60 MiB.)
fn fails_fast_naming_the_file(bad: &str, expected: &str) {
    let t = tree(&[
        ("bad.yaml", bad),
        ("kustomization.yaml", "resources: [bad.yaml]\n"),
    ]);
    let out = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("maxrss_kib=%M\ncpu_s=%U %S")
        .arg(env!("CARGO_BIN_EXE_deployer"))
        .arg("render")
        .arg(t.path())
        .output()
        .unwrap_or_else(|e| panic!("GNU time (apt: time) is required: {e}"));
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("bad.yaml") && err.contains(expected),
        "{expected}: {err}"
    );
    let field = |name: &str| err.lines().find_map(|l| l.strip_prefix(name)).unwrap_or("");
    let cpu: f64 = field("cpu_s=")
        .split(' ')
        .filter_map(|v| v.parse::<f64>().ok())
        .sum();
    assert!(cpu < 1.0, "took {cpu} s of CPU");
    let rss: u64 = field("maxrss_kib=").trim().parse().unwrap();
    // Measured against the same binary rendering one object, so that the bound is about
    // what the input costs, not about how much code the binary carries (with the agent's
    // libgit2, OpenSSL and actix-web linked in, one object takes 20.5 MiB in a debug build).
    let baseline = render_peak_rss_kib(&tree(&[
        (
            "one.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: one}\n",
        ),
        ("kustomization.yaml", "resources: [one.yaml]\n"),
    ]));
    assert!(
        rss < baseline + 32 * 1024,
        "peak RSS {rss} KiB, {baseline} KiB for one object"
    );
}

/// Peak RSS of `deployer render DIR` (which must succeed).
fn render_peak_rss_kib(dir: &tempfile::TempDir) -> u64 {
    let out = Command::new("/usr/bin/time")
        .args(["-f", "maxrss_kib=%M"])
        .arg(env!("CARGO_BIN_EXE_deployer"))
        .arg("render")
        .arg(dir.path())
        .output()
        .unwrap_or_else(|e| panic!("GNU time (apt: time) is required: {e}"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    text(&out.stderr)
        .lines()
        .find_map(|l| l.strip_prefix("maxrss_kib="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no maxrss in {}", text(&out.stderr)))
}

/// A 1 KiB "billion laughs" document: kustomize's YAML decoder (and ours) must not expand
/// it into memory. deployer fails within its alias budget, naming the file.
#[test]
fn billion_laughs_fails_fast_with_a_clear_error() {
    let mut doc = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol}\nlol0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
    );
    for i in 1..10 {
        let p = i - 1;
        doc.push_str(&format!(
            "lol{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    assert!(doc.len() < 1200);
    fails_fast_naming_the_file(&doc, "aliases expand to too many nodes");
}

#[test]
fn deep_nesting_fails_fast_with_a_clear_error() {
    let doc = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: deep}}\nx: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    fails_fast_naming_the_file(&doc, "flow collections nested more than 255 deep");
    let mut doc = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\nx:\n");
    for depth in 1..300 {
        doc.push_str(&format!("{}k:\n", " ".repeat(depth)));
    }
    fails_fast_naming_the_file(&doc, "collections nested more than 256 deep");
}

#[test]
fn too_many_documents_fails_fast_with_a_clear_error() {
    // Five times the limit: reading on past it would take ~130 MiB, over the bound.
    let doc = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: d}\n---\n".repeat(50_001);
    fails_fast_naming_the_file(&doc, "more than 10000 YAML documents");
}

#[test]
fn a_too_large_file_fails_fast_with_a_clear_error() {
    let doc = format!("# {}\n", "x".repeat(17 << 20));
    fails_fast_naming_the_file(&doc, "more than the limit of 16777216 bytes");
}
