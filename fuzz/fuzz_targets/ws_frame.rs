//! WebSocket client frames through `ClientEnvelope::parse`, the function the server's session
//! reads every text frame with, and the reply the server builds from it. Checks: a request id is
//! echoed exactly (a numeric one digit for digit), every error is `INVALID_REQUEST` carrying the
//! id when one could be read, a parsed frame re-encodes to the same frame, and each payload's
//! validation holds its properties.

#![no_main]

use confab_fuzz::bodies;
use confab_proto::{ClientEnvelope, ClientFrame, ErrorCode, ServerEnvelope, ServerFrame};
use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;

#[derive(serde::Deserialize)]
struct RawId<'a> {
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
}

/// The id a frame carries, as its sender wrote it when it is a number.
fn sent_number(text: &str) -> Option<String> {
    let raw: RawId<'_> = serde_json::from_str(text).ok()?;
    let id = raw.id?.get();
    id.starts_with(|c: char| c == '-' || c.is_ascii_digit()).then(|| id.to_string())
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let peeked = ClientEnvelope::peek_id(text);
    let (id, reply) = match ClientEnvelope::parse(text) {
        Ok(envelope) => {
            assert_eq!(envelope.id, peeked, "parse and peek read different ids");
            let again = ClientEnvelope::parse(&envelope.to_json()).expect("a parsed frame re-parses");
            assert_eq!(again.id, envelope.id);
            assert_eq!(again.to_json(), envelope.to_json(), "re-encoding changed the frame");
            match envelope.frame {
                ClientFrame::MessageSend(p) => {
                    bodies::check_ids("messageId", &p.message_id.into_iter().collect::<Vec<_>>());
                    bodies::check_content(&p.content);
                }
                ClientFrame::PresenceSubscribe(p) => bodies::check_ids("userIds", &p.user_ids),
                ClientFrame::Sync(request) => bodies::sync(request),
                _ => {}
            }
            (envelope.id, None)
        }
        Err(e) => {
            assert_eq!(e.body.error, ErrorCode::InvalidRequest);
            if peeked.is_some() {
                assert_eq!(e.id, peeked, "an error lost the request id");
            }
            (e.id.clone(), Some(e.body))
        }
    };
    if let (Some(id), Some(sent)) = (&id, sent_number(text)) {
        assert_eq!(id, &sent, "a numeric id was not echoed as sent");
    }
    // The reply the session sends (here its error form) carries the id back intact.
    let body = reply.unwrap_or_else(|| confab_proto::ErrorBody::new(ErrorCode::InvalidRequest, "x"));
    let json = ServerEnvelope::new(id.clone(), ServerFrame::Error(body)).to_json();
    let back = ServerEnvelope::parse(&json).expect("a reply parses").expect("a known frame");
    assert_eq!(back.id, id);
});
