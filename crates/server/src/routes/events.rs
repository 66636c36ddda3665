//! `GET /v1/me/events`: a member's events as Server-Sent Events. `transfer`
//! carries a transfer of theirs as `GET /v1/transfers/{id}` shows it when
//! the event is delivered, `balance` their balance after a movement, `reset`
//! says the `Last-Event-ID` given is too old to resume from (read afresh).
//! `ready` opens the stream once it follows; comment lines keep it alive
//! through proxies. Each replica serves a bounded number per member. A
//! stream lasts no longer than the access token that opened it, or its
//! member's right to act: a client reconnects with a fresh token.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentEncoding};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, get, web};
use futures::StreamExt;
use futures::stream::BoxStream;
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use utoipa::ToSchema;

use pointshare_domain::ports::{EventId, MemberEvent, Notice};
use pointshare_domain::services::{FeedItem, GetTransferError};
use pointshare_domain::{Handle, Member, MemberId, Role};

use super::caller::Caller;
use super::members::balance_of;
use super::parties::transfer_views;
use super::views::{BalanceView, TransferView};
use crate::auth::{ACCESS_FRESHNESS, Bearer};
use crate::headers::LAST_EVENT_ID;
use crate::problem::{ApiError, ProblemCode};
use crate::streams::Slot;
use crate::wiring::AppState;

type State = web::Data<Arc<AppState>>;

/// How long a client waits before reconnecting a dropped stream.
const RECONNECT_AFTER: Duration = Duration::from_secs(2);

/// One message of the stream: its `event:` line names the kind and its
/// `data:` line carries the JSON of that kind; every kind but `ready` has an
/// `id:` line to resume from. Written from this type, so the document
/// describes exactly what is sent.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
pub enum StreamEvent {
    /// The stream follows my events from now on.
    Ready(ReadyEvent),
    /// A transfer I sent or received was recorded or changed state, as `GET /v1/transfers/{id}` shows it.
    Transfer(TransferView),
    /// A movement changed my balance.
    Balance(BalanceView),
    /// `Last-Event-ID` is older than the events kept: read balance and transfers afresh.
    Reset(ResetEvent),
}

/// The data of `ready`: nothing.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadyEvent {}

/// The data of `reset`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResetEvent {
    #[schema(example = "events since Last-Event-ID are no longer kept; read balance and transfers afresh")]
    pub reason: &'static str,
}

impl StreamEvent {
    /// The event as the stream sends it, its name and data as serde writes
    /// them (one source for the wire and the document).
    fn frame(&self, id: Option<EventId>) -> String {
        let value = serde_json::to_value(self).expect("an event serializes");
        let name = value["event"].as_str().expect("every event is named");
        let id = id.map(|id| format!("id: {id}\n")).unwrap_or_default();
        format!("{id}event: {name}\ndata: {}\n\n", value["data"])
    }
}

/// My events as they happen: Server-Sent Events.
#[utoipa::path(get, path = "/v1/me/events", tag = "members", operation_id = "streamMyEvents", security(("bearer" = [])),
    params(("Last-Event-ID" = Option<String>, Header, description = "The `id` of the last event received: the stream resumes after it (browsers send it when they reconnect)")),
    responses(
        (status = 200, content_type = "text/event-stream", body = StreamEvent, description = "Server-Sent Events, each a `StreamEvent`: its `event:` line is the schema's `event` and its `data:` line the schema's `data` (JSON); all but `ready` carry an `id:` line. `ready` once the stream follows; `transfer` when a transfer I sent or received is recorded or changes state; `balance` when a movement changed my balance; `reset` when `Last-Event-ID` is too old to resume from: read balance and transfers afresh. Comment lines every few seconds keep proxies from closing the stream. The stream ends when the access token that opened it expires: reconnect with a fresh one. (The docs page's Try it out shows an answer only once it ends; follow it with `curl -N` or the TypeScript client's `subscribeToEvents`.)"),
        (status = 400, body = crate::problem::Problem, description = "invalid_last_event_id: not an id this API gave"),
        (status = 404, body = crate::problem::Problem, description = "events_disabled: this deployment announces no events (`EVENTS_PUBLISH` off): poll the balance and transfers instead"),
        (status = 429, body = crate::problem::Problem, description = "too_many_streams: close one of your open streams first"),
        (status = 503, body = crate::problem::Problem, description = "events_unavailable: try again shortly")))]
#[get("/v1/me/events")]
pub async fn stream_my_events(state: State, caller: Caller, request: HttpRequest) -> Result<HttpResponse, ApiError> {
    if !state.settings.events.publish {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ProblemCode::EventsDisabled,
            "This service announces no events",
        )
        .detail("poll GET /v1/me/balance and GET /v1/transfers instead"));
    }
    let last_seen = match request.headers().get(LAST_EVENT_ID) {
        None => None,
        Some(value) => {
            Some(value.to_str().ok().and_then(|text| text.trim().parse::<EventId>().ok()).ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    ProblemCode::InvalidLastEventId,
                    "Last-Event-ID is not an id this API gave",
                )
            })?)
        }
    };
    let slot = state.streams.take(caller.member, state.settings.events.streams_per_member).ok_or_else(|| {
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, ProblemCode::TooManyStreams, "Too many event streams open")
            .detail(format!("at most {} per member; close one first", state.settings.events.streams_per_member))
            .retry_after(RECONNECT_AFTER)
    })?;
    let feed = state.services.events.follow(caller.member, last_seen).await.map_err(|error| {
        tracing::warn!(%error, "cannot follow a member's events");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ProblemCode::EventsUnavailable,
            "Events are unavailable; try again shortly",
        )
        .retry_after(RECONNECT_AFTER)
    })?;
    let every = state.settings.events.heartbeat;
    let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let token_left = (caller.bearer.expires - chrono::Utc::now()).to_std().unwrap_or_default();
    let mut recheck = tokio::time::interval_at(tokio::time::Instant::now() + ACCESS_FRESHNESS, ACCESS_FRESHNESS);
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let streaming = Streaming {
        state: Arc::clone(&state),
        member: caller.record,
        bearer: caller.bearer,
        feed,
        heartbeat,
        recheck,
        token_expiry: Box::pin(tokio::time::sleep(token_left)),
        stopping: state.stopping.clone(),
        ready: false,
        _slot: slot,
    };
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        // Compressing would hold events back until a buffer fills.
        .insert_header(ContentEncoding::Identity)
        // nginx: pass each event on at once.
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(futures::stream::unfold(streaming, next_chunk)))
}

struct Streaming {
    state: Arc<AppState>,
    member: Member,
    bearer: Bearer,
    feed: BoxStream<'static, FeedItem>,
    heartbeat: tokio::time::Interval,
    /// As often as the access check's cache renews: a suspension or an
    /// ended session ends the stream within seconds, events or not.
    recheck: tokio::time::Interval,
    token_expiry: Pin<Box<tokio::time::Sleep>>,
    stopping: CancellationToken,
    ready: bool,
    _slot: Slot,
}

async fn next_chunk(mut streaming: Streaming) -> Option<(Result<Bytes, actix_web::Error>, Streaming)> {
    if !streaming.ready {
        streaming.ready = true;
        let ready =
            format!("retry: {}\n{}", RECONNECT_AFTER.as_millis(), StreamEvent::Ready(ReadyEvent {}).frame(None));
        return Some((Ok(Bytes::from(ready)), streaming));
    }
    loop {
        let item = tokio::select! {
            () = streaming.stopping.cancelled() => return None,
            () = &mut streaming.token_expiry => {
                tracing::debug!(member = %streaming.member.id, "the stream's access token expired; ending it");
                return None;
            }
            _ = streaming.heartbeat.tick() => {
                let heartbeat = Bytes::from_static(b": heartbeat\n\n");
                return still_allowed(&streaming).await.then_some((Ok(heartbeat), streaming));
            }
            _ = streaming.recheck.tick() => {
                if !still_allowed(&streaming).await {
                    return None;
                }
                continue;
            }
            item = streaming.feed.next() => item?,
        };
        if !still_allowed(&streaming).await {
            return None;
        }
        let chunk = match item {
            FeedItem::Reset { from } => {
                let reset = ResetEvent {
                    reason: "events since Last-Event-ID are no longer kept; read balance and transfers afresh",
                };
                Some(StreamEvent::Reset(reset).frame(Some(from)))
            }
            FeedItem::Event(event) => match render(&streaming.state, &streaming.member, event).await {
                Ok(chunk) => chunk,
                // The client resumes from the last event it got, this one included.
                Err(error) => {
                    tracing::warn!(%error, member = %streaming.member.id, "could not render an event; ending the stream");
                    return None;
                }
            },
        };
        if let Some(chunk) = chunk {
            return Some((Ok(Bytes::from(chunk)), streaming));
        }
    }
}

/// Whether the member may still follow their events: checked every few
/// seconds and at every event against the records (the access check's few
/// seconds' cache), so a suspension, a removal or the end of the session
/// ends an open stream as it ends any other request.
async fn still_allowed(streaming: &Streaming) -> bool {
    let member = streaming.member.id;
    match streaming.state.access.check(&streaming.bearer, Role::Member).await {
        Ok(_) => true,
        Err(error) => {
            tracing::info!(%member, %error, "the member may no longer follow events; ending the stream");
            false
        }
    }
}

/// The event as the member sees it; `None` for a transfer no longer theirs to see.
async fn render(state: &AppState, member: &Member, event: MemberEvent) -> Result<Option<String>, ApiError> {
    match event.notice {
        Notice::Transfer(id) => {
            let transfer = match state.services.transfers.transfer_for(member.id, id).await {
                Ok(transfer) => transfer,
                Err(GetTransferError::NotFound) => return Ok(None),
                // Ends the stream: the client resumes from this event.
                Err(error) => return Err(error.into()),
            };
            let known: [(MemberId, &Handle); 1] = [(member.id, &member.handle)];
            let view = transfer_views(state, vec![transfer], &known).await?.remove(0);
            Ok(Some(StreamEvent::Transfer(view).frame(Some(event.id))))
        }
        Notice::Balance => {
            let balance = balance_of(state, member).await?;
            Ok(Some(StreamEvent::Balance(balance).frame(Some(event.id))))
        }
    }
}
