//! Sessions: revoked tokens and per-user cutoffs.

use confab_core::store::{Revocations, SessionCutoff};
use confab_core::Result;
use deadpool_postgres::GenericClient;

use crate::postgres::error::PgResult;

pub(crate) async fn revoke_session<C: GenericClient>(
    c: &C,
    user: &str,
    session_id: &str,
    expires_at: i64,
) -> Result<()> {
    c.execute(
        "INSERT INTO revoked_sessions (session_id, user_id, expires_at) VALUES ($1, $2, $3)
         ON CONFLICT (session_id) DO NOTHING",
        &[&session_id, &user, &expires_at],
    )
    .await
    .db()?;
    Ok(())
}

pub(crate) async fn revoke_before<C: GenericClient>(
    c: &C,
    user: &str,
    before: i64,
    keep: Option<&str>,
) -> Result<()> {
    c.execute(
        "INSERT INTO session_cutoffs (user_id, revoked_before, kept_session) VALUES ($1, $2, $3)
         ON CONFLICT (user_id) DO UPDATE SET revoked_before = excluded.revoked_before,
             kept_session = excluded.kept_session
         WHERE excluded.revoked_before >= session_cutoffs.revoked_before",
        &[&user, &before, &keep],
    )
    .await
    .db()?;
    Ok(())
}

pub(crate) async fn revocations<C: GenericClient>(c: &C, user: &str, now: i64) -> Result<Revocations> {
    let sessions = c
        .query(
            "SELECT session_id FROM revoked_sessions WHERE user_id = $1 AND expires_at > $2",
            &[&user, &now],
        )
        .await
        .db()?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let cutoff = c
        .query_opt("SELECT revoked_before, kept_session FROM session_cutoffs WHERE user_id = $1", &[&user])
        .await
        .db()?
        .map(|r| SessionCutoff { before: r.get(0), kept_session: r.get(1) });
    Ok(Revocations { sessions, cutoff })
}

pub(crate) async fn purge<C: GenericClient>(c: &C, now: i64) -> Result<u64> {
    c.execute("DELETE FROM revoked_sessions WHERE expires_at <= $1", &[&now]).await.db()
}
