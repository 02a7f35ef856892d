//! Moderation: reports, bans, the moderation log, the administrators' user list and counts.

use confab_core::moderation::{Change, ChangeKind, NewBan, NewReport, StoreStats};
use confab_core::rules::moderation::{in_force, reported_message};
use confab_core::rules::users::search_prefix;
use confab_core::{Error, Result};
use confab_proto::{AdminUser, Ban, Report, ReportReceipt, ReportStatus, User};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{messages, seq, sessions};
use crate::sqlite::error::SqlResult;

const REPORT_COLUMNS: &str =
    "report_id, reporter_id, conversation_id, sequence_number, message_id, sender_id,
     reason, status, created_at, resolved_at, resolved_by, resolution";

fn status_from(s: &str) -> ReportStatus {
    if s == "resolved" {
        ReportStatus::Resolved
    } else {
        ReportStatus::Open
    }
}

fn report_from(r: &Row<'_>) -> rusqlite::Result<Report> {
    Ok(Report {
        report_id: r.get(0)?,
        reporter_id: r.get(1)?,
        conversation_id: r.get(2)?,
        sequence_number: r.get(3)?,
        message_id: r.get(4)?,
        sender_id: r.get(5)?,
        reason: r.get(6)?,
        status: status_from(&r.get::<_, String>(7)?),
        created_at: r.get(8)?,
        resolved_at: r.get(9)?,
        resolved_by: r.get(10)?,
        resolution: r.get(11)?,
        message: None,
    })
}

fn receipt(r: &Report) -> ReportReceipt {
    ReportReceipt {
        report_id: r.report_id.clone(),
        conversation_id: r.conversation_id.clone(),
        message_id: r.message_id.clone(),
        status: r.status,
        created_at: r.created_at,
    }
}

fn report(conn: &Connection, report_id: &str) -> Result<Option<Report>> {
    conn.prepare_cached(&format!("SELECT {REPORT_COLUMNS} FROM reports WHERE report_id = ?1"))
        .and_then(|mut s| s.query_row([report_id], report_from).optional())
        .db()
}

pub(crate) fn create_report(conn: &Connection, new: &NewReport) -> Result<(ReportReceipt, bool)> {
    let found = messages::with_id(conn, &new.message_id, &new.reporter, new.conversation.as_deref())?;
    let target = reported_message(&new.reporter, found)?;
    let inserted = conn
        .prepare_cached(
            "INSERT INTO reports (report_id, reporter_id, conversation_id, sequence_number, message_id,
                 sender_id, reason, status, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'open', ?8) ON CONFLICT DO NOTHING",
        )
        .and_then(|mut s| {
            s.execute(params![
                new.report_id,
                new.reporter,
                target.conversation_id,
                seq(target.sequence_number),
                new.message_id,
                target.sender_id,
                new.reason,
                new.created_at
            ])
        })
        .db()?;
    let stored = conn
        .prepare_cached(&format!(
            "SELECT {REPORT_COLUMNS} FROM reports
             WHERE reporter_id = ?1 AND conversation_id = ?2 AND sequence_number = ?3"
        ))
        .and_then(|mut s| {
            s.query_row(
                params![new.reporter, target.conversation_id, seq(target.sequence_number)],
                report_from,
            )
        })
        .db()?;
    Ok((receipt(&stored), inserted > 0))
}

pub(crate) fn reports(
    conn: &Connection,
    status: ReportStatus,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<Report>> {
    // Open reports are a queue (oldest first); resolved ones an archive (newest first). Report ids
    // are time-ordered (UUIDv7), so they are the cursor.
    let sql = match status {
        ReportStatus::Open => format!(
            "SELECT {REPORT_COLUMNS} FROM reports WHERE status = ?1 AND (?2 IS NULL OR report_id > ?2)
             ORDER BY report_id ASC LIMIT ?3"
        ),
        ReportStatus::Resolved => format!(
            "SELECT {REPORT_COLUMNS} FROM reports WHERE status = ?1 AND (?2 IS NULL OR report_id < ?2)
             ORDER BY report_id DESC LIMIT ?3"
        ),
    };
    let mut stmt = conn.prepare_cached(&sql).db()?;
    let rows = stmt.query_map(params![status.as_str(), after, limit], report_from).db()?;
    let mut reports = rows.collect::<rusqlite::Result<Vec<_>>>().db()?;
    for r in &mut reports {
        r.message = messages::at(conn, &r.conversation_id, r.sequence_number)?;
    }
    Ok(reports)
}

pub(crate) fn resolve_report(
    conn: &Connection,
    report_id: &str,
    by: Option<&str>,
    resolution: &str,
    at: i64,
) -> Result<Report> {
    conn.prepare_cached(
        "UPDATE reports SET status = 'resolved', resolved_at = ?2, resolved_by = ?3, resolution = ?4
         WHERE report_id = ?1 AND status = 'open'",
    )
    .and_then(|mut s| s.execute(params![report_id, at, by, resolution]))
    .db()?;
    let mut stored = report(conn, report_id)?.ok_or_else(|| Error::NotFound("no such report".into()))?;
    stored.message = messages::at(conn, &stored.conversation_id, stored.sequence_number)?;
    Ok(stored)
}

/// Appends an entry to the moderation log (in the caller's transaction).
fn log(conn: &Connection, user: &str, kind: ChangeKind, at: i64) -> Result<()> {
    conn.prepare_cached("INSERT INTO moderation_log (user_id, kind, at) VALUES (?1, ?2, ?3)")
        .and_then(|mut s| s.execute(params![user, kind.as_str(), at]))
        .db()?;
    Ok(())
}

fn ban_from(r: &Row<'_>) -> rusqlite::Result<Ban> {
    Ok(Ban {
        user_id: r.get(0)?,
        reason: r.get(1)?,
        until: r.get(2)?,
        banned_at: r.get(3)?,
        banned_by: r.get(4)?,
    })
}

pub(crate) fn ban(conn: &Connection, ban: &NewBan) -> Result<Ban> {
    let exists = conn
        .prepare_cached("SELECT 1 FROM users WHERE user_id = ?1")
        .and_then(|mut s| s.exists([&ban.user_id]))
        .db()?;
    if !exists {
        return Err(Error::UserNotFound(ban.user_id.clone()));
    }
    conn.prepare_cached(
        "INSERT INTO bans (user_id, reason, until, banned_at, banned_by) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (user_id) DO UPDATE SET reason = excluded.reason, until = excluded.until,
             banned_at = excluded.banned_at, banned_by = excluded.banned_by",
    )
    .and_then(|mut s| s.execute(params![ban.user_id, ban.reason, ban.until, ban.banned_at, ban.banned_by]))
    .db()?;
    log(conn, &ban.user_id, ChangeKind::Ban, ban.banned_at)?;
    Ok(Ban {
        user_id: ban.user_id.clone(),
        reason: ban.reason.clone(),
        until: ban.until,
        banned_at: ban.banned_at,
        banned_by: ban.banned_by.clone(),
    })
}

pub(crate) fn unban(conn: &Connection, user: &str, at: i64) -> Result<bool> {
    let removed = conn
        .prepare_cached("DELETE FROM bans WHERE user_id = ?1")
        .and_then(|mut s| s.execute([user]))
        .db()?;
    log(conn, user, ChangeKind::Unban, at)?;
    Ok(removed > 0)
}

pub(crate) fn ban_of(conn: &Connection, user: &str, now: i64) -> Result<Option<Ban>> {
    let ban = conn
        .prepare_cached("SELECT user_id, reason, until, banned_at, banned_by FROM bans WHERE user_id = ?1")
        .and_then(|mut s| s.query_row([user], ban_from).optional())
        .db()?;
    Ok(ban.filter(|b| in_force(b, now)))
}

pub(crate) fn revoke_user_sessions(conn: &Connection, user: &str, before: i64, at: i64) -> Result<()> {
    sessions::revoke_before(conn, user, before, None)?;
    log(conn, user, ChangeKind::Sessions, at)
}

pub(crate) fn changes(conn: &Connection, after: u64, limit: u32) -> Result<Vec<Change>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT version, user_id, kind FROM moderation_log WHERE version > ?1 ORDER BY version LIMIT ?2",
        )
        .db()?;
    let rows = stmt
        .query_map(params![seq(after), limit], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
        })
        .db()?;
    let mut out = Vec::new();
    for row in rows {
        let (version, user_id, kind) = row.db()?;
        let kind = ChangeKind::parse(&kind)
            .ok_or_else(|| Error::Internal(format!("unknown moderation log kind `{kind}`")))?;
        out.push(Change { version: version.max(0) as u64, user_id, kind });
    }
    Ok(out)
}

pub(crate) fn latest_change(conn: &Connection) -> Result<u64> {
    // AUTOINCREMENT keeps the highest version ever used in sqlite_sequence, purged entries included.
    let v: Option<i64> = conn
        .query_row("SELECT seq FROM sqlite_sequence WHERE name = 'moderation_log'", [], |r| r.get(0))
        .optional()
        .db()?;
    Ok(v.unwrap_or(0).max(0) as u64)
}

pub(crate) fn purge_changes(conn: &Connection, before: i64) -> Result<u64> {
    let removed = conn
        .prepare_cached("DELETE FROM moderation_log WHERE at < ?1")
        .and_then(|mut s| s.execute([before]))
        .db()?;
    Ok(removed as u64)
}

pub(crate) fn admin_users(
    conn: &Connection,
    prefix: &str,
    after: Option<&str>,
    limit: u32,
    now: i64,
) -> Result<Vec<AdminUser>> {
    let prefix = search_prefix(prefix);
    // Usernames use only [a-z0-9_.-], all below '~' (see users::search_users).
    let upper = format!("{prefix}~");
    let mut stmt = conn
        .prepare_cached(
            "SELECT u.user_id, u.username, u.display_name, u.created_at,
                    b.user_id, b.reason, b.until, b.banned_at, b.banned_by
             FROM users u LEFT JOIN bans b ON b.user_id = u.user_id
             WHERE u.username >= ?1 AND u.username < ?2 AND (?3 IS NULL OR u.username > ?3)
             ORDER BY u.username LIMIT ?4",
        )
        .db()?;
    let rows = stmt
        .query_map(params![prefix, upper, after, limit], |r| {
            let user = User { user_id: r.get(0)?, username: r.get(1)?, display_name: r.get(2)? };
            let ban = match r.get::<_, Option<String>>(4)? {
                Some(user_id) => Some(Ban {
                    user_id,
                    reason: r.get(5)?,
                    until: r.get(6)?,
                    banned_at: r.get(7)?,
                    banned_by: r.get(8)?,
                }),
                None => None,
            };
            Ok(AdminUser { user, created_at: r.get(3)?, admin: false, ban })
        })
        .db()?;
    let mut users = rows.collect::<rusqlite::Result<Vec<_>>>().db()?;
    for u in &mut users {
        u.ban = u.ban.take().filter(|b| in_force(b, now));
    }
    Ok(users)
}

pub(crate) fn stats(conn: &Connection, now: i64) -> Result<StoreStats> {
    let count = |sql: &str, p: &[&dyn rusqlite::ToSql]| -> Result<u64> {
        let n: i64 = conn.query_row(sql, p, |r| r.get(0)).db()?;
        Ok(n.max(0) as u64)
    };
    Ok(StoreStats {
        users: count("SELECT COUNT(*) FROM users", &[])?,
        conversations: count("SELECT COUNT(*) FROM conversations", &[])?,
        messages: count("SELECT COALESCE(SUM(last_sequence), 0) FROM conversations", &[])?,
        open_reports: count("SELECT COUNT(*) FROM reports WHERE status = 'open'", &[])?,
        active_bans: count("SELECT COUNT(*) FROM bans WHERE until IS NULL OR until > ?1", &[&now])?,
    })
}
