use actix_web::{
    dev::Service as _,
    http::{Method, StatusCode, header},
    test,
};
use api::{ApiConfig, AppState};
use serde_json::Value;

fn state(extra: &[(&str, &str)]) -> AppState {
    let vars = extra
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
    AppState::new(ApiConfig::from_vars(vars).unwrap())
}

#[actix_web::test]
async fn status_reports_the_configured_environment() {
    let app = test::init_service(api::app(state(&[("APP_ENV", "staging")]))).await;
    let res = test::call_service(
        &app,
        test::TestRequest::get().uri("/api/v1/status").to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers().get(header::CONTENT_TYPE).unwrap(),
        "application/json"
    );
    let body: Value = test::read_body_json(res).await;
    assert_eq!(body["status"], "ok");
    assert_eq!(body["service"], "api-service");
    assert_eq!(body["environment"], "staging");
}

#[actix_web::test]
async fn healthz_is_plain_text_healthy() {
    let app = test::init_service(api::app(state(&[]))).await;
    let res = test::call_service(&app, test::TestRequest::get().uri("/healthz").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()
            .get(header::CONTENT_TYPE)
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(test::read_body(res).await, "healthy");
}

#[actix_web::test]
async fn readyz_turns_503_when_draining() {
    let st = state(&[]);
    let readiness = st.readiness.clone();
    let app = test::init_service(api::app(st)).await;
    let res = test::call_service(&app, test::TestRequest::get().uri("/readyz").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    readiness.begin_drain();
    let res = test::call_service(&app, test::TestRequest::get().uri("/readyz").to_request()).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    // Liveness is unaffected: the process is healthy, just leaving.
    let res = test::call_service(&app, test::TestRequest::get().uri("/healthz").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[actix_web::test]
async fn metrics_count_requests_by_route_and_status() {
    let app = test::init_service(api::app(state(&[]))).await;
    for _ in 0..3 {
        test::call_service(
            &app,
            test::TestRequest::get().uri("/api/v1/status").to_request(),
        )
        .await;
    }
    test::call_service(&app, test::TestRequest::get().uri("/nope/123").to_request()).await;
    let res = test::call_service(&app, test::TestRequest::get().uri("/metrics").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let text = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
    assert!(
        text.contains(
            r#"api_http_requests_total{route="/api/v1/status",method="GET",status="200"} 3"#
        ),
        "{text}"
    );
    // Unknown paths share one label value: a scanner cannot create a series per URL.
    assert!(
        text.contains(r#"api_http_requests_total{route="unmatched",method="GET",status="404"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"api_http_request_duration_seconds_bucket{le="#),
        "{text}"
    );
}

/// Two applications on one thread, one with the debug routes and one without: each counts
/// the same path under its own route (route patterns are cached per worker and application).
#[actix_web::test]
async fn route_labels_follow_each_applications_own_routes() {
    let metrics_text = |app| async move {
        let res =
            test::call_service(app, test::TestRequest::get().uri("/metrics").to_request()).await;
        String::from_utf8(test::read_body(res).await.to_vec()).unwrap()
    };
    let with_debug = test::init_service(api::app(state(&[("DEBUG_ROUTES", "true")]))).await;
    let without = test::init_service(api::app(state(&[]))).await;
    for round in 0..3 {
        for app in [&with_debug, &without] {
            test::call_service(
                app,
                test::TestRequest::get()
                    .uri("/debug/sleep?ms=0")
                    .to_request(),
            )
            .await;
        }
        let (debug_text, plain_text) = (
            metrics_text(&with_debug).await,
            metrics_text(&without).await,
        );
        let n = round + 1;
        assert!(
            debug_text.contains(&format!(
                r#"api_http_requests_total{{route="/debug/sleep",method="GET",status="200"}} {n}"#
            )),
            "{debug_text}"
        );
        assert!(
            plain_text.contains(&format!(
                r#"api_http_requests_total{{route="unmatched",method="GET",status="404"}} {n}"#
            )),
            "{plain_text}"
        );
        assert!(!plain_text.contains("/debug/sleep"), "{plain_text}");
    }
}

#[actix_web::test]
async fn unknown_path_is_a_json_404() {
    let app = test::init_service(api::app(state(&[]))).await;
    let res = test::call_service(
        &app,
        test::TestRequest::get().uri("/api/v2/nothing").to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        res.headers().get(header::CONTENT_TYPE).unwrap(),
        "application/json"
    );
    let body: Value = test::read_body_json(res).await;
    assert_eq!(body["error"], "Not Found");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("/api/v2/nothing")
    );
}

#[actix_web::test]
async fn wrong_method_is_405_with_allow() {
    let app = test::init_service(api::app(state(&[]))).await;
    for (method, path) in [
        (Method::POST, "/api/v1/status"),
        (Method::DELETE, "/healthz"),
        (Method::PUT, "/readyz"),
    ] {
        let req = test::TestRequest::default()
            .method(method.clone())
            .uri(path)
            .to_request();
        let res = test::call_service(&app, req).await;
        assert_eq!(
            res.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert_eq!(res.headers().get(header::ALLOW).unwrap(), "GET, HEAD");
        let body: Value = test::read_body_json(res).await;
        assert_eq!(body["error"], "Method Not Allowed");
    }
}

#[actix_web::test]
async fn head_is_answered_like_get() {
    let app = test::init_service(api::app(state(&[]))).await;
    let req = test::TestRequest::default()
        .method(Method::HEAD)
        .uri("/api/v1/status")
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[actix_web::test]
async fn a_panicking_handler_answers_json_500_and_the_app_keeps_serving() {
    let app = test::init_service(api::app(state(&[("DEBUG_ROUTES", "true")]))).await;
    // The panic surfaces as an error value; actix' dispatcher answers it with its response.
    let err = match app
        .call(test::TestRequest::get().uri("/debug/panic").to_request())
        .await
    {
        Ok(res) => panic!("expected the panic as an error, got {}", res.status()),
        Err(err) => err,
    };
    let res = err.error_response();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        res.headers().get(header::CONTENT_TYPE).unwrap(),
        "application/json"
    );
    let body = actix_web::body::to_bytes(res.into_body()).await.unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"], "Internal Server Error");
    let res = test::call_service(
        &app,
        test::TestRequest::get().uri("/api/v1/status").to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[actix_web::test]
async fn debug_routes_are_absent_by_default() {
    let app = test::init_service(api::app(state(&[]))).await;
    let res = test::call_service(
        &app,
        test::TestRequest::get().uri("/debug/panic").to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn limits_answer_414_431_413() {
    let app = test::init_service(api::app(state(&[("MAX_BODY_SIZE", "1KiB")]))).await;
    let long_uri = format!("/api/v1/status?q={}", "a".repeat(9000));
    let res = test::call_service(&app, test::TestRequest::get().uri(&long_uri).to_request()).await;
    assert_eq!(res.status(), StatusCode::URI_TOO_LONG);

    let req = test::TestRequest::get()
        .uri("/api/v1/status")
        .insert_header(("x-big", "b".repeat(17 * 1024)))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);

    let req = test::TestRequest::post()
        .uri("/api/v1/status")
        .insert_header((header::CONTENT_LENGTH, "2048"))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[actix_web::test]
async fn no_version_banner_and_a_request_id() {
    let app = test::init_service(api::app(state(&[]))).await;
    let res = test::call_service(&app, test::TestRequest::get().uri("/healthz").to_request()).await;
    assert!(res.headers().get(header::SERVER).is_none());
    assert!(!res.headers().get("x-request-id").unwrap().is_empty());
    let req = test::TestRequest::get()
        .uri("/healthz")
        .insert_header(("x-request-id", "trace-42"))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.headers().get("x-request-id").unwrap(), "trace-42");
    let req = test::TestRequest::get()
        .uri("/healthz")
        .insert_header(("x-request-id", "bad id\"with quotes"))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_ne!(
        res.headers().get("x-request-id").unwrap(),
        "bad id\"with quotes"
    );
}
