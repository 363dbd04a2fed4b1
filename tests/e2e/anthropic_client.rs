//! The official `anthropic` Python package against a running server, unmodified: messages,
//! streaming, stop sequences, a tool round trip, `count_tokens`, and its exceptions for our
//! errors in Anthropic's shape.

use crate::served::Served;

#[tokio::test]
async fn the_anthropic_python_package_works_against_sp() {
    let _gate = sp_tests::model_gate().await;
    let served = Served::start(&["inference"], 1024).await;
    let base = format!("http://{}", served.addr);
    let model = served.model_id().await;
    let seen = served
        .python("anthropic_client.py", &[&base, &served.token, &model])
        .await;
    let text = seen["text"].as_str().expect("text");
    assert!(!text.is_empty(), "{seen}");
    assert_eq!(seen["content_types"], serde_json::json!(["text"]));
    assert!(
        matches!(
            seen["stop_reason"].as_str(),
            Some("end_turn" | "max_tokens")
        ),
        "{seen}"
    );
    assert!(seen["id"].as_str().is_some_and(|id| id.starts_with("msg_")));
    // count_tokens is the prompt the model was given, to the token.
    assert_eq!(seen["counted"], seen["input_tokens"], "{seen}");
    assert!(seen["output_tokens"].as_u64().is_some_and(|n| n > 0));
    // Greedy: the stream's text, its final message and the whole reply agree.
    assert_eq!(seen["stream_text"].as_str(), Some(text), "{seen}");
    assert_eq!(seen["stream_final"].as_str(), Some(text), "{seen}");
    assert_eq!(seen["stream_stop_reason"], seen["stop_reason"]);
    assert_eq!(seen["stream_output_tokens"], seen["output_tokens"]);
    assert_eq!(seen["stop_sequence_reason"], "stop_sequence", "{seen}");
    assert_eq!(seen["stop_sequence"], seen["stop_asked"], "{seen}");
    assert_eq!(seen["stopped_before_it"], true, "{seen}");
    // The tool round trip.
    assert_eq!(seen["tool_stop_reason"], "tool_use", "{seen}");
    assert_eq!(seen["tool_name"], "get_weather");
    assert!(seen["tool_input"]["city"].is_string(), "{seen}");
    assert_eq!(
        seen["tool_answer_types"],
        serde_json::json!(["text"]),
        "{seen}"
    );
    assert!(
        seen["tool_answer"].as_str().is_some_and(|a| !a.is_empty()),
        "{seen}"
    );
    assert_eq!(seen["streamed_tool"], seen["whole_tool"], "{seen}");
    // Structured output: the client's `parse` helper validated the reply into its model.
    assert!(
        seen["parsed"]["name"].is_string() && seen["parsed"]["country"].is_string(),
        "{seen}"
    );
    // Errors.
    assert_eq!(
        seen["refused"],
        serde_json::json!({"status": 400, "type": "invalid_request_error",
            "code": "SP-VAL-001", "outer": "error"}),
        "{seen}"
    );
    assert_eq!(seen["no_max_tokens"], "SP-VAL-001", "{seen}");
    assert_eq!(seen["unknown_model"], "not_found_error", "{seen}");
    assert_eq!(seen["unauthorized"], 401, "{seen}");
    served.stop().await;
}
