//! Tools, response formats and the sampling table over HTTP on the real model: what OpenAI
//! clients send, what they get back, and the coded 400 for everything we cannot honour.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::api;

fn weather_tool() -> Value {
    json!({"type": "function", "function": {
        "name": "get_weather", "description": "Current weather of a city.",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "maxLength": 24}}, "required": ["city"],
            "additionalProperties": false}}})
}

fn sse_chunks(text: &str) -> Vec<Value> {
    let data: Vec<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .collect();
    assert_eq!(data.last(), Some(&"[DONE]"), "{text}");
    data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).expect("chunk JSON"))
        .collect()
}

#[tokio::test]
async fn tool_calls_formats_and_choices_over_http() {
    let _gate = sp_tests::model_gate().await;
    let api = api().await;
    let token = api.key(&["inference"], None).await;
    let t = Some(token.as_str());
    let ask = |extra: Value| {
        let mut body = json!({"messages": [{"role": "user", "content": "Weather in Oslo?"}],
            "temperature": 0, "max_tokens": 64});
        for (k, v) in extra.as_object().expect("object") {
            body[k] = v.clone();
        }
        body
    };

    // The first command scripts/run.sh prints: no max_tokens means the room left.
    let hello = json!({"messages": [{"role": "user", "content": "Hello"}]});
    let reply = api
        .call(Method::POST, "/v1/chat/completions", t, Some(hello))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert!(reply.body["choices"][0]["message"]["content"].is_string());

    let models = api.call(Method::GET, "/v1/models", t, None).await;
    assert_eq!(models.body["data"][0]["chat_template"]["renderer"], "jinja");
    assert_eq!(
        models.body["data"][0]["chat_template"]["tool_syntax"],
        "envelope"
    );

    // A forced call: OpenAI's shape, arguments a JSON text that validates.
    let forced = ask(json!({"tools": [weather_tool()], "tool_choice": "required",
        "parallel_tool_calls": false}));
    let reply = api
        .call(
            Method::POST,
            "/v1/chat/completions",
            t,
            Some(forced.clone()),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let choice = &reply.body["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls", "{}", reply.text);
    assert!(choice["message"]["content"].is_null());
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    let arguments: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().expect("a string"))
            .expect("JSON arguments");
    assert!(arguments["city"].is_string(), "{arguments}");

    // Streamed: the deltas reassemble to the same call.
    let mut streamed = forced.clone();
    streamed["stream"] = json!(true);
    let reply = api
        .call(Method::POST, "/v1/chat/completions", t, Some(streamed))
        .await;
    let chunks = sse_chunks(&reply.text);
    let mut name = String::new();
    let mut args = String::new();
    for chunk in &chunks {
        for delta in chunk["choices"][0]["delta"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            assert_eq!(delta["index"], 0);
            name.push_str(delta["function"]["name"].as_str().unwrap_or_default());
            args.push_str(delta["function"]["arguments"].as_str().unwrap_or_default());
        }
    }
    assert_eq!(name, "get_weather");
    assert_eq!(
        args,
        call["function"]["arguments"].as_str().expect("arguments")
    );
    assert!(
        chunks
            .iter()
            .any(|c| c["choices"][0]["finish_reason"] == "tool_calls")
    );

    // The round trip: the call, its result, then an answer.
    let mut round_trip = ask(json!({"tools": [weather_tool()], "tool_choice": "none"}));
    round_trip["messages"] = json!([
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "content": null, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "{\"celsius\": 4}"},
    ]);
    let reply = api
        .call(Method::POST, "/v1/chat/completions", t, Some(round_trip))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert!(reply.body["choices"][0]["message"]["tool_calls"].is_null());

    // json_schema: the content parses and validates.
    let schema = json!({"type": "object", "properties": {"city": {"type": "string", "maxLength": 20},
        "celsius": {"type": "integer"}}, "required": ["city", "celsius"], "additionalProperties": false});
    let structured = ask(json!({"response_format": {"type": "json_schema",
        "json_schema": {"name": "weather", "schema": schema, "strict": true}}}));
    let reply = api
        .call(Method::POST, "/v1/chat/completions", t, Some(structured))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let content: Value = serde_json::from_str(
        reply.body["choices"][0]["message"]["content"]
            .as_str()
            .expect("content"),
    )
    .expect("JSON content");
    assert!(
        jsonschema::validator_for(&schema)
            .expect("schema")
            .is_valid(&content)
    );

    // n = 3 with a seed: three choices, reproducible; logprobs in OpenAI's shape.
    let three = ask(
        json!({"n": 3, "temperature": 1, "seed": 11, "max_tokens": 8,
        "logprobs": true, "top_logprobs": 2}),
    );
    let first = api
        .call(Method::POST, "/v1/chat/completions", t, Some(three.clone()))
        .await;
    let again = api
        .call(Method::POST, "/v1/chat/completions", t, Some(three))
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let choices = first.body["choices"].as_array().expect("choices");
    assert_eq!(choices.len(), 3);
    assert_eq!(first.body["choices"], again.body["choices"]);
    for (i, choice) in choices.iter().enumerate() {
        assert_eq!(choice["index"], i);
        for token in choice["logprobs"]["content"].as_array().expect("logprobs") {
            assert!(token["logprob"].as_f64().expect("number") <= 0.0);
            let top = token["top_logprobs"].as_array().expect("top");
            assert_eq!(top.len(), 2);
            assert!(top[0]["logprob"].as_f64() >= top[1]["logprob"].as_f64());
        }
    }
    let completion = json!({"prompt": "The capital of France is", "max_tokens": 4,
        "temperature": 0, "logprobs": 2, "n": 2});
    let reply = api
        .call(Method::POST, "/v1/completions", t, Some(completion))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let choices = reply.body["choices"].as_array().expect("choices");
    assert_eq!(choices.len(), 2);
    assert_eq!(
        choices[0]["text"], choices[1]["text"],
        "greedy choices agree"
    );
    assert_eq!(choices[1]["index"], 1);
    let logprobs = &reply.body["choices"][0]["logprobs"];
    assert_eq!(
        logprobs["tokens"].as_array().map(Vec::len),
        logprobs["token_logprobs"].as_array().map(Vec::len)
    );
    assert_eq!(logprobs["text_offset"][0], 0);
}

#[tokio::test]
async fn shapes_we_cannot_honour_are_coded_400s() {
    let _gate = sp_tests::model_gate().await;
    let api = api().await;
    let token = api.key(&["inference"], None).await;
    let t = Some(token.as_str());
    let huge_bias: serde_json::Map<String, Value> =
        (0..2000).map(|i| (i.to_string(), json!(1))).collect();
    let cases = [
        (
            json!({"tools": {"type": "function"}}),
            "tools",
            "SP-VAL-001",
        ),
        (
            json!({"tools": [{"type": "function", "function": {"name": "f", "parameters": [1]}}]}),
            "parameters",
            "SP-VAL-001",
        ),
        (
            json!({"tools": [{"type": "retrieval"}]}),
            "tools[0].type",
            "SP-VAL-001",
        ),
        (
            json!({"tools": [weather_tool()], "tool_choice": {"type": "function", "function": {"name": "launch"}}}),
            "tool_choice",
            "SP-VAL-001",
        ),
        (
            json!({"tool_choice": "required"}),
            "tool_choice",
            "SP-VAL-001",
        ),
        (
            json!({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": "object"}}}),
            "schema",
            "SP-VAL-001",
        ),
        (
            json!({"response_format": {"type": "xml"}}),
            "response_format.type",
            "SP-VAL-001",
        ),
        (
            json!({"response_format": {"type": "json_schema", "json_schema": {"name": "x",
            "schema": {"type": "object", "properties": {"a": {"type": "array", "uniqueItems": true}}}}}}),
            "uniqueItems",
            "SP-LLM-005",
        ),
        (
            json!({"grammar": "root ::= (\"a\""}),
            "grammar",
            "SP-LLM-005",
        ),
        (json!({"n": 0}), "n", "SP-VAL-001"),
        (json!({"n": 2, "stream": true}), "n", "SP-VAL-001"),
        (json!({"logit_bias": huge_bias}), "logit_bias", "SP-VAL-001"),
        (
            json!({"logit_bias": {"12": 1e6}}),
            "logit_bias",
            "SP-VAL-001",
        ),
        (
            json!({"logit_bias": {"not-a-token": 1}}),
            "logit_bias",
            "SP-VAL-001",
        ),
        (json!({"top_logprobs": 3}), "top_logprobs", "SP-VAL-001"),
        (
            json!({"logprobs": true, "top_logprobs": 50}),
            "top_logprobs",
            "SP-VAL-001",
        ),
        (
            json!({"functions": [{"name": "f"}]}),
            "functions",
            "SP-VAL-001",
        ),
        (
            json!({"reasoning_effort": "high"}),
            "reasoning_effort",
            "SP-VAL-001",
        ),
        (
            json!({"messages": [{"role": "tool", "content": "x"}]}),
            "tool_call_id",
            "SP-VAL-001",
        ),
        (
            json!({"messages": [{"role": "assistant", "content": null, "tool_calls": [{"id": "c", "type": "function",
            "function": {"name": "f", "arguments": "{not json"}}]}]}),
            "arguments",
            "SP-VAL-001",
        ),
        (
            json!({"messages": [{"role": "user", "content": "x", "audio": {"id": "a"}}]}),
            "audio",
            "SP-VAL-001",
        ),
    ];
    for (patch, named, code) in cases {
        let mut body = json!({"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4});
        for (k, v) in patch.as_object().expect("object") {
            body[k] = v.clone();
        }
        let reply = api
            .call(Method::POST, "/v1/chat/completions", t, Some(body))
            .await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::BAD_REQUEST, code),
            "{patch}: {}",
            reply.text
        );
        assert!(
            reply.text.contains(named),
            "{patch} names {named}: {}",
            reply.text
        );
    }
    // Fields that change nothing pass: an end-user id, metadata, store: false.
    let harmless = json!({"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2,
        "user": "u-1", "metadata": {"k": "v"}, "store": false});
    let reply = api
        .call(Method::POST, "/v1/chat/completions", t, Some(harmless))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}
