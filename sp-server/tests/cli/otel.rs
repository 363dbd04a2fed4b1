//! Trace export (the `otel` feature, on in the tests): `sp serve` with `otel.endpoint` posts
//! its spans over OTLP/HTTP to a receiver this test runs — a request span whose parent is the
//! caller's `traceparent`, and under it `tool.call`, `store.query` and `model.call` — and the
//! tool's service is told the exported request span as its parent.

use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use prost::Message as _;
use serde_json::{Value, json};

use crate::process::{Server, drain, sp, start};

const ADMIN: &str = "otel-admin-key-5c2e9a7d41f8";

/// One received span: its name, ids (hex) and string-rendered attributes.
#[derive(Debug, Clone)]
struct Received {
    name: String,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    attributes: Vec<(String, String)>,
    service_name: String,
}

impl Received {
    fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn render(value: Option<&AnyValue>) -> String {
    match value {
        Some(AnyValue::StringValue(s)) => s.clone(),
        Some(AnyValue::IntValue(i)) => i.to_string(),
        Some(AnyValue::BoolValue(b)) => b.to_string(),
        Some(AnyValue::DoubleValue(d)) => d.to_string(),
        other => format!("{other:?}"),
    }
}

/// An OTLP/HTTP receiver on a free port: decodes each protobuf export into `spans`.
async fn receiver(spans: Arc<Mutex<Vec<Received>>>) -> String {
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: axum::body::Bytes| {
            let spans = spans.clone();
            async move {
                let Ok(export) = ExportTraceServiceRequest::decode(body) else {
                    return axum::http::StatusCode::BAD_REQUEST;
                };
                let mut spans = spans.lock().expect("spans");
                for resource in export.resource_spans {
                    let service_name = resource
                        .resource
                        .iter()
                        .flat_map(|r| &r.attributes)
                        .find(|kv| kv.key == "service.name")
                        .map(|kv| render(kv.value.as_ref().and_then(|v| v.value.as_ref())))
                        .unwrap_or_default();
                    for scope in resource.scope_spans {
                        for span in scope.spans {
                            spans.push(Received {
                                name: span.name,
                                trace_id: hex(&span.trace_id),
                                span_id: hex(&span.span_id),
                                parent_span_id: hex(&span.parent_span_id),
                                attributes: span
                                    .attributes
                                    .iter()
                                    .map(|kv| {
                                        (
                                            kv.key.clone(),
                                            render(
                                                kv.value.as_ref().and_then(|v| v.value.as_ref()),
                                            ),
                                        )
                                    })
                                    .collect(),
                                service_name: service_name.clone(),
                            });
                        }
                    }
                }
                axum::http::StatusCode::OK
            }
        }),
    );
    sp_tests::serve_loopback(app).await
}

/// A tool service whose `echo` answers with the `traceparent` it was sent.
async fn echo_service() -> String {
    let app = axum::Router::new().route(
        "/tools/echo",
        axum::routing::post(|headers: axum::http::HeaderMap| async move {
            let parent = headers
                .get("traceparent")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            axum::Json(json!({"traceparent": parent}))
        }),
    );
    sp_tests::serve_loopback(app).await
}

async fn post(client: &reqwest::Client, url: String, traceparent: &str, body: Value) -> Value {
    let response = client
        .post(url)
        .bearer_auth(ADMIN)
        .header("traceparent", traceparent)
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = response.status();
    let text = response.text().await.expect("body");
    assert!(status.is_success(), "{status}: {text}");
    serde_json::from_str(&text).expect("JSON")
}

/// Ends the server with SIGTERM, as an orchestrator would, and waits for it: a graceful stop
/// sends the last batch of spans.
fn stop(mut server: Server) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exited = server.0.wait().expect("wait");
    assert!(exited.success(), "{exited:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_reach_an_otlp_receiver_with_the_callers_trace() {
    let _gate = sp_tests::model_gate().await;
    let spans = Arc::new(Mutex::new(Vec::new()));
    let collector = receiver(spans.clone()).await;
    let tools = echo_service().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = sp(&dir.path().join("data"));
    cmd.env("SP_AUTH__ADMIN_KEY", ADMIN)
        .env("SP_OTEL__ENDPOINT", &collector)
        .env("SP_OTEL__SERVICE_NAME", "sp-under-test")
        .env("SP_MODEL__PATH", sp_tests::service_url("SP_TEST_MODEL"))
        .env("SP_MODEL__SLOTS", "1")
        // Batches leave every 200 ms instead of every 5 s.
        .env("OTEL_BSP_SCHEDULE_DELAY", "200");
    let (server, addr, log) = start(&mut cmd);
    let log = drain(log);
    let client = crate::process::http_client();
    let base = format!("http://{addr}");

    let tool_trace = "0af7651916cd43dd8448eb211c80319c";
    let tool_caller = "b7ad6b7169203331";
    let service = json!({"name": "echo", "version": "1.0.0", "base_url": tools,
        "tools": [{"name": "echo", "input_schema": {"type": "object"}}]});
    post(
        &client,
        format!("{base}/v1/services"),
        "00-11111111111111111111111111111111-2222222222222222-01",
        service,
    )
    .await;
    let invoked = post(
        &client,
        format!("{base}/v1/tools/echo/invoke"),
        &format!("00-{tool_trace}-{tool_caller}-01"),
        json!({"arguments": {}}),
    )
    .await;
    let sent = invoked["output"]["traceparent"]
        .as_str()
        .unwrap_or_default();
    let hop = sp_core::trace::TraceContext::parse(sent).expect("the service got a traceparent");
    assert_eq!(hop.trace_id_hex(), tool_trace, "{sent}");

    let search_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    post(
        &client,
        format!("{base}/v1/search"),
        &format!("00-{search_trace}-00f067aa0ba902b7-01"),
        json!({"query": "anything", "mode": "keyword"}),
    )
    .await;

    let model_path = sp_tests::service_url("SP_TEST_MODEL");
    let model_name = std::path::Path::new(&model_path)
        .file_stem()
        .expect("a model file")
        .to_string_lossy()
        .into_owned();
    let chat_trace = "5ee5ee5ee5ee5ee5ee5ee5ee5ee5ee5e";
    let chat = post(
        &client,
        format!("{base}/v1/chat/completions"),
        &format!("00-{chat_trace}-1234567890abcdef-01"),
        json!({"model": model_name, "max_tokens": 3,
            "messages": [{"role": "user", "content": "Say hi."}]}),
    )
    .await;
    assert!(
        chat["usage"]["completion_tokens"].as_u64() > Some(0),
        "{chat}"
    );

    stop(server);
    let log = log.join().expect("log");
    let spans = spans.lock().expect("spans").clone();
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    let in_trace = |trace: &str, name: &str| {
        spans
            .iter()
            .find(|s| s.trace_id == trace && s.name == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name} span in trace {trace}: {names:?}\n{log}"))
    };

    // The tool call: the request span is the caller's child, the tool call the request's,
    // and the service was told the request span as its parent.
    let request = in_trace(tool_trace, "request");
    assert_eq!(request.parent_span_id, tool_caller);
    assert_eq!(request.attribute("path"), Some("/v1/tools/echo/invoke"));
    assert_eq!(request.service_name, "sp-under-test");
    let tool = in_trace(tool_trace, "tool.call");
    assert_eq!(tool.parent_span_id, request.span_id);
    assert_eq!(tool.attribute("tool"), Some("echo"));
    assert_eq!(tool.attribute("service"), Some("echo"));
    assert_eq!(
        sent.split('-').nth(2),
        Some(request.span_id.as_str()),
        "the hop sent on is the exported request span"
    );

    let request = in_trace(search_trace, "request");
    let store = in_trace(search_trace, "store.query");
    assert_eq!(store.parent_span_id, request.span_id);
    assert_eq!(store.attribute("operation"), Some("keyword_search"));
    assert_eq!(store.attribute("store"), Some("documents"));

    let request = in_trace(chat_trace, "request");
    let model = in_trace(chat_trace, "model.call");
    let mut ancestor = model.parent_span_id.clone();
    // The model call may sit under spans of the route; it is the request's descendant.
    while ancestor != request.span_id {
        ancestor = spans
            .iter()
            .find(|s| s.span_id == ancestor)
            .map(|s| s.parent_span_id.clone())
            .unwrap_or_else(|| panic!("model.call is not under the request: {spans:?}"));
    }
    assert_eq!(model.attribute("kind"), Some("generate"));
    assert_eq!(model.attribute("model"), Some(model_name.as_str()));
    let completion: u64 = model
        .attribute("completion_tokens")
        .and_then(|n| n.parse().ok())
        .expect("tokens recorded");
    assert_eq!(
        Some(completion),
        chat["usage"]["completion_tokens"].as_u64()
    );
    // Log lines carry the exported trace id.
    assert!(
        log.contains(&format!("\"trace_id\":\"{chat_trace}\"")),
        "{log}"
    );
}
