//! The single writer: one thread owns the only writing connection and commits queued writes in
//! batches (group commit). Each write runs inside its own savepoint, so a write that fails (a
//! duplicate, a non-member) leaves nothing behind while the rest of the batch commits; results are
//! released only after the batch's `COMMIT` (and its fsync) succeeded.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use confab_core::{Error, Result};
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

/// Most writes committed together; bounds the latency one commit adds to the first write of it.
const MAX_BATCH: usize = 512;
/// Writes queued beyond this are refused with `UNAVAILABLE` rather than queued without bound.
pub(crate) const QUEUE_CAPACITY: usize = 65_536;

trait Job: Send {
    /// Runs the write; `true` when it succeeded and its savepoint is to be kept.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Sends the result: the write's own when the batch committed, the commit's error otherwise.
    fn finish(self: Box<Self>, commit: Result<()>);
}

/// Runs after a successful commit, before the caller is answered, in commit order.
pub(crate) type CommitHook<T> = Box<dyn FnOnce(&T) + Send>;

struct TypedJob<T, F> {
    work: Option<F>,
    result: Option<Result<T>>,
    on_commit: Option<CommitHook<T>>,
    reply: oneshot::Sender<Result<T>>,
}

impl<T, F> Job for TypedJob<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(work) = self.work.take() else { return false };
        let result = catch_unwind(AssertUnwindSafe(|| work(conn)))
            .unwrap_or_else(|_| Err(Error::Internal("a storage write panicked".into())));
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn finish(self: Box<Self>, commit: Result<()>) {
        let outcome = match (commit, self.result) {
            (Err(e), _) => Err(e),
            (Ok(()), Some(result)) => result,
            (Ok(()), None) => Err(Error::Internal("write was not run".into())),
        };
        if let (Ok(value), Some(hook)) = (&outcome, self.on_commit) {
            hook(value);
        }
        let _ = self.reply.send(outcome);
    }
}

/// Work done once per batch, inside its transaction: a failure fails the whole batch.
pub(crate) trait BatchHook: Send {
    /// Right after the batch's transaction began.
    fn begin(&mut self, conn: &Connection) -> Result<()>;
    /// After the batch's last write, before `COMMIT`.
    fn finish(&mut self, conn: &Connection) -> Result<()>;
    /// A write of the batch failed and was rolled back to its savepoint: what it did is undone.
    fn rolled_back(&mut self);
}

enum Command {
    Write(Box<dyn Job>),
    Stop(oneshot::Sender<()>),
}

/// Handle to the writer thread.
#[derive(Clone)]
pub(crate) struct Writer {
    queue: mpsc::Sender<Command>,
    waiting: Waiting,
}

/// How many writes are queued behind the one running: a long write that can stop part way (the
/// sweeper's batch) stops when another is waiting, so that one waits for a single step, not for
/// the whole batch.
#[derive(Clone, Debug, Default)]
pub(crate) struct Waiting(Arc<AtomicUsize>);

impl Waiting {
    pub(crate) fn any(&self) -> bool {
        self.0.load(Ordering::Relaxed) > 0
    }
}

impl Writer {
    /// Starts the writer thread. When `checkpoint_tail` is raised (by the checkpoint thread, after
    /// a pass), the writer checkpoints what is left of the WAL after its next batch: being the
    /// only writer, it reaches the WAL's end, so the next batch writes the WAL over from its start.
    pub(crate) fn start(
        conn: Connection,
        hook: Box<dyn BatchHook>,
        checkpoint_tail: Arc<AtomicBool>,
    ) -> std::io::Result<Writer> {
        let (queue, rx) = mpsc::channel(QUEUE_CAPACITY);
        let waiting = Waiting::default();
        let counter = waiting.clone();
        std::thread::Builder::new()
            .name("confab-sqlite-writer".into())
            .spawn(move || run(conn, hook, rx, counter, checkpoint_tail))?;
        Ok(Writer { queue, waiting })
    }

    /// The count of writes queued and not yet started.
    pub(crate) fn waiting(&self) -> Waiting {
        self.waiting.clone()
    }

    /// Queues `work` now (call order is commit order) and returns a receiver for its result.
    pub(crate) fn submit<T, F>(
        &self,
        work: F,
        on_commit: Option<CommitHook<T>>,
    ) -> impl std::future::Future<Output = Result<T>> + Send + 'static
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let job = Box::new(TypedJob { work: Some(work), result: None, on_commit, reply });
        self.waiting.0.fetch_add(1, Ordering::Relaxed);
        let queued = self.queue.try_send(Command::Write(job));
        if queued.is_err() {
            self.waiting.0.fetch_sub(1, Ordering::Relaxed);
        }
        async move {
            match queued {
                Ok(()) => {
                    rx.await.unwrap_or_else(|_| Err(Error::Unavailable("storage writer stopped".into())))
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    Err(Error::Unavailable("storage write queue is full".into()))
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    Err(Error::Unavailable("storage is shutting down".into()))
                }
            }
        }
    }

    pub(crate) fn is_running(&self) -> bool {
        !self.queue.is_closed()
    }

    /// Commits everything queued so far, then stops the thread.
    pub(crate) async fn stop(&self) {
        let (tx, rx) = oneshot::channel();
        if self.queue.send(Command::Stop(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

fn run(
    conn: Connection,
    mut hook: Box<dyn BatchHook>,
    mut rx: mpsc::Receiver<Command>,
    waiting: Waiting,
    checkpoint_tail: Arc<AtomicBool>,
) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_BATCH);
    let take = |batch: &mut Vec<Box<dyn Job>>, job| {
        waiting.0.fetch_sub(1, Ordering::Relaxed);
        batch.push(job);
    };
    while let Some(first) = rx.blocking_recv() {
        let mut stop = None;
        match first {
            Command::Write(job) => take(&mut batch, job),
            Command::Stop(tx) => stop = Some(tx),
        }
        while stop.is_none() && batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(Command::Write(job)) => take(&mut batch, job),
                Ok(Command::Stop(tx)) => stop = Some(tx),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            commit_batch(&conn, hook.as_mut(), &mut batch);
            // After the batch's results are out: only the next batch waits for it.
            if checkpoint_tail.swap(false, Ordering::Relaxed) {
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::warn!(error = %e, "WAL checkpoint of the tail failed");
                }
            }
        }
        if let Some(tx) = stop {
            rx.close();
            // Writes that raced the stop are refused, not dropped silently.
            while let Ok(cmd) = rx.try_recv() {
                if let Command::Write(job) = cmd {
                    job.finish(Err(Error::Unavailable("storage is shutting down".into())));
                }
            }
            // Nothing writes any more: give back the space a burst left in the WAL.
            if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
                tracing::warn!(error = %e, "final WAL checkpoint failed");
            }
            let _ = tx.send(());
            return;
        }
    }
}

fn commit_batch(conn: &Connection, hook: &mut dyn BatchHook, batch: &mut Vec<Box<dyn Job>>) {
    let outcome = (|| -> Result<()> {
        // Prepared once and kept: these run for every write, parsing them each time showed.
        let run = |sql: &str| {
            conn.prepare_cached(sql).and_then(|mut s| s.execute([])).map(|_| ()).map_err(super::error::map)
        };
        run("BEGIN IMMEDIATE")?;
        hook.begin(conn)?;
        for job in batch.iter_mut() {
            run("SAVEPOINT job")?;
            let keep = job.run(conn);
            if !keep {
                run("ROLLBACK TO job")?;
                hook.rolled_back();
            }
            run("RELEASE job")?;
        }
        hook.finish(conn)?;
        run("COMMIT")
    })();
    if outcome.is_err() && !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    let outcome = outcome.map_err(|e| match e {
        // Whatever failed, nothing of this batch is stored: say so in the protocol's terms.
        Error::Unavailable(m) | Error::Internal(m) => Error::Unavailable(m),
        other => other,
    });
    if let Err(e) = &outcome {
        tracing::error!(error = %e, writes = batch.len(), "storage commit failed; batch rolled back");
    }
    for job in batch.drain(..) {
        job.finish(outcome.clone());
    }
}
