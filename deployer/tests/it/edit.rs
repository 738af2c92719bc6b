//! `set-image` and `promote` on real files (and, for `--git-branch`, a real git repository).
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use deployer::edit::{self, ImageSpec, PromoteOptions, set_image};

/// The project's config-repo, copied into a fresh temporary directory.
pub(crate) fn config_repo_copy() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config-repo");
    let dst = tmp.path().join("config-repo");
    copy_dir(&src, &dst);
    (tmp, dst)
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let to = dst.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to);
        } else {
            std::fs::copy(entry.path(), &to).unwrap();
        }
    }
}

fn specs(args: &[&str]) -> Vec<ImageSpec> {
    args.iter().map(|a| ImageSpec::parse(a).unwrap()).collect()
}

fn apply(text: &str, args: &[&str]) -> String {
    set_image::apply_to_text(Path::new("kustomization.yaml"), text, &specs(args), false)
        .unwrap()
        .0
}

const DIGEST: &str = "sha256:24a0c4b4a4c0eb97a1aabb8e29f18e917d05abfe1b7a7c07857230879ce7d3d3";

/// A hand-written kustomization with the things a reformatting tool would lose: comments
/// everywhere, non-alphabetical key order, unusual indentation, quoting styles, blank lines.
const COMMENTED: &str = r#"# Staging. Edited by CI: keep this header.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: delivery-staging   # trailing comment

resources:
    - ../../base

images:
    # the API
    -   name: api-service     # matched against the base's container image
        newTag: "0.1.0"       # quoted on purpose
        newName: 'acr.example.io/api-service'

    # the site
    -   name: frontend
        newName: acr.example.io/frontend
        newTag: 0.1.0   # plain
# trailing comment block
replicas:
  - {name: api-service, count: 2}
"#;

#[test]
fn set_image_changes_only_the_values_on_a_commented_file() {
    let out = apply(
        COMMENTED,
        &[
            "api-service=acr.example.io/api-service:9f8e7d6",
            "frontend=acr.example.io/frontend:2.0.1",
        ],
    );
    let expected = COMMENTED
        .replace(
            r#"newTag: "0.1.0"       # quoted on purpose"#,
            r#"newTag: "9f8e7d6"       # quoted on purpose"#,
        )
        .replace("newTag: 0.1.0   # plain", "newTag: 2.0.1   # plain");
    assert_eq!(out, expected);
}

#[test]
fn set_image_is_idempotent() {
    let once = apply(COMMENTED, &["api-service=acr.example.io/api-service:v2"]);
    let twice = apply(&once, &["api-service=acr.example.io/api-service:v2"]);
    assert_eq!(once, twice);
    assert_ne!(once, COMMENTED);
}

#[test]
fn quoted_values_keep_their_quote_style_and_numbers_stay_strings() {
    let out = apply(COMMENTED, &["api-service=acr.example.io/new-api:1234567"]);
    assert!(out.contains("newName: 'acr.example.io/new-api'\n"), "{out}");
    assert!(out.contains(r#"newTag: "1234567""#), "{out}");
    // A plain value that would read back as a number gets double quotes.
    let out = apply(COMMENTED, &["frontend=acr.example.io/frontend:1.10"]);
    assert!(out.contains("newTag: \"1.10\"   # plain"), "{out}");
}

#[test]
fn digest_replaces_tag_like_kustomize_and_removes_only_that_line() {
    let out = apply(
        COMMENTED,
        &[&format!("frontend=acr.example.io/frontend@{DIGEST}")],
    );
    let expected = COMMENTED.replace(
        "        newTag: 0.1.0   # plain\n",
        &format!("        digest: {DIGEST}\n"),
    );
    // kustomize replaces the entry: the tag goes, the digest comes (appended under the entry).
    let expected_alt = COMMENTED.replace(
        "        newName: acr.example.io/frontend\n        newTag: 0.1.0   # plain\n",
        &format!("        newName: acr.example.io/frontend\n        digest: {DIGEST}\n"),
    );
    assert_eq!(expected, expected_alt);
    assert_eq!(out, expected);
}

#[test]
fn removing_the_first_key_of_an_item_pulls_the_next_key_up() {
    let text = "images:\n- newTag: v1 # old\n  name: api\n  newName: r/api\n";
    let out = apply(text, &["api=r/api"]);
    // `api=r/api` gives no tag: kustomize drops newTag.
    assert_eq!(out, "images:\n- name: api\n  newName: r/api\n");
}

#[test]
fn bare_tag_argument_drops_new_name_as_kustomize_does() {
    let text = "images:\n- name: api\n  newName: r/api\n  newTag: v1\n";
    assert_eq!(
        apply(text, &["api:v2"]),
        "images:\n- name: api\n  newTag: v2\n"
    );
    // `*` keeps the name.
    assert_eq!(
        apply(text, &["api=*:v2"]),
        "images:\n- name: api\n  newName: r/api\n  newTag: v2\n"
    );
}

#[test]
fn unknown_name_is_added_in_name_order_with_the_neighbours_layout() {
    let out = apply(
        COMMENTED,
        &[
            "cache=acr.example.io/cache:v1",
            "zz-worker=acr.example.io/worker:v3",
        ],
    );
    let cache = "    -   name: cache\n        newTag: v1\n        newName: acr.example.io/cache\n";
    let worker =
        "    -   name: zz-worker\n        newTag: v3\n        newName: acr.example.io/worker\n";
    let expected = COMMENTED
        .replace("    # the site\n", &format!("{cache}    # the site\n"))
        .replace(
            "        newTag: 0.1.0   # plain\n",
            &format!("        newTag: 0.1.0   # plain\n{worker}"),
        );
    assert_eq!(out, expected);
    // The added entries are real entries.
    let parsed = edit::kustomization::parse(Path::new("k.yaml"), &out).unwrap();
    let names: Vec<_> = parsed
        .images()
        .unwrap()
        .iter()
        .map(|i| i.entry.reference())
        .collect();
    assert_eq!(
        names,
        [
            "acr.example.io/api-service:0.1.0",
            "acr.example.io/cache:v1",
            "acr.example.io/frontend:0.1.0",
            "acr.example.io/worker:v3"
        ]
    );
}

#[test]
fn first_image_creates_the_list_in_kustomize_layout() {
    let text = "resources:\n- base\n";
    let out = apply(text, &[&format!("my-app=my-registry/my-app@{DIGEST}")]);
    // kustomize's own example output for this argument (keys sorted: digest, name, newName).
    assert_eq!(
        out,
        format!(
            "resources:\n- base\nimages:\n- digest: {DIGEST}\n  name: my-app\n  newName: my-registry/my-app\n"
        )
    );
    let empty = apply("images: []\nnamespace: x\n", &["node:8.15.0"]);
    assert_eq!(
        empty,
        "images:\n- name: node\n  newTag: 8.15.0\nnamespace: x\n"
    );
    let null = apply("images:\nnamespace: x\n", &["node:8.15.0"]);
    assert_eq!(
        null,
        "images:\n- name: node\n  newTag: 8.15.0\nnamespace: x\n"
    );
}

#[test]
fn crlf_files_keep_their_line_breaks() {
    let crlf = COMMENTED.replace('\n', "\r\n");
    let out = apply(
        &crlf,
        &[
            "frontend=acr.example.io/frontend:2.0.1",
            "cache=acr.example.io/cache:v1",
        ],
    );
    let expected = apply(
        COMMENTED,
        &[
            "frontend=acr.example.io/frontend:2.0.1",
            "cache=acr.example.io/cache:v1",
        ],
    )
    .replace('\n', "\r\n");
    assert_eq!(out, expected);
    assert!(
        !out.replace("\r\n", "").contains('\n'),
        "a bare LF was inserted"
    );
}

#[test]
fn flow_style_entries_are_edited_in_place() {
    let text = "images: [{name: api, newTag: v1}]  # flow\n";
    assert_eq!(
        apply(text, &["api:v2"]),
        "images: [{name: api, newTag: v2}]  # flow\n"
    );
    assert_eq!(
        apply(text, &["api=r/api:v1"]),
        "images: [{name: api, newTag: v1, newName: r/api}]  # flow\n"
    );
    assert_eq!(
        apply(text, &["web:v1"]),
        "images: [{name: api, newTag: v1}, {name: web, newTag: v1}]  # flow\n"
    );
}

#[test]
fn strict_refuses_an_unknown_name_and_leaves_the_file_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("kustomization.yaml");
    std::fs::write(&file, COMMENTED).unwrap();
    let err = edit::set_images(tmp.path(), &specs(&["nope=r/nope:v1"]), true).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("nope") && msg.contains("kustomization.yaml"),
        "{msg}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), COMMENTED);
}

#[test]
fn bad_yaml_is_reported_with_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("kustomization.yaml"),
        "images:\n  - name: [unclosed\n",
    )
    .unwrap();
    let msg = edit::set_images(tmp.path(), &specs(&["a:v1"]), false)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("kustomization.yaml:") && msg.contains("YAML"),
        "{msg}"
    );
    let tmp2 = tempfile::tempdir().unwrap();
    let msg = edit::set_images(tmp2.path(), &specs(&["a:v1"]), false)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("no kustomization file"), "{msg}");
}

/// kubectl's embedded kustomize must read what set-image wrote: the real tool is the judge.
/// The base images carry no tag, so the rendered image is exactly the entry's reference.
#[test]
fn kubectl_kustomize_renders_the_image_set_image_wrote() {
    let (_tmp, repo) = config_repo_copy();
    let dev = repo.join("overlays/dev");
    let cases = [
        "api-service=acrdeliverystack.azurecr.io/api-service:1234567".to_string(),
        format!("api-service=acrdeliverystack.azurecr.io/api-service@{DIGEST}"),
        format!("api-service:v9@{DIGEST}"),
        "api-service:1.10".to_string(),
    ];
    for arg in &cases {
        let report = edit::set_images(
            &dev,
            &specs(&[
                arg.as_str(),
                &format!("frontend=acrdeliverystack.azurecr.io/frontend@{DIGEST}"),
            ]),
            true,
        )
        .unwrap();
        let out = crate::overlays::kubectl_kustomize(&dev);
        for change in &report.changes {
            let image = format!("image: {}\n", change.after.reference());
            assert!(
                out.contains(&image),
                "{arg}: kubectl did not render {image}"
            );
        }
    }
}

fn promote_opts(repo: &Path) -> PromoteOptions {
    PromoteOptions {
        config_repo: repo.to_path_buf(),
        from: "staging".into(),
        to: "prod".into(),
        images: Vec::new(),
        dry_run: false,
        git_branch: None,
    }
}

#[test]
fn promote_copies_what_staging_runs_and_keeps_prod_formatting() {
    let (_tmp, repo) = config_repo_copy();
    let prod_file = repo.join("overlays/prod/kustomization.yaml");
    let prod_before = std::fs::read_to_string(&prod_file).unwrap();
    edit::set_images(
        &repo.join("overlays/staging"),
        &specs(&["api-service=acrdeliverystack.azurecr.io/api-service:abc1234"]),
        true,
    )
    .unwrap();

    let dry = edit::promote(&PromoteOptions {
        dry_run: true,
        ..promote_opts(&repo)
    })
    .unwrap();
    assert_eq!(dry.changes.len(), 1);
    assert_eq!(
        std::fs::read_to_string(&prod_file).unwrap(),
        prod_before,
        "dry run wrote"
    );

    let report = edit::promote(&promote_opts(&repo)).unwrap();
    assert_eq!(report.changes.len(), 1, "{:?}", report.changes);
    assert_eq!(
        report.changes[0].after.reference(),
        "acrdeliverystack.azurecr.io/api-service:abc1234"
    );
    let prod_after = std::fs::read_to_string(&prod_file).unwrap();
    assert_eq!(
        prod_after,
        prod_before.replacen("newTag: 0.1.0", "newTag: abc1234", 1)
    );

    // Promoting again: nothing to do.
    assert!(
        edit::promote(&promote_opts(&repo))
            .unwrap()
            .nothing_to_promote()
    );
}

#[test]
fn promote_only_the_named_images_and_reject_unknown_ones() {
    let (_tmp, repo) = config_repo_copy();
    edit::set_images(
        &repo.join("overlays/staging"),
        &specs(&[
            "api-service=acrdeliverystack.azurecr.io/api-service:a1",
            "frontend=acrdeliverystack.azurecr.io/frontend:f1",
        ]),
        true,
    )
    .unwrap();
    let report = edit::promote(&PromoteOptions {
        images: vec!["frontend".into()],
        ..promote_opts(&repo)
    })
    .unwrap();
    let promoted: Vec<_> = report.changes.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(promoted, ["frontend"]);
    let prod = deployer::images::overlay_images(&repo.join("overlays/prod")).unwrap();
    let refs: Vec<_> = prod.images.iter().map(|i| i.reference()).collect();
    assert_eq!(
        refs,
        [
            "acrdeliverystack.azurecr.io/api-service:0.1.0",
            "acrdeliverystack.azurecr.io/frontend:f1"
        ]
    );

    let err = edit::promote(&PromoteOptions {
        images: vec!["nope".into()],
        ..promote_opts(&repo)
    })
    .unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
    let err = edit::promote(&PromoteOptions {
        to: "../etc".into(),
        ..promote_opts(&repo)
    })
    .unwrap_err();
    assert!(err.to_string().contains("../etc"), "{err}");
}

pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .output()
        .unwrap_or_else(|e| panic!("git is required for these tests (apt-get install git): {e}"));
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A config repository in its own git repository, one commit on `main`.
pub(crate) fn config_repo_in_git() -> (tempfile::TempDir, PathBuf) {
    let (tmp, repo) = config_repo_copy();
    git(&repo, &["init", "-q", "-b", "main"]);
    // deployer's own git commands need an identity too: give the repository one, as CI does.
    git(&repo, &["config", "user.name", "ci"]);
    git(&repo, &["config", "user.email", "ci@example.invalid"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "initial"]);
    (tmp, repo)
}

#[test]
fn promote_with_git_branch_commits_only_prod_and_lists_the_references() {
    let (_tmp, repo) = config_repo_in_git();
    edit::set_images(
        &repo.join("overlays/staging"),
        &specs(&[&format!(
            "api-service=acrdeliverystack.azurecr.io/api-service@{DIGEST}"
        )]),
        true,
    )
    .unwrap();
    git(&repo, &["commit", "-q", "-am", "staging runs the new api"]);
    let staging_rev = git(&repo, &["rev-parse", "HEAD"]).trim().to_string();
    // Something unrelated staged by the user must not end up in the promotion commit.
    std::fs::write(repo.join("README.md"), "changed\n").unwrap();
    git(&repo, &["add", "README.md"]);

    let report = edit::promote(&PromoteOptions {
        git_branch: Some("promote/api-to-prod".into()),
        ..promote_opts(&repo)
    })
    .unwrap();
    let commit = report.commit.clone().unwrap();

    assert_eq!(
        git(&repo, &["rev-parse", "--abbrev-ref", "HEAD"]).trim(),
        "promote/api-to-prod"
    );
    assert_eq!(
        git(&repo, &["rev-parse", "promote/api-to-prod"]).trim(),
        commit
    );
    let files = git(&repo, &["show", "--name-only", "--format=", &commit]);
    assert_eq!(files.trim(), "overlays/prod/kustomization.yaml");
    let message = git(&repo, &["log", "-1", "--format=%B", &commit]);
    assert!(
        message.starts_with("promote staging to prod: api-service\n"),
        "{message}"
    );
    assert!(
        message.contains(&format!("- api-service: acrdeliverystack.azurecr.io/api-service:0.1.0 -> acrdeliverystack.azurecr.io/api-service@{DIGEST}")),
        "{message}"
    );
    assert!(message.contains(&staging_rev), "{message}");
    // The unrelated staged change is still staged, not committed.
    assert!(git(&repo, &["diff", "--cached", "--name-only"]).contains("README.md"));
    // main is untouched.
    assert!(
        git(&repo, &["show", "main:overlays/prod/kustomization.yaml"]).contains("newTag: 0.1.0")
    );

    // The same branch name again is refused, and nothing is written.
    git(&repo, &["checkout", "-q", "main"]);
    let before = std::fs::read_to_string(repo.join("overlays/prod/kustomization.yaml")).unwrap();
    let err = edit::promote(&PromoteOptions {
        git_branch: Some("promote/api-to-prod".into()),
        ..promote_opts(&repo)
    })
    .unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    assert_eq!(
        std::fs::read_to_string(repo.join("overlays/prod/kustomization.yaml")).unwrap(),
        before
    );
}

/// Model check: for many files × argument lists, the edited file parses, and its entries are
/// exactly what kustomize's semantics give (apply each argument to a name → entry map), with
/// every pre-existing entry still in its place.
#[test]
fn edits_agree_with_the_kustomize_model_on_many_inputs() {
    let overlay = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../config-repo/overlays/prod/kustomization.yaml"),
    )
    .unwrap();
    let files = [
        COMMENTED.to_string(),
        overlay,
        "images: [{name: api, newTag: v1}, {name: frontend, newName: r/fe, digest: sha256:0000000000000000000000000000000000000000000000000000000000000000}]\n".to_string(),
        "resources:\n- x\n".to_string(),
        "images:\n- newTag: \"1\" # c\n  name: api\n- name: zeta\n  newName: r/z\n".to_string(),
    ];
    let args = [
        "api-service=acr.example.io/api-service:1.2.3",
        "api-service:v2",
        "api-service=*:v3",
        "api-service=acr.example.io/api-service:v4@*",
        &format!("frontend=r/fe@{DIGEST}"),
        &format!("frontend:t1@{DIGEST}"),
        "frontend=r/fe",
        "api:0",
        "api=r/api",
        "new-one=r/new:v1",
        "aaa:1e5",
        "zeta=*:*",
    ];
    let mut checked = 0;
    for file in &files {
        for a in 0..args.len() {
            for b in 0..args.len() {
                let list = [args[a], args[b]];
                let (out, _) =
                    set_image::apply_to_text(Path::new("k.yaml"), file, &specs(&list), false)
                        .unwrap();
                let before = edit::kustomization::parse(Path::new("k.yaml"), file).unwrap();
                let after =
                    edit::kustomization::parse(Path::new("k.yaml"), &out).unwrap_or_else(|e| {
                        panic!("{list:?} on\n{file}\nproduced invalid YAML:\n{out}\n{e}")
                    });
                // The model: entries by name, each argument applied in turn.
                let mut model: Vec<edit::ImageEntry> = before
                    .images()
                    .unwrap()
                    .iter()
                    .map(|i| i.entry.clone())
                    .collect();
                for spec in specs(&list) {
                    match model.iter_mut().find(|e| e.name == spec.name) {
                        Some(e) => *e = edit::ImageEntry::apply(Some(e), &spec),
                        None => model.push(edit::ImageEntry::apply(None, &spec)),
                    }
                }
                let mut got: Vec<_> = after
                    .images()
                    .unwrap()
                    .iter()
                    .map(|i| i.entry.clone())
                    .collect();
                // Pre-existing entries keep their relative order.
                let old_names: Vec<_> = before
                    .images()
                    .unwrap()
                    .iter()
                    .map(|i| i.entry.name.clone())
                    .collect();
                let kept: Vec<_> = got
                    .iter()
                    .map(|e| e.name.clone())
                    .filter(|n| old_names.contains(n))
                    .collect();
                assert_eq!(kept, old_names, "{list:?}\n{out}");
                got.sort_by(|x, y| x.name.cmp(&y.name));
                model.sort_by(|x, y| x.name.cmp(&y.name));
                assert_eq!(got, model, "{list:?} on\n{file}\n->\n{out}");
                // Lines that mention no image field are untouched, in order.
                let keep = |t: &str| -> Vec<String> {
                    t.lines()
                        .filter(|l| {
                            !["name:", "newName:", "newTag:", "digest:", "images:"]
                                .iter()
                                .any(|k| l.contains(k))
                        })
                        .map(str::to_string)
                        .collect()
                };
                assert_eq!(keep(&out), keep(file), "{list:?}\n{out}");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, files.len() * args.len() * args.len());
}
