//! Model-aware routing between replicas on one PostgreSQL: A serves SmolLM2, B serves Gemma 3,
//! C serves SmolLM2 too, and D has no model and refuses instead of forwarding. Gemma asked of A
//! is answered by B (streams too); a context's turns land on one replica whichever replica they
//! are sent to; D answers 503 naming B.

use std::time::{Duration, Instant};

use super::process::{Server, create_key, drain, free_loopback_addr, sp, start_on};

struct Replica {
    _server: Server,
    addr: String,
    _log: std::thread::JoinHandle<String>,
}

fn replica(
    dir: &std::path::Path,
    database: &str,
    schema: &str,
    model: Option<&str>,
    refuse: bool,
) -> Replica {
    let listen = free_loopback_addr();
    let mut cmd = sp(dir);
    cmd.env("DATABASE_URL", database)
        .env("SP_DATABASE__SCHEMA", schema)
        .env("SP_CLUSTER__ADVERTISE_URL", format!("http://{listen}"))
        .env("SP_CLUSTER__HEARTBEAT_MS", "300")
        // One knowledge store: every replica embeds with the same model (the store refuses
        // another's dimension).
        .env(
            "SP_MODEL__EMBEDDING_PATH",
            sp_tests::service_url("SP_TEST_EMBEDDER"),
        );
    if let Some(model) = model {
        cmd.env("SP_MODEL__PATH", model);
    }
    if refuse {
        cmd.env("SP_CLUSTER__MISSING_MODEL", "refuse");
    }
    let (server, addr, log) = start_on(&mut cmd, &listen);
    Replica {
        _server: server,
        addr,
        _log: drain(log),
    }
}

/// The one model `addr` lists.
async fn model_of(addr: &str, auth: &str) -> String {
    let models = sp_tests::http(addr, "GET", "/v1/models", &[("authorization", auth)], b"")
        .await
        .expect("models");
    assert_eq!(models.status, 200, "{}", models.body);
    models.json()["data"][0]["id"]
        .as_str()
        .expect("a model id")
        .to_owned()
}

/// A short completion (the Gemma test model has no chat template).
async fn complete(addr: &str, auth: &str, model: &str, stream: bool) -> sp_tests::HttpResponse {
    let body = serde_json::json!({
        "model": model, "stream": stream, "max_tokens": 4, "temperature": 0,
        "prompt": "The capital of France is",
    });
    sp_tests::http(
        addr,
        "POST",
        "/v1/completions",
        &[
            ("authorization", auth),
            ("content-type", "application/json"),
        ],
        body.to_string().as_bytes(),
    )
    .await
    .expect("chat")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_held_by_another_replica_is_answered_through_any_replica() {
    let _gate = sp_tests::model_gate().await;
    let database = sp_tests::service_url("DATABASE_URL");
    let (smol, gemma) = (
        sp_tests::service_url("SP_TEST_MODEL"),
        sp_tests::service_url("SP_TEST_SECOND_MODEL"),
    );
    let schema = format!("replicas_{}", sp_core::Id::new().as_uuid().simple());
    let dir = tempfile::tempdir().expect("tempdir");
    let mut keys = sp(dir.path());
    keys.env("DATABASE_URL", &database)
        .env("SP_DATABASE__SCHEMA", &schema);
    let token = create_key(&mut keys, "replicas", "inference,contexts,admin", &[]);
    let auth = format!("Bearer {token}");

    let a = replica(dir.path(), &database, &schema, Some(&smol), false);
    let b = replica(dir.path(), &database, &schema, Some(&gemma), false);
    let c = replica(dir.path(), &database, &schema, Some(&smol), false);
    let d = replica(dir.path(), &database, &schema, None, true);
    let gemma_name = model_of(&b.addr, &auth).await;
    let smol_name = model_of(&a.addr, &auth).await;
    assert_ne!(gemma_name, smol_name);

    // Every replica sees the four heartbeats, each with what it serves.
    let started = Instant::now();
    let replicas = loop {
        let listed = sp_tests::http(
            &a.addr,
            "GET",
            "/v1/replicas",
            &[("authorization", &auth)],
            b"",
        )
        .await
        .expect("replicas");
        assert_eq!(listed.status, 200, "{}", listed.body);
        let body = listed.json();
        if body["replicas"].as_array().map(Vec::len) == Some(4) {
            break body;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(replicas["enabled"], true);
    let serving = |model: &str| {
        replicas["replicas"]
            .as_array()
            .expect("replicas")
            .iter()
            .filter(|r| {
                r["models"]
                    .as_array()
                    .is_some_and(|m| m.iter().any(|n| n == model))
            })
            .count()
    };
    assert_eq!(
        (serving(&smol_name), serving(&gemma_name)),
        (2, 1),
        "{replicas}"
    );

    // Gemma asked of A: answered by B.
    let reply = complete(&a.addr, &auth, &gemma_name, false).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["model"], gemma_name.as_str(), "{}", reply.body);
    assert!(
        reply.header("x-sp-served-by").is_some(),
        "{:?}",
        reply.headers
    );
    // A stream is relayed as it comes, to its end.
    let streamed = complete(&a.addr, &auth, &gemma_name, true).await;
    assert_eq!(streamed.status, 200, "{}", streamed.body);
    assert!(streamed.body.contains("data: [DONE]"), "{}", streamed.body);
    assert!(streamed.body.contains(&gemma_name), "{}", streamed.body);
    // A model nobody serves is A's own 404, listing A's catalogue.
    let unknown = complete(&a.addr, &auth, "no-such-model", false).await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    assert_eq!(unknown.json()["error"]["code"], "SP-LLM-007");
    // A model A serves itself never leaves A.
    let local = complete(&a.addr, &auth, &smol_name, false).await;
    assert_eq!(local.status, 200, "{}", local.body);
    assert!(
        local.header("x-sp-served-by").is_none(),
        "{:?}",
        local.headers
    );
    // D refuses by configuration: 503, and where the model is.
    let refused = complete(&d.addr, &auth, &gemma_name, false).await;
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert_eq!(refused.json()["error"]["code"], "SP-GEN-002");
    assert_eq!(
        refused.header("location"),
        Some(format!("http://{}", b.addr).as_str())
    );

    // A context's turns land on one replica (A or C, the two holding its model), whichever
    // of them the turn is sent to.
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let mut homes = std::collections::BTreeSet::new();
    for n in 0..6 {
        let created = sp_tests::http(&a.addr, "POST", "/v1/contexts", &headers, b"{}")
            .await
            .expect("context");
        assert_eq!(created.status, 201, "{}", created.body);
        let id = created.json()["id"].as_str().expect("id").to_owned();
        let path = format!("/v1/contexts/{id}/chat");
        let turn = format!(r#"{{"content":"Turn {n}.","max_tokens":2}}"#);
        let mut served = Vec::new();
        for via in [&a.addr, &c.addr] {
            let reply = sp_tests::http(via, "POST", &path, &headers, turn.as_bytes())
                .await
                .expect("turn");
            assert_eq!(reply.status, 200, "{}", reply.body);
            // Forwarded: the home replica's id; served where it was sent: none.
            served.push((
                via.clone(),
                reply.header("x-sp-served-by").map(str::to_owned),
            ));
        }
        let forwarded: Vec<_> = served.iter().filter(|(_, by)| by.is_some()).collect();
        assert_eq!(forwarded.len(), 1, "one of A and C is the home: {served:?}");
        let home = served
            .iter()
            .find(|(_, by)| by.is_none())
            .map(|(via, _)| via.clone())
            .expect("home");
        homes.insert(home);
    }
    println!("six contexts' homes: {homes:?}");

    let pool = sqlx::PgPool::connect(&database).await.expect("connect");
    let drop = format!("DROP SCHEMA \"{schema}\" CASCADE");
    let _ = sqlx::query(sqlx::AssertSqlSafe(drop)).execute(&pool).await;
}
