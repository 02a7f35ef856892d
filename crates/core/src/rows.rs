//! Rows as the store adapters read and write them: plain data with no behaviour. An adapter fills
//! these from its tables, hands them to a rule in [`crate::rules`], and writes back the rows the
//! rule returns; what the rows mean is decided there, never in the adapter.

use confab_proto::{ConversationType, GroupSettings, Role};

/// One conversation's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationRow {
    pub conversation_id: String,
    pub kind: ConversationType,
    pub name: Option<String>,
    pub settings: GroupSettings,
    pub created_at: i64,
    /// Sequence number of the newest message; 0 while there is none.
    pub last_sequence: u64,
    pub member_count: u32,
    /// The newest sequence number retention has removed (0: none); see
    /// [`rules::expiry::first_sequence`](crate::rules::expiry::first_sequence).
    pub purged_up_to: u64,
}

/// One member's row: their role in a conversation and how far they have received and read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRow {
    pub user_id: String,
    pub role: Role,
    pub joined_at: i64,
    pub last_read_sequence: u64,
    pub last_delivered_sequence: u64,
    /// Push notifications silenced until then ([`crate::rules::push`]); `None`: not muted.
    pub muted_until: Option<i64>,
}

/// A conversation to insert with its members. A new conversation was last active when it was
/// created, which is where it sorts among its members' conversations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConversation {
    pub conversation: ConversationRow,
    /// The pair key of a direct conversation (see [`crate::ids::direct_key`]), unique per pair.
    pub direct_key: Option<String>,
    pub members: Vec<MemberRow>,
}

/// The lowest delivered and read markers among a conversation's members other than one viewer
/// (`None` when there is nobody else).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OtherMarkers {
    pub min_delivered: Option<u64>,
    pub min_read: Option<u64>,
}

/// Which of a member's two markers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MarkerKind {
    Delivered,
    Read,
}

impl MarkerKind {
    /// The spelling stored in `receipt_marks.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            MarkerKind::Delivered => "delivered",
            MarkerKind::Read => "read",
        }
    }

    pub fn parse(s: &str) -> Option<MarkerKind> {
        match s {
            "delivered" => Some(MarkerKind::Delivered),
            "read" => Some(MarkerKind::Read),
            _ => None,
        }
    }
}

/// When one member's marker of one kind first reached a given sequence: the earliest recorded
/// advance at or beyond it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstMark {
    pub user_id: String,
    pub kind: MarkerKind,
    pub at: i64,
}

/// A stored message found by its `messageId` alone, and whether the viewer who asked belongs to
/// its conversation. A `messageId` is unique per sender only, so one lookup can find several.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocatedMessage {
    pub conversation_id: String,
    pub sequence_number: u64,
    pub sender_id: String,
    pub created_at: i64,
    pub viewer_is_member: bool,
}

/// One listed reaction of a message: a user's reaction with `emoji`, when it was added, and how
/// many users reacted with that emoji in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReactionRow {
    pub emoji: String,
    pub user_id: String,
    pub at: i64,
    pub count: u32,
}

/// Parses a stored role; anything but `admin` is a plain member.
pub fn parse_role(s: &str) -> Role {
    if s == "admin" {
        Role::Admin
    } else {
        Role::Member
    }
}

/// Parses a stored conversation kind; anything but `direct` is a group.
pub fn parse_kind(s: &str) -> ConversationType {
    if s == "direct" {
        ConversationType::Direct
    } else {
        ConversationType::Group
    }
}

/// The spelling of a conversation kind in `conversations.kind`.
pub fn kind_str(kind: ConversationType) -> &'static str {
    match kind {
        ConversationType::Direct => "direct",
        ConversationType::Group => "group",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_spellings_read_back() {
        for kind in [MarkerKind::Delivered, MarkerKind::Read] {
            assert_eq!(MarkerKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(MarkerKind::parse("seen"), None);
        for kind in [ConversationType::Direct, ConversationType::Group] {
            assert_eq!(parse_kind(kind_str(kind)), kind);
        }
        assert_eq!(
            (parse_role(Role::Admin.as_str()), parse_role(Role::Member.as_str())),
            (Role::Admin, Role::Member)
        );
    }
}
