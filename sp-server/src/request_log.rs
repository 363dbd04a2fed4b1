//! The recent requests of this process, for the console and operators: the last
//! [`CAPACITY`] requests one by one (`GET /v1/requests`, filtered by route, status, key, time
//! and request id), and per-minute sums of the last hour (`GET /v1/requests/summary`: rate,
//! latency percentiles and errors by code, by route; tokens generated, the inference queue's
//! peak and the cache's hits and misses, sampled at most every few seconds while requests
//! come). In memory and per process — each replica shows its own; the audit log (mutating
//! requests) is the durable record.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use serde::Serialize;
use sp_core::Timestamp;

use crate::state::AppState;

/// Requests kept one by one.
pub const CAPACITY: usize = 2000;
/// Minutes of per-minute sums kept.
pub const MINUTES: usize = 60;
/// Latency bucket bounds (ms) the percentiles are read from.
const LATENCY_MS: [f64; 16] = [
    0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0,
    30000.0, 60000.0,
];

/// One request as the log keeps it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LoggedRequest {
    /// When it arrived.
    pub at: Timestamp,
    /// Its `X-Request-Id` (its events carry it as `correlation_id`).
    pub request_id: String,
    /// `GET`, `POST`, …
    pub method: String,
    /// The route pattern (`/v1/documents/{id}`), or `unmatched`.
    pub route: String,
    /// The path as requested (without the query).
    pub path: String,
    /// The status of the answer.
    pub status: u16,
    /// The error's stable code, when it failed.
    pub code: Option<String>,
    /// The key that made it (`admin` for the bootstrap key), when one did.
    pub key_id: Option<String>,
    /// Its tenant, when a key made it.
    pub tenant: Option<String>,
    /// Milliseconds until the answer started.
    pub duration_ms: f64,
}

/// The key of an authenticated request, set on its response by the gateway so the log can
/// name it.
#[derive(Debug, Clone)]
pub(crate) struct AnsweredFor {
    pub key_id: String,
    pub tenant: String,
}

#[derive(Default)]
struct Minute {
    /// Unix minute.
    minute: i64,
    routes: BTreeMap<String, RouteSums>,
    errors: BTreeMap<String, u64>,
    tokens: u64,
    queue_peak: u64,
    cache_hits: u64,
    cache_misses: u64,
}

/// The server's running totals and gauges at one moment (what `/metrics` also reads).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sample {
    /// Tokens the default chat model has generated since start.
    pub generated_tokens: u64,
    /// Requests waiting for an inference slot now.
    pub waiting: u64,
    /// Cache lookups that hit, since start.
    pub cache_hits: u64,
    /// Cache lookups that missed, since start.
    pub cache_misses: u64,
}

/// The least time between two samples.
const SAMPLE_EVERY: Duration = Duration::from_secs(5);

#[derive(Default, Clone)]
struct RouteSums {
    requests: u64,
    failed: u64,
    latency: [u64; LATENCY_MS.len() + 1],
}

/// The log of one process.
#[derive(Default)]
pub struct RequestLog {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    recent: VecDeque<LoggedRequest>,
    minutes: VecDeque<Minute>,
    /// The last sample and when it was taken.
    sampled: Option<(Instant, Sample)>,
}

impl Inner {
    /// The bucket of unix minute `minute`, opened (and the oldest dropped) when new.
    fn minute(&mut self, minute: i64) -> &mut Minute {
        if self.minutes.back().is_none_or(|last| last.minute != minute) {
            self.minutes.push_back(Minute {
                minute,
                ..Minute::default()
            });
            while self.minutes.len() > MINUTES {
                self.minutes.pop_front();
            }
        }
        let last = self.minutes.len() - 1;
        &mut self.minutes[last]
    }
}

/// What `GET /v1/requests` filters by.
#[derive(Debug, Default)]
pub struct RequestFilter {
    /// Only this route pattern.
    pub route: Option<String>,
    /// Only this status, or this class (`5` for every 5xx).
    pub status: Option<u16>,
    /// Only this key's.
    pub key_id: Option<String>,
    /// Only this request.
    pub request_id: Option<String>,
    /// At or after.
    pub since: Option<Timestamp>,
    /// Before.
    pub until: Option<Timestamp>,
    /// Paths containing this text.
    pub search: Option<String>,
}

impl RequestFilter {
    fn admits(&self, entry: &LoggedRequest) -> bool {
        let status = match self.status {
            Some(class @ 1..=5) => entry.status / 100 == class,
            Some(exact) => entry.status == exact,
            None => true,
        };
        status
            && self.route.as_ref().is_none_or(|r| *r == entry.route)
            && self
                .key_id
                .as_ref()
                .is_none_or(|k| entry.key_id.as_ref() == Some(k))
            && self
                .request_id
                .as_ref()
                .is_none_or(|id| *id == entry.request_id)
            && self.since.is_none_or(|since| entry.at >= since)
            && self.until.is_none_or(|until| entry.at < until)
            && self
                .search
                .as_ref()
                .is_none_or(|text| entry.path.contains(text.as_str()))
    }
}

/// One route's figures over a minute.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RouteMinute {
    /// The route pattern.
    pub route: String,
    /// Requests answered.
    pub requests: u64,
    /// Of which failed (4xx and 5xx).
    pub failed: u64,
    /// Median latency, ms (bucket-interpolated).
    pub p50_ms: f64,
    /// 95th percentile latency, ms.
    pub p95_ms: f64,
    /// 99th percentile latency, ms.
    pub p99_ms: f64,
}

/// One minute of the summary.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MinuteSummary {
    /// The minute's start.
    pub at: Timestamp,
    /// By route.
    pub routes: Vec<RouteMinute>,
    /// Failed requests by error code.
    pub errors: BTreeMap<String, u64>,
    /// Tokens the default chat model generated.
    pub tokens_generated: u64,
    /// The most requests seen waiting for an inference slot.
    pub queue_peak: u64,
    /// Cache lookups that hit.
    pub cache_hits: u64,
    /// Cache lookups that missed.
    pub cache_misses: u64,
}

impl RequestLog {
    fn record(&self, entry: LoggedRequest) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let minute = entry.at.as_datetime().timestamp().div_euclid(60);
        {
            let current = inner.minute(minute);
            let sums = current.routes.entry(entry.route.clone()).or_default();
            sums.requests += 1;
            if entry.status >= 400 {
                sums.failed += 1;
            }
            let bucket = LATENCY_MS
                .iter()
                .position(|bound| entry.duration_ms <= *bound)
                .unwrap_or(LATENCY_MS.len());
            sums.latency[bucket] += 1;
            if let Some(code) = &entry.code {
                *current.errors.entry(code.clone()).or_default() += 1;
            }
        }
        inner.recent.push_back(entry);
        while inner.recent.len() > CAPACITY {
            inner.recent.pop_front();
        }
    }

    /// Takes a sample with `read` when one is due (none yet, or the last is [`SAMPLE_EVERY`]
    /// old) and adds what changed since the last one to the current minute: tokens generated
    /// and cache hits and misses (the difference), the queue's peak. One lock per request.
    pub fn sample_if_due(&self, read: impl FnOnce() -> Sample) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if inner
            .sampled
            .is_some_and(|(at, _)| at.elapsed() < SAMPLE_EVERY)
        {
            return;
        }
        let now = read();
        let previous = inner.sampled.map(|(_, sample)| sample).unwrap_or(now);
        inner.sampled = Some((Instant::now(), now));
        let minute = Timestamp::now().as_datetime().timestamp().div_euclid(60);
        let current = inner.minute(minute);
        current.tokens += now
            .generated_tokens
            .saturating_sub(previous.generated_tokens);
        current.cache_hits += now.cache_hits.saturating_sub(previous.cache_hits);
        current.cache_misses += now.cache_misses.saturating_sub(previous.cache_misses);
        current.queue_peak = current.queue_peak.max(now.waiting);
    }

    /// [`sample_if_due`](Self::sample_if_due) without the wait: the next sample now.
    #[cfg(test)]
    fn sample(&self, now: Sample) {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .sampled
            .iter_mut()
            .for_each(|(at, _)| *at -= SAMPLE_EVERY);
        self.sample_if_due(|| now);
    }

    /// The requests `filter` admits, newest first, at most `limit`.
    pub fn find(&self, filter: &RequestFilter, limit: usize) -> Vec<LoggedRequest> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner
            .recent
            .iter()
            .rev()
            .filter(|entry| filter.admits(entry))
            .take(limit)
            .cloned()
            .collect()
    }

    /// The minutes of the last hour that had requests, oldest first.
    pub fn summary(&self) -> Vec<MinuteSummary> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let now_minute = Timestamp::now().as_datetime().timestamp().div_euclid(60);
        inner
            .minutes
            .iter()
            .filter(|m| now_minute - m.minute < MINUTES as i64)
            .map(|m| MinuteSummary {
                at: Timestamp::from_unix_micros(m.minute * 60_000_000)
                    .unwrap_or_else(Timestamp::now),
                routes: m
                    .routes
                    .iter()
                    .map(|(route, sums)| RouteMinute {
                        route: route.clone(),
                        requests: sums.requests,
                        failed: sums.failed,
                        p50_ms: percentile(&sums.latency, 0.50),
                        p95_ms: percentile(&sums.latency, 0.95),
                        p99_ms: percentile(&sums.latency, 0.99),
                    })
                    .collect(),
                errors: m.errors.clone(),
                tokens_generated: m.tokens,
                queue_peak: m.queue_peak,
                cache_hits: m.cache_hits,
                cache_misses: m.cache_misses,
            })
            .collect()
    }
}

/// The `q` quantile of a bucketed latency count, interpolated within its bucket.
fn percentile(counts: &[u64; LATENCY_MS.len() + 1], q: f64) -> f64 {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return 0.0;
    }
    let rank = q * total as f64;
    let mut seen = 0.0;
    for (index, count) in counts.iter().enumerate() {
        let next = seen + *count as f64;
        if next >= rank && *count > 0 {
            let low = if index == 0 {
                0.0
            } else {
                LATENCY_MS[index - 1]
            };
            let high = LATENCY_MS
                .get(index)
                .copied()
                .unwrap_or(LATENCY_MS[LATENCY_MS.len() - 1] * 2.0);
            return low + (high - low) * ((rank - seen) / *count as f64);
        }
        seen = next;
    }
    LATENCY_MS[LATENCY_MS.len() - 1]
}

/// Middleware (inside the routes, so the route pattern is known): logs every request.
pub async fn record(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let at = Timestamp::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let path = request.uri().path().to_owned();
    let request_id = crate::middleware::request_id_of(&request);
    let response = next.run(request).await;
    state.requests().sample_if_due(|| sample_of(&state));
    let answered = response.extensions().get::<AnsweredFor>().cloned();
    state.requests().record(LoggedRequest {
        at,
        request_id,
        method,
        route,
        path,
        status: response.status().as_u16(),
        code: response
            .extensions()
            .get::<crate::ApiError>()
            .map(|error| error.code.as_str().to_owned()),
        key_id: answered.as_ref().map(|a| a.key_id.clone()),
        tenant: answered.map(|a| a.tenant),
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
    });
    response
}

/// The server's figures now, from where `/metrics` reads them.
pub(crate) fn sample_of(state: &AppState) -> Sample {
    let cache = state.backends().cache.stats();
    let engine = state.engine().map(sp_llm::Engine::stats);
    Sample {
        generated_tokens: engine.as_ref().map_or(0, |s| s.generated_tokens),
        waiting: engine.as_ref().map_or(0, |s| s.waiting as u64),
        cache_hits: cache.hits,
        cache_misses: cache.misses,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(route: &str, status: u16, ms: f64) -> LoggedRequest {
        LoggedRequest {
            at: Timestamp::now(),
            request_id: format!("{route}-{status}"),
            method: "GET".into(),
            route: route.into(),
            path: route.into(),
            status,
            code: (status >= 400).then(|| "SP-REQ-001".to_owned()),
            key_id: Some("k1".into()),
            tenant: Some("default".into()),
            duration_ms: ms,
        }
    }

    #[test]
    fn keeps_the_newest_and_filters() {
        let log = RequestLog::default();
        for i in 0..(CAPACITY + 5) {
            log.record(entry("/a", if i % 2 == 0 { 200 } else { 404 }, 1.0));
        }
        let all = log.find(&RequestFilter::default(), usize::MAX);
        assert_eq!(all.len(), CAPACITY);
        let failed = RequestFilter {
            status: Some(4),
            ..RequestFilter::default()
        };
        assert!(log.find(&failed, 10).iter().all(|e| e.status == 404));
        let other_key = RequestFilter {
            key_id: Some("k2".into()),
            ..RequestFilter::default()
        };
        assert!(log.find(&other_key, 10).is_empty());
    }

    #[test]
    fn sums_a_minute_with_percentiles_and_error_codes() {
        let log = RequestLog::default();
        for ms in [1.0, 2.0, 3.0, 4.0, 200.0] {
            log.record(entry("/a", 200, ms));
        }
        log.record(entry("/a", 404, 1.0));
        let minutes = log.summary();
        assert_eq!(minutes.len(), 1);
        let route = &minutes[0].routes[0];
        assert_eq!((route.requests, route.failed), (6, 1));
        assert!(route.p50_ms > 1.0 && route.p50_ms <= 5.0, "{route:?}");
        assert!(route.p99_ms > 100.0 && route.p99_ms <= 250.0, "{route:?}");
        assert_eq!(minutes[0].errors.get("SP-REQ-001"), Some(&1));
    }

    #[test]
    fn samples_add_differences_and_peaks_to_the_minute() {
        let log = RequestLog::default();
        let first = Sample {
            generated_tokens: 100,
            waiting: 1,
            cache_hits: 10,
            cache_misses: 5,
        };
        log.sample(first);
        log.sample_if_due(|| panic!("just sampled: not due"));
        log.sample(Sample {
            generated_tokens: 160,
            waiting: 4,
            cache_hits: 13,
            cache_misses: 6,
        });
        log.sample(Sample {
            generated_tokens: 170,
            waiting: 0,
            ..first
        });
        let minute = log.summary().pop().expect("a minute");
        assert_eq!(minute.tokens_generated, 70, "what changed, not the totals");
        assert_eq!(minute.queue_peak, 4);
        assert_eq!((minute.cache_hits, minute.cache_misses), (3, 1));
    }
}
