//! Appends, batched per node: one task takes queued appends, sorts them by conversation (so nodes
//! always lock conversation rows in the same order and cannot deadlock each other), and commits
//! them in one transaction. The per-conversation sequence is the conversation row's
//! `last_sequence`, incremented under that row's lock, so concurrent appends from many nodes stay
//! gapless.

use confab_core::ids::now_millis;
use confab_core::rules::posting::{self, AppendPlan};
use confab_core::store::{AfterCommit, Appended, NewMessage};
use confab_core::{Error, Result};
use deadpool_postgres::Pool;
use tokio::sync::{mpsc, oneshot};

use super::error::{self, PgResult};
use super::queries::messages;

/// Most appends committed in one transaction.
const MAX_BATCH: usize = 256;
pub(crate) const QUEUE_CAPACITY: usize = 65_536;

pub(crate) struct AppendJob {
    pub(crate) message: NewMessage,
    pub(crate) after_commit: Option<AfterCommit>,
    pub(crate) reply: oneshot::Sender<Result<Appended>>,
}

pub(crate) enum Command {
    /// Boxed: a job is large, a flush is a pointer.
    Append(Box<AppendJob>),
    /// Answered once every append queued before it is committed (or failed).
    Flush(oneshot::Sender<()>),
}

pub(crate) async fn run(pool: Pool, mut rx: mpsc::Receiver<Command>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.recv().await {
        let mut flush = None;
        match first {
            Command::Append(job) => batch.push(*job),
            Command::Flush(tx) => flush = Some(tx),
        }
        while flush.is_none() && batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(Command::Append(job)) => batch.push(*job),
                Ok(Command::Flush(tx)) => flush = Some(tx),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            // Stable: one conversation's appends keep their arrival order.
            batch.sort_by(|a, b| a.message.conversation_id.cmp(&b.message.conversation_id));
            // A reply to a message of the same batch waits for a transaction after its target's,
            // which is what its check needs to find the target.
            while !batch.is_empty() {
                let messages: Vec<&NewMessage> = batch.iter().map(|job| &job.message).collect();
                let end = posting::batch_end(&messages);
                let mut rest = batch.split_off(end);
                commit_batch(&pool, &mut batch).await;
                std::mem::swap(&mut batch, &mut rest);
            }
        }
        if let Some(tx) = flush {
            let _ = tx.send(());
        }
    }
}

/// What becomes of one append of a batch.
enum Decision {
    Done(Box<Result<Appended>>),
    Write {
        reply_to_sequence: Option<u64>,
    },
    /// A retry of the message at this index, earlier in this very batch.
    RetryOf(usize),
}

/// Commits a batch in one transaction and three round trips plus the commit: every append's
/// checks in one statement (plus, pipelined after it, the reply targets and attachments of the
/// messages that have them), then every write (pipelined, executed in order), then `COMMIT`. A write can still fail if another node stores the same sender's `messageId`
/// between the check and the write; then the whole batch fails with `UNAVAILABLE` and nothing of
/// it is stored, and the clients' retries are answered idempotently.
async fn commit_batch(pool: &Pool, batch: &mut Vec<AppendJob>) {
    let now = now_millis();
    // Only the messages cross the awaits below (the commit hooks are not `Sync`).
    let messages: Vec<&NewMessage> = batch.iter().map(|job| &job.message).collect();
    let outcome: Result<Vec<Result<Appended>>> = async {
        let mut client = pool.get().await.map_err(error::pool)?;
        let tx = client.transaction().await.db()?;
        let checks = messages::check_appends(&tx, &messages).await?;
        let mut decided = Vec::with_capacity(messages.len());
        for (index, (message, check)) in messages.iter().zip(checks).enumerate() {
            // A stored message answers for itself; otherwise an earlier write of the batch does.
            let earlier = match check.existing {
                Some(_) => None,
                None => posting::earlier_in_batch(&messages, index, |j| {
                    matches!(decided.get(j), Some(Decision::Write { .. }))
                }),
            };
            decided.push(match earlier {
                Some(Ok(j)) => Decision::RetryOf(j),
                Some(Err(e)) => Decision::Done(Box::new(Err(e))),
                None => match posting::decide(message, check) {
                    Ok(AppendPlan::Write { reply_to_sequence }) => Decision::Write { reply_to_sequence },
                    Ok(AppendPlan::Repeat(original)) => Decision::Done(Box::new(Ok(*original))),
                    Err(e) => Decision::Done(Box::new(Err(e))),
                },
            });
        }
        let writes = futures_util::future::join_all(
            messages
                .iter()
                .zip(&decided)
                .filter_map(|(m, d)| match d {
                    Decision::Write { reply_to_sequence } => Some((m, *reply_to_sequence)),
                    _ => None,
                })
                .map(|(m, reply_to_sequence)| messages::write_append(&tx, m, reply_to_sequence, now)),
        )
        .await;
        let mut writes = writes.into_iter();
        let mut results: Vec<Result<Appended>> = Vec::with_capacity(messages.len());
        for d in decided {
            let result = match d {
                Decision::Done(r) => *r,
                // A failed write aborted the transaction: the whole batch fails.
                Decision::Write { .. } => {
                    Ok(writes.next().ok_or_else(|| Error::Internal("missing write".into()))??)
                }
                Decision::RetryOf(j) => {
                    results[j].clone().map(|a: Appended| Appended { created: false, ..a })
                }
            };
            results.push(result);
        }
        tx.commit().await.db()?;
        Ok(results)
    }
    .await;
    match outcome {
        Ok(results) => {
            for (job, result) in batch.drain(..).zip(results) {
                if let (Ok(appended), Some(hook)) = (&result, job.after_commit) {
                    hook(appended);
                }
                let _ = job.reply.send(result);
            }
        }
        Err(e) => {
            // Whatever failed, nothing of the batch is stored: say so in the protocol's terms.
            let e = match e {
                Error::Internal(m) => Error::Unavailable(m),
                other => other,
            };
            tracing::error!(error = %e, appends = batch.len(), "append batch failed; nothing of it was stored");
            for job in batch.drain(..) {
                let _ = job.reply.send(Err(e.clone()));
            }
        }
    }
}
