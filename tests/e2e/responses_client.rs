//! The official `openai` package's Responses API against a running server, unmodified: a
//! three-turn chain by `previous_response_id` (the third is shown the first two, and reads
//! the chain's prefix from the cache), retrieval, streaming, background with poll and cancel,
//! a function tool round trip, a built-in run by the server (an `McpCall` to the client),
//! `store: false`, refusals — and after a restart, the chain goes on.

use crate::served::Served;

#[tokio::test]
async fn the_openai_responses_api_chains_across_a_restart() {
    let _gate = sp_tests::model_gate().await;
    let served = Served::start(&["inference", "events", "contexts"], 2048).await;
    let model = served.model_id().await;
    let base = format!("http://{}/v1", served.addr);
    let seen = served
        .python(
            "responses_client.py",
            &[&base, &served.token, &model, "first"],
        )
        .await;
    let ids = seen["ids"].as_array().expect("ids");
    assert!(
        ids.iter()
            .all(|id| id.as_str().is_some_and(|id| id.starts_with("resp_")))
    );
    assert_eq!(seen["object"], "response");
    assert!(
        matches!(seen["status"].as_str(), Some("completed" | "incomplete")),
        "{seen}"
    );
    // Each turn's prompt holds the turns before it, and the third's begins as the second's did.
    let input: Vec<u64> = seen["input_tokens"]
        .as_array()
        .expect("input tokens")
        .iter()
        .filter_map(serde_json::Value::as_u64)
        .collect();
    assert!(input[0] < input[1] && input[1] < input[2], "{seen}");
    assert!(
        seen["cached_tokens"].as_u64().is_some_and(|n| n > 0),
        "{seen}"
    );
    // What the third turn was shown holds the first two turns whole, replies included (the
    // 135M test model is too small to answer from them reliably, so the count is the proof).
    let output: Vec<u64> = seen["output_tokens"]
        .as_array()
        .expect("output tokens")
        .iter()
        .filter_map(serde_json::Value::as_u64)
        .collect();
    assert!(input[1] > input[0] + output[0], "{seen}");
    assert!(input[2] > input[1] + output[1], "{seen}");
    assert_eq!(seen["retrieved"]["id"], ids[2], "{seen}");
    assert_eq!(seen["retrieved"]["text"], seen["texts"][2], "{seen}");
    assert_eq!(seen["retrieved"]["previous"], ids[1], "{seen}");
    assert_eq!(seen["call"]["name"], "get_weather", "{seen}");
    assert!(seen["call"]["arguments"]["city"].is_string(), "{seen}");
    assert_eq!(
        seen["answer_types"],
        serde_json::json!(["message"]),
        "{seen}"
    );
    assert!(
        seen["answer"].as_str().is_some_and(|a| !a.is_empty()),
        "{seen}"
    );
    // A built-in the server ran: the client reads its call as its own `McpCall` type.
    let tool = &seen["server_tool"];
    assert_eq!(tool["classes"], serde_json::json!(["McpCall"]), "{seen}");
    assert_eq!(
        tool["names"],
        serde_json::json!(["memory_append"]),
        "{seen}"
    );
    assert_eq!(tool["labels"], serde_json::json!(["builtin"]), "{seen}");
    assert!(tool["run"].is_string(), "{seen}");
    // Streamed: the typed events in order, the deltas make the text, and what was streamed
    // is what is stored.
    let kinds: Vec<&str> = seen["stream_kinds"]
        .as_array()
        .expect("kinds")
        .iter()
        .filter_map(serde_json::Value::as_str)
        .collect();
    assert_eq!(
        &kinds[..2],
        ["response.created", "response.in_progress"],
        "{seen}"
    );
    assert!(kinds.contains(&"response.output_text.delta"), "{seen}");
    assert!(
        matches!(
            kinds.last(),
            Some(&"response.completed" | &"response.incomplete")
        ),
        "{seen}"
    );
    assert_eq!(seen["stream_final"]["text"], seen["stream_text"], "{seen}");
    assert!(
        seen["stream_text"].as_str().is_some_and(|t| !t.is_empty()),
        "{seen}"
    );
    assert_eq!(seen["stream_retrieved"], seen["stream_text"], "{seen}");
    assert_eq!(seen["stream_call"], seen["call"], "{seen}");
    assert_eq!(seen["background_first"], "queued", "{seen}");
    assert!(
        matches!(
            seen["background_final"]["status"].as_str(),
            Some("completed" | "incomplete")
        ),
        "{seen}"
    );
    assert!(
        seen["background_final"]["text"]
            .as_str()
            .is_some_and(|t| !t.is_empty()),
        "{seen}"
    );
    assert_eq!(seen["background_final"]["previous"], ids[0], "{seen}");
    assert_eq!(seen["cancelled"], "cancelled", "{seen}");
    assert_eq!(seen["cancelled_polled"], "cancelled", "{seen}");
    assert_eq!(seen["cancel_finished"], "SP-RES-002", "{seen}");
    assert_eq!(seen["delete_built_on"], "SP-RES-002", "{seen}");
    assert_eq!(seen["deleted"], "SP-RES-001", "{seen}");
    assert_eq!(seen["deleted_cancelled"], "SP-RES-001", "{seen}");
    assert_eq!(seen["unstored"], "SP-RES-001", "{seen}");
    assert_eq!(seen["background"], "SP-VAL-001", "{seen}");
    assert_eq!(seen["unknown_previous"], "SP-RES-001", "{seen}");

    let third = ids[2].as_str().expect("id").to_owned();
    let served = served.restart().await;
    let base = format!("http://{}/v1", served.addr);
    let again = served
        .python(
            "responses_client.py",
            &[&base, &served.token, &model, "again", &third],
        )
        .await;
    assert!(
        matches!(again["status"].as_str(), Some("completed" | "incomplete")),
        "{again}"
    );
    assert_eq!(again["previous"], third.as_str());
    assert!(
        again["input_tokens"].as_u64() > Some(input[2]),
        "the restarted server continued the whole chain: {again}"
    );
    assert!(
        again["cached_tokens"].as_u64() > Some(input[2] / 2),
        "the chain's KV state came back from disk, not a prefill: {again}"
    );
    served.stop().await;
}
