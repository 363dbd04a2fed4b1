//! Calling a tool: resolve the service, validate the arguments, pick an instance, and call it
//! within the timeout, the retry policy and the service's circuit breaker.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::canary::{Resolution, affinity_bucket};
use super::facade::breaker_key;
use super::transport::{ToolRequest, TransportError};
use super::types::{Discovery, HealthStatus, Instance, Protocol, Service, ToolSpec};
use super::{Hub, validate};
use crate::error::{Error, Result};
use crate::events::{Origin, platform_event};
use crate::knowledge::Namespace;

/// A tool call to make.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolInvocation {
    /// The caller's namespace.
    #[serde(default)]
    pub namespace: Namespace,
    /// The tool's name.
    pub tool: String,
    /// Only this service's tool (needed when several services offer the name).
    #[serde(default)]
    pub service: Option<String>,
    /// Only service versions in this semver range; the highest matching version is called.
    #[serde(default)]
    pub version: Option<String>,
    /// The arguments (a JSON object, checked against the tool's input schema).
    #[serde(default)]
    pub arguments: Value,
    /// Forwarded as `X-Request-Id`.
    #[serde(default)]
    pub request_id: Option<String>,
    /// Forwarded as `Idempotency-Key` (`http` services): the same on every attempt of one
    /// logical call — an agent run's call repeated after its process stopped sends the key
    /// it sent before, so the service can recognise the repeat.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// While a canary version runs, calls with the same affinity (a caller's key, a context)
    /// go to the same version; without one, calls alternate in the canary's proportion.
    #[serde(default)]
    pub affinity: Option<String>,
}

impl ToolInvocation {
    /// A call of `tool` with `arguments` in the default namespace.
    pub fn new(tool: impl Into<String>, arguments: Value) -> Self {
        ToolInvocation {
            namespace: Namespace::default(),
            tool: tool.into(),
            service: None,
            version: None,
            arguments,
            request_id: None,
            idempotency_key: None,
            affinity: None,
        }
    }
}

/// A tool's answer and how it was obtained.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ToolResult {
    /// The service's JSON answer.
    pub output: Value,
    /// The service that answered.
    pub service: String,
    /// Its version.
    pub version: String,
    /// The instance that answered.
    pub instance: String,
    /// Calls made (more than 1 after retries).
    pub attempts: u32,
    /// Time from the first attempt to the answer, in milliseconds.
    pub duration_ms: u64,
}

/// A call's resolution inputs: namespace, tool, service, version range.
pub(super) type ResolveKey = (Namespace, String, Option<String>, Option<String>);

/// Why one attempt failed, and whether another may follow.
enum Failure {
    /// The service is at fault (5xx, 408, 429, no connection, timeout): counts against the
    /// breaker, and an idempotent call may be retried.
    Service(Error),
    /// The call is at fault or the service refused it deliberately (other 4xx, a bad answer):
    /// final.
    Final(Error),
}

impl Hub {
    /// Calls a tool: see the module documentation for the order of checks. The outcome is
    /// recorded as a platform event when the hub has a log ([`Hub::with_events`]).
    pub async fn invoke(&self, call: ToolInvocation) -> Result<ToolResult> {
        // The `tool.call` span (a trace span with the server's `otel` feature); the hop sent
        // to the service is a child of the request's span through `traceparent`.
        let span = tracing::info_span!(
            "tool.call",
            tool = %call.tool,
            service = tracing::field::Empty,
            attempts = tracing::field::Empty,
            error_code = tracing::field::Empty,
        );
        let outcome = tracing::Instrument::instrument(self.call_tool(&call), span.clone()).await;
        match &outcome {
            Ok(result) => {
                span.record("service", result.service.as_str());
                span.record("attempts", result.attempts);
            }
            Err(err) => {
                span.record("error_code", err.code().as_str());
            }
        }
        self.events
            .record(|| {
                let data = match &outcome {
                    Ok(result) => serde_json::json!({"tool": call.tool, "service": result.service,
                        "version": result.version, "attempts": result.attempts,
                        "duration_ms": result.duration_ms}),
                    Err(err) => serde_json::json!({"tool": call.tool,
                        "code": err.code().as_str(), "message": err.to_string()}),
                };
                let kind = if outcome.is_ok() {
                    "tool.invoked"
                } else {
                    "tool.failed"
                };
                let origin = Origin::default().correlated_opt(call.request_id.clone());
                let subject = format!("tools/{}", call.tool);
                platform_event(&call.namespace, "tools", kind, subject, &origin, data)
            })
            .await;
        outcome
    }

    async fn call_tool(&self, call: &ToolInvocation) -> Result<ToolResult> {
        let (service, tool) = self.resolve(call).await?;
        self.check_arguments(&service, &tool, &call.arguments)?;
        let outcome = self.call_service(&service, &tool, call).await;
        self.count_call(&service, outcome.is_ok());
        outcome
    }

    async fn call_service(
        &self,
        service: &Service,
        tool: &ToolSpec,
        call: &ToolInvocation,
    ) -> Result<ToolResult> {
        let service = service.clone();
        let instances = callable(&service)?;
        let attempts_allowed = if tool.idempotent {
            self.config.max_attempts.max(1)
        } else {
            1
        };
        let timeout = Duration::from_millis(
            tool.timeout_ms
                .unwrap_or(self.config.call_timeout_ms)
                .min(self.config.max_tool_timeout_ms.max(1)),
        );
        let started = Instant::now();
        let first = self.next_instance.fetch_add(1, Ordering::Relaxed);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let instance = &instances[(first + attempt as usize - 1) % instances.len()];
            self.admit(&call.namespace, &service)?;
            let outcome = self.attempt(&service, tool, instance, call, timeout).await;
            let breaker_ok = !matches!(outcome, Err(Failure::Service(_)));
            self.record(&call.namespace, &service, breaker_ok);
            match outcome {
                Ok(output) => {
                    return Ok(ToolResult {
                        output,
                        service: service.name.clone(),
                        version: service.version.clone(),
                        instance: instance.url.clone(),
                        attempts: attempt,
                        duration_ms: started.elapsed().as_millis() as u64,
                    });
                }
                Err(Failure::Final(err)) => return Err(err),
                Err(Failure::Service(err)) if attempt >= attempts_allowed => return Err(err),
                Err(Failure::Service(err)) => {
                    tracing::debug!(service = %service.label(), attempt, %err, "retrying tool call");
                    tokio::time::sleep(self.backoff(attempt)).await;
                }
            }
        }
    }

    /// The service version that answers the call: the highest version in range of the one
    /// service offering the tool — or, when that version is a canary, it or the stable version
    /// by the call's bucket.
    async fn resolve(&self, call: &ToolInvocation) -> Result<(Service, ToolSpec)> {
        let unknown = || Error::ToolUnknown {
            tool: call.tool.clone(),
        };
        let key: ResolveKey = (
            call.namespace.clone(),
            call.tool.clone(),
            call.service.clone(),
            call.version.clone(),
        );
        let ttl = Duration::from_millis(self.config.resolve_cache_ms);
        let cached = self.resolved.lock().ok().and_then(|r| {
            r.get(&key)
                .filter(|(at, _)| at.elapsed() < ttl)
                .map(|(_, s)| s.clone())
        });
        let resolution = match cached {
            Some(resolution) => resolution,
            None => {
                let resolution = self.resolve_uncached(call).await?.ok_or_else(unknown)?;
                if !ttl.is_zero()
                    && let Ok(mut resolved) = self.resolved.lock()
                {
                    if resolved.len() >= 10_000 {
                        resolved.clear();
                    }
                    resolved.insert(key, (Instant::now(), resolution.clone()));
                }
                resolution
            }
        };
        let bucket = match &call.affinity {
            Some(affinity) => affinity_bucket(affinity, resolution.name()),
            None => (self.next_canary.fetch_add(1, Ordering::Relaxed) % 100) as u64,
        };
        let service = resolution.pick(bucket);
        let tool = service.tool(&call.tool).cloned().ok_or_else(unknown)?;
        Ok((service, tool))
    }

    async fn resolve_uncached(&self, call: &ToolInvocation) -> Result<Option<Resolution>> {
        let query = Discovery {
            namespace: call.namespace.clone(),
            name: call.service.clone(),
            tool: Some(call.tool.clone()),
            version: call.version.clone(),
            ..Discovery::default()
        };
        let found = self.discover(&query).await?;
        let mut names: Vec<&str> = found.iter().map(|s| s.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        if names.len() > 1 {
            return Err(Error::Conflict(format!(
                "tool `{}` is offered by {}: name the service",
                call.tool,
                names.join(", ")
            )));
        }
        Ok(Resolution::of(found))
    }

    fn check_arguments(&self, service: &Service, tool: &ToolSpec, arguments: &Value) -> Result<()> {
        let validator = self.validator(service, &tool.name, &tool.input_schema)?;
        let violations: Vec<String> = validator
            .iter_errors(arguments)
            .map(|err| {
                format!(
                    "{}: {err}",
                    display_pointer(&err.instance_path().to_string())
                )
            })
            .take(20)
            .collect();
        if violations.is_empty() {
            Ok(())
        } else {
            Err(Error::ToolArgumentsInvalid {
                tool: tool.name.clone(),
                violations,
            })
        }
    }

    /// A compiled schema, cached per service version, definition and `key`.
    fn validator(
        &self,
        service: &Service,
        key: &str,
        schema: &Value,
    ) -> Result<Arc<jsonschema::Validator>> {
        let key = (service.id, service.updated_at.unix_micros(), key.to_owned());
        if let Some(found) = self
            .validators
            .lock()
            .ok()
            .and_then(|v| v.get(&key).cloned())
        {
            return Ok(found);
        }
        let compiled = jsonschema::validator_for(schema).map_err(|err| {
            Error::internal(format!("stored schema `{}` does not compile: {err}", key.2))
        })?;
        let compiled = Arc::new(compiled);
        if let Ok(mut cache) = self.validators.lock() {
            if cache.len() >= 10_000 {
                cache.clear();
            }
            cache.insert(key, compiled.clone());
        }
        Ok(compiled)
    }

    fn admit(&self, namespace: &Namespace, service: &Service) -> Result<()> {
        let config = self.config.breaker();
        let mut breakers = self
            .breakers
            .lock()
            .map_err(|_| Error::internal("breaker lock poisoned"))?;
        let breaker = breakers.entry(breaker_key(namespace, service)).or_default();
        breaker
            .admit(&config, Instant::now())
            .map_err(|wait| Error::CircuitOpen {
                service: service.label(),
                retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
            })
    }

    fn record(&self, namespace: &Namespace, service: &Service, success: bool) {
        let config = self.config.breaker();
        if let Ok(mut breakers) = self.breakers.lock() {
            let breaker = breakers.entry(breaker_key(namespace, service)).or_default();
            breaker.record(&config, success, Instant::now());
        }
    }

    async fn attempt(
        &self,
        service: &Service,
        tool: &ToolSpec,
        instance: &Instance,
        call: &ToolInvocation,
        timeout: Duration,
    ) -> std::result::Result<Value, Failure> {
        let url = match service.protocol {
            Protocol::Http => format!("{}{}", instance.url.trim_end_matches('/'), tool.call_path()),
            Protocol::Mcp => instance.url.clone(),
        };
        let request = ToolRequest {
            protocol: service.protocol,
            url,
            tool: tool.remote_name().to_owned(),
            arguments: call.arguments.clone(),
            request_id: call.request_id.clone(),
            idempotency_key: call.idempotency_key.clone(),
            traceparent: crate::trace::current().map(|hop| hop.header()),
        };
        let label = service.label();
        let upstream = |status: Option<u16>, reason: String| Error::UpstreamError {
            service: label.clone(),
            status,
            reason,
        };
        let response = match tokio::time::timeout(timeout, self.transport.call(request)).await {
            Err(_) => {
                return Err(Failure::Service(Error::UpstreamTimeout {
                    service: label.clone(),
                    timeout_ms: timeout.as_millis() as u64,
                }));
            }
            Ok(Err(TransportError::Connect(reason))) => {
                return Err(Failure::Service(upstream(None, reason)));
            }
            Ok(Err(TransportError::Body(reason))) => {
                return Err(Failure::Final(upstream(Some(200), reason)));
            }
            Ok(Ok(response)) => response,
        };
        match response.status {
            200..=299 => {
                if let Some(schema) = &tool.output_schema
                    && let Ok(validator) =
                        self.validator(service, &format!("{}#output", tool.name), schema)
                    && let Err(err) = validator.validate(&response.body)
                {
                    return Err(Failure::Final(upstream(
                        Some(response.status),
                        format!("the answer does not match the tool's output_schema: {err}"),
                    )));
                }
                Ok(response.body)
            }
            status @ (408 | 429 | 500..=599) => Err(Failure::Service(upstream(
                Some(status),
                summary(&response.body),
            ))),
            status => Err(Failure::Final(upstream(
                Some(status),
                summary(&response.body),
            ))),
        }
    }

    /// Full jitter: a random wait up to `base · 2^(attempt-1)`, capped.
    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self
            .config
            .backoff_base_ms
            .saturating_mul(1u64 << (attempt - 1).min(16))
            .min(self.config.backoff_max_ms);
        let mut bytes = [0u8; 8];
        let random = getrandom::fill(&mut bytes).map_or(0, |()| u64::from_le_bytes(bytes));
        Duration::from_millis(if ceiling == 0 {
            0
        } else {
            random % (ceiling + 1)
        })
    }
}

/// Instances a call may go to: live and not unhealthy, healthy ones first.
fn callable(service: &Service) -> Result<Vec<Instance>> {
    let mut instances: Vec<Instance> = service
        .instances
        .iter()
        .filter(|i| i.health != HealthStatus::Unhealthy)
        .cloned()
        .collect();
    if instances.is_empty() {
        return Err(Error::ServiceUnhealthy {
            service: service.label(),
        });
    }
    instances.sort_by_key(|i| i.health != HealthStatus::Healthy);
    let healthy = instances
        .iter()
        .filter(|i| i.health == HealthStatus::Healthy)
        .count();
    if healthy > 0 {
        instances.truncate(healthy);
    }
    Ok(instances)
}

pub(super) fn version_of(service: &Service) -> Option<semver::Version> {
    validate::version("version", &service.version).ok()
}

fn display_pointer(pointer: &str) -> &str {
    if pointer.is_empty() {
        "(root)"
    } else {
        pointer
    }
}

/// The start of an error body, for the caller's message.
fn summary(body: &Value) -> String {
    let text = match body {
        Value::Null => return "no body".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut end = text.len().min(300);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}
