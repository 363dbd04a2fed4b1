//! A loopback tool service for the agent tests: `city_country` and `weather` answer from the
//! city they are given, `broken` always fails (500). Every call is recorded with its
//! `Idempotency-Key`; the first call whose key starts with a chosen prefix can be held
//! unanswered (the process calling it is killed meanwhile).

#![allow(dead_code)] // each test binary uses part of it

use std::sync::{Arc, Mutex};

use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use tokio::sync::watch;

/// One call the service received.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub tool: String,
    pub arguments: Value,
    pub idempotency_key: Option<String>,
}

/// The service's record, and its hold.
#[derive(Clone)]
pub struct Tools {
    pub url: String,
    pub calls: Arc<Mutex<Vec<Received>>>,
    /// Calls whose key starts with this are held, the first one only.
    pub hold_prefix: Arc<Mutex<Option<String>>>,
    /// Set once a call is being held.
    pub held: watch::Sender<bool>,
}

impl Tools {
    /// Starts the service on a free loopback port.
    pub async fn start() -> Tools {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let tools = Tools {
            url,
            calls: Arc::default(),
            hold_prefix: Arc::default(),
            held: watch::channel(false).0,
        };
        let state = tools.clone();
        let app = axum::Router::new()
            .route("/health", axum::routing::get(|| async { "ok" }))
            .route(
                "/tools/{tool}",
                axum::routing::post(
                    move |Path(tool): Path<String>,
                          headers: HeaderMap,
                          axum::Json(args): axum::Json<Value>| {
                        let state = state.clone();
                        async move { state.answer(tool, &headers, args).await }
                    },
                ),
            );
        tokio::spawn(async move { axum::serve(listener, app).await });
        tools
    }

    async fn answer(
        &self,
        tool: String,
        headers: &HeaderMap,
        args: Value,
    ) -> (StatusCode, axum::Json<Value>) {
        let key = headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let hold = {
            let mut prefix = self.hold_prefix.lock().expect("lock");
            let matches = match (&*prefix, &key) {
                (Some(p), Some(k)) => k.starts_with(p.as_str()),
                _ => false,
            };
            if matches {
                *prefix = None;
            }
            matches
        };
        self.calls.lock().expect("lock").push(Received {
            tool: tool.clone(),
            arguments: args.clone(),
            idempotency_key: key,
        });
        if hold {
            self.held.send_replace(true);
            std::future::pending::<()>().await;
        }
        let city = args["city"].as_str().unwrap_or("?").to_owned();
        match tool.as_str() {
            "city_country" => (
                StatusCode::OK,
                axum::Json(json!({"city": city, "country": "France"})),
            ),
            "weather" => (
                StatusCode::OK,
                axum::Json(json!({"city": city, "celsius": 21})),
            ),
            _ => (
                StatusCode::INTERNAL_SERVER_ERROR,
                axum::Json(json!({"error": "broken"})),
            ),
        }
    }

    /// The service's registration: its tools, each taking `{"city"}`.
    pub fn registration(&self) -> Value {
        let tool = |name: &str, description: &str| {
            json!({"name": name, "description": description, "timeout_ms": 60000,
                "input_schema": {"type": "object", "required": ["city"],
                    "properties": {"city": {"type": "string"}}}})
        };
        json!({"name": "geo", "version": "1.0.0", "base_url": self.url, "tags": ["travel"],
            "tools": [tool("city_country", "The country a city is in."),
                      tool("weather", "The weather in a city today."),
                      tool("broken", "Always fails.")]})
    }

    /// The tools called so far, in order.
    pub fn called(&self) -> Vec<String> {
        self.calls
            .lock()
            .expect("lock")
            .iter()
            .map(|c| c.tool.clone())
            .collect()
    }

    /// Every call received so far.
    pub fn received(&self) -> Vec<Received> {
        self.calls.lock().expect("lock").clone()
    }
}

/// The trip agent of the tests: the two geography tools once each (the first step must call
/// one), then an answer.
pub fn trip_agent() -> Value {
    json!({"name": "trip", "instructions": "You plan trips. Use the tools, then answer in one sentence.",
        "tools": [{"tool": "city_country"}, {"tool": "weather"}], "tool_choice": "required",
        "max_calls": {"city_country": 1, "weather": 1}, "max_steps": 4, "max_tokens": 64})
}

/// What the trip agent is asked.
pub const TRIP_QUESTION: &str = "Which country is Lyon in, and what is the weather there?";
