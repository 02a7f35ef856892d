//! Typing indicators: nothing is stored. Per user and conversation at most one `typing.update`
//! goes out per second, in either direction: a change inside that second is held and the latest
//! state is sent when the second ends, so a client alternating start and stop costs each member at
//! most one frame a second and the members still end with the typist's last state. The server
//! sends `isTyping: false` after the configured quiet period (5 s) since the last start, on
//! `typing.stop`, and when the typist disconnects. Groups with more members than the typing
//! fan-out limit get no typing updates at all, nor do direct conversations between two users of
//! whom one blocks the other (starts and stops there are accepted and go nowhere).

use std::sync::Arc;
use std::time::Duration;

use confab_core::store::SharedStore;
use confab_core::{Error, Result};
use confab_proto::frames::TypingPayload;
use confab_proto::{ConversationType, ServerFrame};
use dashmap::DashMap;
use tokio::time::Instant;

use super::blocks::BlockCache;
use super::notify::Notifier;

/// Least time between two `typing.update`s for one user in one conversation.
const COALESCE: Duration = Duration::from_secs(1);

type Key = (String, String);

struct State {
    /// What the typist last said, or `false` once the quiet period ran out.
    typing: bool,
    /// What the members were last told.
    announced: bool,
    /// When they were last told anything.
    last_sent: Option<Instant>,
    /// When the server sends `isTyping: false` unless another start comes first.
    deadline: Instant,
    timer_running: bool,
    /// A held change will be sent when the current second ends.
    flush_scheduled: bool,
}

impl State {
    /// Nothing to send and nothing pending: the entry can go.
    fn idle(&self) -> bool {
        !self.typing && !self.announced && !self.timer_running && !self.flush_scheduled
    }
}

/// What to do after a change: send now, or send what holds when the current second ends.
enum Next {
    Nothing,
    Send(bool),
    FlushAt(Instant),
}

pub(crate) struct TypingTracker {
    notifier: Notifier,
    /// Quiet time after the last start before `isTyping: false`.
    timeout: Duration,
    /// Conversations with more members than this get no typing updates.
    fanout_limit: usize,
    /// (conversation, user) → state.
    states: DashMap<Key, State>,
    store: SharedStore,
    /// Blocks between the two members of a two-member conversation.
    blocks: Arc<BlockCache>,
    /// Conversation → whether it is a direct one, for two-member conversations whose members block
    /// each other (a conversation's type never changes). Bounded like the block cache.
    direct: DashMap<String, bool>,
}

/// Conversations whose type is kept at most; past this the map starts over.
const MAX_CACHED_KINDS: usize = 100_000;

impl TypingTracker {
    /// Shared as an `Arc`: each typist's quiet-period timer holds the tracker.
    pub(crate) fn new(
        notifier: Notifier,
        timeout: Duration,
        fanout_limit: u32,
        store: SharedStore,
        blocks: Arc<BlockCache>,
    ) -> Arc<TypingTracker> {
        Arc::new(TypingTracker {
            notifier,
            timeout,
            fanout_limit: fanout_limit as usize,
            states: DashMap::new(),
            store,
            blocks,
            direct: DashMap::new(),
        })
    }

    /// `typing.start` from `user`, who must be a member.
    pub(crate) async fn start(self: &Arc<Self>, conversation_id: &str, user: &str) -> Result<()> {
        if self.require_member(conversation_id, user).await? {
            self.started(conversation_id, user);
        }
        Ok(())
    }

    /// `typing.stop` from `user`, who must be a member.
    pub(crate) async fn stop(self: &Arc<Self>, conversation_id: &str, user: &str) -> Result<()> {
        if self.require_member(conversation_id, user).await? {
            self.stopped(conversation_id, user);
        }
        Ok(())
    }

    /// The typist's device went away: no membership check (they may have just left the group).
    pub(crate) fn device_gone(self: &Arc<Self>, conversation_id: &str, user: &str) {
        self.stopped(conversation_id, user);
    }

    /// Fails unless `user` is a member; `false` when the conversation gets no typing indicators:
    /// too large, or a direct conversation with a block either way between its two members.
    async fn require_member(&self, conversation_id: &str, user: &str) -> Result<bool> {
        if conversation_id.is_empty() {
            return Err(Error::InvalidRequest("`conversationId` must not be empty".into()));
        }
        let members = self.notifier.require_member(conversation_id, user).await?;
        if members.len() > self.fanout_limit {
            return Ok(false);
        }
        if let [a, b] = &members[..] {
            let peer = if a == user { b } else { a };
            // The (cached) block look-up first: only a blocked pair needs the conversation's type.
            if self.blocks.either_way(&self.store, user, peer).await?
                && self.is_direct(conversation_id, user).await?
            {
                return Ok(false);
            }
        }
        Ok(true)
    }

    async fn is_direct(&self, conversation_id: &str, user: &str) -> Result<bool> {
        if let Some(direct) = self.direct.get(conversation_id) {
            return Ok(*direct);
        }
        let direct = self.store.conversation(conversation_id, user).await?.kind == ConversationType::Direct;
        if self.direct.len() >= MAX_CACHED_KINDS {
            self.direct.clear();
        }
        self.direct.insert(conversation_id.to_string(), direct);
        Ok(direct)
    }

    /// Decides, with the state locked, whether the members hear about the state now or later.
    /// `refresh`: a repeated start, which re-sends `isTyping: true` once the second has passed.
    fn next(state: &mut State, now: Instant, refresh: bool) -> Next {
        let changed = state.typing != state.announced;
        let resend = refresh && state.typing;
        if !(changed || resend) {
            return Next::Nothing;
        }
        match state.last_sent {
            Some(last) if now.duration_since(last) < COALESCE => {
                if changed && !state.flush_scheduled {
                    state.flush_scheduled = true;
                    Next::FlushAt(last + COALESCE)
                } else {
                    Next::Nothing
                }
            }
            _ => {
                state.announced = state.typing;
                state.last_sent = Some(now);
                Next::Send(state.typing)
            }
        }
    }

    fn act(self: &Arc<Self>, key: &Key, next: Next) {
        match next {
            Next::Nothing => {}
            Next::Send(is_typing) => self.announce(&key.0, &key.1, is_typing),
            Next::FlushAt(at) => {
                let (tracker, key) = (self.clone(), key.clone());
                tokio::spawn(async move {
                    tokio::time::sleep_until(at).await;
                    let next = {
                        let Some(mut state) = tracker.states.get_mut(&key) else { return };
                        state.flush_scheduled = false;
                        Self::next(&mut state, Instant::now(), false)
                    };
                    tracker.act(&key, next);
                    tracker.states.remove_if(&key, |_, s| s.idle());
                });
            }
        }
    }

    fn started(self: &Arc<Self>, conversation_id: &str, user: &str) {
        let now = Instant::now();
        let deadline = now + self.timeout;
        let key = (conversation_id.to_string(), user.to_string());
        let (next, spawn_timer) = {
            let mut state = self.states.entry(key.clone()).or_insert_with(|| State {
                typing: false,
                announced: false,
                last_sent: None,
                deadline,
                timer_running: false,
                flush_scheduled: false,
            });
            state.deadline = deadline;
            state.typing = true;
            let next = Self::next(&mut state, now, true);
            let spawn_timer = !state.timer_running;
            state.timer_running = true;
            (next, spawn_timer)
        };
        self.act(&key, next);
        if spawn_timer {
            // One timer per typist, re-armed by later starts until the deadline stays put.
            let tracker = self.clone();
            tokio::spawn(async move {
                loop {
                    let Some(deadline) = tracker.states.get(&key).map(|s| s.deadline) else { return };
                    tokio::time::sleep_until(deadline).await;
                    let next = {
                        let Some(mut state) = tracker.states.get_mut(&key) else { return };
                        let now = Instant::now();
                        if now < state.deadline {
                            continue;
                        }
                        state.timer_running = false;
                        state.typing = false;
                        Self::next(&mut state, now, false)
                    };
                    tracker.act(&key, next);
                    tracker.states.remove_if(&key, |_, s| s.idle());
                    return;
                }
            });
        }
    }

    fn stopped(self: &Arc<Self>, conversation_id: &str, user: &str) {
        let key = (conversation_id.to_string(), user.to_string());
        let next = match self.states.get_mut(&key) {
            Some(mut state) => {
                state.typing = false;
                Self::next(&mut state, Instant::now(), false)
            }
            None => Next::Nothing,
        };
        self.act(&key, next);
    }

    /// A message from `user` arrived in the conversation. Clients clear a member's typing indicator
    /// when that member's message arrives (the web SDK does), so every member now shows "not
    /// typing" without being told; remembering that keeps the next `typing.start` from being
    /// swallowed as a repeat of what they were last told.
    pub(crate) fn message_sent(&self, conversation_id: &str, user: &str) {
        if let Some(mut state) = self.states.get_mut(&(conversation_id.to_string(), user.to_string())) {
            state.typing = false;
            state.announced = false;
        }
    }

    /// `typing.update` to the other members' devices.
    fn announce(&self, conversation_id: &str, user: &str, is_typing: bool) {
        let frame = ServerFrame::TypingUpdate(TypingPayload {
            conversation_id: conversation_id.to_string(),
            user_id: user.to_string(),
            is_typing,
        });
        let limit = self.fanout_limit;
        let others = move |members: &[String]| -> Vec<String> {
            if members.len() > limit {
                return Vec::new();
            }
            members.iter().filter(|m| *m != user).cloned().collect()
        };
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
                Ok(members) if members.len() <= limit => {
                    let others: Vec<String> = members.iter().filter(|m| **m != user).cloned().collect();
                    notifier.publish(others, &frame, None);
                }
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, "typing.update not sent"),
            }
        });
    }
}
