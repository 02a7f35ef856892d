//! One function per client frame: each parses nothing (the envelope is already read), calls one
//! service operation and says what to answer. Every answer goes through [`Session::request`] or
//! [`Session::refuse`], so replies leave in request order.

use confab_core::ids::now_millis;
use confab_core::lifecycle::Actor;
use confab_proto::frames::{
    ConversationRef, EditPayload, HeartbeatAckPayload, MessageRefPayload, MessageUpdatedPayload,
    PresenceSetPayload, PresenceSubscribePayload, ReactionPayload, SendPayload, UpToPayload,
};
use confab_proto::{ClientEnvelope, ClientFrame, ServerFrame, SyncRequest};

use tracing::Instrument;

use super::requests::Session;
use crate::service::{Named, SendOptions, Via};

type Id = Option<String>;

pub(super) fn dispatch(session: &mut Session, envelope: ClientEnvelope) {
    let id = envelope.id;
    match envelope.frame {
        ClientFrame::MessageSend(p) => message_send(session, id, p),
        ClientFrame::MessageReceived(p) => message_received(session, id, p),
        ClientFrame::MessageRead(p) => message_read(session, id, p),
        ClientFrame::MessageEdit(p) => message_edit(session, id, p),
        ClientFrame::MessageDelete(p) => message_delete(session, id, p),
        ClientFrame::ReactionAdd(p) => reaction(session, id, p, true),
        ClientFrame::ReactionRemove(p) => reaction(session, id, p, false),
        ClientFrame::TypingStart(p) => typing_start(session, id, p),
        ClientFrame::TypingStop(p) => typing_stop(session, id, p),
        ClientFrame::PresenceSubscribe(p) => presence_subscribe(session, id, p),
        ClientFrame::PresenceSet(p) => presence_set(session, id, p),
        ClientFrame::Sync(request) => sync(session, id, request),
        ClientFrame::Heartbeat(_) => heartbeat(session, id),
    }
}

/// `message.send` → `message.ack` once durable. The send is queued to the store here, on arrival,
/// so this device's sends are committed in the order it sent them.
fn message_send(session: &mut Session, id: Id, p: SendPayload) {
    // The span of the whole send path: the store append and the fan-out run in spans of their own
    // with the same conversation and message ids.
    let span = tracing::debug_span!(
        "ws.message_send",
        connection = %session.connection_id,
        conversation = %p.conversation_id,
        message = p.message_id.as_deref(),
    );
    let via = Via::Connection { id: session.connection_id.clone(), device: &session.device_id };
    let sent = span.in_scope(|| {
        session.app.messages().send(
            &session.user_id,
            &p.conversation_id,
            p.message_id,
            &p.content,
            SendOptions { reply_to: p.reply_to, expires_in_seconds: p.expires_in_seconds },
            via,
        )
    });
    session.request(id, async move { Ok(Some(ServerFrame::MessageAck(sent.await?.ack))) }.instrument(span));
}

/// `message.received`: no answer unless it fails.
fn message_received(session: &mut Session, id: Id, p: UpToPayload) {
    let (app, user) = (session.app.clone(), session.user_id.clone());
    session.request(id, async move {
        app.messages().received(&p.conversation_id, &user, p.up_to_sequence).await?;
        Ok(None)
    });
}

/// `message.read`: no answer unless it fails; this device does not get its own read receipt.
fn message_read(session: &mut Session, id: Id, p: UpToPayload) {
    let (app, user, origin) = (session.app.clone(), session.user_id.clone(), session.connection_id.clone());
    session.request(id, async move {
        app.messages().mark_read(&p.conversation_id, &user, p.up_to_sequence, Some(origin)).await?;
        Ok(None)
    });
}

/// `message.edit` → `message.updated` with the message as edited; the user's other devices and the
/// other members get the same frame.
fn message_edit(session: &mut Session, id: Id, p: EditPayload) {
    let (app, user, origin) = (session.app.clone(), session.user_id.clone(), session.connection_id.clone());
    session.request(id, async move {
        let m =
            app.lifecycle().edit(&user, &p.conversation_id, &p.message_id, &p.content, Some(origin)).await?;
        Ok(Some(ServerFrame::MessageUpdated(MessageUpdatedPayload { message: m })))
    });
}

/// `message.delete` → `message.updated` with the tombstone.
fn message_delete(session: &mut Session, id: Id, p: MessageRefPayload) {
    let (app, user, origin) = (session.app.clone(), session.user_id.clone(), session.connection_id.clone());
    session.request(id, async move {
        let named =
            Named { conversation_id: &p.conversation_id, message_id: &p.message_id, sender_id: p.sender_id };
        let m = app.lifecycle().delete(Actor::User(user), named, Some(origin)).await?;
        Ok(Some(ServerFrame::MessageUpdated(MessageUpdatedPayload { message: m })))
    });
}

/// `reaction.add` / `reaction.remove` → `message.updated` with the reactions as they are now.
fn reaction(session: &mut Session, id: Id, p: ReactionPayload, add: bool) {
    let (app, user, origin) = (session.app.clone(), session.user_id.clone(), session.connection_id.clone());
    session.request(id, async move {
        let named =
            Named { conversation_id: &p.conversation_id, message_id: &p.message_id, sender_id: p.sender_id };
        let m = app.lifecycle().react(&user, named, &p.emoji, add, Some(origin)).await?;
        Ok(Some(ServerFrame::MessageUpdated(MessageUpdatedPayload { message: m })))
    });
}

fn typing_start(session: &mut Session, id: Id, p: ConversationRef) {
    let (app, user, typing_in) = (session.app.clone(), session.user_id.clone(), session.typing_in.clone());
    session.request(id, async move {
        app.typing().start(&p.conversation_id, &user).await?;
        typing_in.lock().insert(p.conversation_id);
        Ok(None)
    });
}

fn typing_stop(session: &mut Session, id: Id, p: ConversationRef) {
    let (app, user, typing_in) = (session.app.clone(), session.user_id.clone(), session.typing_in.clone());
    session.request(id, async move {
        app.typing().stop(&p.conversation_id, &user).await?;
        typing_in.lock().remove(&p.conversation_id);
        Ok(None)
    });
}

/// `presence.subscribe` → `presence.bulk`; updates about those users that arrive meanwhile follow
/// the bulk.
fn presence_subscribe(session: &mut Session, id: Id, p: PresenceSubscribePayload) {
    let (app, outbox, user, connection) =
        (session.app.clone(), session.outbox.clone(), session.user_id.clone(), session.connection_id.clone());
    session.request_bulk(id, async move {
        app.presence().subscribe(&user, &connection, &outbox, &p.user_ids).await
    });
}

/// `presence.set`: applied on arrival; no answer unless it is refused.
fn presence_set(session: &mut Session, id: Id, p: PresenceSetPayload) {
    if let Err(e) = session.app.presence().set_status(&session.user_id, &session.connection_id, p.status) {
        session.refuse(id, e);
    }
}

fn sync(session: &mut Session, id: Id, request: SyncRequest) {
    let (app, user) = (session.app.clone(), session.user_id.clone());
    session.request(id, async move {
        Ok(Some(ServerFrame::SyncResult(app.messages().sync(&user, &request).await?)))
    });
}

/// `heartbeat` → `heartbeat.ack`, in order with the requests before it, so a client can use a
/// heartbeat to know its earlier frames were handled.
fn heartbeat(session: &mut Session, id: Id) {
    session.request(id, async move {
        Ok(Some(ServerFrame::HeartbeatAck(HeartbeatAckPayload { server_time: now_millis() })))
    });
}
