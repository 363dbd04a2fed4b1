//! The HTTP client the server-facing commands (`sp ingest`, `sp search`, `sp events tail`)
//! share: the base URL (`--url` / `SP_URL`, else `server.listen`), the API key, and API errors
//! turned into their envelope's code and message.

use std::time::Duration;

use serde_json::Value;
use sp_core::Config;

use crate::cli::ServerArgs;
use crate::models_cli::{CommandError, Reach, base_url};

/// A running server, as the command line reaches it.
pub(crate) struct Remote {
    base: String,
    key: Option<String>,
    client: reqwest::Client,
}

impl Remote {
    pub(crate) fn new(config: &Config, server: &ServerArgs) -> Result<Self, CommandError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .build()
            .map_err(|err| CommandError(format!("http client: {err}")))?;
        Ok(Remote {
            base: base_url(config, server),
            key: server.api_key.clone(),
            client,
        })
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.client.request(method, format!("{}{path}", self.base));
        match &self.key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    /// Sends `request`; an answer of 4xx/5xx becomes the API's `CODE: message`.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        path: &str,
    ) -> Result<reqwest::Response, CommandError> {
        let response = request
            .send()
            .await
            .map_err(|err| CommandError(format!("no server answers at {} ({err})", self.base)))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        Err(CommandError(api_error(path, status, &text)))
    }

    /// POSTs `body` as JSON; returns the status and the JSON answer.
    pub(crate) async fn post_json(
        &self,
        path: &str,
        body: &Value,
    ) -> Result<(reqwest::StatusCode, Value), CommandError> {
        let request = self.request(reqwest::Method::POST, path).json(body);
        let response = self.send(request, path).await?;
        let status = response.status();
        let value = response
            .json()
            .await
            .map_err(|err| CommandError(format!("{path}: not JSON ({err})")))?;
        Ok((status, value))
    }

    /// GETs `path` with the `query` pairs (encoded by the client); returns the JSON answer.
    pub(crate) async fn get_json(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Value, CommandError> {
        let request = self.request(reqwest::Method::GET, path).query(query);
        let response = self.send(request, path).await?;
        response
            .json()
            .await
            .map_err(|err| CommandError(format!("{path}: not JSON ({err})")))
    }

    /// POSTs `body` and hands back the response to read as it arrives (server-sent events).
    pub(crate) async fn post_streaming(
        &self,
        path: &str,
        body: &Value,
    ) -> Result<reqwest::Response, CommandError> {
        let request = self
            .request(reqwest::Method::POST, path)
            .header("accept", "text/event-stream")
            .json(body);
        self.send(request, path).await
    }

    /// GETs `path` with the `query` pairs and hands back the response to read as it arrives
    /// (server-sent events).
    pub(crate) async fn get_streaming(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<reqwest::Response, CommandError> {
        let request = self
            .request(reqwest::Method::GET, path)
            .query(query)
            .header("accept", "text/event-stream");
        self.send(request, path).await
    }

    /// One request, whatever its status: the status and body text, or [`Reach::Down`] when
    /// nothing answers.
    pub(crate) async fn fetch(
        &self,
        method: reqwest::Method,
        path: &str,
    ) -> Result<(reqwest::StatusCode, String), Reach> {
        let response =
            self.request(method, path).send().await.map_err(|err| {
                Reach::Down(format!("no server answers at {} ({err})", self.base))
            })?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|err| Reach::Refused(CommandError(format!("{}{path}: {err}", self.base))))?;
        Ok((status, text))
    }
}

/// What [`read_sse`] does after an event.
pub(crate) enum Next {
    /// Read on.
    More,
    /// Stop reading: the caller has what it wanted.
    Stop,
}

/// Reads server-sent events from `response`, calling `on_event(name, data)` for each `data:`
/// line (`name` empty for unnamed events) until it says stop; the stream ending first is an
/// error.
pub(crate) async fn read_sse(
    mut response: reqwest::Response,
    mut on_event: impl FnMut(&str, &str) -> Result<Next, CommandError>,
) -> Result<(), CommandError> {
    let mut buffer = String::new();
    let mut name = String::new();
    loop {
        let chunk = response
            .chunk()
            .await
            .map_err(|err| CommandError(format!("the stream broke: {err}")))?;
        let Some(chunk) = chunk else {
            return Err(CommandError("the server closed the stream".into()));
        };
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find('\n') {
            let line: String = buffer.drain(..=end).collect();
            let line = line.trim_end_matches(['\r', '\n']);
            if let Some(event) = line.strip_prefix("event:") {
                name = event.trim().to_owned();
            } else if let Some(data) = line.strip_prefix("data:") {
                if let Next::Stop = on_event(&name, data.trim_start())? {
                    return Ok(());
                }
            } else if line.is_empty() {
                name.clear();
            }
        }
    }
}

/// `path: CODE message` from an API error envelope, or the status and body.
fn api_error(path: &str, status: reqwest::StatusCode, body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    match parsed.as_ref().map(|v| &v["error"]) {
        Some(error) if error["code"].is_string() => format!(
            "{path}: {} [{}]",
            error["message"].as_str().unwrap_or(""),
            error["code"].as_str().unwrap_or("")
        ),
        _ => format!("{path}: {status} {}", body.trim()),
    }
}
