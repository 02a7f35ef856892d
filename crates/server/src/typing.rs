//! Typing indicators: nothing is stored. Repeated `typing.start` within a second is coalesced into
//! one `typing.update`; the server sends `isTyping: false` after the configured quiet period (5 s)
//! since the last start, on `typing.stop`, and when the typist disconnects.

use std::sync::Arc;
use std::time::Duration;

use confab_proto::frames::TypingPayload;
use confab_proto::ServerFrame;
use dashmap::DashMap;
use tokio::time::Instant;

use crate::app::App;

/// Least time between two `isTyping: true` updates for one user in one conversation.
const COALESCE: Duration = Duration::from_secs(1);

struct State {
    typing: bool,
    last_sent: Instant,
    /// When the server sends `isTyping: false` unless another start comes first.
    deadline: Instant,
    timer_running: bool,
}

#[derive(Default)]
pub struct TypingTracker {
    /// (conversation, user) → state.
    states: DashMap<(String, String), State>,
}

impl TypingTracker {
    /// `typing.start` from a member (membership is checked by the caller).
    pub fn start(&self, app: &Arc<App>, conversation_id: &str, user: &str) {
        let now = Instant::now();
        let deadline = now + app.config.typing_timeout;
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
            announce(app, conversation_id, user, true);
        }
        if spawn_timer {
            let app = app.clone();
            tokio::spawn(async move {
                loop {
                    let Some(deadline) = app.typing.states.get(&key).map(|s| s.deadline) else { return };
                    tokio::time::sleep_until(deadline).await;
                    let expired = {
                        let Some(mut state) = app.typing.states.get_mut(&key) else { return };
                        if Instant::now() < state.deadline {
                            continue;
                        }
                        state.timer_running = false;
                        std::mem::replace(&mut state.typing, false)
                    };
                    app.typing.states.remove_if(&key, |_, s| !s.typing && !s.timer_running);
                    if expired {
                        announce(&app, &key.0, &key.1, false);
                    }
                    return;
                }
            });
        }
    }

    /// `typing.stop`, or the typist's device went away.
    pub fn stop(&self, app: &Arc<App>, conversation_id: &str, user: &str) {
        let key = (conversation_id.to_string(), user.to_string());
        let was_typing = match self.states.get_mut(&key) {
            Some(mut state) => std::mem::replace(&mut state.typing, false),
            None => false,
        };
        if was_typing {
            announce(app, conversation_id, user, false);
        }
    }
}

/// `typing.update` to the other members' devices.
fn announce(app: &Arc<App>, conversation_id: &str, user: &str, is_typing: bool) {
    let send = |app: &App, members: &[String]| {
        let others: Vec<String> = members.iter().filter(|m| *m != user).cloned().collect();
        let frame = ServerFrame::TypingUpdate(TypingPayload {
            conversation_id: conversation_id.to_string(),
            user_id: user.to_string(),
            is_typing,
        });
        app.publish(others, &frame);
    };
    // Members are normally cached (the typist's membership was just checked), which keeps a
    // start and a stop in order; otherwise they are loaded first.
    if let Some(members) = app.members.cached(conversation_id) {
        send(app, &members);
        return;
    }
    let (app, conversation_id, user) = (app.clone(), conversation_id.to_string(), user.to_string());
    tokio::spawn(async move {
        match app.members.get(&app.store, &conversation_id).await {
            Ok(members) => {
                let others: Vec<String> = members.iter().filter(|m| **m != user).cloned().collect();
                let frame =
                    ServerFrame::TypingUpdate(TypingPayload { conversation_id, user_id: user, is_typing });
                app.publish(others, &frame);
            }
            Err(e) => tracing::debug!(error = %e, "typing.update not sent"),
        }
    });
}
