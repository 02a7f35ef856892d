//! The state of one WebSocket connection that frame handlers work with, and its ordered request
//! queue: every request is started on arrival and answered, errors included, in the order the
//! requests arrived.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use confab_core::Error;
use confab_proto::{ErrorBody, ServerEnvelope, ServerFrame};
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesOrdered;
use futures_util::FutureExt;

use crate::app::App;
use crate::outbox::Outbox;
use crate::service::{Bulk, HeldUpdates};

pub(super) fn encode(id: Option<String>, frame: ServerFrame) -> Utf8Bytes {
    ServerEnvelope::new(id, frame).to_json().into()
}

fn error_frame(id: Option<String>, body: ErrorBody) -> Utf8Bytes {
    encode(id, ServerFrame::Error(body))
}

/// Room left in the socket's write buffer for a frame's header (at most 14 bytes).
pub(super) const FRAME_HEADER_ROOM: usize = 64;

/// The largest frame a connection can write: the socket's write buffer holds 16 × the frame
/// limit (see `super::HARD_FRAME_CAP_FACTOR`) and refuses, ending the connection, anything larger.
pub(super) fn max_outbound(app: &App) -> usize {
    app.config
        .limits
        .max_frame_bytes
        .saturating_mul(super::HARD_FRAME_CAP_FACTOR)
        .saturating_sub(FRAME_HEADER_ROOM)
}

/// `PAYLOAD_TOO_LARGE` in place of a frame too large to write, so the client learns what happened
/// instead of seeing the connection drop.
pub(super) fn too_large(id: Option<String>, len: usize, max: usize) -> Utf8Bytes {
    tracing::warn!(len, max, "outbound frame too large; sent an error instead");
    error_frame(
        id,
        Error::PayloadTooLarge(format!(
            "a {len}-byte reply is over the {max}-byte frame limit; ask for less"
        ))
        .body(),
    )
}

/// The reply to request `id`, or an error in its place when it is too large to write.
fn encode_within(id: Option<String>, frame: ServerFrame, max: usize) -> Utf8Bytes {
    let text = ServerEnvelope::new(id.clone(), frame).to_json();
    if text.len() > max {
        return too_large(id, text.len(), max);
    }
    text.into()
}

/// An answer on its way out, with the presence updates it holds back until it has been queued.
pub(super) struct Reply {
    frame: Utf8Bytes,
    holds: Option<HeldUpdates>,
}

impl Reply {
    pub(super) fn frame(frame: Utf8Bytes) -> Reply {
        Reply { frame, holds: None }
    }

    pub(super) fn queue(self, outbox: &Outbox) {
        outbox.push(self.frame);
        drop(self.holds);
    }
}

/// A request being handled: `None` when it is not answered.
pub(super) type Pending = BoxFuture<'static, Option<Reply>>;

/// The per-connection state the frame handlers work with.
pub(super) struct Session {
    pub(super) app: Arc<App>,
    pub(super) user_id: String,
    pub(super) connection_id: Arc<str>,
    pub(super) outbox: Outbox,
    /// The device this connection speaks for: its sends count against the device's rate.
    pub(super) device_id: String,
    /// Conversations this device said it is typing in, to stop on disconnect.
    pub(super) typing_in: Arc<parking_lot::Mutex<HashSet<String>>>,
    /// Requests being handled; their replies go out in request order as they are yielded.
    pub(super) pending: FuturesOrdered<Pending>,
    /// Text frames read from the client, for the session's access line.
    pub(super) frames_in: u64,
}

impl Session {
    /// Like [`Session::request`], for a request answered with a `presence.bulk`.
    pub(super) fn request_bulk<F>(&mut self, id: Option<String>, work: F)
    where
        F: Future<Output = Result<Bulk, Error>> + Send + 'static,
    {
        let max = max_outbound(&self.app);
        self.pending.push_back(
            async move {
                Some(match work.await {
                    Ok(bulk) => bulk_reply(id, bulk, max),
                    Err(e) => Reply::frame(error_frame(id, e.body())),
                })
            }
            .boxed(),
        );
    }

    /// Runs `work` in order with this connection's other requests: its frame, or its error as an
    /// `error` frame, carries the request id.
    pub(super) fn request<F>(&mut self, id: Option<String>, work: F)
    where
        F: Future<Output = Result<Option<ServerFrame>, Error>> + Send + 'static,
    {
        let max = max_outbound(&self.app);
        self.pending.push_back(
            async move {
                match work.await {
                    Ok(Some(frame)) => Some(Reply::frame(encode_within(id, frame, max))),
                    Ok(None) => None,
                    Err(e) => Some(Reply::frame(error_frame(id, e.body()))),
                }
            }
            .boxed(),
        );
    }

    /// Answers with an error, in order with the requests before it.
    pub(super) fn refuse(&mut self, id: Option<String>, error: Error) {
        self.refuse_with(id, error.body());
    }

    pub(super) fn refuse_with(&mut self, id: Option<String>, body: ErrorBody) {
        self.pending.push_back(std::future::ready(Some(Reply::frame(error_frame(id, body)))).boxed());
    }
}

pub(super) fn bulk_reply(id: Option<String>, bulk: Bulk, max: usize) -> Reply {
    let Bulk { payload, held } = bulk;
    Reply { frame: encode_within(id, ServerFrame::PresenceBulk(payload), max), holds: Some(held) }
}
