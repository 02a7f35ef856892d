//! How the Redis bus writes deliveries, cluster events and presence into Redis values and pub/sub
//! payloads, and reads them back. Compact line-based text: ids never contain a newline.

use bytes::Bytes;
use confab_core::bus::{ClusterEvent, Delivery, Order, Revoked};
use confab_proto::PresenceStatus;

pub(super) fn status_str(s: Option<PresenceStatus>) -> &'static str {
    match s {
        Some(PresenceStatus::Online) => "online",
        Some(PresenceStatus::Away) => "away",
        _ => "",
    }
}

pub(super) fn parse_status(s: &str) -> PresenceStatus {
    match s {
        "online" => PresenceStatus::Online,
        "away" => PresenceStatus::Away,
        _ => PresenceStatus::Offline,
    }
}

/// `d\n{skip}\n{n}\n{recipient}…\n{frame}`, or for a delivery with its place in a conversation
/// `o\n{conversation}\n{sequence}\n` and then the same: ids never contain a newline (they are
/// printable ASCII).
pub(super) fn encode_delivery(d: &Delivery, recipients: &[&String]) -> Vec<u8> {
    let mut out = Vec::with_capacity(d.frame.len() + 64 * recipients.len());
    if let Some(order) = &d.order {
        out.extend_from_slice(b"o\n");
        out.extend_from_slice(order.conversation_id.as_bytes());
        out.push(b'\n');
        out.extend_from_slice(order.sequence.to_string().as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(b"d\n");
    out.extend_from_slice(d.skip_connection.as_deref().unwrap_or("").as_bytes());
    out.push(b'\n');
    out.extend_from_slice(recipients.len().to_string().as_bytes());
    out.push(b'\n');
    for r in recipients {
        out.extend_from_slice(r.as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(&d.frame);
    out
}

pub(super) fn decode_delivery(payload: &[u8]) -> Option<Delivery> {
    let mut rest = payload;
    let mut line = || -> Option<&[u8]> {
        let end = rest.iter().position(|b| *b == b'\n')?;
        let (l, r) = rest.split_at(end);
        rest = &r[1..];
        Some(l)
    };
    let mut kind = line()?;
    let mut order = None;
    if kind == b"o" {
        let conversation_id = std::str::from_utf8(line()?).ok()?;
        let sequence: u64 = std::str::from_utf8(line()?).ok()?.parse().ok()?;
        order = Some(Order { conversation_id: conversation_id.into(), sequence });
        kind = line()?;
    }
    if kind != b"d" {
        return None;
    }
    let skip = std::str::from_utf8(line()?).ok()?.to_string();
    let n: usize = std::str::from_utf8(line()?).ok()?.parse().ok()?;
    let mut recipients = Vec::with_capacity(n);
    for _ in 0..n {
        recipients.push(std::str::from_utf8(line()?).ok()?.to_string());
    }
    Some(Delivery {
        recipients: recipients.into(),
        frame: Bytes::copy_from_slice(rest),
        skip_connection: if skip.is_empty() { None } else { Some(skip.into()) },
        order,
    })
}

pub(super) fn encode_event(e: &ClusterEvent) -> String {
    match e {
        ClusterEvent::Presence { user_id, status, at } => {
            let status = match status {
                PresenceStatus::Online => "online",
                PresenceStatus::Away => "away",
                PresenceStatus::Offline => "offline",
            };
            format!("presence\n{user_id}\n{status}\n{at}")
        }
        ClusterEvent::MembersChanged { conversation_id } => format!("members\n{conversation_id}"),
        ClusterEvent::SessionsRevoked { user_id, revoked: Revoked::Session(session_id) } => {
            format!("revoked\n{user_id}\nsession\n{session_id}")
        }
        ClusterEvent::SessionsRevoked { user_id, revoked: Revoked::IssuedBefore { before, keep } } => {
            format!("revoked\n{user_id}\nbefore\n{before}\n{}", keep.as_deref().unwrap_or(""))
        }
        ClusterEvent::LastSeenShown { user_id, show } => format!("lastseen\n{user_id}\n{}", u8::from(*show)),
        ClusterEvent::BlockChanged { blocker, blocked, active } => {
            format!("block\n{blocker}\n{blocked}\n{}", u8::from(*active))
        }
        ClusterEvent::BanChanged { user_id, banned } => format!("ban\n{user_id}\n{}", u8::from(*banned)),
        ClusterEvent::NodeGone { node_id, last_seen } => format!("gone\n{node_id}\n{last_seen}"),
    }
}

pub(super) fn decode_event(payload: &str) -> Option<ClusterEvent> {
    let mut parts = payload.split('\n');
    match parts.next()? {
        "presence" => {
            let user_id = parts.next()?.to_string();
            let status = parse_status(parts.next()?);
            let at = parts.next()?.parse().ok()?;
            Some(ClusterEvent::Presence { user_id, status, at })
        }
        "members" => Some(ClusterEvent::MembersChanged { conversation_id: parts.next()?.to_string() }),
        "revoked" => {
            let user_id = parts.next()?.to_string();
            let revoked = match parts.next()? {
                "session" => Revoked::Session(parts.next()?.to_string()),
                "before" => {
                    let before = parts.next()?.parse().ok()?;
                    let keep = parts.next()?;
                    Revoked::IssuedBefore { before, keep: (!keep.is_empty()).then(|| keep.to_string()) }
                }
                _ => return None,
            };
            Some(ClusterEvent::SessionsRevoked { user_id, revoked })
        }
        "lastseen" => {
            let user_id = parts.next()?.to_string();
            let show = match parts.next()? {
                "1" => true,
                "0" => false,
                _ => return None,
            };
            Some(ClusterEvent::LastSeenShown { user_id, show })
        }
        "block" => {
            let blocker = parts.next()?.to_string();
            let blocked = parts.next()?.to_string();
            let active = match parts.next()? {
                "1" => true,
                "0" => false,
                _ => return None,
            };
            Some(ClusterEvent::BlockChanged { blocker, blocked, active })
        }
        "ban" => {
            let user_id = parts.next()?.to_string();
            let banned = match parts.next()? {
                "1" => true,
                "0" => false,
                _ => return None,
            };
            Some(ClusterEvent::BanChanged { user_id, banned })
        }
        "gone" => {
            let node_id = parts.next()?.to_string();
            let last_seen = parts.next()?.parse().ok()?;
            Some(ClusterEvent::NodeGone { node_id, last_seen })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_round_trip() {
        let d = Delivery {
            recipients: vec!["a".to_string(), "b".to_string()].into(),
            frame: Bytes::from_static(b"{\"type\":\"x\",\"payload\":\"multi\nline\"}"),
            skip_connection: Some("c1".into()),
            order: None,
        };
        let r: Vec<&String> = d.recipients.iter().collect();
        let back = decode_delivery(&encode_delivery(&d, &r)).unwrap();
        assert_eq!(back.recipients.to_vec(), ["a", "b"]);
        assert_eq!(back.frame, d.frame);
        assert_eq!(back.skip_connection.as_deref(), Some("c1"));
        assert_eq!(back.order, None);
        let ordered =
            Delivery { order: Some(Order { conversation_id: "conv".into(), sequence: 42 }), ..d.clone() };
        let back = decode_delivery(&encode_delivery(&ordered, &r)).unwrap();
        assert_eq!(back.order, ordered.order);
        assert_eq!((back.frame, back.recipients.len()), (ordered.frame, 2));
        assert!(decode_delivery(b"o\nconv\nnot-a-number\nd\n\n0\n{}").is_none());
    }

    #[test]
    fn events_round_trip() {
        for e in [
            ClusterEvent::Presence { user_id: "u".into(), status: PresenceStatus::Away, at: 5 },
            ClusterEvent::MembersChanged { conversation_id: "c".into() },
            ClusterEvent::SessionsRevoked { user_id: "u".into(), revoked: Revoked::Session("s".into()) },
            ClusterEvent::SessionsRevoked {
                user_id: "u".into(),
                revoked: Revoked::IssuedBefore { before: 1_700_000_000_123, keep: Some("k".into()) },
            },
            ClusterEvent::SessionsRevoked {
                user_id: "u".into(),
                revoked: Revoked::IssuedBefore { before: 7, keep: None },
            },
            ClusterEvent::LastSeenShown { user_id: "u".into(), show: false },
            ClusterEvent::LastSeenShown { user_id: "u".into(), show: true },
            ClusterEvent::BlockChanged { blocker: "a".into(), blocked: "b".into(), active: true },
            ClusterEvent::BlockChanged { blocker: "a".into(), blocked: "b".into(), active: false },
            ClusterEvent::BanChanged { user_id: "u".into(), banned: true },
            ClusterEvent::BanChanged { user_id: "u".into(), banned: false },
            ClusterEvent::NodeGone { node_id: "n".into(), last_seen: 1_700_000_000_000 },
        ] {
            assert_eq!(decode_event(&encode_event(&e)), Some(e));
        }
    }
}
