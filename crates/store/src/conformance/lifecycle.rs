//! Replies, edits, deletes for everyone, reactions and the update sequence that orders them.

use confab_core::ids::{new_id, now_millis};
use confab_core::lifecycle::{Actor, ChangeKind, Changed, MessageChange, MessageTarget};
use confab_core::store::{HistoryCursor, NewMessage, SharedStore};
use confab_core::{Error, Result};
use confab_proto::{Content, GroupSettings, Message, SyncCursor};

use super::{group, text, user};

async fn post(store: &SharedStore, conv: &str, sender: &str, id: &str, t: &str) -> Message {
    let msg = NewMessage::new(id.into(), conv.into(), sender.into(), text(t));
    store.append(msg, None).await.expect("append").message
}

async fn change(
    store: &SharedStore,
    conv: &str,
    actor: Actor,
    id: &str,
    kind: ChangeKind,
) -> Result<Changed> {
    change_at(store, conv, actor, id, kind, now_millis()).await
}

/// A change made at `at` (for orders that must not depend on two changes falling in one
/// millisecond).
async fn change_at(
    store: &SharedStore,
    conv: &str,
    actor: Actor,
    id: &str,
    kind: ChangeKind,
    at: i64,
) -> Result<Changed> {
    let change =
        MessageChange { conversation_id: conv.to_string(), target: MessageTarget::id(id), actor, kind, at };
    store.change_message(change).await
}

fn edit(t: &str) -> ChangeKind {
    ChangeKind::Edit { content: text(t), window_ms: None }
}

fn react(emoji: &str, add: bool) -> ChangeKind {
    ChangeKind::React { emoji: emoji.into(), add }
}

fn me(id: &str) -> Actor {
    Actor::User(id.to_string())
}

async fn current(store: &SharedStore, conv: &str, viewer: &str, sequence: u64) -> Message {
    let page = store.history(conv, viewer, HistoryCursor::After(sequence - 1), 1).await.expect("history");
    let mut m = page.messages.into_iter().next().expect("the message");
    m.status = None;
    m
}

pub async fn edits_take_the_next_update_sequence_once(store: SharedStore) {
    let a = user(&store, "edna").await;
    let b = user(&store, "fred").await;
    let outsider = user(&store, "gail").await;
    let g = group(&store, &a, std::slice::from_ref(&b), GroupSettings::default()).await;
    post(&store, &g, &a, "m1", "first").await;
    post(&store, &g, &b, "m2", "second").await;
    assert_eq!(store.conversation(&g, &a).await.unwrap().last_update_sequence, 0);

    let edited = change(&store, &g, me(&a), "m1", edit("first, edited")).await.unwrap();
    assert!(edited.changed);
    assert_eq!((edited.message.update_sequence, edited.message.content.clone()), (1, text("first, edited")));
    assert!(edited.message.edited_at.is_some());
    assert_eq!(current(&store, &g, &b, 1).await, edited.message, "history shows the current state");
    // The same text again changes nothing and takes no update sequence.
    let again = change(&store, &g, me(&a), "m1", edit("first, edited")).await.unwrap();
    assert_eq!((again.changed, again.message.update_sequence), (false, 1));

    // Only the sender edits; members of the conversation only; existing messages only.
    assert!(matches!(change(&store, &g, me(&b), "m1", edit("x")).await, Err(Error::Forbidden(_))));
    assert!(matches!(change(&store, &g, me(&outsider), "m1", edit("x")).await, Err(Error::Forbidden(_))));
    assert_eq!(change(&store, &g, me(&a), "nope", edit("x")).await.unwrap_err(), Error::MessageNotFound);
    assert_eq!(
        change(&store, "no-such", me(&a), "m1", edit("x")).await.unwrap_err(),
        Error::ConversationNotFound
    );
    // Past the window: refused, with the time measured from the message's timestamp.
    let late = MessageChange {
        conversation_id: g.clone(),
        target: MessageTarget::id("m2"),
        actor: me(&b),
        kind: ChangeKind::Edit { content: text("late"), window_ms: Some(1_000) },
        at: edited.message.timestamp + 60_000,
    };
    assert!(matches!(store.change_message(late).await, Err(Error::Forbidden(_))));
    // An edit must keep the content type.
    let image = Content::Image(confab_proto::AttachmentContent {
        attachment_id: "a".into(),
        text: None,
        metadata: None,
    });
    let wrong = ChangeKind::Edit { content: image, window_ms: None };
    assert!(matches!(change(&store, &g, me(&b), "m2", wrong).await, Err(Error::InvalidMessage(_))));

    let second = change(&store, &g, me(&b), "m2", edit("second, edited")).await.unwrap();
    assert_eq!(second.message.update_sequence, 2, "refused changes left no gap");
    let view = store.conversation(&g, &a).await.unwrap();
    assert_eq!((view.last_update_sequence, view.first_sequence, view.last_sequence), (2, 1, 2));
    assert_eq!(view.last_message.map(|m| m.content), Some(text("second, edited")));
}

pub async fn deletes_leave_tombstones_in_place(store: SharedStore) {
    let admin = user(&store, "hugo").await;
    let b = user(&store, "iris").await;
    let c = user(&store, "jack").await;
    let g = group(&store, &admin, &[b.clone(), c.clone()], GroupSettings::default()).await;
    post(&store, &g, &b, "b1", "secret").await;
    post(&store, &g, &c, "c1", "mine").await;
    let reply = NewMessage {
        reply_to: Some("b1".into()),
        ..NewMessage::new("c2".into(), g.clone(), c.clone(), text("re"))
    };
    store.append(reply, None).await.unwrap();
    change(&store, &g, me(&c), "b1", react("👍", true)).await.unwrap();

    assert!(matches!(change(&store, &g, me(&c), "b1", ChangeKind::Delete).await, Err(Error::Forbidden(_))));
    let gone = change(&store, &g, me(&b), "b1", ChangeKind::Delete).await.unwrap();
    assert!(gone.changed);
    let m = &gone.message;
    assert_eq!(
        (m.content.clone(), m.deleted, m.reactions.clone(), m.update_sequence),
        (Content::Deleted, Some(true), None, 2)
    );
    assert_eq!(m.sequence_number, 1, "a tombstone keeps its place");
    assert_eq!(current(&store, &g, &admin, 1).await, gone.message);
    // Deleting twice changes nothing; nothing else can happen to a tombstone.
    let twice = change(&store, &g, me(&b), "b1", ChangeKind::Delete).await.unwrap();
    assert_eq!((twice.changed, twice.message.update_sequence), (false, 2));
    assert_eq!(
        change(&store, &g, me(&c), "b1", react("🎉", true)).await.unwrap_err(),
        Error::MessageNotFound
    );
    assert_eq!(change(&store, &g, me(&b), "b1", edit("back")).await.unwrap_err(), Error::MessageNotFound);
    // The reply still points at the tombstone.
    assert_eq!(current(&store, &g, &b, 3).await.reply_to_sequence, Some(1));

    // A group admin deletes anyone's message; the newest message's tombstone is the last message.
    post(&store, &g, &c, "c3", "last").await;
    let by_admin = change(&store, &g, me(&admin), "c3", ChangeKind::Delete).await.unwrap();
    assert_eq!(by_admin.message.update_sequence, 3);
    let view = store.conversation(&g, &b).await.unwrap();
    assert_eq!(view.last_message.map(|m| (m.sequence_number, m.deleted)), Some((4, Some(true))));
    // A server administrator deletes without being a member; they may do nothing else.
    let root = user(&store, "root").await;
    let deleted =
        change(&store, &g, Actor::ServerAdmin(root.clone()), "c1", ChangeKind::Delete).await.unwrap();
    assert_eq!((deleted.changed, deleted.message.update_sequence), (true, 4));
    assert!(matches!(
        change(&store, &g, Actor::ServerAdmin(root.clone()), "c2", react("x", true)).await,
        Err(Error::Forbidden(_))
    ));
    assert!(matches!(
        change(&store, &g, me(&root), "c2", ChangeKind::Delete).await,
        Err(Error::Forbidden(_))
    ));

    // In a direct conversation nobody is an admin: only the sender deletes.
    let (direct, _) = store.open_direct(&b, &c, new_id(), now_millis()).await.unwrap();
    post(&store, &direct, &b, "d1", "hi").await;
    assert!(matches!(
        change(&store, &direct, me(&c), "d1", ChangeKind::Delete).await,
        Err(Error::Forbidden(_))
    ));
}

pub async fn reactions_count_each_user_once(store: SharedStore) {
    let a = user(&store, "kate").await;
    let b = user(&store, "liam").await;
    let g = group(&store, &a, std::slice::from_ref(&b), GroupSettings::default()).await;
    post(&store, &g, &a, "m", "react to me").await;
    let t = now_millis();
    let added = change_at(&store, &g, me(&b), "m", react("👍", true), t).await.unwrap();
    assert!(added.changed);
    let twice = change_at(&store, &g, me(&b), "m", react("👍", true), t + 1).await.unwrap();
    assert_eq!((twice.changed, twice.message.update_sequence), (false, 1), "adding twice is a no-op");
    change_at(&store, &g, me(&a), "m", react("👍", true), t + 2).await.unwrap();
    let party = change_at(&store, &g, me(&a), "m", react("🎉", true), t + 3).await.unwrap().message;
    let summary = party.reactions.clone().unwrap();
    assert_eq!(
        summary.iter().map(|r| (r.emoji.as_str(), r.count)).collect::<Vec<_>>(),
        [("👍", 2), ("🎉", 1)]
    );
    assert_eq!(summary[0].user_ids, [b.clone(), a.clone()], "earliest first");
    assert_eq!(current(&store, &g, &b, 1).await, party);

    let removed = change(&store, &g, me(&b), "m", react("👍", false)).await.unwrap();
    assert_eq!(removed.message.reactions.as_ref().unwrap()[0].count, 1);
    let absent = change(&store, &g, me(&b), "m", react("👍", false)).await.unwrap();
    assert!(!absent.changed, "removing what is not there is a no-op");
    change(&store, &g, me(&a), "m", react("👍", false)).await.unwrap();
    let last = change(&store, &g, me(&a), "m", react("🎉", false)).await.unwrap();
    assert_eq!((last.message.reactions.clone(), last.message.update_sequence), (None, 6));

    // At most 20 distinct emoji per user per message; others may still react.
    for n in 0..20 {
        change(&store, &g, me(&a), "m", react(&format!("e{n}"), true)).await.unwrap();
    }
    assert!(matches!(
        change(&store, &g, me(&a), "m", react("e20", true)).await,
        Err(Error::InvalidRequest(_))
    ));
    assert!(change(&store, &g, me(&b), "m", react("e20", true)).await.unwrap().changed);
    let outsider = user(&store, "mona").await;
    assert!(matches!(
        change(&store, &g, me(&outsider), "m", react("x", true)).await,
        Err(Error::Forbidden(_))
    ));
}

/// Many users reacting to one message at once: every reaction counted exactly once, and every
/// change took its own update sequence, gapless.
pub async fn concurrent_reactions_lose_no_update(store: SharedStore) {
    let owner = user(&store, "nora").await;
    let mut members = Vec::new();
    for n in 0..24 {
        members.push(user(&store, &format!("fan{n}")).await);
    }
    let g = super::group_with(&store, &owner, &members, GroupSettings::default(), now_millis(), 100).await;
    post(&store, &g, &owner, "m", "popular").await;
    let mut tasks = Vec::new();
    for (n, member) in members.iter().enumerate() {
        let (store, g, member) = (store.clone(), g.clone(), member.clone());
        tasks.push(tokio::spawn(async move {
            let mut sequences = Vec::new();
            // Each adds 👍 (twice: the second is a no-op) and every other one also 🎉 then removes it.
            for kind in [react("👍", true), react("👍", true), react("🎉", true), react("🎉", n % 2 == 0)]
            {
                let done = change(&store, &g, me(&member), "m", kind).await.expect("reaction");
                if done.changed {
                    sequences.push(done.message.update_sequence);
                }
            }
            sequences
        }));
    }
    let mut taken = Vec::new();
    for task in tasks {
        taken.extend(task.await.unwrap());
    }
    taken.sort_unstable();
    let expected_changes = 24 + 24 + 12;
    assert_eq!(taken, (1..=expected_changes).collect::<Vec<u64>>(), "gapless, each taken once");
    let m = current(&store, &g, &owner, 1).await;
    let mut counts: Vec<(String, u32, usize)> =
        m.reactions.unwrap().into_iter().map(|r| (r.emoji, r.count, r.user_ids.len())).collect();
    counts.sort();
    assert_eq!(counts, [("🎉".to_string(), 12, 12), ("👍".to_string(), 24, 20)]);
    assert_eq!(m.update_sequence, expected_changes);
    assert_eq!(store.conversation(&g, &owner).await.unwrap().last_update_sequence, expected_changes);
}

/// A device that was away converges: sync with its cursors returns exactly the messages changed
/// since, in their current state.
pub async fn sync_returns_what_changed_since_the_update_cursor(store: SharedStore) {
    let a = user(&store, "olaf").await;
    let b = user(&store, "pia").await;
    let g = group(&store, &a, std::slice::from_ref(&b), GroupSettings::default()).await;
    for n in 1..=6 {
        post(&store, &g, &a, &format!("m{n}"), &format!("text {n}")).await;
    }
    change(&store, &g, me(&a), "m1", edit("early edit")).await.unwrap();
    // The device saw everything up to here: sequence 6, update sequence 1.
    change(&store, &g, me(&a), "m2", edit("one")).await.unwrap();
    change(&store, &g, me(&b), "m3", react("👍", true)).await.unwrap();
    change(&store, &g, me(&a), "m2", edit("two")).await.unwrap();
    change(&store, &g, me(&a), "m4", ChangeKind::Delete).await.unwrap();
    post(&store, &g, &a, "m7", "new").await;
    change(&store, &g, me(&a), "m7", edit("new, edited")).await.unwrap();

    let synced = store.sync(&b, &[SyncCursor::with_updates(g.clone(), 6, 1)], 100).await.unwrap();
    let entry = &synced.conversations[0];
    let updates = entry.updates.clone().unwrap();
    let changed: Vec<(u64, u64)> = updates.iter().map(|m| (m.sequence_number, m.update_sequence)).collect();
    assert_eq!(changed, [(3, 3), (2, 4), (4, 5)], "each changed message once, ascending by update sequence");
    assert_eq!(updates[1].content, text("two"), "in its current state");
    assert_eq!(updates[2].content, Content::Deleted);
    assert_eq!(entry.messages.iter().map(|m| m.sequence_number).collect::<Vec<_>>(), [7]);
    assert_eq!(entry.messages[0].content, text("new, edited"), "new messages come in their current state");
    assert_eq!((entry.last_update_sequence, entry.first_sequence, entry.has_more), (6, 1, false));
    for m in &updates {
        assert_eq!(*m, current(&store, &g, &b, m.sequence_number).await, "the same as history");
    }

    // Cut short: the cursor continues after the last update returned.
    let first = store.sync(&b, &[SyncCursor::with_updates(g.clone(), 7, 1)], 2).await.unwrap();
    let entry = &first.conversations[0];
    assert_eq!(entry.updates.as_ref().map(Vec::len), Some(2));
    assert!(entry.has_more);
    assert_eq!(entry.last_update_sequence, 4);
    let rest = store
        .sync(&b, &[SyncCursor::with_updates(g.clone(), 7, entry.last_update_sequence)], 2)
        .await
        .unwrap();
    let seen: Vec<u64> = rest.conversations[0].updates.iter().flatten().map(|m| m.update_sequence).collect();
    assert_eq!(seen, [5, 6]);
    assert_eq!(rest.conversations[0].last_update_sequence, 6);
    // Without `lastUpdateSequence`, no updates are returned.
    let plain = store.sync(&b, &[SyncCursor::new(g.clone(), 7)], 100).await.unwrap();
    assert_eq!(plain.conversations[0].updates, None);
    assert_eq!(plain.conversations[0].last_update_sequence, 6);
    // Caught up: nothing.
    let idle = store.sync(&b, &[SyncCursor::with_updates(g.clone(), 7, 6)], 100).await.unwrap();
    assert_eq!(idle.conversations[0].updates, Some(vec![]));
    let empty = group(&store, &a, &[], GroupSettings::default()).await;
    let view = store.conversation(&empty, &a).await.unwrap();
    assert_eq!((view.first_sequence, view.last_update_sequence), (0, 0));
}

pub async fn replies_name_a_message_of_the_same_conversation(store: SharedStore) {
    let a = user(&store, "quin").await;
    let b = user(&store, "rosa").await;
    let (c, _) = store.open_direct(&a, &b, new_id(), now_millis()).await.unwrap();
    let (other, _) =
        store.open_direct(&a, &user(&store, "saul").await, new_id(), now_millis()).await.unwrap();
    post(&store, &c, &a, "q", "question?").await;
    post(&store, &other, &a, "elsewhere", "hi").await;
    let reply = |id: &str, to: &str| NewMessage {
        reply_to: Some(to.into()),
        ..NewMessage::new(id.into(), c.clone(), b.clone(), text("answer"))
    };
    let answered = store.append(reply("r1", "q"), None).await.unwrap().message;
    assert_eq!((answered.reply_to.as_deref(), answered.reply_to_sequence), (Some("q"), Some(1)));
    assert_eq!(current(&store, &c, &a, 2).await.reply_to_sequence, Some(1));
    for bad in ["elsewhere", "missing"] {
        assert!(matches!(store.append(reply("r2", bad), None).await, Err(Error::InvalidMessage(_))), "{bad}");
    }
    // A retry is the same message; the same id replying to something else is not.
    assert!(!store.append(reply("r1", "q"), None).await.unwrap().created);
    assert_eq!(store.append(reply("r1", "r1"), None).await.unwrap_err(), Error::DuplicateMessage);
    // A reply queued right behind its target (one batch where the adapter batches) finds it.
    let target = NewMessage::new("t".into(), c.clone(), a.clone(), text("target"));
    let (t, r) = tokio::join!(store.append(target, None), store.append(reply("r3", "t"), None));
    let (t, r) = (t.unwrap().message, r.unwrap().message);
    assert_eq!(r.reply_to_sequence, Some(t.sequence_number));
    assert_eq!(r.sequence_number, t.sequence_number + 1, "nothing refused left a gap");
}

/// When two senders used one `messageId` in a conversation, a change means the named sender's,
/// else the actor's own, else the newest.
pub async fn a_shared_message_id_is_changed_by_the_rule(store: SharedStore) {
    let a = user(&store, "tess").await;
    let b = user(&store, "umar").await;
    let c = user(&store, "vic").await;
    let g = group(&store, &a, &[b.clone(), c.clone()], GroupSettings::default()).await;
    post(&store, &g, &a, "dup", "from a").await;
    post(&store, &g, &b, "dup", "from b").await;
    // Each sender edits their own.
    assert_eq!(change(&store, &g, me(&a), "dup", edit("a2")).await.unwrap().message.sequence_number, 1);
    assert_eq!(change(&store, &g, me(&b), "dup", edit("b2")).await.unwrap().message.sequence_number, 2);
    // Someone else: the newest, unless they name the sender.
    assert_eq!(
        change(&store, &g, me(&c), "dup", react("👍", true)).await.unwrap().message.sequence_number,
        2
    );
    let named = MessageChange {
        conversation_id: g.clone(),
        target: MessageTarget { message_id: "dup".into(), sender_id: Some(a.clone()) },
        actor: me(&c),
        kind: react("👍", true),
        at: now_millis(),
    };
    assert_eq!(store.change_message(named).await.unwrap().message.sequence_number, 1);
    for seq in [1, 2] {
        assert_eq!(current(&store, &g, &a, seq).await.reactions.map(|r| r[0].count), Some(1));
    }
}

/// The text [`a_deleted_message`] sends, which no row may hold afterwards.
pub const ERASED_TEXT: &str = "the launch code is 0000";

/// A message with a reply link, an edit and two reactions, then deleted for everyone: for each
/// adapter's own test that its rows no longer hold any of it. Returns the conversation and the
/// message's sequence number.
pub async fn a_deleted_message(store: &SharedStore) -> (String, u64) {
    let a = user(store, "wanda").await;
    let b = user(store, "xena").await;
    let (c, _) = store.open_direct(&a, &b, new_id(), now_millis()).await.unwrap();
    post(store, &c, &b, "q", "what is it?").await;
    let secret = NewMessage {
        reply_to: Some("q".into()),
        ..NewMessage::new("s".into(), c.clone(), a.clone(), text("draft"))
    };
    let sequence = store.append(secret, None).await.unwrap().message.sequence_number;
    change(store, &c, me(&a), "s", edit(ERASED_TEXT)).await.unwrap();
    change(store, &c, me(&b), "s", react("😮", true)).await.unwrap();
    change(store, &c, me(&a), "s", react("🤫", true)).await.unwrap();
    let gone = change(store, &c, me(&a), "s", ChangeKind::Delete).await.unwrap().message;
    assert_eq!((gone.content, gone.reply_to, gone.reactions), (Content::Deleted, None, None));
    (c, sequence)
}
