//! Kustomize features of issue 8 §6 beyond the corpus: `crds:`, the builtins
//! `HashTransformer` and `ValueAddTransformer` in `transformers:`, and `buildMetadata` for
//! plugin configs. Each tree is rendered by the `deployer` binary and by `kubectl kustomize`
//! (Kustomize v5.5.0): the same bytes, or a failure from both.
#![allow(clippy::unwrap_used)]

use crate::support::{
    deployer, kubectl, same_as_kubectl, same_as_kubectl_unrestricted, text, tree,
};
use std::path::Path;

/// Both tools refuse `dir`; returns deployer's message.
fn both_fail(dir: &Path) -> String {
    let theirs = kubectl(dir);
    assert!(
        !theirs.status.success(),
        "kubectl rendered: {}",
        text(&theirs.stdout)
    );
    let ours = deployer(&["render", dir.to_str().unwrap()]);
    assert!(
        !ours.status.success(),
        "deployer rendered: {}",
        text(&ours.stdout)
    );
    assert!(ours.stdout.is_empty());
    text(&ours.stderr)
}

const SECRET: &str =
    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: crdsecret\ndata:\n  PATH: yellowBrickRoad\n";
const BEE: &str = "apiVersion: v1beta1\nkind: Bee\nmetadata:\n  name: bee\nspec:\n  action: fly\n";
const MYKIND: &str = "apiVersion: jingfang.example.com/v1\nkind: MyKind\nmetadata:\n  name: mykind\nspec:\n  secretRef:\n    name: crdsecret\n  beeRef:\n    name: bee\n";

/// The OpenAPI definitions of kustomize's own `crd_test.go` (JSON, as `openapi-gen`
/// writes them), trimmed to what they exercise.
const MYCRD_JSON: &str = r#"{
  "github.com/example/pkg/apis/jingfang/v1beta1.Bee": {
    "Schema": {
      "description": "Bee",
      "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"$ref": "k8s.io/apimachinery/pkg/apis/meta/v1.ObjectMeta"},
        "spec": {"$ref": "github.com/example/pkg/apis/jingfang/v1beta1.BeeSpec"}
      }
    },
    "Dependencies": ["github.com/example/pkg/apis/jingfang/v1beta1.BeeSpec"]
  },
  "github.com/example/pkg/apis/jingfang/v1beta1.BeeObjectReference": {
    "Schema": {"properties": {"name": {"type": "string"}}},
    "Dependencies": []
  },
  "github.com/example/pkg/apis/jingfang/v1beta1.BeeSpec": {
    "Schema": {"description": "BeeSpec defines the desired state of Bee"},
    "Dependencies": []
  },
  "github.com/example/pkg/apis/jingfang/v1beta1.MyKind": {
    "Schema": {
      "description": "MyKind",
      "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"$ref": "k8s.io/apimachinery/pkg/apis/meta/v1.ObjectMeta"},
        "spec": {"$ref": "github.com/example/pkg/apis/jingfang/v1beta1.MyKindSpec"}
      }
    }
  },
  "github.com/example/pkg/apis/jingfang/v1beta1.MyKindSpec": {
    "Schema": {
      "properties": {
        "beeRef": {
          "x-kubernetes-object-ref-api-version": "v1beta1",
          "x-kubernetes-object-ref-kind": "Bee",
          "$ref": "github.com/example/pkg/apis/jingfang/v1beta1.BeeObjectReference"
        },
        "secretRef": {
          "x-kubernetes-object-ref-api-version": "v1",
          "x-kubernetes-object-ref-kind": "Secret",
          "$ref": "k8s.io/api/core/v1.LocalObjectReference"
        }
      }
    }
  }
}
"#;

/// kustomize's `TestCrdBase` and `TestCrdWithOverlay`: name references from custom
/// resource fields follow the prefixes of a base and an overlay.
#[test]
fn crds_name_references_follow_prefixes_like_kustomize() {
    let t = tree(&[
        (
            "base/kustomization.yaml",
            "crds:\n- mycrd.json\nresources:\n- secret.yaml\n- mykind.yaml\n- bee.yaml\nnamePrefix: x-\n",
        ),
        ("base/mycrd.json", MYCRD_JSON),
        ("base/secret.yaml", SECRET),
        ("base/bee.yaml", BEE),
        ("base/mykind.yaml", MYKIND),
        (
            "overlay/kustomization.yaml",
            "namePrefix: prod-\nresources:\n- ../base\npatches:\n- path: bee.yaml\n",
        ),
        (
            "overlay/bee.yaml",
            "apiVersion: v1beta1\nkind: Bee\nmetadata:\n  name: bee\nspec:\n  action: makehoney\n",
        ),
    ]);
    let out = same_as_kubectl(&t.path().join("base"));
    assert!(out.contains("beeRef:\n    name: x-bee\n  secretRef:\n    name: x-crdsecret\n"));
    let out = same_as_kubectl(&t.path().join("overlay"));
    assert!(out.contains("beeRef:\n    name: prod-x-bee\n"), "{out}");
}

/// Every extension kustomize reads, from a YAML definitions file with `$ref` chains; an
/// extension key not in lower case or with a non-string value counts for nothing.
#[test]
fn crds_annotation_label_identity_and_reference_extensions_like_kustomize() {
    let defs = "com.example.v1.Widget:
  Schema:
    properties:
      apiVersion: {type: string}
      kind: {type: string}
      metadata: {$ref: io.k8s.ObjectMeta}
      spec: {$ref: com.example.v1.WidgetSpec}
  Dependencies: [com.example.v1.WidgetSpec]
com.example.v1.WidgetSpec:
  schema:
    properties:
      selector: {x-kubernetes-label-selector: ''}
      podAnnotations: {x-kubernetes-annotation: ''}
      alias: {x-kubernetes-identity: ''}
      cm:
        x-kubernetes-object-ref-api-version: v1
        x-kubernetes-object-ref-kind: ConfigMap
        x-kubernetes-object-ref-name-key: ref
      svc: {$ref: com.example.v1.SvcRef}
      upper: {X-kubernetes-annotation: ''}
      notString: {x-kubernetes-annotation: true}
com.example.v1.SvcRef:
  Schema:
    properties:
      target:
        x-kubernetes-object-ref-api-version: v1
        x-kubernetes-object-ref-kind: Service
";
    let t = tree(&[
        (
            "kustomization.yaml",
            "crds: [defs.yaml]\nresources: [r.yaml]\nnamePrefix: p-\nnameSuffix: -s\nlabels:\n- pairs: {team: a}\n  includeSelectors: true\ncommonAnnotations: {note: x}\nnamespace: ns\n",
        ),
        ("defs.yaml", defs),
        (
            "r.yaml",
            "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec:\n  selector: {app: x}\n  podAnnotations: {}\n  alias: w1\n  cm: {ref: cfg}\n  svc: {target: {name: web}}\n  upper: {}\n  notString: {}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: web}\n",
        ),
    ]);
    let out = same_as_kubectl(t.path());
    for want in [
        "alias: p-w1\n",
        "ref: p-cfg-s\n",
        "podAnnotations:\n    note: x\n",
        "selector:\n    app: x\n    team: a\n",
        "target:\n      name: p-web-s\n",
        "upper: {}\n",
        "notString: {}\n",
    ] {
        assert!(out.contains(want), "{want:?} in\n{out}");
    }
}

/// Definitions kube-openapi's decoder refuses are refused by both; a `$ref` cycle (which
/// kustomize follows until it crashes) is refused with deployer's own message.
#[test]
fn crds_files_kustomize_refuses_are_refused() {
    for defs in [
        r#"{"a.W": {"Schema": {"description": 5}}}"#,
        r#"{"a.W": {"Schema": {"properties": {"x": {}, "x": {}}}}}"#,
        r#"{"a.W": {"Schema": {"maxLength": 1.0}}}"#,
        r#"{"a.W": {"Dependencies": [1]}}"#,
        r#"{"a.W": {"schema": {"type": 5}, "Schema": {}}}"#,
        r#"{"a.W": {"Schema": {"$ref": "a%zz"}}}"#,
        r#"{"a.W": {"Schema": {"properties": {"kind": {}, "apiVersion": {}, "metadata": {}, "spec": {"$ref": "a.W"}}}}}"#,
        "[]",
        "",
    ] {
        let t = tree(&[
            (
                "kustomization.yaml",
                "crds: [defs.json]\nresources: [cm.yaml]\n",
            ),
            ("defs.json", defs),
            (
                "cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
            ),
        ]);
        let err = both_fail(t.path());
        assert!(err.contains("defs.json"), "{defs}: {err}");
    }
}

/// A `HashTransformer` in `transformers:` hashes generated names, and kustomize's last
/// step hashes them again: two suffixes, and references follow both.
#[test]
fn hash_transformer_in_transformers_like_kustomize() {
    let t = tree(&[
        (
            "kustomization.yaml",
            "resources: [d.yaml]\nconfigMapGenerator:\n- name: gen\n  literals: [a=b]\ntransformers:\n- |-\n  apiVersion: builtin\n  kind: HashTransformer\n  metadata: {name: h}\n",
        ),
        (
            "d.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        image: x\n        envFrom: [{configMapRef: {name: gen}}]\n",
        ),
    ]);
    let out = same_as_kubectl(t.path());
    assert!(out.contains("name: gen-4h2mbtbbt6-4h2mbtbbt6\n"), "{out}");
}

/// `ValueAddTransformer`: the value (by default the kustomization directory's name) into
/// created fields, `[name=value]` elements, file paths at a position, `metadata/namespace`
/// through the namespace filter, targets from `targetFilePath`.
#[test]
fn value_add_transformer_like_kustomize() {
    let t = tree(&[
        (
            "team-x/kustomization.yaml",
            "resources: [r.yaml]\nnamespace: ns1\ntransformers:\n- |-\n  apiVersion: builtin\n  kind: ValueAddTransformer\n  metadata: {name: v}\n  targets:\n  - fieldPath: metadata/namespace\n    selector: {kind: Role}\n  - fieldPath: spec/template/spec/containers/[name=side]/args/[=x]\n    selector: {kind: Deployment}\n  - fieldPath: spec/template/spec/volumes/[name=w]/hostPath/path\n    filePathPosition: 3\n    selector: {kind: Deployment}\n  - fieldPath: spec/template/spec/containers/[name=app]/args/0\n    selector: {kind: Deployment}\n  - fieldPath: metadata/labels/a.b\\/c\n  - fieldPath: spec/ports/[port=80]/name\n    selector: {kind: Service}\n- va2.yaml\n",
        ),
        (
            "team-x/va2.yaml",
            "apiVersion: builtin\nkind: ValueAddTransformer\nmetadata: {name: v2}\nvalue: ' /x/y '\ntargetFilePath: targets.yaml\n",
        ),
        (
            "team-x/targets.yaml",
            "targets:\n- fieldPath: data/p\n  filePathPosition: 2\n  selector: {kind: ConfigMap}\n- fieldPath: metadata/annotations/z\n  selector: {name: 'd.*'}\n",
        ),
        (
            "team-x/r.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: dep}\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        image: nginx\n      volumes:\n      - name: w\n        hostPath: {path: /var/lib/data}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {p: /a/b, n: 12}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: rb}\nsubjects: [{kind: ServiceAccount, name: default}]\nroleRef: {kind: Role, name: r, apiGroup: rbac.authorization.k8s.io}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: svc}\nspec: {ports: [{port: 80}]}\n",
        ),
    ]);
    let out = same_as_kubectl(&t.path().join("team-x"));
    for want in [
        "path: /var/lib/team-x/data\n",
        "p: /a/x/y/b\n",
        "a.b/c: team-x\n",
        "- name: team-x\n    port: 80\n",
        "  name: r\n  namespace: team-x\n",
    ] {
        assert!(out.contains(want), "{want:?} in\n{out}");
    }
    // A plain number written over a plain number is read again as a number.
    let t = tree(&[
        (
            "kustomization.yaml",
            "resources: [cm.yaml]\ntransformers:\n- |-\n  apiVersion: builtin\n  kind: ValueAddTransformer\n  metadata: {name: v}\n  value: '456'\n  targets:\n  - fieldPath: data/new\n  - fieldPath: data/old\n  - fieldPath: data/quoted\n",
        ),
        (
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {old: 12, quoted: '80'}\n",
        ),
    ]);
    let out = same_as_kubectl(t.path());
    assert!(
        out.contains("new: 456\n  old: 456\n  quoted: \"456\"\n"),
        "{out}"
    );
}

/// kustomize does not offer `SortOrderTransformer` in `transformers:` (only `sortOptions`).
#[test]
fn sort_order_transformer_is_refused_like_kustomize() {
    let t = tree(&[
        (
            "kustomization.yaml",
            "resources: [cm.yaml]\ntransformers:\n- |-\n  apiVersion: builtin\n  kind: SortOrderTransformer\n  metadata: {name: s}\n  sortOptions: {order: fifo}\n",
        ),
        (
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
        ),
    ]);
    let err = both_fail(t.path());
    assert!(err.contains("SortOrderTransformer"), "{err}");
}

/// `buildMetadata` records plugin configs as kustomize does: an inline config is
/// configured in the kustomization file, a file config in its file, a directory's configs in
/// their files (with `name` and `namespace`); inline configs run before the others; what a
/// generator config makes comes from that config.
#[test]
fn build_metadata_records_plugin_configs_like_kustomize() {
    let t = tree(&[
        (
            "base/kustomization.yaml",
            "resources: [cm.yaml]\nbuildMetadata: [originAnnotations, transformerAnnotations]\ntransformers:\n- ann.yaml\n- |-\n  apiVersion: builtin\n  kind: LabelTransformer\n  metadata: {name: lt, namespace: nsx}\n  labels: {a: b}\n  fieldSpecs: [{path: metadata/labels, create: true}]\n- ../tdir\n- '{apiVersion: builtin, kind: SuffixTransformer, metadata: {name: \"123\"}, suffix: -s, fieldSpecs: [{path: metadata/name}]}'\ngenerators:\n- gen.yaml\n",
        ),
        (
            "base/ann.yaml",
            "apiVersion: builtin\nkind: AnnotationsTransformer\nmetadata: {name: at}\nannotations: {x: 'y'}\nfieldSpecs: [{path: metadata/annotations, create: true}]\n",
        ),
        (
            "base/gen.yaml",
            "apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata: {name: g1}\nliterals: [a=b]\n",
        ),
        ("tdir/kustomization.yaml", "resources: [p.yaml]\n"),
        (
            "tdir/p.yaml",
            "apiVersion: builtin\nkind: PrefixTransformer\nmetadata: {name: pt}\nprefix: p-\nfieldSpecs: [{path: metadata/name}]\n",
        ),
        (
            "base/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
        ),
        (
            "overlay/kustomization.yaml",
            "resources: [../base]\nnamePrefix: o-\nbuildMetadata: [transformerAnnotations]\n",
        ),
    ]);
    let out = same_as_kubectl_unrestricted(&t.path().join("base"));
    for want in [
        "      - configuredIn: kustomization.yaml\n        configuredBy:\n          apiVersion: builtin\n          kind: LabelTransformer\n          name: lt\n          namespace: nsx\n      - configuredIn: kustomization.yaml\n",
        "          name: \"123\"\n",
        "      - configuredIn: ../tdir/p.yaml\n",
        "    config.kubernetes.io/origin: |\n      configuredIn: gen.yaml\n      configuredBy:\n        apiVersion: builtin\n        kind: ConfigMapGenerator\n        name: g1\n",
    ] {
        assert!(out.contains(want), "{want:?} in\n{out}");
    }
    let out = same_as_kubectl_unrestricted(&t.path().join("overlay"));
    assert!(out.contains("configuredIn: ../base/ann.yaml\n"), "{out}");
}

/// Two plugin configs with one id are refused (kustomize: "may not add resource with an
/// already registered id").
#[test]
fn plugin_configs_with_one_id_are_refused_like_kustomize() {
    let config = "- |-\n  apiVersion: builtin\n  kind: LabelTransformer\n  metadata: {name: same}\n  labels: {a: b}\n  fieldSpecs: [{path: metadata/labels, create: true}]\n";
    let t = tree(&[
        (
            "kustomization.yaml",
            &format!("resources: [cm.yaml]\ntransformers:\n{config}{config}"),
        ),
        (
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
        ),
    ]);
    let err = both_fail(t.path());
    assert!(err.contains("already registered id"), "{err}");
}
