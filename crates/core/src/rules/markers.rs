//! Delivered and read markers. A marker never moves backwards and never passes the conversation's
//! last sequence (a larger target is clamped, never stored). Reading implies receiving, so a read
//! marker drags the delivered marker along. Each advance is recorded with its time, which is what
//! receipts are answered from.

use crate::rows::MarkerKind;
use crate::store::{MarkerMove, ReadMove};

use super::access::Membership;

/// One marker advance to write: set the member's `kind` marker to `up_to` and record it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarkerAdvance {
    pub kind: MarkerKind,
    pub up_to: u64,
}

/// A marker at `previous` asked to reach `up_to` in a conversation whose last sequence is `last`.
pub fn advance(previous: u64, up_to: u64, last: u64) -> MarkerMove {
    let target = up_to.min(last);
    MarkerMove { previous, current: target.max(previous) }
}

fn recorded(kind: MarkerKind, moved: MarkerMove) -> Option<MarkerAdvance> {
    moved.advanced().then_some(MarkerAdvance { kind, up_to: moved.current })
}

/// The member's delivered marker asked to reach `up_to`, and the advance to write, if any.
pub fn deliver(m: &Membership, up_to: u64) -> (MarkerMove, Option<MarkerAdvance>) {
    let moved = advance(m.member.last_delivered_sequence, up_to, m.conversation.last_sequence);
    (moved, recorded(MarkerKind::Delivered, moved))
}

/// The member's read marker asked to reach `up_to`, the delivered marker following it, and the
/// advances to write (read first).
pub fn read(m: &Membership, up_to: u64) -> (ReadMove, Vec<MarkerAdvance>) {
    let last = m.conversation.last_sequence;
    let read = advance(m.member.last_read_sequence, up_to, last);
    let delivered = advance(m.member.last_delivered_sequence, read.current, last);
    let advances = [recorded(MarkerKind::Read, read), recorded(MarkerKind::Delivered, delivered)]
        .into_iter()
        .flatten()
        .collect();
    (ReadMove { read, delivered }, advances)
}

#[cfg(test)]
mod tests {
    use confab_proto::Role;

    use super::*;
    use crate::rules::fixtures::{group, member};

    fn at(read: u64, delivered: u64) -> Membership {
        let mut member = member("u", Role::Member, 0);
        member.last_read_sequence = read;
        member.last_delivered_sequence = delivered;
        Membership { conversation: group(), member }
    }

    #[test]
    fn markers_clamp_and_never_go_back() {
        assert_eq!(advance(2, 5, 7), MarkerMove { previous: 2, current: 5 });
        assert_eq!(advance(2, 99, 7), MarkerMove { previous: 2, current: 7 });
        assert_eq!(advance(5, 3, 7), MarkerMove { previous: 5, current: 5 });
        assert!(!advance(7, 99, 7).advanced());
    }

    #[test]
    fn delivery_records_only_real_advances() {
        let (moved, adv) = deliver(&at(0, 2), 4);
        assert_eq!((moved.current, adv), (4, Some(MarkerAdvance { kind: MarkerKind::Delivered, up_to: 4 })));
        assert_eq!(deliver(&at(0, 4), 3).1, None);
    }

    #[test]
    fn reading_drags_delivery_along() {
        let (moved, advs) = read(&at(1, 3), 99);
        assert_eq!((moved.read.current, moved.delivered.current), (7, 7));
        assert_eq!(
            advs,
            [
                MarkerAdvance { kind: MarkerKind::Read, up_to: 7 },
                MarkerAdvance { kind: MarkerKind::Delivered, up_to: 7 }
            ]
        );
        let (moved, advs) = read(&at(5, 6), 2);
        assert_eq!(
            (moved.read, moved.delivered.advanced(), advs.len()),
            (MarkerMove { previous: 5, current: 5 }, false, 0)
        );
        let (_, advs) = read(&at(2, 6), 4);
        assert_eq!(
            advs,
            [MarkerAdvance { kind: MarkerKind::Read, up_to: 4 }],
            "delivery was already further"
        );
    }
}
