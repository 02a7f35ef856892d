//! Store invariants under random interleavings (proptest). A script is a few rounds of operations
//! run concurrently against a fresh group of three: appends (the senders share a small pool of
//! `messageId`s and contents, so resends with the same or other content are frequent, also within
//! one round), delivered and read marker moves, history pages and syncs. After every round the
//! outcomes are checked against a model: sequences are 1..n without gaps or duplicates, each
//! `(sender, messageId)` is stored once (a resend with the same content gets the original, with
//! other content `DuplicateMessage`, whichever concurrent send won), markers never move back and
//! never pass the last sequence, and reads only ever see a gapless prefix of what is stored.
//!
//! Cases are few and the random source is seeded, so the suite is quick and runs the same scripts
//! every time; the interleavings themselves are the scheduler's, so every check holds for any.

use std::collections::HashMap;

use confab_core::ids::{new_id, now_millis};
use confab_core::store::{
    Appended, HistoryCursor, HistoryPage, MarkerMove, NewMessage, ReadMove, SharedStore,
};
use confab_core::{Error, Result};
use confab_proto::{GroupSettings, SyncCursor, SyncResponse};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use super::{group_with, text, user};

/// Scripts per adapter: enough to mix every kind of operation, few enough for a seconds-long run.
const CASES: u32 = 12;
const MEMBERS: usize = 3;
/// `messageId`s are `m0`..`m3` for every sender, so ids collide both within and across senders.
const IDS: u8 = 4;
const CONTENTS: u8 = 2;

#[derive(Debug, Clone)]
enum Op {
    Append { sender: usize, id: u8, content: u8 },
    Delivered { member: usize, up_to: u64 },
    Read { member: usize, up_to: u64 },
    History { member: usize, limit: u32 },
    Sync { member: usize, after: u64, limit: u32 },
}

fn op() -> impl Strategy<Value = Op> {
    let member = 0..MEMBERS;
    prop_oneof![
        5 => (member.clone(), 0..IDS, 0..CONTENTS)
            .prop_map(|(sender, id, content)| Op::Append { sender, id, content }),
        1 => (member.clone(), 0..20u64).prop_map(|(member, up_to)| Op::Delivered { member, up_to }),
        1 => (member.clone(), 0..20u64).prop_map(|(member, up_to)| Op::Read { member, up_to }),
        1 => (member.clone(), 1..8u32).prop_map(|(member, limit)| Op::History { member, limit }),
        1 => (member, 0..16u64, 1..8u32).prop_map(|(member, after, limit)| Op::Sync { member, after, limit }),
    ]
}

/// Rounds of operations; the operations of one round run at the same time.
fn script() -> impl Strategy<Value = Vec<Vec<Op>>> {
    vec(vec(op(), 1..10), 1..6)
}

enum Outcome {
    Appended(Box<Result<Appended>>),
    Delivered(Result<MarkerMove>),
    Read(Result<ReadMove>),
    Page(Result<HistoryPage>),
    Synced(Result<SyncResponse>),
}

async fn apply(store: SharedStore, group: String, members: Vec<String>, op: Op) -> Outcome {
    match op {
        Op::Append { sender, id, content } => {
            let message = NewMessage {
                message_id: format!("m{id}"),
                conversation_id: group,
                sender_id: members[sender].clone(),
                content: text(&format!("c{content}")),
                reply_to: None,
                expires_in: None,
            };
            Outcome::Appended(Box::new(store.append(message, None).await))
        }
        Op::Delivered { member, up_to } => {
            Outcome::Delivered(store.mark_delivered(&group, &members[member], up_to, now_millis()).await)
        }
        Op::Read { member, up_to } => {
            Outcome::Read(store.mark_read(&group, &members[member], up_to, now_millis()).await)
        }
        Op::History { member, limit } => {
            Outcome::Page(store.history(&group, &members[member], HistoryCursor::Latest, limit).await)
        }
        Op::Sync { member, after, limit } => {
            let cursor = SyncCursor::new(group, after);
            Outcome::Synced(store.sync(&members[member], &[cursor], limit).await)
        }
    }
}

/// What the store must hold: by sequence number, who sent which id with which content.
#[derive(Default)]
struct Model {
    by_seq: Vec<(usize, u8, u8)>,
    by_key: HashMap<(usize, u8), (u8, u64)>,
    /// Delivered and read markers per member, as last observed.
    delivered: [u64; MEMBERS],
    read: [u64; MEMBERS],
}

impl Model {
    fn last(&self) -> u64 {
        self.by_seq.len() as u64
    }

    /// Appends of one round: per `(sender, messageId)` new in this round exactly one created it;
    /// the others, like resends of stored ones, get the original or `DuplicateMessage`.
    fn appends(&mut self, round: &[Op], outcomes: &[Outcome], members: &[String]) {
        let mut created: Vec<(u64, usize, u8, u8)> = Vec::new();
        for (op, outcome) in round.iter().zip(outcomes) {
            let (Op::Append { sender, id, content }, Outcome::Appended(result)) = (op, outcome) else {
                continue;
            };
            let result: &Result<Appended> = result;
            if let Ok(a) = result {
                let m = &a.message;
                assert_eq!(
                    (m.sender_id.as_str(), m.message_id.clone()),
                    (members[*sender].as_str(), format!("m{id}"))
                );
                if a.created {
                    assert_eq!(m.content, text(&format!("c{content}")), "created with what was sent");
                    created.push((m.sequence_number, *sender, *id, *content));
                }
            }
        }
        created.sort_unstable();
        let before = self.last();
        let sequences: Vec<u64> = created.iter().map(|c| c.0).collect();
        assert_eq!(sequences, (before + 1..=before + created.len() as u64).collect::<Vec<_>>(), "gapless");
        for &(seq, sender, id, content) in &created {
            let first = self.by_key.insert((sender, id), (content, seq));
            assert!(first.is_none(), "({sender}, m{id}) was created twice");
            self.by_seq.push((sender, id, content));
        }
        for (op, outcome) in round.iter().zip(outcomes) {
            let (Op::Append { sender, id, content }, Outcome::Appended(result)) = (op, outcome) else {
                continue;
            };
            let result: &Result<Appended> = result;
            let (stored_content, seq) = self.by_key[&(*sender, *id)];
            match result {
                Ok(a) if !a.created => {
                    assert_eq!(*content, stored_content, "a resend with other content was accepted");
                    assert_eq!(a.message.sequence_number, seq, "a resend answers the original");
                    assert_eq!(a.message.content, text(&format!("c{content}")));
                }
                Ok(a) => assert_eq!(a.message.sequence_number, seq),
                Err(Error::DuplicateMessage) => {
                    assert_ne!(*content, stored_content, "a resend with the same content was refused")
                }
                Err(e) => panic!("append failed: {e:?}"),
            }
        }
    }

    /// A read seen during the round: a gapless run of stored messages.
    fn seen(&self, messages: &[confab_proto::Message], members: &[String]) {
        for pair in messages.windows(2) {
            assert_eq!(pair[0].sequence_number + 1, pair[1].sequence_number, "gapless, ascending");
        }
        for m in messages {
            let seq = m.sequence_number;
            assert!((1..=self.last()).contains(&seq), "message {seq} of {} stored was read", self.last());
            let (sender, id, content) = self.by_seq[seq as usize - 1];
            assert_eq!(m.sender_id, members[sender]);
            assert_eq!(
                (m.message_id.clone(), m.content.clone()),
                (format!("m{id}"), text(&format!("c{content}")))
            );
        }
    }
}

/// A marker move seen during a round that began at `before` and ended at `after` messages, from a
/// marker that was at least `floor` when it began.
fn check_move(mv: MarkerMove, up_to: u64, floor: u64, before: u64, after: u64) {
    assert!(mv.current >= mv.previous && mv.previous >= floor, "a marker moved back: {mv:?} from {floor}");
    assert!(mv.current <= after, "a marker passed the last sequence: {mv:?}, last {after}");
    assert!(mv.current >= up_to.min(before), "a move to {up_to} fell short: {mv:?}");
}

async fn run(store: &SharedStore, rounds: Vec<Vec<Op>>) {
    let mut members = Vec::new();
    for _ in 0..MEMBERS {
        members.push(user(store, &format!("prop-{}", new_id())).await);
    }
    let group =
        group_with(store, &members[0], &members[1..], GroupSettings::default(), now_millis(), 5).await;
    let mut model = Model::default();
    for round in rounds {
        let tasks: Vec<_> = round
            .iter()
            .map(|op| tokio::spawn(apply(store.clone(), group.clone(), members.clone(), op.clone())))
            .collect();
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.expect("operation task"));
        }
        let before = model.last();
        model.appends(&round, &outcomes, &members);
        let after = model.last();
        let (delivered_floor, read_floor) = (model.delivered, model.read);
        for (op, outcome) in round.iter().zip(&outcomes) {
            match (op, outcome) {
                (Op::Delivered { member, up_to }, Outcome::Delivered(mv)) => {
                    let mv = *mv.as_ref().expect("mark delivered");
                    check_move(mv, *up_to, delivered_floor[*member], before, after);
                    model.delivered[*member] = model.delivered[*member].max(mv.current);
                }
                (Op::Read { member, up_to }, Outcome::Read(mv)) => {
                    let mv = *mv.as_ref().expect("mark read");
                    check_move(mv.read, *up_to, read_floor[*member], before, after);
                    check_move(mv.delivered, *up_to, delivered_floor[*member], before, after);
                    assert!(mv.delivered.current >= mv.read.current, "read but not received: {mv:?}");
                    model.read[*member] = model.read[*member].max(mv.read.current);
                    model.delivered[*member] = model.delivered[*member].max(mv.delivered.current);
                }
                (Op::History { limit, .. }, Outcome::Page(page)) => {
                    let page = page.as_ref().expect("history");
                    model.seen(&page.messages, &members);
                    assert!(page.messages.len() <= *limit as usize);
                    let newest = page.messages.last().map_or(0, |m| m.sequence_number);
                    assert!((before..=after).contains(&newest), "the newest page ends at {newest}");
                    let first = page.messages.first().map_or(1, |m| m.sequence_number);
                    assert_eq!(page.has_more, first > 1, "has_more of a page starting at {first}");
                }
                (Op::Sync { after: cursor, limit, .. }, Outcome::Synced(synced)) => {
                    let synced = synced.as_ref().expect("sync");
                    assert_eq!(synced.conversations.len(), 1, "a member's conversation is answered");
                    let c = &synced.conversations[0];
                    model.seen(&c.messages, &members);
                    assert!(c.messages.len() <= *limit as usize);
                    assert!((before..=after).contains(&c.last_sequence));
                    if let Some(first) = c.messages.first() {
                        assert_eq!(first.sequence_number, cursor + 1, "sync resumes after the cursor");
                    }
                    let reached = c.messages.last().map_or(*cursor, |m| m.sequence_number);
                    assert_eq!(c.has_more, reached < c.last_sequence, "has_more at {reached}");
                }
                _ => {}
            }
        }
        // Everything stored, in order, once; every marker where it must be.
        let page = store.history(&group, &members[0], HistoryCursor::After(0), 1000).await.expect("history");
        assert_eq!(page.messages.len() as u64, after, "exactly the acknowledged messages are stored");
        model.seen(&page.messages, &members);
        for (member, id) in members.iter().enumerate() {
            let now = store.mark_read(&group, id, 0, now_millis()).await.expect("markers");
            let own = model.by_seq.iter().rposition(|m| m.0 == member).map_or(0, |i| i as u64 + 1);
            assert!(now.read.current >= model.read[member].max(own), "read marker of {member} moved back");
            assert!(now.delivered.current >= model.delivered[member].max(now.read.current));
            assert!(now.delivered.current <= after, "a marker passed the last sequence");
            model.read[member] = now.read.current;
            model.delivered[member] = now.delivered.current;
        }
    }
}

pub async fn random_interleavings_keep_sequences_markers_and_idempotency(store: SharedStore) {
    let handle = tokio::runtime::Handle::current();
    let config = Config { cases: CASES, failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    // proptest drives cases synchronously; each case runs on this runtime's other worker.
    let outcome = tokio::task::block_in_place(|| {
        runner.run(&script(), |rounds| {
            handle.block_on(run(&store, rounds));
            Ok(())
        })
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}
