//! Typing indicators: nothing is stored. Repeated `typing.start` within a second is coalesced into
//! one `typing.update`; the server sends `isTyping: false` after the configured quiet period (5 s)
//! since the last start, on `typing.stop`, and when the typist disconnects.

use std::sync::Arc;
use std::time::Duration;

use confab_core::{Error, Result};
use confab_proto::frames::TypingPayload;
use confab_proto::ServerFrame;
use dashmap::DashMap;
use tokio::time::Instant;

use super::notify::Notifier;

/// Least time between two `isTyping: true` updates for one user in one conversation.
const COALESCE: Duration = Duration::from_secs(1);

struct State {
    typing: bool,
    last_sent: Instant,
    /// When the server sends `isTyping: false` unless another start comes first.
    deadline: Instant,
    timer_running: bool,
}

pub(crate) struct TypingTracker {
    notifier: Notifier,
    /// Quiet time after the last start before `isTyping: false`.
    timeout: Duration,
    /// (conversation, user) → state.
    states: DashMap<(String, String), State>,
}

impl TypingTracker {
    /// Shared as an `Arc`: each typist's quiet-period timer holds the tracker.
    pub(crate) fn new(notifier: Notifier, timeout: Duration) -> Arc<TypingTracker> {
        Arc::new(TypingTracker { notifier, timeout, states: DashMap::new() })
    }

    /// `typing.start` from `user`, who must be a member.
    pub(crate) async fn start(self: &Arc<Self>, conversation_id: &str, user: &str) -> Result<()> {
        self.require_member(conversation_id, user).await?;
        self.started(conversation_id, user);
        Ok(())
    }

    /// `typing.stop` from `user`, who must be a member.
    pub(crate) async fn stop(&self, conversation_id: &str, user: &str) -> Result<()> {
        self.require_member(conversation_id, user).await?;
        self.stopped(conversation_id, user);
        Ok(())
    }

    /// The typist's device went away: no membership check (they may have just left the group).
    pub(crate) fn device_gone(&self, conversation_id: &str, user: &str) {
        self.stopped(conversation_id, user);
    }

    async fn require_member(&self, conversation_id: &str, user: &str) -> Result<()> {
        if conversation_id.is_empty() {
            return Err(Error::InvalidRequest("`conversationId` must not be empty".into()));
        }
        self.notifier.require_member(conversation_id, user).await.map(|_| ())
    }

    fn started(self: &Arc<Self>, conversation_id: &str, user: &str) {
        let now = Instant::now();
        let deadline = now + self.timeout;
        let key = (conversation_id.to_string(), user.to_string());
        let (send, spawn_timer) = {
            let mut state = self.states.entry(key.clone()).or_insert_with(|| State {
                typing: false,
                last_sent: now - COALESCE,
                deadline,
                timer_running: false,
            });
            state.deadline = deadline;
            let send = !state.typing || now.duration_since(state.last_sent) >= COALESCE;
            if send {
                state.last_sent = now;
            }
            state.typing = true;
            let spawn_timer = !state.timer_running;
            state.timer_running = true;
            (send, spawn_timer)
        };
        if send {
            self.announce(conversation_id, user, true);
        }
        if spawn_timer {
            // One timer per typist, re-armed by later starts until the deadline stays put.
            let tracker = self.clone();
            tokio::spawn(async move {
                loop {
                    let Some(deadline) = tracker.states.get(&key).map(|s| s.deadline) else { return };
                    tokio::time::sleep_until(deadline).await;
                    let expired = {
                        let Some(mut state) = tracker.states.get_mut(&key) else { return };
                        if Instant::now() < state.deadline {
                            continue;
                        }
                        state.timer_running = false;
                        std::mem::replace(&mut state.typing, false)
                    };
                    tracker.states.remove_if(&key, |_, s| !s.typing && !s.timer_running);
                    if expired {
                        tracker.announce(&key.0, &key.1, false);
                    }
                    return;
                }
            });
        }
    }

    fn stopped(&self, conversation_id: &str, user: &str) {
        let key = (conversation_id.to_string(), user.to_string());
        let was_typing = match self.states.get_mut(&key) {
            Some(mut state) => std::mem::replace(&mut state.typing, false),
            None => false,
        };
        if was_typing {
            self.announce(conversation_id, user, false);
        }
    }

    /// `typing.update` to the other members' devices.
    fn announce(&self, conversation_id: &str, user: &str, is_typing: bool) {
        let frame = ServerFrame::TypingUpdate(TypingPayload {
            conversation_id: conversation_id.to_string(),
            user_id: user.to_string(),
            is_typing,
        });
        let others = |members: &[String]| members.iter().filter(|m| *m != user).cloned().collect();
        // Members are normally cached (the typist's membership was just checked), which keeps a
        // start and a stop in order; otherwise they are loaded first.
        if let Some(members) = self.notifier.cached_members(conversation_id) {
            self.notifier.publish(others(&members), &frame, None);
            return;
        }
        let (notifier, conversation_id, user) =
            (self.notifier.clone(), conversation_id.to_string(), user.to_string());
        tokio::spawn(async move {
            match notifier.members(&conversation_id).await {
                Ok(members) => {
                    let others: Vec<String> = members.iter().filter(|m| **m != user).cloned().collect();
                    notifier.publish(others, &frame, None);
                }
                Err(e) => tracing::debug!(error = %e, "typing.update not sent"),
            }
        });
    }
}
