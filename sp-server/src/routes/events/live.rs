//! Following the log live: what a reconnecting client missed first, from the log, then new
//! events as they are appended — over server-sent events or a WebSocket.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt as _};
use sp_core::PageRequest;
use sp_core::auth::Scope;
use sp_core::events::{Event, EventLog, EventQuery, LiveEvent};

use super::{EventParams, log};
use crate::error::ApiError;
use crate::middleware::auth::Caller;
use crate::openapi::GatewayErrors;
use crate::state::AppState;

/// The largest message a WebSocket client may send (it is read only to notice a close).
const MAX_CLIENT_MESSAGE: usize = 4096;

/// Events a replay reads from the log at a time (pages are also bounded in bytes by the
/// store): what a replay holds in memory, however long the stream.
const REPLAY_PAGE: u32 = 100;

/// One item of a live feed.
enum Followed {
    Event(Arc<LiveEvent>),
    /// The client fell behind its live buffer; the feed ends after this.
    Lagged(String),
    /// Reading the replay failed; the feed ends after this.
    Failed(String),
    /// The feed reached `events.max_follow_secs`; it ends after this.
    Expired(String),
    /// The server is shutting down (a rolling update, a scale-in); it ends after this.
    Draining(String),
}

/// Where a replay stands: the next page to read, and the last offset it sent.
struct Replay {
    log: Arc<EventLog>,
    query: EventQuery,
    next: Option<PageRequest>,
    through: Arc<AtomicU64>,
}

impl Replay {
    fn after(cursor: Option<sp_core::Cursor>) -> sp_core::Result<Option<PageRequest>> {
        cursor
            .map(|c| PageRequest::new(Some(REPLAY_PAGE), Some(c.as_str().into())))
            .transpose()
    }

    /// The next page as feed items; an error is the last item.
    async fn page(mut self) -> Option<(Vec<Followed>, Self)> {
        let page = self.next.take()?;
        let got = match self.log.query(&self.query, &page).await {
            Ok(got) => got,
            Err(err) => return Some((vec![Followed::Failed(err.to_string())], self)),
        };
        match Self::after(got.next_cursor) {
            Ok(next) => self.next = next,
            Err(err) => return Some((vec![Followed::Failed(err.to_string())], self)),
        }
        Some((self.items(&got.items), self))
    }

    fn items(&self, events: &[Event]) -> Vec<Followed> {
        if let Some(last) = events.last() {
            self.through.store(last.offset, Ordering::Release);
        }
        events
            .iter()
            .map(|e| Followed::Event(Arc::new(LiveEvent::from(e))))
            .collect()
    }
}

/// Replays `query` from its `from_offset` (if any) a page at a time, then follows the log.
/// The subscription starts before the replay is read, and replayed offsets are skipped live:
/// no gap, no repeat. The first page is read before answering, so a bad offset is an HTTP
/// error; a client that replays slowly while much is appended lags and resumes. The feed
/// ends after a `Lagged` or `Failed` item.
async fn follow<D>(
    log: Arc<EventLog>,
    query: EventQuery,
    owner: &str,
    drain: D,
) -> Result<impl Stream<Item = Followed> + use<D>, ApiError>
where
    D: std::future::Future<Output = ()> + Send + 'static,
{
    let feed = log.follow(query.clone(), owner).map_err(|err| match err {
        sp_core::Error::RateLimited { .. } => ApiError::new(
            sp_core::ErrorCode::RateLimited,
            format!(
                "this key already holds {} live feeds (events.max_followers_per_key), \
                 or the server its most (events.max_followers); close one first",
                log.config().max_followers_per_key
            ),
        ),
        other => other.into(),
    })?;
    if let (Some(stream), None) = (&query.stream, query.from_offset) {
        // Following a stream that never had an event is a mistake more often than a wait.
        if log.store().head(&query.namespace, stream).await?.is_none() {
            return Err(sp_core::Error::StreamUnknown {
                stream: stream.clone(),
            }
            .into());
        }
    }
    let through = Arc::new(AtomicU64::new(0));
    let mut replay = Replay {
        log: log.clone(),
        query: query.clone(),
        next: None,
        through: through.clone(),
    };
    let mut first = Vec::new();
    if query.from_offset.is_some() {
        let got = log
            .query(&query, &PageRequest::new(Some(REPLAY_PAGE), None)?)
            .await?;
        replay.next = Replay::after(got.next_cursor)?;
        first = replay.items(&got.items);
    }
    let rest = futures::stream::unfold(replay, Replay::page)
        .map(futures::stream::iter)
        .flatten();
    let by_offset = query.stream.is_some();
    let live = futures::stream::unfold(Some(feed), move |feed| {
        let through = through.clone();
        async move {
            let mut feed = feed?;
            loop {
                match feed.next().await {
                    Ok(Some(event)) => {
                        let seen = by_offset && event.offset() <= through.load(Ordering::Acquire);
                        if !seen {
                            return Some((Followed::Event(event), Some(feed)));
                        }
                    }
                    Ok(None) => return None,
                    Err(err) => return Some((Followed::Lagged(err.to_string()), None)),
                }
            }
        }
    });
    let lifetime = log.config().max_follow_secs;
    // Why the feed ended early: 1 its lifetime, 2 the server draining.
    let ended = Arc::new(std::sync::atomic::AtomicU8::new(0));
    let fired = ended.clone();
    let deadline = async move {
        let expiry = async {
            if lifetime == 0 {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(std::time::Duration::from_secs(lifetime)).await;
        };
        let reason = tokio::select! {
            () = expiry => 1,
            () = drain => 2,
        };
        fired.store(reason, Ordering::Release);
    };
    // Past its lifetime a feed says so and ends (review finding M10): an idle follower
    // holds its place for `max_follow_secs` at most, and resumes from its last offset. A
    // draining server ends its feeds the same way at once, so its shutdown does not wait out
    // the grace period on them and the followers resume on another replica.
    let expiry = futures::stream::once(async move {
        match ended.load(Ordering::Acquire) {
            1 => Some(Followed::Expired(format!(
                "the feed reached events.max_follow_secs ({lifetime} s): reconnect with the \
                 last offset to go on"
            ))),
            2 => Some(Followed::Draining(
                "this server is shutting down: reconnect with the last offset (Last-Event-ID) \
                 to go on"
                    .into(),
            )),
            _ => None,
        }
    })
    .filter_map(std::future::ready);
    Ok(futures::stream::iter(first)
        .chain(rest)
        .chain(live)
        .take_until(Box::pin(deadline))
        .chain(expiry)
        .scan(false, |ended, item| {
            let item = (!*ended).then(|| {
                *ended = !matches!(item, Followed::Event(_));
                item
            });
            std::future::ready(item)
        }))
}

/// `caller`'s feed of `query` on `state`'s log, ended when the server drains (SSE and
/// WebSocket alike).
async fn follow_as(
    state: &AppState,
    query: EventQuery,
    caller: &Caller,
) -> Result<impl Stream<Item = Followed> + use<>, ApiError> {
    follow(log(state).await?, query, &caller.0.key_id, state.draining()).await
}

/// The query of a live request; a `Last-Event-ID` header resumes a stream after that offset.
fn live_query(
    params: EventParams,
    caller: &Caller,
    headers: &HeaderMap,
) -> Result<EventQuery, ApiError> {
    let (mut query, _) = params.split(caller)?;
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let (Some(last), Some(_)) = (resume, &query.stream) {
        // The largest offset has no successor (review finding L5: `last + 1` overflowed).
        let next = last.checked_add(1).ok_or_else(|| {
            sp_core::Error::invalid_input("Last-Event-ID", "no offset follows it")
        })?;
        query.from_offset = Some(next);
    }
    Ok(query)
}

/// Follow the log live over server-sent events (each `data` one event, `id` its offset). With
/// `stream`, a reconnecting client's `Last-Event-ID` (or `from_offset`) first replays what it
/// missed, then goes on live, with no gap and no repeat. A client too slow to keep up gets an
/// `event: lagged` and the stream ends: reconnect with `Last-Event-ID` (a replay that fails
/// midway ends with `event: error`). A feed lasts `events.max_follow_secs` (an hour), then
/// ends with `event: expired`: reconnect the same way; a server shutting down ends its feeds
/// with `event: draining` at once (reconnect the same way, to another replica). A key may hold `events.max_followers_per_key` feeds at
/// once (16; then `SP-AUTH-003`).
#[utoipa::path(get, path = "/v1/events/live", operation_id = "follow_events", tag = "events",
    params(EventParams),
    responses((status = 200, description = "text/event-stream of events", content_type = "text/event-stream", body = String), GatewayErrors),
    security(("bearer" = ["events"]), ("api_key" = ["events"])))]
pub(super) async fn sse(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    super::QueryOf(params): super::QueryOf<EventParams>,
) -> Result<Response, ApiError> {
    caller.require(Scope::Events)?;
    let query = live_query(params, &caller, &headers)?;
    let feed = follow_as(&state, query, &caller).await?;
    let events = feed.map(|item| {
        Ok::<_, Infallible>(match item {
            Followed::Event(event) => SseEvent::default()
                .id(event.offset().to_string())
                .data(event.json()),
            Followed::Lagged(reason) => SseEvent::default().event("lagged").data(reason),
            Followed::Failed(reason) => SseEvent::default().event("error").data(reason),
            Followed::Expired(reason) => SseEvent::default().event("expired").data(reason),
            Followed::Draining(reason) => SseEvent::default().event("draining").data(reason),
        })
    });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// Follow the log live over a WebSocket: each text message one event (JSON); replay with
/// `stream` + `from_offset` first, as with SSE. A client too slow to keep up gets a close
/// frame with code 4000 and the reason, a feed past `events.max_follow_secs` one with code
/// 4001: reconnect with `from_offset`.
#[utoipa::path(get, path = "/v1/events/ws", operation_id = "follow_events_ws", tag = "events",
    params(EventParams),
    responses((status = 101, description = "Switching to the WebSocket protocol"), GatewayErrors),
    security(("bearer" = ["events"]), ("api_key" = ["events"])))]
pub(super) async fn websocket(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    super::QueryOf(params): super::QueryOf<EventParams>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    caller.require(Scope::Events)?;
    // What the caller may not see is refused before anything about the protocol.
    let query = live_query(params, &caller, &headers)?;
    let upgrade = upgrade.map_err(|refused| {
        ApiError::new(
            sp_core::ErrorCode::BadRequest,
            format!("expected a WebSocket upgrade: {refused}"),
        )
    })?;
    // Refusals (unknown stream, bad offset) answer before the upgrade, as HTTP errors.
    let feed = follow_as(&state, query, &caller).await?;
    // The client only ever closes: a message of its own is never more than a close frame
    // (review finding M10: tungstenite's default buffers up to 64 MiB per message).
    Ok(upgrade
        .max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| forward(socket, Box::pin(feed))))
}

async fn forward(
    mut socket: WebSocket,
    mut feed: std::pin::Pin<Box<dyn Stream<Item = Followed> + Send>>,
) {
    loop {
        tokio::select! {
            item = feed.next() => match item {
                Some(Followed::Event(event)) => {
                    if socket.send(Message::Text(event.json().into())).await.is_err() {
                        return;
                    }
                }
                Some(Followed::Lagged(reason)) => return close(&mut socket, 4000, reason).await,
                Some(Followed::Failed(reason)) => return close(&mut socket, 1011, reason).await,
                Some(Followed::Expired(reason)) => return close(&mut socket, 4001, reason).await,
                // 1012: "service restart" (RFC 6455 registry): reconnect, elsewhere.
                Some(Followed::Draining(reason)) => return close(&mut socket, 1012, reason).await,
                None => return,
            },
            // The client may only close; anything it sends is ignored.
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

/// Ends a feed's socket with a close frame of `code` and `reason`.
async fn close(socket: &mut WebSocket, code: u16, reason: String) {
    let frame = axum::extract::ws::CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}
