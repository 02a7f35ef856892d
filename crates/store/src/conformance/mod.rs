//! Behaviour every `Store` adapter must show, written once and expanded for each adapter by
//! [`store_conformance_suite!`]: an adapter's whole test of the boundary is one line naming a
//! factory for fresh stores. The cases pin the rules adapters delegate to `confab_core::rules`
//! (group permissions, size limits, admin succession, paging edges, markers, receipts) so every
//! backend answers alike.
//!
//! # Layout
//! - [`users`]: accounts, search, presence data, settings.
//! - [`conversations`]: direct conversations, groups, membership changes, the admin role.
//! - [`messages`]: appends, idempotency, sequences, history pages, sync.
//! - [`markers`]: delivered and read markers, statuses, receipts.
//! - [`sessions`]: revoked sessions and cutoffs, password and display name changes.
//! - [`blocks`]: blocks between users and what they stop.
//! - [`management`]: renaming groups, their settings, promoting and demoting members.
//! - [`properties`]: invariants under random interleavings of appends, marker moves and reads.
//! - [`moderation`]: reports, bans, the moderation log, the administrators' user list, counts.
//! - [`lifecycle`]: replies, edits, deletes, reactions and the update sequence.
//! - [`expiry`]: disappearing messages and retention.
//! - [`invites`]: invite codes for registration by invite only, and API keys.
//! - [`search`]: message search: membership, matching, edits and deletes, order, pages.
//! - [`attachments`]: who links and reads uploaded files; collection of unlinked ones.
//! - [`push`]: push subscriptions, mutes, and pending pushes (coalescing, claims, leases).

mod attachments;
mod blocks;
mod conversations;
mod expiry;
mod invites;
mod lifecycle;
mod management;
mod markers;
mod messages;
mod moderation;
mod properties;
mod push;
mod search;
mod sessions;
mod users;

pub use attachments::*;
pub use blocks::*;
pub use conversations::*;
pub use expiry::*;
pub use invites::*;
pub use lifecycle::*;
pub use management::*;
pub use markers::*;
pub use messages::*;
pub use moderation::*;
pub use properties::*;
pub use push::*;
pub use search::*;
pub use sessions::*;
pub use users::*;

use confab_core::ids::{new_id, now_millis};
use confab_core::store::{HistoryCursor, NewGroup, NewMessage, NewUser, SharedStore};
use confab_core::Error;
use confab_proto::{Content, GroupSettings};

pub async fn user(store: &SharedStore, name: &str) -> String {
    let id = new_id();
    store
        .create_user(NewUser {
            user_id: id.clone(),
            username: name.to_string(),
            display_name: name.to_uppercase(),
            password_hash: Some("hash".into()),
            created_at: now_millis(),
            invite: None,
        })
        .await
        .expect("create user");
    id
}

pub(crate) fn text(t: &str) -> Content {
    Content::Text { text: t.to_string() }
}

pub async fn send(store: &SharedStore, conv: &str, sender: &str, t: &str) -> Result<u64, Error> {
    let msg = NewMessage {
        message_id: new_id(),
        conversation_id: conv.to_string(),
        sender_id: sender.to_string(),
        content: text(t),
        reply_to: None,
        expires_in: None,
    };
    store.append(msg, None).await.map(|a| a.message.sequence_number)
}

fn new_group(
    creator: &str,
    members: &[String],
    settings: GroupSettings,
    created_at: i64,
    max: u32,
) -> NewGroup {
    NewGroup {
        conversation_id: new_id(),
        name: "team".into(),
        creator_id: creator.to_string(),
        member_ids: members.to_vec(),
        settings,
        created_at,
        max_group_size: max,
    }
}

/// A group created at `created_at` with a limit of `max` members.
async fn group_with(
    store: &SharedStore,
    creator: &str,
    members: &[String],
    settings: GroupSettings,
    created_at: i64,
    max: u32,
) -> String {
    let group = new_group(creator, members, settings, created_at, max);
    let id = group.conversation_id.clone();
    store.create_group(group).await.expect("create group");
    id
}

/// A group created now, with a limit of 5 members.
pub(crate) async fn group(
    store: &SharedStore,
    creator: &str,
    members: &[String],
    settings: GroupSettings,
) -> String {
    group_with(store, creator, members, settings, now_millis(), 5).await
}

/// Rows as a database written before `messageId` was scoped to its sender holds them (the same
/// statements for either adapter): Ann's message `old-1` in her direct conversation with Ben.
pub const SEED_BEFORE_PER_SENDER_IDS: &str = r#"
INSERT INTO users (user_id, username, display_name, password_hash, created_at)
    VALUES ('u-ann', 'ann', 'ANN', NULL, 1), ('u-ben', 'ben', 'BEN', NULL, 1);
INSERT INTO conversations (conversation_id, kind, name, direct_key, created_at, last_sequence, last_activity_at, member_count)
    VALUES ('c-ab', 'direct', NULL, 'u-ann|u-ben', 1, 1, 2, 2);
INSERT INTO members (conversation_id, user_id, role, joined_at, last_read_sequence, last_delivered_sequence)
    VALUES ('c-ab', 'u-ann', 'member', 1, 1, 1), ('c-ab', 'u-ben', 'member', 1, 0, 0);
INSERT INTO messages (conversation_id, sequence_number, message_id, sender_id, content, created_at)
    VALUES ('c-ab', 1, 'old-1', 'u-ann', '{"type":"text","text":"before"}', 2);
"#;

/// After a database seeded with [`SEED_BEFORE_PER_SENDER_IDS`] was upgraded in place: the old
/// message is intact and still answers Ann's retries, and Ben may now use the same `messageId`.
pub async fn check_upgraded_to_per_sender_ids(store: &SharedStore) {
    let old = store.history("c-ab", "u-ben", HistoryCursor::Latest, 10).await.expect("history");
    assert_eq!(old.messages.len(), 1);
    let m = &old.messages[0];
    assert_eq!((m.message_id.as_str(), m.sender_id.as_str(), m.sequence_number), ("old-1", "u-ann", 1));
    assert_eq!((m.content.clone(), m.timestamp), (text("before"), 2));
    // Messages stored before search existed are indexed by the upgrade.
    let query = confab_core::rules::search::parse("BEFORE").expect("query");
    let found = store
        .search_messages(confab_core::store::SearchRequest::new("u-ben", query, 10))
        .await
        .expect("search");
    assert_eq!(found.iter().map(|h| h.message.message_id.as_str()).collect::<Vec<_>>(), ["old-1"]);
    let msg = |sender: &str, t: &str| NewMessage {
        message_id: "old-1".into(),
        conversation_id: "c-ab".into(),
        sender_id: sender.to_string(),
        content: text(t),
        reply_to: None,
        expires_in: None,
    };
    let retry = store.append(msg("u-ann", "before"), None).await.expect("Ann's retry");
    assert_eq!((retry.created, retry.message.sequence_number), (false, 1));
    assert_eq!(store.append(msg("u-ann", "changed"), None).await.unwrap_err(), Error::DuplicateMessage);
    let bens = store.append(msg("u-ben", "after"), None).await.expect("Ben's message with the same id");
    assert_eq!((bens.created, bens.message.sequence_number), (true, 2));
    assert_eq!(store.locate_message("old-1", "u-ann").await.unwrap(), ("c-ab".to_string(), 1));
    assert_eq!(store.locate_message("old-1", "u-ben").await.unwrap(), ("c-ab".to_string(), 2));
}

/// Fails when a case in the suite's files is missing from the list the macro expands, so a case
/// cannot be written and silently never run.
pub fn assert_every_case_listed(listed: &[&str]) {
    let sources = [
        include_str!("users.rs"),
        include_str!("conversations.rs"),
        include_str!("messages.rs"),
        include_str!("markers.rs"),
        include_str!("sessions.rs"),
        include_str!("blocks.rs"),
        include_str!("management.rs"),
        include_str!("properties.rs"),
        include_str!("moderation.rs"),
        include_str!("lifecycle.rs"),
        include_str!("search.rs"),
        include_str!("invites.rs"),
        include_str!("expiry.rs"),
        include_str!("attachments.rs"),
        include_str!("push.rs"),
    ];
    for source in sources {
        for line in source.lines() {
            let Some(rest) = line.strip_prefix("pub async fn ") else { continue };
            let Some((name, params)) = rest.split_once('(') else { continue };
            if params.starts_with("store: SharedStore)") {
                assert!(
                    listed.contains(&name),
                    "conformance case `{name}` is not in store_conformance_suite!"
                );
            }
        }
    }
}

/// Expands the suite for one adapter: `$make` is an async expression yielding a fresh, empty store
/// and a guard that cleans it up, or `None` when the adapter's backend is not reachable here (the
/// adapter's factory decides whether that is a failure).
#[macro_export]
macro_rules! store_conformance_suite {
    ($make:expr) => {
        $crate::store_conformance_suite!(@tests $make;
            users_are_unique_and_searchable,
            presence_data,
            settings_keep_the_first_value,
            last_seen_visibility_is_kept,
            sessions_are_revoked_one_by_one_until_they_expire,
            cutoffs_never_move_backwards,
            password_and_display_name_changes,
            direct_conversations_are_idempotent,
            open_direct_needs_two_existing_users,
            group_roles_and_settings_are_enforced,
            the_last_admin_leaving_promotes_the_longest_standing_member,
            groups_never_exceed_their_size_limit,
            membership_changes_name_existing_users_in_groups_only,
            only_admins_post_where_the_group_says_so,
            sequences_are_gapless_under_concurrency,
            committed_since_finds_the_recent_ranges,
            appends_are_idempotent_by_message_id,
            message_ids_are_scoped_to_their_sender,
            a_retry_queued_behind_a_clash_gets_the_original,
            history_pages_visit_every_message_once,
            history_has_more_exactly_at_page_edges,
            messages_are_located_only_for_members,
            a_shared_message_id_resolves_to_the_viewers_own_or_the_newest,
            sync_returns_missed_messages_and_new_conversations,
            read_markers_clamp_and_never_go_back,
            receipts_and_statuses_follow_the_markers,
            receipts_never_list_the_sender,
            replying_marks_what_came_before_as_read,
            blocks_are_idempotent_and_listed_newest_first,
            a_block_stops_direct_messages_both_ways_but_not_groups,
            a_blocked_user_cannot_start_a_direct_conversation,
            users_blocking_each_other_are_no_contacts,
            blocks_are_capped_and_storms_stay_consistent,
            admins_rename_groups_and_change_their_settings,
            admins_promote_and_demote_members,
            concurrent_step_downs_leave_an_admin,
            random_interleavings_keep_sequences_markers_and_idempotency,
            reports_name_a_visible_message_once_per_reporter,
            report_queues_page_and_resolve_once,
            bans_replace_expire_and_lift,
            the_moderation_log_lists_changes_in_order,
            admin_user_lists_page_by_username_with_bans,
            edits_take_the_next_update_sequence_once,
            deletes_leave_tombstones_in_place,
            reactions_count_each_user_once,
            concurrent_reactions_lose_no_update,
            sync_returns_what_changed_since_the_update_cursor,
            replies_name_a_message_of_the_same_conversation,
            a_shared_message_id_is_changed_by_the_rule,
            expired_messages_become_tombstones_once,
            an_expired_message_reads_as_a_tombstone_before_the_sweep,
            concurrent_sweeps_erase_each_message_once,
            retention_removes_the_oldest_messages_and_moves_first_sequence,
            the_shorter_of_server_and_group_retention_applies,
            invites_let_in_as_many_as_they_allow_until_they_expire_or_are_revoked,
            concurrent_registrations_take_the_last_uses_once,
            api_keys_are_found_by_hash_listed_and_revoked,
            search_covers_the_viewers_conversations_only,
            search_folds_case_and_accents_and_knows_phrases_and_prefixes,
            search_follows_edits_and_deletes_at_once,
            search_filters_by_sender_and_time,
            search_ranks_best_first_then_newest,
            search_pages_visit_every_result_once_despite_inserts,
            search_walks_windows_older_than_the_newest,
            search_merges_busy_conversations_newest_first,
            search_treats_hostile_syntax_as_text,
            search_finds_long_words_whole_by_prefix_and_in_phrases,
            search_past_its_time_limit_is_too_broad_and_the_next_one_answers,
            attachments_are_read_by_the_uploader_and_members_where_linked,
            messages_link_only_their_senders_uploads,
            unlinked_attachments_are_collected_after_their_grace,
            expired_and_purged_messages_unlink_their_attachments,
            push_subscriptions_are_one_per_device_and_kind_and_private,
            messages_are_pushed_to_other_members_subscribed_devices,
            pushes_coalesce_per_device_and_conversation,
            muted_members_and_deleted_messages_are_not_pushed,
            a_claim_whose_lease_ran_out_goes_to_another_node,
            concurrent_claimants_take_each_push_once,
        );
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some((store, _guard)) = $make.await else { return };
                $crate::conformance::$name(store).await;
            }
        )*

        #[test]
        fn every_conformance_case_is_expanded() {
            $crate::conformance::assert_every_case_listed(&[$(stringify!($name)),*]);
        }
    };
}
