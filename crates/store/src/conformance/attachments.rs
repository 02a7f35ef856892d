//! Attachments: who may link and read an uploaded file, and when one nobody links is collected.
//! Links follow every write to messages (append, delete for everyone, expiry, retention).

use confab_core::attachments::StoredAttachment;
use confab_core::ids::now_millis;
use confab_core::lifecycle::{Actor, ChangeKind, MessageChange, MessageTarget};
use confab_core::rules::attachments::UNLINKED_GRACE_MS;
use confab_core::store::{NewMessage, SharedStore};
use confab_core::Error;
use confab_proto::{Attachment, AttachmentContent, Content, GroupSettings};

use super::{group, user};

/// Records an upload of `uploader` with id `id`, made at `at`.
pub(crate) async fn upload_at(store: &SharedStore, uploader: &str, id: &str, at: i64) -> Attachment {
    let attachment = Attachment {
        attachment_id: id.to_string(),
        content_type: "image/png".into(),
        size: 68,
        filename: format!("{id}.png"),
        sha256: "ab".repeat(32),
        created_at: at,
        width: Some(3),
        height: Some(2),
        has_thumbnail: true,
    };
    store
        .create_attachment(StoredAttachment { attachment, uploader_id: uploader.to_string() })
        .await
        .expect("create attachment")
}

pub(crate) async fn upload(store: &SharedStore, uploader: &str, id: &str) -> Attachment {
    upload_at(store, uploader, id, now_millis()).await
}

fn image(id: &str) -> Content {
    Content::Image(AttachmentContent { attachment_id: id.into(), text: Some("look".into()), metadata: None })
}

async fn post(
    store: &SharedStore,
    conv: &str,
    sender: &str,
    message_id: &str,
    content: Content,
) -> Result<u64, Error> {
    let msg = NewMessage::new(message_id.into(), conv.into(), sender.into(), content);
    store.append(msg, None).await.map(|a| a.message.sequence_number)
}

async fn delete(store: &SharedStore, conv: &str, actor: &str, message_id: &str) {
    let change = MessageChange {
        conversation_id: conv.to_string(),
        target: MessageTarget::id(message_id),
        actor: Actor::User(actor.to_string()),
        kind: ChangeKind::Delete,
        at: now_millis(),
    };
    assert!(store.change_message(change).await.expect("delete").changed);
}

fn hidden(result: Result<Attachment, Error>) -> bool {
    matches!(result, Err(Error::NotFound(_)))
}

pub async fn attachments_are_read_by_the_uploader_and_members_where_linked(store: SharedStore) {
    let a = user(&store, "ada").await;
    let b = user(&store, "bea").await;
    let outsider = user(&store, "cid").await;
    let g = group(&store, &a, std::slice::from_ref(&b), GroupSettings::default()).await;
    let uploaded = upload(&store, &a, "att-read").await;
    assert_eq!(store.attachment("att-read", &a).await.unwrap(), uploaded, "the uploader reads it at once");
    assert!(hidden(store.attachment("att-read", &b).await), "not yet shared with anyone");
    assert!(hidden(store.attachment("no-such", &a).await));

    post(&store, &g, &a, "m-img", image("att-read")).await.expect("post");
    assert_eq!(
        store.attachment("att-read", &b).await.unwrap(),
        uploaded,
        "members of the conversation read it"
    );
    assert!(hidden(store.attachment("att-read", &outsider).await), "exactly as if it did not exist");

    // A member who leaves loses access; the uploader never does.
    store.remove_member(&g, &a, &b).await.expect("remove");
    assert!(hidden(store.attachment("att-read", &b).await));
    store.add_members(&g, &a, std::slice::from_ref(&b), now_millis(), 5).await.expect("re-add");
    assert!(store.attachment("att-read", &b).await.is_ok());

    // Deleting the message for everyone removes the link.
    delete(&store, &g, &a, "m-img").await;
    assert!(hidden(store.attachment("att-read", &b).await));
    assert!(store.attachment("att-read", &a).await.is_ok());
}

pub async fn messages_link_only_their_senders_uploads(store: SharedStore) {
    let a = user(&store, "dot").await;
    let b = user(&store, "eve").await;
    let g = group(&store, &a, std::slice::from_ref(&b), GroupSettings::default()).await;
    upload(&store, &a, "att-own").await;
    let refused = post(&store, &g, &b, "m-b", image("att-own")).await.unwrap_err();
    assert!(matches!(refused, Error::InvalidMessage(_)), "another user's upload: {refused:?}");
    let missing = post(&store, &g, &a, "m-missing", image("no-such")).await.unwrap_err();
    assert_eq!(missing, refused, "an unknown id reads the same");
    assert!(hidden(store.attachment("att-own", &b).await), "a refused message links nothing");

    let first = post(&store, &g, &a, "m-a", image("att-own")).await.expect("the uploader's message");
    let retry = post(&store, &g, &a, "m-a", image("att-own")).await.expect("retry");
    assert_eq!(first, retry, "a retry is the same message");
    // One upload may be shared in several messages and conversations.
    let other = group(&store, &a, &[], GroupSettings::default()).await;
    post(&store, &other, &a, "m-again", image("att-own")).await.expect("shared twice");
}

pub async fn unlinked_attachments_are_collected_after_their_grace(store: SharedStore) {
    let a = user(&store, "fay").await;
    let g = group(&store, &a, &[], GroupSettings::default()).await;
    let now = now_millis();
    upload_at(&store, &a, "att-fresh", now).await;
    upload_at(&store, &a, "att-linked", now).await;
    upload_at(&store, &a, "att-twice", now).await;
    post(&store, &g, &a, "m-linked", image("att-linked")).await.unwrap();
    post(&store, &g, &a, "m-twice-1", image("att-twice")).await.unwrap();
    post(&store, &g, &a, "m-twice-2", image("att-twice")).await.unwrap();

    assert!(store.collect_attachments(now, 100).await.unwrap().is_empty(), "an upload waits for its message");
    let day_later = now + UNLINKED_GRACE_MS;
    assert_eq!(store.collect_attachments(day_later, 100).await.unwrap(), ["att-fresh"]);
    assert!(hidden(store.attachment("att-fresh", &a).await), "forgotten, even by its uploader");
    assert!(store.collect_attachments(day_later, 100).await.unwrap().is_empty(), "collected once");

    // Linked files stay however old; once unlinked they go at the next pass.
    delete(&store, &g, &a, "m-linked").await;
    delete(&store, &g, &a, "m-twice-1").await;
    assert_eq!(store.collect_attachments(now, 100).await.unwrap(), ["att-linked"]);
    assert!(store.attachment("att-twice", &a).await.is_ok(), "still linked by its other message");
    assert!(store.collect_attachments(now, 100).await.unwrap().is_empty());
    delete(&store, &g, &a, "m-twice-2").await;
    assert_eq!(store.collect_attachments(now, 100).await.unwrap(), ["att-twice"], "its last link went");
    let linked_after = post(&store, &g, &a, "m-too-late", image("att-linked")).await.unwrap_err();
    assert!(matches!(linked_after, Error::InvalidMessage(_)), "a collected file cannot be linked again");
}

pub async fn expired_and_purged_messages_unlink_their_attachments(store: SharedStore) {
    let a = user(&store, "gus").await;
    let b = user(&store, "hal").await;
    let g = group(&store, &a, std::slice::from_ref(&b), GroupSettings::default()).await;
    upload(&store, &a, "att-expiring").await;
    let msg = NewMessage {
        expires_in: Some(60),
        ..NewMessage::new("m-exp".into(), g.clone(), a.clone(), image("att-expiring"))
    };
    let sent = store.append(msg, None).await.expect("append").message;
    assert!(store.attachment("att-expiring", &b).await.is_ok());
    assert_eq!(store.expire_messages(sent.timestamp + 61_000, 100).await.unwrap().len(), 1);
    assert!(hidden(store.attachment("att-expiring", &b).await), "the expired message links nothing");
    assert_eq!(store.collect_attachments(sent.timestamp + 61_000, 100).await.unwrap(), ["att-expiring"]);

    upload(&store, &a, "att-old").await;
    post(&store, &g, &a, "m-old", image("att-old")).await.unwrap();
    let year_later = now_millis() + 400 * 24 * 3600 * 1000;
    while store.apply_retention(year_later, 30, 100).await.unwrap() > 0 {}
    assert!(hidden(store.attachment("att-old", &b).await), "the purged message links nothing");
    assert_eq!(store.collect_attachments(year_later, 100).await.unwrap(), ["att-old"]);
}
