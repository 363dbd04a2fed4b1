//! The official `openai` Python package against a running server, unmodified: models, chat,
//! streamed chat, embeddings, completions, and its exceptions for our errors.

use crate::served::Served;

#[tokio::test]
async fn the_openai_python_package_works_against_sp() {
    let _gate = sp_tests::model_gate().await;
    let served = Served::start(&["inference"], 1024).await;
    let base = format!("http://{}/v1", served.addr);
    let seen = served
        .python("openai_client.py", &[&base, &served.token])
        .await;
    assert!(
        seen["model"].as_str().is_some_and(|m| !m.is_empty()),
        "{seen}"
    );
    let chat = seen["chat"].as_str().expect("chat text");
    assert!(!chat.is_empty());
    assert_eq!(
        seen["stream"].as_str(),
        Some(chat),
        "greedy stream = greedy whole: {seen}"
    );
    assert!(
        seen["stream_usage"].as_u64().is_some_and(|n| n > 0),
        "{seen}"
    );
    assert!(matches!(
        seen["chat_finish"].as_str(),
        Some("stop" | "length")
    ));
    assert!(seen["chat_usage"].as_u64().is_some_and(|n| n > 0));
    let dims = seen["embeddings"].as_array().expect("embeddings");
    assert_eq!(dims.len(), 2);
    assert!(dims[0].as_u64().is_some_and(|d| d > 0));
    assert!(seen["completion"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(seen["bad_request"], "SP-VAL-001", "{seen}");
    // Tools: a forced call of the declared tool, its result, then an answer; the streamed
    // call, assembled by the client's helper, equals the whole one.
    assert_eq!(seen["tool_finish"], "tool_calls", "{seen}");
    assert_eq!(seen["tool_name"], "get_weather");
    assert!(seen["tool_arguments"]["city"].is_string(), "{seen}");
    assert!(
        seen["tool_answer"].as_str().is_some_and(|a| !a.is_empty()),
        "{seen}"
    );
    assert!(seen["tool_answer_calls"].is_null(), "{seen}");
    assert_eq!(seen["streamed_tool"], seen["whole_tool"], "{seen}");
    // The `parse` helper got an instance of the pydantic model.
    let parsed = &seen["parsed"];
    assert!(
        parsed["name"].is_string() && parsed["country"].is_string(),
        "{seen}"
    );
    assert!(parsed["population_millions"].is_i64(), "{seen}");
    assert_eq!(seen["choices"], 3);
    assert_eq!(seen["logprobs_ok"], true, "{seen}");
    assert_eq!(seen["unauthorized"], 401);

    served.stop().await;
}
