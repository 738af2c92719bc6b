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
