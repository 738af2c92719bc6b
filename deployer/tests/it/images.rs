//! `deployer images` on the real config-repo (copied) as a table and as JSON.
#![allow(clippy::unwrap_used)]

use deployer::edit::{self, ImageSpec};
use deployer::images;

use crate::edit::config_repo_copy;

#[test]
fn all_overlays_in_name_order_with_their_references() {
    let (_tmp, repo) = config_repo_copy();
    edit::set_images(
        &repo.join("overlays/dev"),
        &[ImageSpec::parse("api-service=acrdeliverystack.azurecr.io/api-service:dev42").unwrap()],
        true,
    )
    .unwrap();
    let all = images::all_overlays(&repo).unwrap();
    let overlays: Vec<_> = all.iter().map(|o| o.overlay.as_str()).collect();
    assert_eq!(overlays, ["dev", "prod", "staging"]);
    assert_eq!(
        all[0].images[0].reference(),
        "acrdeliverystack.azurecr.io/api-service:dev42"
    );

    let table = images::table(&all);
    let lines: Vec<_> = table.lines().collect();
    assert_eq!(lines.len(), 1 + 3 * 2, "{table}");
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["OVERLAY", "NAME", "IMAGE"]
    );
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        [
            "dev",
            "api-service",
            "acrdeliverystack.azurecr.io/api-service:dev42"
        ]
    );
    // Columns are aligned: IMAGE starts at the same offset on every line.
    let col = lines[0].find("IMAGE").unwrap();
    assert!(
        lines
            .iter()
            .skip(1)
            .all(|l| l[col..].starts_with("acrdeliverystack")),
        "{table}"
    );

    let json: serde_json::Value = serde_json::from_str(&images::json(&all)).unwrap();
    let rows = json.as_array().unwrap();
    assert_eq!(rows.len(), 6);
    assert_eq!(rows[0]["overlay"], "dev");
    assert_eq!(rows[0]["name"], "api-service");
    assert_eq!(rows[0]["newTag"], "dev42");
    assert_eq!(
        rows[0]["image"],
        "acrdeliverystack.azurecr.io/api-service:dev42"
    );
    assert!(rows[0].get("digest").is_none());
}

#[test]
fn one_overlay_and_a_missing_one() {
    let (_tmp, repo) = config_repo_copy();
    let prod = images::overlay_images(&repo.join("overlays/prod")).unwrap();
    assert_eq!(prod.overlay, "prod");
    assert_eq!(prod.images.len(), 2);
    let err = images::overlay_images(&repo.join("overlays/qa")).unwrap_err();
    assert!(err.to_string().contains("overlays/qa"), "{err}");
}

#[test]
fn rendered_view_lists_every_container_with_the_image_the_cluster_pulls() {
    let (_tmp, repo) = config_repo_copy();
    let digest = "sha256:24a0c4b4a4c0eb97a1aabb8e29f18e917d05abfe1b7a7c07857230879ce7d3d3";
    edit::set_images(
        &repo.join("overlays/prod"),
        &[ImageSpec::parse(&format!(
            "frontend=acrdeliverystack.azurecr.io/frontend:v7@{digest}"
        ))
        .unwrap()],
        true,
    )
    .unwrap();
    let rows = images::rendered_images(&repo.join("overlays/prod"), &Default::default()).unwrap();
    let got: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.kind.as_str(),
                r.name.as_str(),
                r.container.as_str(),
                r.image.as_str(),
            )
        })
        .collect();
    let frontend = format!("acrdeliverystack.azurecr.io/frontend:v7@{digest}");
    assert_eq!(
        got,
        [
            (
                "Deployment",
                "api-service",
                "api",
                "acrdeliverystack.azurecr.io/api-service:0.1.0"
            ),
            (
                "Deployment",
                "frontend-service",
                "frontend-server",
                frontend.as_str()
            ),
        ]
    );
    assert!(
        rows.iter()
            .all(|r| r.namespace.as_deref() == Some("delivery-prod") && r.overlay == "prod")
    );
    // The same containers kubectl's kustomize renders.
    let kubectl = crate::overlays::kubectl_kustomize(&repo.join("overlays/prod"));
    for r in &rows {
        assert!(
            kubectl.contains(&format!("image: {}\n", r.image)),
            "{}",
            r.image
        );
    }
    let table = images::rendered_table(&rows);
    assert!(table.starts_with("OVERLAY"), "{table}");
    assert!(
        table.contains("delivery-prod/Deployment/frontend-service"),
        "{table}"
    );

    // The agent's own install manifests have an image no `images` entry maps.
    let install = images::rendered_images(&repo.join("install"), &Default::default()).unwrap();
    assert_eq!(install.len(), 3, "one agent per environment");
    for row in &install {
        assert_eq!(row.image, "acrdeliverystack.azurecr.io/deployer:0.1.0");
    }
}
