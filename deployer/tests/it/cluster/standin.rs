//! A fault-injecting stand-in for the Kubernetes API, over real HTTP on loopback, for what a
//! real API server will not do on demand: 5xx bursts, 429 with Retry-After, slow responses
//! (client timeouts), 409 field-manager conflicts, dropped watches and 410 Gone. Everything
//! the real control plane can show is tested there (scenarios.rs); this serves only the
//! resources the dev overlay renders, with a simplified apply (deep merge, no field sets) and
//! a Deployment "controller" that reports the rollout available immediately or after a delay.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use bytes::Bytes;
use serde_json::{Value, json};

/// (group, version, plural, kind, namespaced)
const RESOURCES: &[(&str, &str, &str, &str, bool)] = &[
    ("", "v1", "configmaps", "ConfigMap", true),
    ("", "v1", "services", "Service", true),
    ("", "v1", "namespaces", "Namespace", false),
    ("apps", "v1", "deployments", "Deployment", true),
    (
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        true,
    ),
    ("networking.k8s.io", "v1", "ingresses", "Ingress", true),
];

/// What to do to requests that match.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status (and Retry-After seconds, if given).
    Status { code: u16, retry_after: Option<u64> },
    /// Answer late (a client with a shorter timeout gives up and retries).
    Delay(Duration),
    /// 409 Conflict naming `manager` and `field` (unless the apply forces).
    Conflict { manager: String, field: String },
    /// A watch that ends right after its first events.
    DropWatch,
    /// A watch answered with a 410 Gone ERROR event.
    Gone,
}

#[derive(Debug, Clone)]
struct Rule {
    method: &'static str,
    path_contains: String,
    query_contains: String,
    remaining: usize,
    fault: Fault,
}

/// One request as the stand-in saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub at: Instant,
    pub method: String,
    pub path: String,
    pub query: String,
    pub status: u16,
}

#[derive(Debug, Default)]
struct State {
    rv: u64,
    /// (plural, namespace, name) → object
    objects: BTreeMap<(String, String, String), Value>,
    /// (rv, plural, namespace, type, object)
    events: Vec<(u64, String, String, &'static str, Value)>,
    rules: Vec<Rule>,
    log: Vec<Seen>,
    /// Deployments report available this long after an apply (None: at once).
    rollout_delay: Option<Duration>,
}

#[derive(Clone)]
pub struct StandIn {
    pub kubeconfig: PathBuf,
    state: Arc<Mutex<State>>,
    _dir: Arc<tempfile::TempDir>,
}

impl std::fmt::Debug for StandIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StandIn")
            .field("kubeconfig", &self.kubeconfig)
            .finish()
    }
}

impl StandIn {
    /// Starts the server on 127.0.0.1 (port 0) in its own thread and actix system.
    pub fn start() -> StandIn {
        let state = Arc::new(Mutex::new(State::default()));
        let notify = Arc::new(tokio::sync::Notify::new());
        let (tx, rx) = std::sync::mpsc::channel();
        let (s2, n2) = (state.clone(), notify.clone());
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(web::Data::new((s2.clone(), n2.clone())))
                        .default_service(web::to(handle))
                })
                .workers(1)
                .bind(("127.0.0.1", 0))
                .expect("bind 127.0.0.1:0");
                let port = server.addrs()[0].port();
                let running = server.run();
                tx.send(port).expect("report port");
                let _ = running.await;
            });
        });
        let port = rx.recv().expect("stand-in started");
        let dir = tempfile::tempdir().expect("tempdir");
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: s\n  cluster:\n    server: http://127.0.0.1:{port}\nusers:\n- name: u\n  user: {{}}\ncontexts:\n- name: s\n  context: {{cluster: s, user: u}}\ncurrent-context: s\n"
            ),
        )
        .expect("write kubeconfig");
        StandIn {
            kubeconfig,
            state,
            _dir: Arc::new(dir),
        }
    }

    /// The next `times` requests with this method whose path and query contain the given
    /// strings get `fault`.
    pub fn inject(
        &self,
        method: &'static str,
        path: &str,
        query: &str,
        times: usize,
        fault: Fault,
    ) {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .rules
            .push(Rule {
                method,
                path_contains: path.into(),
                query_contains: query.into(),
                remaining: times,
                fault,
            });
    }

    pub fn set_rollout_delay(&self, d: Option<Duration>) {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .rollout_delay = d;
    }

    /// Puts an object in place as another client would have made it.
    pub fn seed(&self, plural: &str, namespace: &str, mut obj: Value) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.rv += 1;
        let rv = st.rv;
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        obj["metadata"]["uid"] = json!(format!("uid-{rv}"));
        obj["metadata"]["generation"] = json!(1);
        let name = obj["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        st.objects
            .insert((plural.into(), namespace.into(), name), obj);
    }

    pub fn object(&self, plural: &str, namespace: &str, name: &str) -> Option<Value> {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.objects
            .get(&(plural.into(), namespace.into(), name.into()))
            .cloned()
    }

    pub fn count(&self, plural: &str) -> usize {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.objects.keys().filter(|k| k.0 == plural).count()
    }

    pub fn log(&self) -> Vec<Seen> {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .log
            .clone()
    }
}

type Shared = web::Data<(Arc<Mutex<State>>, Arc<tokio::sync::Notify>)>;

fn status_body(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code})
}

fn not_found(plural: &str, name: &str) -> HttpResponse {
    respond(
        404,
        &status_body(404, "NotFound", &format!("{plural} \"{name}\" not found")),
    )
}

fn respond(code: u16, body: &Value) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap_or_default())
        .content_type("application/json")
        .body(body.to_string())
}

/// The path's parts: (group, version, namespace, plural, name) for resource paths.
fn parse_path(path: &str) -> Option<(String, String, String, String, Option<String>)> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return None,
    };
    let (ns, rest) = match rest {
        ["namespaces", ns, rest @ ..] if !rest.is_empty() => (*ns, rest),
        _ => ("", rest),
    };
    let (plural, name) = match rest {
        [plural] => (*plural, None),
        [plural, name] => (*plural, Some(name.to_string())),
        _ => return None,
    };
    Some((group.into(), version.into(), ns.into(), plural.into(), name))
}

fn discovery(core: bool) -> Value {
    let mut groups: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for (g, v, plural, kind, namespaced) in RESOURCES {
        if g.is_empty() != core {
            continue;
        }
        groups.entry(g).or_default().push(json!({
            "resource": plural, "responseKind": {"group": g, "version": v, "kind": kind},
            "scope": if *namespaced { "Namespaced" } else { "Cluster" },
            "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}));
    }
    let items: Vec<Value> = groups
        .into_iter()
        .map(|(g, resources)| json!({"metadata": {"name": g}, "versions": [{"version": "v1", "resources": resources, "freshness": "Current"}]}))
        .collect();
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items})
}

fn selector_matches(obj: &Value, selector: &str) -> bool {
    selector.split(',').filter(|s| !s.is_empty()).all(|term| {
        let (k, v) = term.split_once('=').unwrap_or((term, ""));
        let labels = &obj["metadata"]["labels"];
        match labels.get(k).and_then(Value::as_str) {
            Some(actual) => v.is_empty() || actual == v,
            None => false,
        }
    })
}

fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k == key).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

fn merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                merge(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, p) => *b = p.clone(),
    }
}

/// Sets a Deployment's status as its controller would once the rollout is done.
fn roll_out(obj: &mut Value) {
    let replicas = obj["spec"]["replicas"].as_i64().unwrap_or(1);
    let generation = obj["metadata"]["generation"].clone();
    obj["status"] = json!({"observedGeneration": generation, "replicas": replicas,
        "updatedReplicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas});
}

fn record(st: &mut State, plural: &str, ns: &str, type_: &'static str, obj: &Value) {
    let rv = st.rv;
    st.events
        .push((rv, plural.into(), ns.into(), type_, obj.clone()));
}

async fn handle(req: HttpRequest, body: Bytes, data: Shared) -> HttpResponse {
    let (state, notify) = (data.0.clone(), data.1.clone());
    let method = req.method().as_str().to_string();
    let path = req.path().to_string();
    let query = req.query_string().to_string();
    let fault = {
        let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
        let rule = st.rules.iter_mut().find(|r| {
            r.remaining > 0
                && r.method == method
                && path.contains(&r.path_contains)
                && query.contains(&r.query_contains)
        });
        rule.map(|r| {
            r.remaining -= 1;
            r.fault.clone()
        })
    };
    let log = |code: u16| {
        state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .log
            .push(Seen {
                at: Instant::now(),
                method: method.clone(),
                path: path.clone(),
                query: query.clone(),
                status: code,
            });
    };
    match &fault {
        Some(Fault::Status { code, retry_after }) => {
            log(*code);
            let mut r = HttpResponse::build(
                actix_web::http::StatusCode::from_u16(*code).unwrap_or_default(),
            );
            if let Some(s) = retry_after {
                r.insert_header(("Retry-After", s.to_string()));
            }
            return r
                .content_type("application/json")
                .body(status_body(*code, "InternalError", "injected fault").to_string());
        }
        Some(Fault::Delay(d)) => tokio::time::sleep(*d).await,
        _ => {}
    }
    if path == "/api" || path == "/apis" {
        log(200);
        return HttpResponse::Ok()
            .content_type("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
            .body(discovery(path == "/api").to_string());
    }
    let Some((group, version, ns, plural, name)) = parse_path(&path) else {
        log(404);
        return respond(
            404,
            &status_body(
                404,
                "NotFound",
                "the server could not find the requested resource",
            ),
        );
    };
    let Some((_, _, _, kind, _)) = RESOURCES.iter().find(|r| r.0 == group && r.2 == plural) else {
        log(404);
        return HttpResponse::NotFound()
            .content_type("text/plain")
            .body("404 page not found");
    };
    let api_version = if group.is_empty() {
        version.clone()
    } else {
        format!("{group}/{version}")
    };
    let key = |n: &str| (plural.clone(), ns.clone(), n.to_string());
    match (method.as_str(), name) {
        ("GET", None) if query_param(&query, "watch").is_some_and(|w| w == "true" || w == "1") => {
            log(200);
            let selector = query_param(&query, "labelSelector").unwrap_or_default();
            let from: u64 = query_param(&query, "resourceVersion")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let timeout = query_param(&query, "timeoutSeconds")
                .and_then(|v| v.parse().ok())
                .unwrap_or(30u64);
            if matches!(fault, Some(Fault::Gone)) {
                let ev = json!({"type": "ERROR", "object": status_body(410, "Expired", "too old resource version")});
                return HttpResponse::Ok()
                    .content_type("application/json")
                    .body(format!("{ev}\n"));
            }
            let drop_early = matches!(fault, Some(Fault::DropWatch));
            let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
            let stream =
                futures_util::stream::unfold((from, false), move |(mut last, mut ended)| {
                    let (state, notify, plural, ns, selector) = (
                        state.clone(),
                        notify.clone(),
                        plural.clone(),
                        ns.clone(),
                        selector.clone(),
                    );
                    async move {
                        loop {
                            if ended {
                                return None;
                            }
                            let notified = notify.notified();
                            let batch: Vec<(u64, String)> = {
                                let st = state.lock().unwrap_or_else(|e| e.into_inner());
                                st.events
                                    .iter()
                                    .filter(|(rv, p, n, _, o)| {
                                        *rv > last
                                            && *p == plural
                                            && (ns.is_empty() || *n == ns)
                                            && selector_matches(o, &selector)
                                    })
                                    .map(|(rv, _, _, t, o)| {
                                        (*rv, format!("{}\n", json!({"type": t, "object": o})))
                                    })
                                    .collect()
                            };
                            last = batch.iter().map(|b| b.0).max().unwrap_or(last);
                            let batch: Vec<String> = batch.into_iter().map(|b| b.1).collect();
                            if !batch.is_empty() {
                                ended = drop_early;
                                return Some((
                                    Ok::<_, actix_web::Error>(Bytes::from(batch.concat())),
                                    (last, ended),
                                ));
                            }
                            if drop_early {
                                return None;
                            }
                            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                                return None;
                            }
                        }
                    }
                });
            HttpResponse::Ok()
                .content_type("application/json")
                .streaming(stream)
        }
        ("GET", None) => {
            log(200);
            let selector = query_param(&query, "labelSelector").unwrap_or_default();
            let st = state.lock().unwrap_or_else(|e| e.into_inner());
            let items: Vec<&Value> = st
                .objects
                .iter()
                .filter(|(k, o)| {
                    k.0 == plural && (ns.is_empty() || k.1 == ns) && selector_matches(o, &selector)
                })
                .map(|(_, o)| o)
                .collect();
            respond(
                200,
                &json!({"kind": format!("{kind}List"), "apiVersion": api_version,
                "metadata": {"resourceVersion": st.rv.to_string()}, "items": items}),
            )
        }
        ("GET", Some(n)) => {
            let st = state.lock().unwrap_or_else(|e| e.into_inner());
            match st.objects.get(&key(&n)) {
                Some(o) => {
                    let o = o.clone();
                    drop(st);
                    log(200);
                    respond(200, &o)
                }
                None => {
                    drop(st);
                    log(404);
                    not_found(&plural, &n)
                }
            }
        }
        ("PATCH", Some(n)) => {
            let force = query_param(&query, "force").is_some_and(|f| f == "true");
            let manager = query_param(&query, "fieldManager").unwrap_or_default();
            if let (
                Some(Fault::Conflict {
                    manager: other,
                    field,
                }),
                false,
            ) = (&fault, force)
            {
                log(409);
                let mut s = status_body(
                    409,
                    "Conflict",
                    &format!(
                        "Apply failed with 1 conflict: conflict with \"{other}\" using {api_version}: {field}"
                    ),
                );
                s["details"] = json!({"name": n, "kind": plural, "causes": [{"reason": "FieldManagerConflict", "message": format!("conflict with \"{other}\" using {api_version}"), "field": field}]});
                return respond(409, &s);
            }
            let Ok(applied) = serde_json::from_slice::<Value>(&body) else {
                log(400);
                return respond(400, &status_body(400, "BadRequest", "body is not JSON"));
            };
            let dry_run = query_param(&query, "dryRun").is_some();
            let delay = {
                let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
                let existing = st.objects.get(&key(&n)).cloned();
                let created = existing.is_none();
                let mut obj = existing.clone().unwrap_or_else(|| json!({"metadata": {}}));
                merge(&mut obj, &applied);
                obj["apiVersion"] = json!(api_version);
                obj["kind"] = json!(kind);
                let changed = existing.as_ref().map(|e| {
                    let mut a = e.clone();
                    let mut b = obj.clone();
                    for v in [&mut a, &mut b] {
                        if let Some(m) = v["metadata"].as_object_mut() {
                            m.remove("managedFields");
                        }
                    }
                    a != b
                });
                let mut obj_out = obj.clone();
                if created || changed == Some(true) {
                    if !dry_run {
                        st.rv += 1;
                    }
                    let rv = st.rv;
                    let generation = obj["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
                    obj["metadata"]["generation"] = json!(generation);
                    obj["metadata"]["resourceVersion"] = json!(rv.to_string());
                    if created {
                        obj["metadata"]["uid"] = json!(format!("uid-{rv}"));
                    }
                    let mut mf: Vec<Value> = obj["metadata"]["managedFields"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                    mf.retain(|e| e["manager"] != json!(manager));
                    mf.push(json!({"manager": manager, "operation": "Apply", "apiVersion": api_version}));
                    obj["metadata"]["managedFields"] = json!(mf);
                    let rollout_now = *kind == "Deployment" && st.rollout_delay.is_none();
                    if rollout_now {
                        roll_out(&mut obj);
                    }
                    obj_out = obj.clone();
                    if !dry_run {
                        st.objects.insert(key(&n), obj.clone());
                        record(
                            &mut st,
                            &plural,
                            &ns,
                            if created { "ADDED" } else { "MODIFIED" },
                            &obj,
                        );
                    }
                }
                let delay =
                    (*kind == "Deployment" && !dry_run && (created || changed == Some(true)))
                        .then_some(st.rollout_delay)
                        .flatten();
                (delay, obj_out)
            };
            notify.notify_waiters();
            let (delay, out) = delay;
            if let Some(d) = delay {
                let (state, notify, plural, ns, n) = (
                    state.clone(),
                    notify.clone(),
                    plural.clone(),
                    ns.clone(),
                    n.clone(),
                );
                actix_web::rt::spawn(async move {
                    tokio::time::sleep(d).await;
                    let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
                    st.rv += 1;
                    let rv = st.rv;
                    let k = (plural.clone(), ns.clone(), n);
                    if let Some(mut o) = st.objects.get(&k).cloned() {
                        roll_out(&mut o);
                        o["metadata"]["resourceVersion"] = json!(rv.to_string());
                        st.objects.insert(k, o.clone());
                        record(&mut st, &plural, &ns, "MODIFIED", &o);
                    }
                    drop(st);
                    notify.notify_waiters();
                });
            }
            log(200);
            respond(200, &out)
        }
        ("DELETE", Some(n)) => {
            let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
            match st.objects.remove(&key(&n)) {
                Some(o) => {
                    st.rv += 1;
                    record(&mut st, &plural, &ns, "DELETED", &o);
                    drop(st);
                    notify.notify_waiters();
                    log(200);
                    respond(
                        200,
                        &json!({"kind": "Status", "apiVersion": "v1", "status": "Success"}),
                    )
                }
                None => {
                    drop(st);
                    log(404);
                    not_found(&plural, &n)
                }
            }
        }
        _ => {
            log(405);
            respond(
                405,
                &status_body(405, "MethodNotAllowed", "not supported by the stand-in"),
            )
        }
    }
}
