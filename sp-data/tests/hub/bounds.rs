//! The review's H6: a tool answer is read only up to `hub.max_response_bytes` — a service
//! that sends without end, or announces too large a body, fails the call (`SP-HUB-006`)
//! once that much has arrived; an answer within the limit is read whole.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::routing::post;
use serde_json::json;
use sp_core::ErrorCode;
use sp_core::hub::ToolInvocation;

use crate::support::{Fixture, service};

/// A service that floods (`/tools/flood`: never ends), announces 2 MiB (`/tools/big`), or
/// answers 512 KiB of JSON (`/tools/fits`).
async fn flooding_service() -> String {
    let app = axum::Router::new()
        .route(
            "/tools/flood",
            post(|| async {
                let chunk = Bytes::from(vec![b' '; 64 * 1024]);
                Body::from_stream(futures::stream::repeat_with(move || {
                    Ok::<_, std::io::Error>(chunk.clone())
                }))
            }),
        )
        .route(
            "/tools/big",
            post(|| async { axum::Json(json!({"text": "x".repeat(2 * 1024 * 1024)})) }),
        )
        .route(
            "/tools/fits",
            post(|| async { axum::Json(json!({"text": "x".repeat(512 * 1024)})) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

pub async fn oversized_answers_fail_the_call(f: &Fixture) {
    let url = flooding_service().await;
    let object = json!({"type": "object"});
    f.hub
        .register(service(json!({
            "name": "hose", "version": "1.0.0", "base_url": url,
            "tools": [
                {"name": "flood", "timeout_ms": 20_000, "input_schema": object},
                {"name": "big", "input_schema": object},
                {"name": "fits", "input_schema": object},
            ]
        })))
        .await
        .unwrap();
    for tool in ["flood", "big"] {
        let call = f.hub.invoke(ToolInvocation::new(tool, json!({})));
        // Refused as soon as the limit is passed, long before the tool's 20 s timeout.
        let err = tokio::time::timeout(Duration::from_secs(10), call)
            .await
            .expect("refused within 10 s")
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::UpstreamError, "{tool}: {err}");
        assert!(
            err.to_string().contains("larger than 1048576 bytes"),
            "{tool}: {err}"
        );
    }
    let fits = f
        .hub
        .invoke(ToolInvocation::new("fits", json!({})))
        .await
        .unwrap();
    assert_eq!(fits.output["text"].as_str().map(str::len), Some(512 * 1024));
}
