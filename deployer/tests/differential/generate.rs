//! A seeded generator of random but valid kustomization trees over what `deployer render`
//! supports: a base, sometimes an overlay and a component, resources of many kinds, the
//! builtin generators and transformers, patches and replacements, and scalars of every
//! YAML 1.1 shape in the places kustomize carries them through.

use crate::yamlgen::{Y, quote};

/// SplitMix64: small, fast, and the same sequence on every machine for a seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// A generated tree: files relative to the tree's directory, and the directory to build.
pub struct Tree {
    pub files: Vec<(String, String)>,
    pub root: String,
}

/// Plain scalars of every YAML 1.1 and 1.2 shape (written unquoted).
const PLAIN: &[&str] = &[
    "yes",
    "no",
    "on",
    "off",
    "y",
    "n",
    "True",
    "FALSE",
    "~",
    "null",
    "NULL",
    "0777",
    "0o17",
    "0x1F",
    "0b101",
    "-0b11",
    "1_000",
    "1:20",
    "190:20:30",
    "+12",
    "-0",
    ".5",
    "1.",
    "1e3",
    "1E-3",
    "123456789.123",
    "1e-7",
    "0.000001",
    "0.0001",
    "1234567.5",
    "18446744073709551615",
    "9223372036854775808",
    "-9223372036854775809",
    "123456789012345678901234567890",
    "100000000000000000000",
    "1e400",
    "2024-01-01",
    "2001-1-2",
    "2001-12-14t21:59:43.10-05:00",
    "2001-12-14 21:59:43.10",
    "2001-12-14T21:59:43Z",
    "2001-12-14T21:59:43",
    "1.10",
    "v1.2",
    "12-abc",
    "089",
    "1.0",
    "0",
    "-1",
    "3",
    "42",
    "true",
    "false",
    "<<x",
    "a:b",
    "-x",
    "x-",
    "value with spaces",
    "ünïcödé",
    "emoji😀here",
];

/// Strings that need quoting or escapes (written double-quoted).
const QUOTED: &[&str] = &[
    "",
    " lead",
    "trail ",
    "a: b",
    "#hash",
    "- dash",
    "123",
    "true",
    "null",
    "1.10",
    "2024-01-01",
    "tab\there",
    "new\nline",
    "ends\n",
    "\n\nstarts",
    "a\u{85}b",
    "a\u{2028}b",
    "\u{1F600}",
    "x\u{1}y",
    "bom\u{feff}",
    "\u{feff}lead",
    "quote\"s",
    "back\\slash",
    "a  double  space string with enough words to pass the eighty column folding limit for sure",
    "longstringwithoutspacesthatgoesonandonandonpasttheeightycolumnlimitforsurexxxxxxxxxxxx",
    "emoji 😀 and more words so that this line will need folding past column eighty at least",
];

fn pick_quoted(rng: &mut Rng) -> &'static str {
    QUOTED[rng.below(QUOTED.len())]
}

fn scalar(rng: &mut Rng) -> Y {
    match rng.below(10) {
        0..=4 => Y::s(*rng.pick(PLAIN)),
        5..=7 => Y::q(rng.pick(QUOTED)),
        8 => Y::s(format!("'{}'", rng.pick(PLAIN).replace('\'', "''"))),
        _ => {
            let header = *rng.pick(&["|", "|-", "|+", ">", ">-"]);
            let lines: Vec<String> = (0..1 + rng.below(3))
                .map(|i| format!("line {i} {}", rng.pick(&["a", "b: c", "#x", "  indented"])))
                .collect();
            Y::Block(header.to_string(), lines)
        }
    }
}

/// A free-form value (custom resource fields): scalars, lists and maps, block or flow.
fn value(rng: &mut Rng, depth: usize) -> Y {
    if depth > 2 || rng.chance(55) {
        return scalar(rng);
    }
    let flow = rng.chance(35);
    let y = if rng.chance(50) {
        Y::Seq(
            (0..rng.below(4)).map(|_| value(rng, depth + 1)).collect(),
            false,
        )
    } else {
        let n = rng.below(4);
        Y::Map(
            (0..n)
                .map(|i| (key(rng, i), value(rng, depth + 1)))
                .collect(),
            false,
        )
    };
    if flow {
        // A block scalar cannot sit in a flow collection.
        strip_blocks(y).flow()
    } else {
        y
    }
}

fn strip_blocks(y: Y) -> Y {
    match y {
        Y::Block(..) => Y::q("was a block"),
        Y::Map(e, f) => Y::Map(
            e.into_iter().map(|(k, v)| (k, strip_blocks(v))).collect(),
            f,
        ),
        Y::Seq(i, f) => Y::Seq(i.into_iter().map(strip_blocks).collect(), f),
        s => s,
    }
}

fn key(rng: &mut Rng, i: usize) -> String {
    match rng.below(8) {
        0 => quote(&format!("{}", 10 * i + rng.below(9))),
        1 => format!("k{i}_{}", rng.below(100)),
        2 => format!("K{}", i),
        3 => format!("a{}", rng.below(20)),
        _ => format!("field{i}"),
    }
}

/// The objects of the base, for references from patches and transformers.
#[derive(Default)]
struct World {
    /// (kind, name) of workloads with a pod template.
    workloads: Vec<(String, String)>,
    deployments: Vec<String>,
    services: Vec<String>,
    configmaps: Vec<String>,
    images: Vec<String>,
    crd_kind: Option<String>,
}

const IMAGES: &[&str] = &[
    "nginx",
    "nginx:1.25",
    "registry.example.com:5000/team/api:v1",
    "busybox@sha256:0000000000000000000000000000000000000000000000000000000000000001",
    "app",
    "app-sidecar:2",
];

fn labels(rng: &mut Rng, app: &str) -> Y {
    let mut e = vec![("app".to_string(), Y::s(app))];
    if rng.chance(40) {
        e.push((
            "tier".into(),
            Y::q(rng.pick(&["web", "1.10", "true", "2024-01-01"])),
        ));
    }
    Y::Map(e, rng.chance(30))
}

fn annotations(rng: &mut Rng) -> Y {
    let n = 1 + rng.below(3);
    Y::Map(
        (0..n)
            .map(|i| (format!("note.example.com/a{i}"), scalar(rng)))
            .collect(),
        rng.chance(30),
    )
}

fn meta(rng: &mut Rng, name: &str, app: &str) -> Y {
    let mut e = vec![("name".to_string(), Y::s(name))];
    e.push(("labels".into(), labels(rng, app)));
    if rng.chance(50) {
        e.push(("annotations".into(), annotations(rng)));
    }
    Y::Map(e, false)
}

fn container(rng: &mut Rng, name: &str, w: &mut World) -> Y {
    let image = *rng.pick(IMAGES);
    w.images.push(image.to_string());
    let mut e = vec![
        ("name".to_string(), Y::s(name)),
        ("image".to_string(), Y::s(image)),
    ];
    if rng.chance(60) {
        let mut ports = vec![Y::map(vec![("containerPort", Y::s("8080"))])];
        if rng.chance(50) {
            ports.push(Y::map(vec![
                ("containerPort", Y::s("9090")),
                ("protocol", Y::s(*rng.pick(&["TCP", "UDP"]))),
            ]));
        }
        e.push(("ports".into(), Y::seq(ports)));
    }
    if rng.chance(50) {
        let env: Vec<Y> = (0..1 + rng.below(3))
            .map(|i| {
                Y::map(vec![
                    ("name", Y::s(format!("E{i}"))),
                    ("value", Y::q(rng.pick(QUOTED))),
                ])
            })
            .collect();
        e.push(("env".into(), Y::seq(env)));
    }
    if !w.configmaps.is_empty() && rng.chance(40) {
        let cm = rng.pick(&w.configmaps).clone();
        e.push((
            "envFrom".into(),
            Y::seq(vec![Y::map(vec![(
                "configMapRef",
                Y::map(vec![("name", Y::s(cm))]),
            )])]),
        ));
    }
    Y::Map(e, false)
}

fn pod_template(rng: &mut Rng, app: &str, w: &mut World) -> Y {
    let mut containers = vec![container(rng, "app", w)];
    if rng.chance(30) {
        containers.push(container(rng, "app-sidecar", w));
    }
    let mut spec = vec![("containers", Y::seq(containers))];
    if rng.chance(25) {
        spec.push(("initContainers", Y::seq(vec![container(rng, "init", w)])));
    }
    Y::map(vec![
        ("metadata", Y::map(vec![("labels", labels(rng, app))])),
        ("spec", Y::map(spec)),
    ])
}

fn object(api: &str, kind: &str, meta: Y, rest: Vec<(&str, Y)>) -> Y {
    let mut e = vec![
        ("apiVersion".to_string(), Y::s(api)),
        ("kind".to_string(), Y::s(kind)),
        ("metadata".to_string(), meta),
    ];
    e.extend(rest.into_iter().map(|(k, v)| (k.to_string(), v)));
    Y::Map(e, false)
}

/// One resource of a random kind; records it in `w`.
fn resource(rng: &mut Rng, i: usize, w: &mut World) -> Y {
    let app = format!("app{i}");
    match rng.below(12) {
        0..=2 => {
            let name = format!("web{i}");
            w.workloads.push(("Deployment".into(), name.clone()));
            w.deployments.push(name.clone());
            let m = meta(rng, &name, &app);
            let tpl = pod_template(rng, &app, w);
            object(
                "apps/v1",
                "Deployment",
                m,
                vec![(
                    "spec",
                    Y::map(vec![
                        ("replicas", Y::s(format!("{}", 1 + rng.below(3)))),
                        (
                            "selector",
                            Y::map(vec![("matchLabels", Y::map(vec![("app", Y::s(&*app))]))]),
                        ),
                        ("template", tpl),
                    ]),
                )],
            )
        }
        3 => {
            let name = format!("db{i}");
            w.workloads.push(("StatefulSet".into(), name.clone()));
            let m = meta(rng, &name, &app);
            let tpl = pod_template(rng, &app, w);
            object(
                "apps/v1",
                "StatefulSet",
                m,
                vec![(
                    "spec",
                    Y::map(vec![
                        ("serviceName", Y::s(format!("svc{i}"))),
                        (
                            "selector",
                            Y::map(vec![("matchLabels", Y::map(vec![("app", Y::s(&*app))]))]),
                        ),
                        ("template", tpl),
                    ]),
                )],
            )
        }
        4 => {
            let name = format!("job{i}");
            w.workloads.push(("CronJob".into(), name.clone()));
            let m = meta(rng, &name, &app);
            let tpl = pod_template(rng, &app, w);
            object(
                "batch/v1",
                "CronJob",
                m,
                vec![(
                    "spec",
                    Y::map(vec![
                        ("schedule", Y::q("*/5 * * * *")),
                        (
                            "jobTemplate",
                            Y::map(vec![("spec", Y::map(vec![("template", tpl)]))]),
                        ),
                    ]),
                )],
            )
        }
        5 => {
            let name = format!("svc{i}");
            w.services.push(name.clone());
            let m = meta(rng, &name, &app);
            let mut ports = vec![Y::map(vec![
                ("port", Y::s("80")),
                ("targetPort", Y::s("8080")),
            ])];
            if rng.chance(40) {
                ports.push(Y::map(vec![
                    ("port", Y::s("53")),
                    ("protocol", Y::s("UDP")),
                ]));
            }
            object(
                "v1",
                "Service",
                m,
                vec![(
                    "spec",
                    Y::map(vec![
                        ("selector", Y::map(vec![("app", Y::s(&*app))])),
                        ("ports", Y::seq(ports)),
                    ]),
                )],
            )
        }
        6 => {
            let name = format!("cfg{i}");
            w.configmaps.push(name.clone());
            let m = meta(rng, &name, &app);
            let data: Vec<(String, Y)> = (0..1 + rng.below(4))
                .map(|j| (format!("key{j}"), scalar(rng)))
                .collect();
            object(
                "v1",
                "ConfigMap",
                m,
                vec![("data", Y::Map(data, rng.chance(30)))],
            )
        }
        7 => {
            let name = format!("ing{i}");
            let m = meta(rng, &name, &app);
            let svc = w
                .services
                .first()
                .cloned()
                .unwrap_or_else(|| "missing".into());
            object(
                "networking.k8s.io/v1",
                "Ingress",
                m,
                vec![(
                    "spec",
                    Y::map(vec![(
                        "rules",
                        Y::seq(vec![Y::map(vec![(
                            "http",
                            Y::map(vec![(
                                "paths",
                                Y::seq(vec![Y::map(vec![
                                    ("path", Y::s("/")),
                                    ("pathType", Y::s("Prefix")),
                                    (
                                        "backend",
                                        Y::map(vec![(
                                            "service",
                                            Y::map(vec![
                                                ("name", Y::s(svc)),
                                                ("port", Y::map(vec![("number", Y::s("80"))])),
                                            ]),
                                        )]),
                                    ),
                                ])]),
                            )]),
                        )])]),
                    )]),
                )],
            )
        }
        8 => {
            let name = format!("role{i}");
            let m = meta(rng, &name, &app);
            let (kind, bkind) = if rng.chance(50) {
                ("Role", "RoleBinding")
            } else {
                ("ClusterRole", "ClusterRoleBinding")
            };
            let role = object(
                "rbac.authorization.k8s.io/v1",
                kind,
                m,
                vec![(
                    "rules",
                    Y::seq(vec![Y::map(vec![
                        ("apiGroups", Y::seq(vec![Y::q("")]).flow()),
                        ("resources", Y::seq(vec![Y::s("pods")]).flow()),
                        ("verbs", Y::seq(vec![Y::s("get"), Y::s("list")]).flow()),
                    ])]),
                )],
            );
            let bm = meta(rng, &format!("bind{i}"), &app);
            let binding = object(
                "rbac.authorization.k8s.io/v1",
                bkind,
                bm,
                vec![
                    (
                        "roleRef",
                        Y::map(vec![
                            ("apiGroup", Y::s("rbac.authorization.k8s.io")),
                            ("kind", Y::s(kind)),
                            ("name", Y::s(&*name)),
                        ]),
                    ),
                    (
                        "subjects",
                        Y::seq(vec![Y::map(vec![
                            ("kind", Y::s("ServiceAccount")),
                            ("name", Y::s(*rng.pick(&["default", "robot"]))),
                        ])]),
                    ),
                ],
            );
            Y::Seq(vec![role, binding], false)
        }
        9 => {
            let kind = format!("Widget{i}");
            w.crd_kind = Some(kind.clone());
            let crd = object(
                "apiextensions.k8s.io/v1",
                "CustomResourceDefinition",
                Y::map(vec![("name", Y::s(format!("widget{i}s.example.com")))]),
                vec![(
                    "spec",
                    Y::map(vec![
                        ("group", Y::s("example.com")),
                        ("scope", Y::s("Namespaced")),
                        (
                            "names",
                            Y::map(vec![
                                ("kind", Y::s(&*kind)),
                                ("plural", Y::s(format!("widget{i}s"))),
                            ]),
                        ),
                    ]),
                )],
            );
            let m = meta(rng, &format!("w{i}"), &app);
            let spec: Vec<(String, Y)> = (0..1 + rng.below(5))
                .map(|j| (key(rng, j), value(rng, 0)))
                .collect();
            let cr = object(
                "example.com/v1",
                &kind,
                m,
                vec![("spec", Y::Map(spec, rng.chance(25)))],
            );
            Y::Seq(vec![crd, cr], false)
        }
        10 => {
            let name = format!("pdb{i}");
            let m = meta(rng, &name, &app);
            object(
                "policy/v1",
                "PodDisruptionBudget",
                m,
                vec![(
                    "spec",
                    Y::map(vec![
                        ("maxUnavailable", Y::s("1")),
                        (
                            "selector",
                            Y::map(vec![("matchLabels", Y::map(vec![("app", Y::s(&*app))]))]),
                        ),
                    ]),
                )],
            )
        }
        _ => {
            let name = format!("hpa{i}");
            let m = meta(rng, &name, &app);
            let target = w
                .deployments
                .first()
                .cloned()
                .unwrap_or_else(|| "none".into());
            object(
                "autoscaling/v2",
                "HorizontalPodAutoscaler",
                m,
                vec![(
                    "spec",
                    Y::map(vec![
                        (
                            "scaleTargetRef",
                            Y::map(vec![
                                ("apiVersion", Y::s("apps/v1")),
                                ("kind", Y::s("Deployment")),
                                ("name", Y::s(target)),
                            ]),
                        ),
                        ("minReplicas", Y::s("1")),
                        ("maxReplicas", Y::s(*rng.pick(&["3", "10"]))),
                    ]),
                )],
            )
        }
    }
}

fn docs(objects: Vec<Y>) -> String {
    let mut out = String::new();
    for (i, o) in objects.into_iter().enumerate() {
        let list = match o {
            Y::Seq(items, _) => items,
            other => vec![other],
        };
        for (j, item) in list.into_iter().enumerate() {
            if i > 0 || j > 0 {
                out.push_str("---\n");
            }
            out.push_str(&crate::yamlgen::write(&item));
        }
    }
    out
}

/// A tag or digest for `images:`, quoted when YAML would read it as another type.
fn image_ref_field(rng: &mut Rng) -> (&'static str, Y) {
    match rng.below(6) {
        0 => (
            "newTag",
            Y::q(rng.pick(&["2024-01-01", "1.10", "1234567", "0x1F", "true"])),
        ),
        1 => (
            "newTag",
            Y::s(*rng.pick(&["v2", "latest", "2024-01-01", "1.2.3-rc1"])),
        ),
        2 => (
            "digest",
            Y::s("sha256:1111111111111111111111111111111111111111111111111111111111111111"),
        ),
        3 => ("newName", Y::s("mirror.example.com/lib/thing")),
        4 => ("tagSuffix", Y::s("-debug")),
        _ => ("newTag", Y::q("3")),
    }
}

fn literal(rng: &mut Rng, j: usize) -> Y {
    let v = *rng.pick(PLAIN);
    Y::q(format!("K{j}={v}"))
}

/// A kustomization for a base or overlay: transformers chosen at random over `w`.
fn kustomization(rng: &mut Rng, resources: Vec<String>, w: &World, overlay: bool) -> Y {
    let mut k: Vec<(&str, Y)> = vec![(
        "resources",
        Y::seq(resources.into_iter().map(Y::s).collect()),
    )];
    if rng.chance(35) {
        k.push((
            "namespace",
            Y::s(*rng.pick(&["team-a", "prod", "2024-01-01"])),
        ));
    }
    if rng.chance(35) {
        k.push(("namePrefix", Y::s(*rng.pick(&["pre-", "x", "2024-01-01-"]))));
    }
    if rng.chance(25) {
        k.push(("nameSuffix", Y::s(*rng.pick(&["-suf", "-v2"]))));
    }
    if rng.chance(35) {
        let include = rng.chance(40);
        let mut l = vec![(
            "pairs",
            Y::map(vec![(
                *rng.pick(&["env", "team", "release"]),
                Y::q(rng.pick(&["dev", "2024-01-01", "1.10", "yes"])),
            )]),
        )];
        if include {
            l.push(("includeSelectors", Y::s("true")));
        } else if rng.chance(50) {
            l.push(("includeTemplates", Y::s("true")));
        }
        k.push(("labels", Y::seq(vec![Y::map(l)])));
    }
    if rng.chance(15) {
        k.push((
            "commonLabels",
            Y::map(vec![("owner", Y::q(rng.pick(&["ops", "007"])))]),
        ));
    }
    if rng.chance(30) {
        k.push((
            "commonAnnotations",
            Y::map(vec![("note.example.com/common", Y::q(rng.pick(QUOTED)))]),
        ));
    }
    if !w.images.is_empty() && rng.chance(45) {
        let mut entries = Vec::new();
        for _ in 0..1 + rng.below(2) {
            let name = crate::generate::image_name(rng.pick(&w.images).as_str());
            let (f, v) = image_ref_field(rng);
            entries.push(Y::map(vec![("name", Y::s(name)), (f, v)]));
        }
        k.push(("images", Y::seq(entries)));
    }
    let scalable: Vec<&(String, String)> = w
        .workloads
        .iter()
        .filter(|(kind, _)| kind != "CronJob")
        .collect();
    if !scalable.is_empty() && rng.chance(30) {
        let (_, name) = *rng.pick(&scalable);
        k.push((
            "replicas",
            Y::seq(vec![Y::map(vec![
                ("name", Y::s(name.as_str())),
                ("count", Y::s(format!("{}", rng.below(5)))),
            ])]),
        ));
    }
    let mut generators = Vec::new();
    if rng.chance(45) {
        let mut g = vec![
            ("name", Y::s("gen-cfg")),
            (
                "literals",
                Y::seq((0..1 + rng.below(3)).map(|j| literal(rng, j)).collect()),
            ),
        ];
        if overlay && rng.chance(50) {
            g.push(("behavior", Y::s(*rng.pick(&["merge", "replace"]))));
        }
        if rng.chance(30) {
            g.push((
                "options",
                Y::map(vec![
                    ("disableNameSuffixHash", Y::s(*rng.pick(&["true", "false"]))),
                    ("labels", Y::map(vec![("gen", Y::s("yes-please"))])),
                ]),
            ));
        }
        generators.push(Y::map(g));
    }
    if !generators.is_empty() {
        k.push(("configMapGenerator", Y::seq(generators)));
    }
    if rng.chance(20) {
        k.push((
            "secretGenerator",
            Y::seq(vec![Y::map(vec![
                ("name", Y::s("creds")),
                (
                    "literals",
                    Y::seq(vec![Y::q("password=s3cr3t"), literal(rng, 9)]),
                ),
                (
                    "type",
                    Y::s(*rng.pick(&["Opaque", "kubernetes.io/basic-auth"])),
                ),
            ])]),
        ));
    }
    if rng.chance(15) {
        k.push((
            "generatorOptions",
            Y::map(vec![(
                "annotations",
                Y::map(vec![("gen.example.com/by", Y::s("test"))]),
            )]),
        ));
    }
    let mut patches = Vec::new();
    if !w.deployments.is_empty() && rng.chance(45) {
        let name = rng.pick(&w.deployments).clone();
        let body = format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: {}\n  template:\n    spec:\n      containers:\n      - name: app\n        env:\n        - name: PATCHED\n          value: {}\n        ports:\n        - containerPort: 8080\n          protocol: TCP\n          name: http\n",
            rng.below(4),
            quote(pick_quoted(rng)),
        );
        patches.push(Y::map(vec![(
            "patch",
            Y::Block("|".into(), body.lines().map(str::to_string).collect()),
        )]));
    }
    if !w.deployments.is_empty() && rng.chance(30) {
        let ops = format!(
            "- op: replace\n  path: /spec/replicas\n  value: {}\n- op: add\n  path: /metadata/annotations/json6902.example.com~1x\n  value: {}\n",
            rng.below(5),
            rng.pick(PLAIN),
        );
        let target = Y::map(vec![
            ("kind", Y::s("Deployment")),
            ("name", Y::s(rng.pick(&w.deployments).as_str())),
        ]);
        patches.push(Y::map(vec![
            ("target", target),
            (
                "patch",
                Y::Block("|".into(), ops.lines().map(str::to_string).collect()),
            ),
        ]));
    }
    if !w.workloads.is_empty() && rng.chance(25) {
        // A label-selected strategic-merge patch for every workload of the app label.
        let body = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: any\n  annotations:\n    selected.example.com/by: label\n";
        patches.push(Y::map(vec![
            (
                "target",
                Y::map(vec![
                    ("kind", Y::s("Deployment|StatefulSet")),
                    ("labelSelector", Y::q("app")),
                ]),
            ),
            (
                "patch",
                Y::Block("|".into(), body.lines().map(str::to_string).collect()),
            ),
        ]));
    }
    if !patches.is_empty() {
        k.push(("patches", Y::seq(patches)));
    }
    if !w.configmaps.is_empty() && !w.deployments.is_empty() && rng.chance(30) {
        let src = rng.pick(&w.configmaps).clone();
        let dst = rng.pick(&w.deployments).clone();
        let mut target = vec![
            (
                "select",
                Y::map(vec![("kind", Y::s("Deployment")), ("name", Y::s(dst))]),
            ),
            (
                "fieldPaths",
                Y::seq(vec![Y::s(*rng.pick(&[
                    "spec.template.metadata.annotations.copied",
                    "spec.template.spec.containers.[name=app].env.[name=E0].value",
                    "metadata.labels.copied",
                ]))]),
            ),
        ];
        if rng.chance(60) {
            target.push(("options", Y::map(vec![("create", Y::s("true"))])));
        }
        k.push((
            "replacements",
            Y::seq(vec![Y::map(vec![
                (
                    "source",
                    Y::map(vec![
                        ("kind", Y::s("ConfigMap")),
                        ("name", Y::s(src)),
                        ("fieldPath", Y::s("data.key0")),
                    ]),
                ),
                ("targets", Y::seq(vec![Y::map(target)])),
            ])]),
        ));
    }
    if !overlay && rng.chance(10) || overlay && rng.chance(15) {
        let mut opts = vec![Y::s("originAnnotations")];
        if rng.chance(60) {
            opts.push(Y::s("transformerAnnotations"));
        }
        if rng.chance(30) {
            opts.push(Y::s("managedByLabel"));
        }
        k.push(("buildMetadata", Y::seq(opts)));
    }
    if rng.chance(15) {
        let opts = if rng.chance(50) {
            Y::map(vec![("order", Y::s("fifo"))])
        } else {
            Y::map(vec![
                ("order", Y::s("legacy")),
                (
                    "legacySortOptions",
                    Y::map(vec![
                        (
                            "orderFirst",
                            Y::seq(vec![Y::s("Service"), Y::s("ConfigMap")]),
                        ),
                        ("orderLast", Y::seq(vec![Y::s("Deployment")])),
                    ]),
                ),
            ])
        };
        k.push(("sortOptions", opts));
    }
    Y::map(k)
}

/// The image name an `images:` entry matches for a container image.
pub fn image_name(image: &str) -> String {
    let (name, _, _) = deployer::reference::split(image);
    name.to_string()
}

/// One tree for `seed`.
pub fn tree(seed: u64) -> Tree {
    let mut rng = Rng::new(seed);
    let mut w = World::default();
    let mut files = Vec::new();
    let mut base_resources = Vec::new();
    let n_files = 1 + rng.below(3);
    let mut i = 0;
    for f in 0..n_files {
        let mut objects = Vec::new();
        for _ in 0..1 + rng.below(3) {
            objects.push(resource(&mut rng, i, &mut w));
            i += 1;
        }
        let name = format!("res{f}.yaml");
        files.push((format!("base/{name}"), docs(objects)));
        base_resources.push(name);
    }
    let base = kustomization(&mut rng, base_resources, &w, false);
    files.push((
        "base/kustomization.yaml".into(),
        crate::yamlgen::write(&base),
    ));
    let root = if rng.chance(60) {
        let mut resources = vec!["../base".to_string()];
        if rng.chance(30) {
            let extra = resource(&mut rng, 90, &mut w);
            files.push(("overlay/extra.yaml".into(), docs(vec![extra])));
            resources.push("extra.yaml".into());
        }
        let mut overlay = kustomization(&mut rng, resources, &w, true);
        if rng.chance(35) {
            let comp = Y::map(vec![
                ("apiVersion", Y::s("kustomize.config.k8s.io/v1alpha1")),
                ("kind", Y::s("Component")),
                (
                    "commonAnnotations",
                    Y::map(vec![(
                        "component.example.com/on",
                        Y::q(rng.pick(&["yes", "1.0"])),
                    )]),
                ),
            ]);
            files.push((
                "comp/kustomization.yaml".into(),
                crate::yamlgen::write(&comp),
            ));
            if let Y::Map(e, _) = &mut overlay {
                e.push(("components".into(), Y::seq(vec![Y::s("../comp")])));
            }
        }
        files.push((
            "overlay/kustomization.yaml".into(),
            crate::yamlgen::write(&overlay),
        ));
        "overlay"
    } else {
        "base"
    };
    Tree {
        files,
        root: root.into(),
    }
}
