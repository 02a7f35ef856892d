//! Moderation: reports, bans, the moderation log, the administrators' user list and counts.

use confab_core::moderation::{Change, ChangeKind, NewBan, NewReport, StoreStats};
use confab_core::rules::moderation::{in_force, reported_message};
use confab_core::rules::users::search_prefix;
use confab_core::{Error, Result};
use confab_proto::{AdminUser, Ban, Report, ReportReceipt, ReportStatus, User};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::{i, messages, sessions, u};
use crate::postgres::error::PgResult;

const REPORT_COLUMNS: &str =
    "report_id, reporter_id, conversation_id, sequence_number, message_id, sender_id,
     reason, status, created_at, resolved_at, resolved_by, resolution";

fn report_from(r: &Row) -> Report {
    let status: &str = r.get(7);
    Report {
        report_id: r.get(0),
        reporter_id: r.get(1),
        conversation_id: r.get(2),
        sequence_number: u(r.get(3)),
        message_id: r.get(4),
        sender_id: r.get(5),
        reason: r.get(6),
        status: if status == "resolved" { ReportStatus::Resolved } else { ReportStatus::Open },
        created_at: r.get(8),
        resolved_at: r.get(9),
        resolved_by: r.get(10),
        resolution: r.get(11),
        message: None,
    }
}

pub(crate) async fn create_report<C: GenericClient>(c: &C, new: &NewReport) -> Result<(ReportReceipt, bool)> {
    let found = messages::with_id(c, &new.message_id, &new.reporter, new.conversation.as_deref()).await?;
    let target = reported_message(&new.reporter, found)?;
    let seq = i(target.sequence_number);
    let inserted = c
        .execute(
            "INSERT INTO reports (report_id, reporter_id, conversation_id, sequence_number, message_id,
                 sender_id, reason, status, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8) ON CONFLICT DO NOTHING",
            &[
                &new.report_id,
                &new.reporter,
                &target.conversation_id,
                &seq,
                &new.message_id,
                &target.sender_id,
                &new.reason,
                &new.created_at,
            ],
        )
        .await
        .db()?;
    let stored = c
        .query_one(
            &format!(
                "SELECT {REPORT_COLUMNS} FROM reports
                 WHERE reporter_id = $1 AND conversation_id = $2 AND sequence_number = $3"
            ),
            &[&new.reporter, &target.conversation_id, &seq],
        )
        .await
        .db()?;
    let r = report_from(&stored);
    let receipt = ReportReceipt {
        report_id: r.report_id,
        conversation_id: r.conversation_id,
        message_id: r.message_id,
        status: r.status,
        created_at: r.created_at,
    };
    Ok((receipt, inserted > 0))
}

/// Each report's message in its current state, read in one round trip.
async fn with_messages<C: GenericClient>(c: &C, mut reports: Vec<Report>) -> Result<Vec<Report>> {
    let found = futures_util::future::try_join_all(
        reports.iter().map(|r| messages::at(c, &r.conversation_id, r.sequence_number)),
    )
    .await?;
    for (r, m) in reports.iter_mut().zip(found) {
        r.message = m;
    }
    Ok(reports)
}

pub(crate) async fn reports<C: GenericClient>(
    c: &C,
    status: ReportStatus,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<Report>> {
    // Open reports are a queue (oldest first); resolved ones an archive (newest first). Report ids
    // are time-ordered (UUIDv7), so they are the cursor.
    let sql = match status {
        ReportStatus::Open => format!(
            "SELECT {REPORT_COLUMNS} FROM reports WHERE status = $1 AND ($2::TEXT IS NULL OR report_id > $2)
             ORDER BY report_id ASC LIMIT $3"
        ),
        ReportStatus::Resolved => format!(
            "SELECT {REPORT_COLUMNS} FROM reports WHERE status = $1 AND ($2::TEXT IS NULL OR report_id < $2)
             ORDER BY report_id DESC LIMIT $3"
        ),
    };
    let rows = c.query(&sql, &[&status.as_str(), &after, &i64::from(limit)]).await.db()?;
    with_messages(c, rows.iter().map(report_from).collect()).await
}

pub(crate) async fn resolve_report<C: GenericClient>(
    c: &C,
    report_id: &str,
    by: Option<&str>,
    resolution: &str,
    at: i64,
) -> Result<Report> {
    c.execute(
        "UPDATE reports SET status = 'resolved', resolved_at = $2, resolved_by = $3, resolution = $4
         WHERE report_id = $1 AND status = 'open'",
        &[&report_id, &at, &by, &resolution],
    )
    .await
    .db()?;
    let row = c
        .query_opt(&format!("SELECT {REPORT_COLUMNS} FROM reports WHERE report_id = $1"), &[&report_id])
        .await
        .db()?
        .ok_or_else(|| Error::NotFound("no such report".into()))?;
    let mut reports = with_messages(c, vec![report_from(&row)]).await?;
    reports.pop().ok_or_else(|| Error::Internal("a report went missing".into()))
}

/// Appends an entry to the moderation log (in the caller's transaction). The version comes from
/// the one-row counter, whose lock this transaction holds until it commits.
async fn log<C: GenericClient>(c: &C, user: &str, kind: ChangeKind, at: i64) -> Result<()> {
    c.execute(
        "WITH v AS (UPDATE moderation_version SET version = version + 1 WHERE id = 1 RETURNING version)
         INSERT INTO moderation_log (version, user_id, kind, at) SELECT v.version, $1, $2, $3 FROM v",
        &[&user, &kind.as_str(), &at],
    )
    .await
    .db()?;
    Ok(())
}

fn ban_from(r: &Row, at: usize) -> Ban {
    Ban {
        user_id: r.get(at),
        reason: r.get(at + 1),
        until: r.get(at + 2),
        banned_at: r.get(at + 3),
        banned_by: r.get(at + 4),
    }
}

pub(crate) async fn ban<C: GenericClient>(c: &C, ban: &NewBan) -> Result<Ban> {
    if c.query_opt("SELECT 1 FROM users WHERE user_id = $1", &[&ban.user_id]).await.db()?.is_none() {
        return Err(Error::UserNotFound(ban.user_id.clone()));
    }
    c.execute(
        "INSERT INTO bans (user_id, reason, until, banned_at, banned_by) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (user_id) DO UPDATE SET reason = excluded.reason, until = excluded.until,
             banned_at = excluded.banned_at, banned_by = excluded.banned_by",
        &[&ban.user_id, &ban.reason, &ban.until, &ban.banned_at, &ban.banned_by],
    )
    .await
    .db()?;
    log(c, &ban.user_id, ChangeKind::Ban, ban.banned_at).await?;
    Ok(Ban {
        user_id: ban.user_id.clone(),
        reason: ban.reason.clone(),
        until: ban.until,
        banned_at: ban.banned_at,
        banned_by: ban.banned_by.clone(),
    })
}

pub(crate) async fn unban<C: GenericClient>(c: &C, user: &str, at: i64) -> Result<bool> {
    let removed = c.execute("DELETE FROM bans WHERE user_id = $1", &[&user]).await.db()?;
    log(c, user, ChangeKind::Unban, at).await?;
    Ok(removed > 0)
}

pub(crate) async fn ban_of<C: GenericClient>(c: &C, user: &str, now: i64) -> Result<Option<Ban>> {
    let row = c
        .query_opt(
            "SELECT user_id, reason, until, banned_at, banned_by FROM bans WHERE user_id = $1",
            &[&user],
        )
        .await
        .db()?;
    Ok(row.map(|r| ban_from(&r, 0)).filter(|b| in_force(b, now)))
}

pub(crate) async fn revoke_user_sessions<C: GenericClient>(
    c: &C,
    user: &str,
    before: i64,
    at: i64,
) -> Result<()> {
    sessions::revoke_before(c, user, before, None).await?;
    log(c, user, ChangeKind::Sessions, at).await
}

pub(crate) async fn changes<C: GenericClient>(c: &C, after: u64, limit: u32) -> Result<Vec<Change>> {
    let rows = c
        .query(
            "SELECT version, user_id, kind FROM moderation_log WHERE version > $1 ORDER BY version LIMIT $2",
            &[&i(after), &i64::from(limit)],
        )
        .await
        .db()?;
    rows.iter()
        .map(|r| {
            let kind: &str = r.get(2);
            let kind = ChangeKind::parse(kind)
                .ok_or_else(|| Error::Internal(format!("unknown moderation log kind `{kind}`")))?;
            Ok(Change { version: u(r.get(0)), user_id: r.get(1), kind })
        })
        .collect()
}

pub(crate) async fn latest_change<C: GenericClient>(c: &C) -> Result<u64> {
    let row = c.query_one("SELECT version FROM moderation_version WHERE id = 1", &[]).await.db()?;
    Ok(u(row.get(0)))
}

pub(crate) async fn purge_changes<C: GenericClient>(c: &C, before: i64) -> Result<u64> {
    c.execute("DELETE FROM moderation_log WHERE at < $1", &[&before]).await.db()
}

pub(crate) async fn admin_users<C: GenericClient>(
    c: &C,
    prefix: &str,
    after: Option<&str>,
    limit: u32,
    now: i64,
) -> Result<Vec<AdminUser>> {
    let prefix = search_prefix(prefix);
    // Byte order ("C"), as the embedded store sorts, whatever the database's collation.
    let rows = c
        .query(
            "SELECT u.user_id, u.username, u.display_name, u.created_at,
                    b.user_id, b.reason, b.until, b.banned_at, b.banned_by
             FROM users u LEFT JOIN bans b ON b.user_id = u.user_id
             WHERE left(u.username, char_length($1)) = $1
               AND ($2::TEXT IS NULL OR u.username COLLATE \"C\" > $2)
             ORDER BY u.username COLLATE \"C\" LIMIT $3",
            &[&prefix, &after, &i64::from(limit)],
        )
        .await
        .db()?;
    Ok(rows
        .iter()
        .map(|r| {
            let banned: Option<String> = r.get(4);
            AdminUser {
                user: User { user_id: r.get(0), username: r.get(1), display_name: r.get(2) },
                created_at: r.get(3),
                admin: false,
                ban: banned.map(|_| ban_from(r, 4)).filter(|b| in_force(b, now)),
            }
        })
        .collect())
}

pub(crate) async fn stats<C: GenericClient>(c: &C, now: i64) -> Result<StoreStats> {
    let row = c
        .query_one(
            "SELECT (SELECT COUNT(*) FROM users),
                    (SELECT COUNT(*) FROM conversations),
                    (SELECT COALESCE(SUM(last_sequence), 0)::BIGINT FROM conversations),
                    (SELECT COUNT(*) FROM reports WHERE status = 'open'),
                    (SELECT COUNT(*) FROM bans WHERE until IS NULL OR until > $1)",
            &[&now],
        )
        .await
        .db()?;
    let n = |k: usize| u(row.get::<_, i64>(k));
    Ok(StoreStats { users: n(0), conversations: n(1), messages: n(2), open_reports: n(3), active_bans: n(4) })
}
