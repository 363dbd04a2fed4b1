//! The event log over HTTP: append, query, replay, bad input with its codes, and the live SSE
//! feed resuming from `Last-Event-ID`.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use futures::StreamExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::support::Api;

#[tokio::test]
async fn append_query_replay_and_follow() {
    let api = Api::start(None, |config| config.events.max_data_bytes = 2048).await;
    let key = api.key(&["events"], None).await;
    let reader = api.key(&["documents:read"], None).await;
    for n in 1..=3 {
        let event = json!({"stream": "orders", "type": "order.placed", "subject": format!("order/{n}"),
            "correlationid": "req-1", "data": {"n": n}});
        let stored = api
            .call(Method::POST, "/v1/events", Some(&key), Some(event))
            .await;
        assert_eq!(stored.status, StatusCode::CREATED, "{}", stored.text);
        assert_eq!(stored.body["offset"], n);
        assert_eq!(stored.body["specversion"], "1.0");
    }
    let batch = json!({"events": [
        {"stream": "orders", "type": "order.paid", "data": {"n": 4}},
        {"stream": "orders", "type": "order.paid", "data": {"n": 5}}
    ]});
    let stored = api
        .call(Method::POST, "/v1/events/batch", Some(&key), Some(batch))
        .await;
    assert_eq!(stored.status, StatusCode::CREATED, "{}", stored.text);
    assert_eq!(stored.body["events"][1]["offset"], 5);
    let refused = api
        .call(Method::GET, "/v1/events", Some(&reader), None)
        .await;
    assert_eq!(refused.code(), "SP-AUTH-002");

    let n = |reply: &crate::support::Reply| -> Vec<u64> {
        reply.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|e| e["data"]["n"].as_u64().expect("n"))
            .collect()
    };
    let page = api
        .call(
            Method::GET,
            "/v1/events?stream=orders&limit=2",
            Some(&key),
            None,
        )
        .await;
    assert_eq!(n(&page), [1, 2]);
    let cursor = page.body["next_cursor"].as_str().expect("cursor");
    let next = api
        .call(
            Method::GET,
            &format!("/v1/events?stream=orders&limit=2&cursor={cursor}"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(n(&next), [3, 4]);
    let replay = api
        .call(
            Method::GET,
            "/v1/events?stream=orders&from_offset=4",
            Some(&key),
            None,
        )
        .await;
    assert_eq!(n(&replay), [4, 5]);
    let paid = api
        .call(Method::GET, "/v1/events?type=order.paid", Some(&key), None)
        .await;
    assert_eq!(n(&paid), [4, 5]);

    for (path, body, status, code) in [
        (
            "/v1/events",
            Some(json!({"stream": "orders", "data": {}})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "",
        ),
        (
            "/v1/events",
            Some(json!({"stream": "orders", "type": "big", "data": {"x": "y".repeat(3000)}})),
            StatusCode::PAYLOAD_TOO_LARGE,
            "SP-EVT-001",
        ),
        (
            "/v1/events",
            Some(json!({"stream": "bad stream", "type": "x"})),
            StatusCode::BAD_REQUEST,
            "SP-VAL-001",
        ),
    ] {
        let reply = api.call(Method::POST, path, Some(&key), body).await;
        assert_eq!(reply.status.as_u16() / 100, 4, "{}", reply.text);
        if !code.is_empty() {
            assert_eq!(
                (reply.status, reply.code()),
                (status, code),
                "{}",
                reply.text
            );
        }
    }
    for (path, status, code) in [
        (
            "/v1/events?stream=nothing",
            StatusCode::NOT_FOUND,
            "SP-EVT-002",
        ),
        (
            "/v1/events?stream=orders&from_offset=9",
            StatusCode::BAD_REQUEST,
            "SP-EVT-003",
        ),
        (
            "/v1/events?from_offset=2",
            StatusCode::BAD_REQUEST,
            "SP-VAL-001",
        ),
    ] {
        let reply = api.call(Method::GET, path, Some(&key), None).await;
        assert_eq!(
            (reply.status, reply.code()),
            (status, code),
            "{path}: {}",
            reply.text
        );
    }
    let still = api
        .call(Method::GET, "/v1/events?stream=orders", Some(&key), None)
        .await;
    assert_eq!(n(&still), [1, 2, 3, 4, 5], "refused events stored nothing");

    // Live: a client that saw offset 3 reconnects, gets 4 and 5 replayed, then what comes.
    let request = Request::builder()
        .uri("/v1/events/live?stream=orders")
        .header("authorization", format!("Bearer {key}"))
        .header("last-event-id", "3")
        .body(Body::empty())
        .expect("request");
    let response = api.router.clone().oneshot(request).await.expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body().into_data_stream();
    let appended = api
        .call(
            Method::POST,
            "/v1/events",
            Some(&key),
            Some(json!({"stream": "orders", "type": "order.shipped", "data": {"n": 6}})),
        )
        .await;
    assert_eq!(appended.status, StatusCode::CREATED);
    let mut seen: Vec<Value> = Vec::new();
    let mut text = String::new();
    while seen.len() < 3 {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), body.next())
            .await
            .expect("an event in time")
            .expect("open")
            .expect("chunk");
        text.push_str(&String::from_utf8_lossy(&chunk));
        seen = text
            .lines()
            .filter_map(|line| line.strip_prefix("data: "))
            .map(|data| serde_json::from_str(data).expect("json"))
            .collect();
    }
    let offsets: Vec<u64> = seen
        .iter()
        .map(|e| e["offset"].as_u64().expect("offset"))
        .collect();
    assert_eq!(offsets, [4, 5, 6], "{text}");
    assert!(text.contains("id: 6"), "{text}");

    // The largest offset has no successor: a coded 400, not an overflow (review finding L5).
    let request = Request::builder()
        .uri("/v1/events/live?stream=orders")
        .header("authorization", format!("Bearer {key}"))
        .header("last-event-id", u64::MAX.to_string())
        .body(Body::empty())
        .expect("request");
    let response = api.router.clone().oneshot(request).await.expect("response");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_platform_records_what_it_does() {
    let api = Api::start(None, |_| {}).await;
    let admin = crate::support::ADMIN;
    let key = api.key(&["documents:write", "contexts"], None).await;
    let ingested = api
        .call(
            Method::POST,
            "/v1/documents",
            Some(&key),
            Some(json!({"title": "Audit", "content": "Who did what, and when."})),
        )
        .await;
    assert_eq!(ingested.status, StatusCode::CREATED, "{}", ingested.text);
    let request_id = ingested.headers["x-request-id"]
        .to_str()
        .expect("id")
        .to_owned();
    let doc = ingested.body["document"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let deleted = api
        .call(
            Method::DELETE,
            &format!("/v1/documents/{doc}"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let context = api
        .call(Method::POST, "/v1/contexts", Some(&key), Some(json!({})))
        .await;
    assert_eq!(context.status, StatusCode::CREATED, "{}", context.text);
    let key_id = key.split('_').nth(1).expect("key id").to_owned();
    let revoked = api
        .call(
            Method::DELETE,
            &format!("/v1/keys/{key_id}"),
            Some(admin),
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text);

    let stream = |name: &str| format!("/v1/events?stream={name}");
    let types = |reply: &crate::support::Reply| -> Vec<String> {
        reply.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|e| e["type"].as_str().expect("type").to_owned())
            .collect()
    };
    let documents = api
        .call(Method::GET, &stream("documents"), Some(admin), None)
        .await;
    assert_eq!(
        types(&documents),
        ["document.ingested", "document.deleted"],
        "{}",
        documents.text
    );
    let first = &documents.body["items"][0];
    assert_eq!(first["source"], "sp");
    assert_eq!(first["subject"], format!("documents/{doc}"));
    assert_eq!(
        first["correlationid"], request_id,
        "the request id correlates"
    );
    assert_eq!(first["data"]["by"], key_id);
    let contexts = api
        .call(Method::GET, &stream("contexts"), Some(admin), None)
        .await;
    assert_eq!(types(&contexts), ["context.created"]);
    // Keys are the operator's business: recorded in the admins-only `sp-operator` namespace
    // (review finding L11), absent to anyone else — even with `events`.
    let operator = "/v1/events?namespace=sp-operator&stream=keys";
    let keys = api.call(Method::GET, operator, Some(admin), None).await;
    assert_eq!(
        types(&keys),
        ["key.created", "key.revoked"],
        "{}",
        keys.text
    );
    let reader = api.key(&["events"], None).await;
    for path in [
        operator,
        "/v1/events/live?namespace=sp-operator&stream=keys",
    ] {
        let hidden = api.call(Method::GET, path, Some(&reader), None).await;
        assert_eq!(
            (hidden.status, hidden.code()),
            (StatusCode::NOT_FOUND, "SP-RES-001"),
            "{path}: {}",
            hidden.text
        );
    }
    let default_keys = api
        .call(Method::GET, &stream("keys"), Some(&reader), None)
        .await;
    assert_eq!(
        default_keys.code(),
        "SP-EVT-002",
        "nothing in `default`: {}",
        default_keys.text
    );

    // A caller cannot pass an event off as the platform's (review finding M5): not with the
    // `sp` source, not in a platform stream, not inside a batch; nothing is stored.
    let writer = api.key(&["events"], None).await;
    for forged in [
        json!({"stream": "keys", "type": "key.revoked", "source": "app", "data": {"id": key_id}}),
        json!({"stream": "orders", "type": "order.placed", "source": "sp"}),
    ] {
        let refused = api
            .call(
                Method::POST,
                "/v1/events",
                Some(&writer),
                Some(forged.clone()),
            )
            .await;
        assert_eq!(
            (refused.status, refused.code()),
            (StatusCode::BAD_REQUEST, "SP-VAL-001"),
            "{forged}: {}",
            refused.text
        );
        let batch = json!({"events": [{"stream": "orders", "type": "ok"}, forged]});
        let refused = api
            .call(Method::POST, "/v1/events/batch", Some(&writer), Some(batch))
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);
    }
    let keys = api.call(Method::GET, operator, Some(admin), None).await;
    // The reader's and the writer's key.created are the only new ones.
    assert_eq!(
        types(&keys),
        ["key.created", "key.revoked", "key.created", "key.created"],
        "nothing forged was stored: {}",
        keys.text
    );
}

#[tokio::test]
async fn a_websocket_replays_then_follows() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let api = Api::start(None, |_| {}).await;
    let key = api.key(&["events"], None).await;
    for n in 1..=2 {
        let event = json!({"stream": "ws", "type": "tick", "data": {"n": n}});
        let stored = api
            .call(Method::POST, "/v1/events", Some(&key), Some(event))
            .await;
        assert_eq!(stored.status, StatusCode::CREATED);
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(sp_server::serve(
        listener,
        api.state.clone(),
        std::future::pending(),
    ));

    let connect = |path: &str, token: &str| {
        let mut request = format!("ws://{addr}{path}")
            .into_client_request()
            .expect("request");
        request.headers_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("header"),
        );
        tokio_tungstenite::connect_async(request)
    };
    let refused = connect("/v1/events/ws?stream=nothing", &key).await;
    assert!(
        refused.is_err(),
        "an unknown stream is refused before the upgrade"
    );

    let (mut socket, _) = connect("/v1/events/ws?stream=ws&from_offset=2", &key)
        .await
        .expect("upgrade");
    let event = json!({"stream": "ws", "type": "tick", "data": {"n": 3}});
    let stored = api
        .call(Method::POST, "/v1/events", Some(&key), Some(event))
        .await;
    assert_eq!(stored.status, StatusCode::CREATED);
    let mut offsets = Vec::new();
    while offsets.len() < 2 {
        let message = tokio::time::timeout(std::time::Duration::from_secs(5), socket.next())
            .await
            .expect("a message in time")
            .expect("open")
            .expect("message");
        let event: Value = serde_json::from_str(message.to_text().expect("text")).expect("json");
        offsets.push(event["offset"].as_u64().expect("offset"));
    }
    assert_eq!(offsets, [2, 3], "offset 2 replayed, 3 live");

    // A client message past 4 KiB ends the connection instead of being buffered (review
    // finding M10: the default buffered up to 64 MiB per message).
    use futures::SinkExt as _;
    let big = tokio_tungstenite::tungstenite::Message::Text("x".repeat(64 * 1024).into());
    let _ = socket.send(big).await;
    let ended = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            match socket.next().await {
                None | Some(Err(_)) => return true,
                Some(Ok(message)) if message.is_close() => return true,
                Some(Ok(_)) => {}
            }
        }
    })
    .await
    .expect("closed in time");
    assert!(ended);
}
