//! Each connection's outbound queue: an [`Outbox`] that anyone on the node may push frames into
//! without waiting, and the [`OutboxReceiver`] the connection's writer task drains to the socket.
//! The queue is bounded; a connection whose queue is full is closed rather than allowed to slow
//! anyone else down.
//!
//! Every idle connection holds one, so it is one small allocation: the queue, the writer's waker
//! and the close state together, and no frame slots until frames are queued. (A `tokio` bounded
//! channel allocates a 32-slot block and two cache-padded halves up front, about 1.5 KiB per
//! connection; docs/benchmarks.md → connections.)

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;

use axum::extract::ws::Utf8Bytes;
use futures_util::task::AtomicWaker;
use tokio_util::sync::CancellationToken;

/// A drained queue that had grown past this many slots gives its memory back, so a burst does
/// not stay allocated for the rest of a long idle connection.
const KEEP_SLOTS: usize = 16;

/// Why a connection is being closed by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The outbound queue filled up: the client does not read fast enough.
    SlowConsumer,
    /// No protocol frame for three heartbeat intervals.
    HeartbeatTimeout,
    /// The server is shutting down.
    Shutdown,
    /// A frame over the hard size cap; the stream cannot be resynchronised.
    FrameTooLarge,
    /// The token the connection was opened with was revoked (logout, logout-all, password change,
    /// an administrator closing the user's sessions).
    SessionRevoked,
    /// The user was banned.
    Banned,
}

/// The sending side of one connection's queue. Clones share the queue; the receiver sees the end
/// of the queue once every clone is dropped.
pub struct Outbox {
    shared: Arc<Shared>,
}

/// The writer's side of the queue.
pub struct OutboxReceiver {
    shared: Arc<Shared>,
}

struct Shared {
    state: parking_lot::Mutex<State>,
    /// Woken when a frame is queued or the last sender is gone.
    writer: AtomicWaker,
    capacity: usize,
    senders: AtomicUsize,
    closer: CancellationToken,
    /// Set by the push that found the queue full, so the connection is closed (and counted) once.
    slow: AtomicBool,
}

struct State {
    queue: VecDeque<Utf8Bytes>,
    /// The first reason the connection was asked to close for.
    reason: Option<CloseReason>,
    /// The receiver is gone: frames queued now would never be read.
    receiver_gone: bool,
}

impl Outbox {
    /// A queue of at most `capacity` frames (at least one).
    pub fn new(capacity: usize) -> (Outbox, OutboxReceiver) {
        let shared = Arc::new(Shared {
            state: parking_lot::Mutex::new(State {
                queue: VecDeque::new(),
                reason: None,
                receiver_gone: false,
            }),
            writer: AtomicWaker::new(),
            capacity: capacity.max(1),
            senders: AtomicUsize::new(1),
            closer: CancellationToken::new(),
            slow: AtomicBool::new(false),
        });
        (Outbox { shared: shared.clone() }, OutboxReceiver { shared })
    }

    /// Queues a frame without waiting. A full queue closes the connection (slow consumer); a
    /// connection whose writer is gone drops the frame.
    pub fn push(&self, frame: Utf8Bytes) {
        let mut state = self.shared.state.lock();
        if state.receiver_gone {
            return;
        }
        if state.queue.len() >= self.shared.capacity {
            drop(state);
            if !self.shared.slow.swap(true, Ordering::Relaxed) {
                metrics::counter!("confab_slow_consumer_disconnects_total").increment(1);
                self.close(CloseReason::SlowConsumer);
            }
            return;
        }
        state.queue.push_back(frame);
        drop(state);
        self.shared.writer.wake();
    }

    /// Asks the connection to close; the first reason given wins.
    pub fn close(&self, reason: CloseReason) {
        self.shared.state.lock().reason.get_or_insert(reason);
        self.shared.closer.cancel();
    }

    pub fn close_reason(&self) -> Option<CloseReason> {
        self.shared.state.lock().reason
    }

    pub fn closed(&self) -> &CancellationToken {
        &self.shared.closer
    }
}

impl Clone for Outbox {
    fn clone(&self) -> Self {
        self.shared.senders.fetch_add(1, Ordering::Relaxed);
        Outbox { shared: self.shared.clone() }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        if self.shared.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.writer.wake();
        }
    }
}

impl OutboxReceiver {
    /// The next queued frame, if one is queued now.
    pub fn try_recv(&mut self) -> Option<Utf8Bytes> {
        let mut state = self.shared.state.lock();
        let frame = state.queue.pop_front();
        if state.queue.is_empty() && state.queue.capacity() > KEEP_SLOTS {
            state.queue = VecDeque::new();
        }
        frame
    }

    /// The next frame; `None` once the queue is empty and every [`Outbox`] is gone.
    pub async fn recv(&mut self) -> Option<Utf8Bytes> {
        poll_fn(|cx| {
            if let Some(frame) = self.try_recv() {
                return Poll::Ready(Some(frame));
            }
            if self.shared.senders.load(Ordering::Acquire) == 0 {
                return Poll::Ready(None);
            }
            self.shared.writer.register(cx.waker());
            // A frame queued (or the last sender dropped) between the checks above and the
            // registration woke nobody: look again now that it would.
            if let Some(frame) = self.try_recv() {
                return Poll::Ready(Some(frame));
            }
            if self.shared.senders.load(Ordering::Acquire) == 0 {
                return Poll::Ready(None);
            }
            Poll::Pending
        })
        .await
    }
}

impl Drop for OutboxReceiver {
    fn drop(&mut self) {
        let mut state = self.shared.state.lock();
        state.receiver_gone = true;
        state.queue = VecDeque::new();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn frame(text: &'static str) -> Utf8Bytes {
        Utf8Bytes::from_static(text)
    }

    #[tokio::test]
    async fn frames_arrive_in_order_and_the_queue_ends_with_its_last_sender() {
        let (outbox, mut rx) = Outbox::new(8);
        let other = outbox.clone();
        outbox.push(frame("a"));
        other.push(frame("b"));
        assert_eq!(rx.recv().await.as_deref(), Some("a"));
        assert_eq!(rx.try_recv().as_deref(), Some("b"));
        assert_eq!(rx.try_recv(), None);
        drop(outbox);
        // One sender left: the writer keeps waiting.
        assert!(tokio::time::timeout(Duration::from_millis(20), rx.recv()).await.is_err());
        other.push(frame("c"));
        drop(other);
        assert_eq!(rx.recv().await.as_deref(), Some("c"), "queued before the last sender went");
        assert_eq!(rx.recv().await, None);
    }

    #[tokio::test]
    async fn a_waiting_writer_is_woken_by_a_push_from_another_task() {
        let (outbox, mut rx) = Outbox::new(8);
        let pusher = tokio::spawn(async move {
            for i in 0..1000u32 {
                outbox.push(Utf8Bytes::from(i.to_string()));
                if i % 7 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        });
        let mut seen = 0u32;
        while let Some(frame) = rx.recv().await {
            assert_eq!(frame.as_str(), seen.to_string());
            seen += 1;
            if seen == 1000 {
                break;
            }
        }
        pusher.await.expect("pusher finished");
        assert_eq!(seen, 1000);
    }

    /// Deliveries to one connection come from many tasks at once (every sender's fan-out).
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn pushes_from_many_threads_at_once_each_arrive_once_in_their_pusher_order() {
        const PUSHERS: u32 = 8;
        const EACH: u32 = 2_000;
        let (outbox, mut rx) = Outbox::new((PUSHERS * EACH) as usize);
        let pushers: Vec<_> = (0..PUSHERS)
            .map(|p| {
                let outbox = outbox.clone();
                tokio::spawn(async move {
                    for i in 0..EACH {
                        outbox.push(Utf8Bytes::from(format!("{p}:{i}")));
                        if i % 64 == 0 {
                            tokio::task::yield_now().await;
                        }
                    }
                })
            })
            .collect();
        drop(outbox);
        let mut next = vec![0u32; PUSHERS as usize];
        let mut total = 0;
        // A writer never woken again fails the test rather than hanging it.
        while let Some(frame) =
            tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.expect("woken for every frame")
        {
            let (p, i) = frame.as_str().split_once(':').expect("pusher:index");
            let (p, i): (usize, u32) = (p.parse().expect("pusher"), i.parse().expect("index"));
            assert_eq!(i, next[p], "pusher {p}'s frames in the order it pushed them");
            next[p] += 1;
            total += 1;
        }
        for pusher in pushers {
            pusher.await.expect("pusher finished");
        }
        assert_eq!(total, PUSHERS * EACH, "every frame once; the queue ended with its last sender");
    }

    #[test]
    fn a_full_queue_closes_the_connection_once_and_keeps_what_it_holds() {
        let (outbox, mut rx) = Outbox::new(2);
        for text in ["a", "b", "c", "d"] {
            outbox.push(frame(text));
        }
        assert_eq!(outbox.close_reason(), Some(CloseReason::SlowConsumer));
        assert!(outbox.closed().is_cancelled());
        outbox.close(CloseReason::Shutdown);
        assert_eq!(outbox.close_reason(), Some(CloseReason::SlowConsumer), "the first reason wins");
        assert_eq!(std::iter::from_fn(|| rx.try_recv()).count(), 2);
    }

    #[test]
    fn frames_for_a_connection_whose_writer_is_gone_are_dropped_without_closing_it() {
        let (outbox, rx) = Outbox::new(1);
        drop(rx);
        for _ in 0..3 {
            outbox.push(frame("x"));
        }
        assert_eq!(outbox.close_reason(), None, "not a slow consumer: nobody reads any more");
        assert!(outbox.shared.state.lock().queue.is_empty());
    }

    #[test]
    fn a_drained_burst_gives_its_memory_back() {
        let (outbox, mut rx) = Outbox::new(1024);
        for _ in 0..200 {
            outbox.push(frame("x"));
        }
        assert!(outbox.shared.state.lock().queue.capacity() >= 200);
        while rx.try_recv().is_some() {}
        assert_eq!(outbox.shared.state.lock().queue.capacity(), 0);
        // A few frames at a time keep their slots: no allocation per frame.
        outbox.push(frame("y"));
        outbox.push(frame("z"));
        while rx.try_recv().is_some() {}
        assert!(outbox.shared.state.lock().queue.capacity() > 0);
    }
}
