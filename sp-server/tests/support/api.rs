//! An in-process client for the API tests: the real router, requests without a socket.

#![allow(dead_code)] // each test binary uses part of it

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use serde_json::{Value, json};
use sp_core::Config;
use sp_server::{AppState, app};
use tower::ServiceExt as _;

pub const ADMIN: &str = "test-admin-key-0123456789abcdef";

pub struct Api {
    pub router: Router,
    pub state: AppState,
    _dir: tempfile::TempDir,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    /// The error code of an envelope.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }
}

impl Api {
    /// The embedded default with an admin key, and `model` when given.
    pub async fn start(model: Option<String>, tweak: impl FnOnce(&mut Config)) -> Api {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        config.auth.admin_key = Some(ADMIN.into());
        config.model.path = model.map(Into::into);
        config.model.slots = 2;
        config.model.context_per_slot = 1024;
        // The tests' services listen on loopback, which the hub refuses unless told (H2).
        config.hub.allowed_networks = vec!["127.0.0.0/8".into()];
        tweak(&mut config);
        let state = AppState::open(config).await.expect("state");
        Api {
            router: app(state.clone()),
            state,
            _dir: dir,
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = match body {
            Some(body) => request
                .header("content-type", "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        }
        .expect("request");
        self.send(request).await
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    /// Ingests one document in the default namespace.
    pub async fn seed(&self) {
        let doc = json!({"title": "Seed", "content": "Something to list."});
        let reply = self
            .call(Method::POST, "/v1/documents", Some(ADMIN), Some(doc))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    }

    /// Creates a key through the admin API and returns its token.
    pub async fn key(&self, scopes: &[&str], rate_limit: Option<&str>) -> String {
        let mut body = json!({"name": "test", "scopes": scopes});
        if let Some(limit) = rate_limit {
            body["rate_limit"] = json!(limit);
        }
        let reply = self
            .call(Method::POST, "/v1/keys", Some(ADMIN), Some(body))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        reply.body["token"].as_str().expect("token").to_owned()
    }
}
