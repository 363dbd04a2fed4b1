//! Prometheus metrics: request counts and latencies by route and status, recorded by a
//! middleware; inference, cache and database-pool figures read at scrape time.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::state::AppState;

/// Request latency buckets, seconds: sub-millisecond API calls to minute-long generations.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

/// The process-wide Prometheus recorder, installed on first use. `None` when the embedding
/// application installed a recorder of its own (then it exports our metrics).
pub fn handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("sp_http_request_duration_seconds".into()),
                    LATENCY_BUCKETS,
                )
                .ok()?;
            match builder.install_recorder() {
                Ok(handle) => {
                    register_event_counters();
                    Some(handle)
                }
                Err(err) => {
                    tracing::warn!(%err, "a metrics recorder is already installed; /metrics stays empty");
                    None
                }
            }
        })
        .as_ref()
}

/// Counters of rare events, exported at 0 from the start: an alert on `increase(…)` sees
/// the first one only when the series existed before it.
fn register_event_counters() {
    for name in [
        "sp_token_budget_refused_total",
        "sp_token_budget_dropped_total",
        "sp_rate_limited_total",
        "sp_http_shed_total",
        "sp_auth_refused_total",
        "sp_auth_throttled_total",
        "sp_connections_refused_total",
        "sp_refresh_reuse_total",
    ] {
        metrics::counter!(name).increment(0);
    }
}

/// Counts and times every request under its route pattern (not the raw path, which would
/// make one series per document id).
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("sp_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    if let Some(error) = response.extensions().get::<crate::ApiError>() {
        // The stable code says why (a 429 of a rate limit or of a token budget, a 503 of a
        // full queue or of model memory).
        metrics::counter!("sp_http_errors_total", "route" => route.clone(), "code" => error.code.as_str())
            .increment(1);
    }
    metrics::histogram!("sp_http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`: every counter, gauge and histogram in Prometheus' text format.
#[utoipa::path(get, path = "/metrics", operation_id = "metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format", body = String, content_type = "text/plain")))]
pub async fn render(State(state): State<AppState>, request: axum::extract::Request) -> Response {
    let client = crate::middleware::failed_credentials::client_address(&request);
    let access = crate::middleware::auth::operations_access(&state, request.headers(), client);
    if let Err(refused) = access.await {
        return refused.into_response();
    }
    sample(&state).await;
    let body = handle().map(PrometheusHandle::render).unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

/// Reads the figures that live elsewhere into gauges and counters.
async fn sample(state: &AppState) {
    // Readiness as the probe sees it, and each check's latency.
    let report = state.check_health().await;
    let ready = report
        .blocking(crate::routes::health::degradable(state))
        .is_empty();
    metrics::gauge!("sp_ready").set(if ready { 1.0 } else { 0.0 });
    for (name, check) in &report.checks {
        let up = check.status == sp_core::health::CheckStatus::Up;
        metrics::gauge!("sp_check_up", "check" => name.clone()).set(if up { 1.0 } else { 0.0 });
        metrics::gauge!("sp_check_latency_seconds", "check" => name.clone())
            .set(check.latency_ms as f64 / 1000.0);
    }
    sample_models(state);
    sample_hub(state);
    let events = sp_core::events::counters();
    metrics::counter!("sp_events_appended_total").absolute(events.appended);
    metrics::counter!("sp_events_committed_total").absolute(events.committed);
    metrics::counter!("sp_events_dead_lettered_total").absolute(events.dead_lettered);
    metrics::counter!("sp_events_followers_lagged_total").absolute(events.followers_lagged);
    if let Some(engine) = state.engine() {
        let s = engine.stats();
        metrics::gauge!("sp_inference_queue_capacity").set(engine.config().queue_capacity as f64);
        metrics::gauge!("sp_inference_waiting").set(s.waiting as f64);
        metrics::gauge!("sp_inference_active").set(s.active as f64);
        metrics::counter!("sp_inference_requests_total").absolute(s.finished);
        metrics::counter!("sp_tokens_generated_total").absolute(s.generated_tokens);
        metrics::counter!("sp_prompt_tokens_total").absolute(s.prompt_tokens);
        metrics::counter!("sp_prompt_tokens_cached_total").absolute(s.cached_tokens);
        metrics::counter!("sp_prefix_cache_hits_total").absolute(s.prefix_cache_hits);
        metrics::counter!("sp_prefix_cache_misses_total").absolute(s.prefix_cache_misses);
        metrics::counter!("sp_prefix_cache_restored_tokens_total")
            .absolute(s.prefix_cache_restored_tokens);
        metrics::gauge!("sp_prefix_cache_bytes").set(s.prefix_cache_bytes as f64);
        metrics::gauge!("sp_prefix_cache_entries").set(s.prefix_cache_entries as f64);
        metrics::counter!("sp_kv_disk_hits_total").absolute(s.kv_disk_hits);
        metrics::counter!("sp_kv_disk_restored_tokens_total").absolute(s.kv_disk_restored_tokens);
        metrics::gauge!("sp_kv_disk_bytes").set(s.kv_disk_bytes as f64);
        metrics::gauge!("sp_kv_disk_files").set(s.kv_disk_files as f64);
    }
    metrics::counter!("sp_embedding_jobs_abandoned_total").absolute(sp_llm::abandoned_jobs());
    let cache = state.backends().cache.stats();
    let backend = state.backends().cache.backend();
    metrics::counter!("sp_cache_hits_total", "backend" => backend).absolute(cache.hits);
    metrics::counter!("sp_cache_misses_total", "backend" => backend).absolute(cache.misses);
    metrics::counter!("sp_cache_bypassed_total", "backend" => backend).absolute(cache.bypassed);
    let lookups = cache.hits + cache.misses;
    if lookups > 0 {
        metrics::gauge!("sp_cache_hit_ratio", "backend" => backend)
            .set(cache.hits as f64 / lookups as f64);
    }
    let pool = state.backends().database.pool_stats();
    let (db, size, idle) = (pool.backend, pool.size, pool.idle);
    metrics::gauge!("sp_db_pool_connections", "db" => db, "state" => "idle").set(idle as f64);
    metrics::gauge!("sp_db_pool_connections", "db" => db, "state" => "used")
        .set(f64::from(size) - idle as f64);
}

/// The catalogue's models: estimated resident bytes of each (0 when not loaded), and the
/// budget they share.
/// Tool calls per service version and outcome: a canary's error rate beside its stable
/// version's. Only once the platform is open (nothing was called before).
fn sample_hub(state: &AppState) {
    let Some(platform) = state.opened_platform() else {
        return;
    };
    for (service, version, ok, failed) in platform.hub.call_counts() {
        for (outcome, count) in [("ok", ok), ("error", failed)] {
            metrics::counter!("sp_hub_calls_total", "service" => service.clone(),
                "version" => version.clone(), "outcome" => outcome)
            .absolute(count);
        }
    }
}

fn sample_models(state: &AppState) {
    let Some(models) = state.models() else {
        return;
    };
    if models.budget() != u64::MAX {
        metrics::gauge!("sp_model_memory_budget_bytes").set(models.budget() as f64);
    }
    for model in models.list() {
        let loaded = model.state == sp_llm::ModelState::Loaded;
        let bytes = match (&model.memory, loaded) {
            (Some(memory), true) => memory.total as f64,
            _ => 0.0,
        };
        metrics::gauge!("sp_model_resident_bytes", "model" => model.name.clone()).set(bytes);
        metrics::gauge!("sp_model_in_use", "model" => model.name).set(model.in_use as f64);
    }
}
