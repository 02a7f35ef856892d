//! A SQLite VFS that hands each commit's WAL writes to the file system as one write.
//!
//! SQLite writes every WAL frame as two `pwrite` calls (its header, then its page): a commit of
//! 20 pages is 40 system calls, each paying the kernel's per-write costs (the call itself, the
//! page-cache lookups, the file's timestamp update), which was 17–19 % of the server's CPU under
//! chat load (`docs/benchmarks.md`). The writer's connection opens its WAL through this VFS, which
//! keeps contiguous WAL writes in memory and writes them out as one before anything that could
//! look at the file: a sync (every commit syncs, `synchronous=FULL`, before the commit is visible
//! to any reader), a read, a size, a truncation, or closing it. A write that does not continue or
//! overwrite what is kept writes that out first, so the file always ends up with the same bytes
//! in the same places as without this VFS, by the time it is synced.
//!
//! Only for a connection with `synchronous=FULL` (the writer's, `configure`): with less, a commit
//! would become visible before its frames were written out.
//!
//! Every other file, and every other operation, is the platform's default VFS as it is.

use std::ffi::{c_int, c_void, CStr};
use std::sync::OnceLock;

use rusqlite::ffi;

/// The VFS's registered name, for [`rusqlite::Connection::open_with_flags_and_vfs`].
pub(crate) const NAME: &CStr = c"confab-wal";

/// Writes kept beyond this are written out at once (a large transaction, a migration), so the
/// memory a WAL handle holds stays bounded.
const MAX_KEPT: usize = 4 << 20;

/// The most the platform's VFS writes in one call (it writes at most 128 KiB - 1 bytes per call):
/// a commit of up to 30 frames of 4 KiB is one write.
const WRITE_AT_MOST: usize = 124 << 10;

/// Contiguous bytes to be written at `offset`.
#[derive(Debug, Default)]
struct Kept {
    offset: i64,
    bytes: Vec<u8>,
}

impl Kept {
    /// Keeps `data` for `offset` when it continues or overwrites what is kept (or nothing is) and
    /// stays within [`MAX_KEPT`]; `false` when it must be written out first.
    fn absorb(&mut self, data: &[u8], offset: i64) -> bool {
        if self.bytes.is_empty() {
            if data.len() > MAX_KEPT {
                return false;
            }
            self.offset = offset;
            self.bytes.extend_from_slice(data);
            return true;
        }
        let Ok(start) = usize::try_from(offset - self.offset) else { return false };
        if start > self.bytes.len() || start + data.len() > MAX_KEPT {
            return false;
        }
        let end = start + data.len();
        if end > self.bytes.len() {
            self.bytes.resize(end, 0);
        }
        self.bytes[start..end].copy_from_slice(data);
        true
    }
}

/// What this VFS adds to a WAL file: it lives right after the platform's own file structure,
/// which stays first, so the platform's methods take the same pointer.
struct WalExtra {
    platform: *const ffi::sqlite3_io_methods,
    kept: Kept,
}

/// The platform's VFS and where [`WalExtra`] sits in a file structure.
struct Platform {
    vfs: *mut ffi::sqlite3_vfs,
    extra_at: usize,
}

// SAFETY: the default VFS is a process-wide static of SQLite's, safe to use from any thread.
unsafe impl Send for Platform {}
unsafe impl Sync for Platform {}

static PLATFORM: OnceLock<Result<Platform, String>> = OnceLock::new();

/// Registers the VFS (once per process); an error when SQLite has no default VFS.
pub(crate) fn register() -> Result<(), String> {
    PLATFORM
        .get_or_init(|| {
            // SAFETY: `sqlite3_vfs_find` initializes SQLite and returns a pointer to a VFS it owns
            // for the life of the process, or null.
            let platform = unsafe { ffi::sqlite3_vfs_find(std::ptr::null()) };
            if platform.is_null() {
                return Err("SQLite has no default VFS".into());
            }
            // SAFETY: non-null, and SQLite's VFS structures are never freed.
            let mut vfs = unsafe { *platform };
            let size = usize::try_from(vfs.szOsFile).map_err(|_| "bad file size".to_string())?;
            let extra_at = size.next_multiple_of(std::mem::align_of::<WalExtra>());
            vfs.szOsFile = c_int::try_from(extra_at + std::mem::size_of::<WalExtra>())
                .map_err(|_| "bad file size".to_string())?;
            vfs.zName = NAME.as_ptr();
            vfs.pNext = std::ptr::null_mut();
            vfs.xOpen = Some(open);
            let vfs = Box::into_raw(Box::new(vfs));
            // SAFETY: the structure is leaked, so it outlives every connection that uses it.
            let rc = unsafe { ffi::sqlite3_vfs_register(vfs, 0) };
            if rc != ffi::SQLITE_OK {
                return Err(format!("registering the WAL VFS failed ({rc})"));
            }
            Ok(Platform { vfs: platform, extra_at })
        })
        .as_ref()
        .map(|_| ())
        .map_err(Clone::clone)
}

fn platform() -> &'static Platform {
    match PLATFORM.get() {
        Some(Ok(platform)) => platform,
        // `open` is only reachable through the registered VFS, which exists only on success.
        _ => unreachable!("the WAL VFS is used before it was registered"),
    }
}

/// # Safety
/// `file` was opened as a WAL file by [`open`].
unsafe fn extra<'a>(file: *mut ffi::sqlite3_file) -> &'a mut WalExtra {
    &mut *file.cast::<u8>().add(platform().extra_at).cast::<WalExtra>()
}

/// # Safety
/// `file` was opened as a WAL file by [`open`].
unsafe fn methods<'a>(file: *mut ffi::sqlite3_file) -> &'a ffi::sqlite3_io_methods {
    &*extra(file).platform
}

unsafe extern "C" fn open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let platform = platform();
    // The platform opens the file as its own (it sees its own VFS, not this copy of it).
    let Some(platform_open) = (*platform.vfs).xOpen else { return ffi::SQLITE_CANTOPEN };
    let rc = platform_open(platform.vfs, name, file, flags, out_flags);
    if rc != ffi::SQLITE_OK || flags & ffi::SQLITE_OPEN_WAL == 0 || (*file).pMethods.is_null() {
        return rc;
    }
    let at = file.cast::<u8>().add(platform.extra_at).cast::<WalExtra>();
    at.write(WalExtra { platform: (*file).pMethods, kept: Kept::default() });
    (*file).pMethods = &WAL_METHODS;
    rc
}

/// Writes out what is kept.
unsafe fn write_out(file: *mut ffi::sqlite3_file) -> c_int {
    let extra = extra(file);
    if extra.kept.bytes.is_empty() {
        return ffi::SQLITE_OK;
    }
    let Some(write) = (*extra.platform).xWrite else { return ffi::SQLITE_IOERR_WRITE };
    let mut rc = ffi::SQLITE_OK;
    let mut offset = extra.kept.offset;
    for chunk in extra.kept.bytes.chunks(WRITE_AT_MOST) {
        // A chunk is at most WRITE_AT_MOST bytes, which fits a c_int.
        rc = write(file, chunk.as_ptr().cast(), chunk.len() as c_int, offset);
        if rc != ffi::SQLITE_OK {
            break;
        }
        offset += chunk.len() as i64;
        #[cfg(test)]
        tests::WRITES_OUT.with(|n| n.set(n.get() + 1));
    }
    // Written or failed, it is not kept: a failed write fails the transaction it belongs to.
    extra.kept.bytes.clear();
    rc
}

unsafe extern "C" fn close(file: *mut ffi::sqlite3_file) -> c_int {
    let rc = write_out(file);
    let extra = file.cast::<u8>().add(platform().extra_at).cast::<WalExtra>();
    let WalExtra { platform: methods, kept } = extra.read();
    drop(kept);
    (*file).pMethods = methods;
    let closed = match (*methods).xClose {
        Some(close) => close(file),
        None => ffi::SQLITE_OK,
    };
    if rc != ffi::SQLITE_OK {
        rc
    } else {
        closed
    }
}

unsafe extern "C" fn read(
    file: *mut ffi::sqlite3_file,
    buf: *mut c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    let rc = write_out(file);
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    match methods(file).xRead {
        Some(read) => read(file, buf, amount, offset),
        None => ffi::SQLITE_IOERR_READ,
    }
}

unsafe extern "C" fn write(
    file: *mut ffi::sqlite3_file,
    buf: *const c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    let Ok(len) = usize::try_from(amount) else { return ffi::SQLITE_IOERR_WRITE };
    let data = std::slice::from_raw_parts(buf.cast::<u8>(), len);
    if extra(file).kept.absorb(data, offset) {
        return ffi::SQLITE_OK;
    }
    let rc = write_out(file);
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    if extra(file).kept.absorb(data, offset) {
        return ffi::SQLITE_OK;
    }
    match methods(file).xWrite {
        Some(write) => write(file, buf, amount, offset),
        None => ffi::SQLITE_IOERR_WRITE,
    }
}

unsafe extern "C" fn truncate(file: *mut ffi::sqlite3_file, size: i64) -> c_int {
    let rc = write_out(file);
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    match methods(file).xTruncate {
        Some(truncate) => truncate(file, size),
        None => ffi::SQLITE_IOERR_TRUNCATE,
    }
}

unsafe extern "C" fn sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    let rc = write_out(file);
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    match methods(file).xSync {
        Some(sync) => sync(file, flags),
        None => ffi::SQLITE_IOERR_FSYNC,
    }
}

unsafe extern "C" fn file_size(file: *mut ffi::sqlite3_file, size: *mut i64) -> c_int {
    let rc = write_out(file);
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    match methods(file).xFileSize {
        Some(file_size) => file_size(file, size),
        None => ffi::SQLITE_IOERR_FSTAT,
    }
}

unsafe extern "C" fn lock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    match methods(file).xLock {
        Some(lock) => lock(file, level),
        None => ffi::SQLITE_OK,
    }
}

unsafe extern "C" fn unlock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    match methods(file).xUnlock {
        Some(unlock) => unlock(file, level),
        None => ffi::SQLITE_OK,
    }
}

unsafe extern "C" fn check_reserved_lock(file: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    match methods(file).xCheckReservedLock {
        Some(check) => check(file, out),
        None => {
            *out = 0;
            ffi::SQLITE_OK
        }
    }
}

unsafe extern "C" fn file_control(file: *mut ffi::sqlite3_file, op: c_int, arg: *mut c_void) -> c_int {
    // A control may look at the file (its size, a sync hint): it sees what was written.
    let rc = write_out(file);
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    match methods(file).xFileControl {
        Some(control) => control(file, op, arg),
        None => ffi::SQLITE_NOTFOUND,
    }
}

unsafe extern "C" fn sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    match methods(file).xSectorSize {
        Some(size) => size(file),
        None => 4096,
    }
}

unsafe extern "C" fn device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    match methods(file).xDeviceCharacteristics {
        Some(characteristics) => characteristics(file),
        None => 0,
    }
}

unsafe extern "C" fn shm_map(
    file: *mut ffi::sqlite3_file,
    page: c_int,
    page_size: c_int,
    extend: c_int,
    out: *mut *mut c_void,
) -> c_int {
    match methods(file).xShmMap {
        Some(map) if methods(file).iVersion >= 2 => map(file, page, page_size, extend, out),
        _ => ffi::SQLITE_IOERR_SHMMAP,
    }
}

unsafe extern "C" fn shm_lock(file: *mut ffi::sqlite3_file, offset: c_int, n: c_int, flags: c_int) -> c_int {
    match methods(file).xShmLock {
        Some(lock) if methods(file).iVersion >= 2 => lock(file, offset, n, flags),
        _ => ffi::SQLITE_IOERR_SHMLOCK,
    }
}

unsafe extern "C" fn shm_barrier(file: *mut ffi::sqlite3_file) {
    if let Some(barrier) = methods(file).xShmBarrier.filter(|_| methods(file).iVersion >= 2) {
        barrier(file)
    }
}

unsafe extern "C" fn shm_unmap(file: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    match methods(file).xShmUnmap {
        Some(unmap) if methods(file).iVersion >= 2 => unmap(file, delete),
        _ => ffi::SQLITE_OK,
    }
}

unsafe extern "C" fn fetch(
    file: *mut ffi::sqlite3_file,
    offset: i64,
    amount: c_int,
    out: *mut *mut c_void,
) -> c_int {
    let rc = write_out(file);
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    match methods(file).xFetch {
        Some(fetch) if methods(file).iVersion >= 3 => fetch(file, offset, amount, out),
        _ => {
            // No memory map: SQLite reads instead.
            *out = std::ptr::null_mut();
            ffi::SQLITE_OK
        }
    }
}

unsafe extern "C" fn unfetch(file: *mut ffi::sqlite3_file, offset: i64, page: *mut c_void) -> c_int {
    match methods(file).xUnfetch {
        Some(unfetch) if methods(file).iVersion >= 3 => unfetch(file, offset, page),
        _ => ffi::SQLITE_OK,
    }
}

static WAL_METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(close),
    xRead: Some(read),
    xWrite: Some(write),
    xTruncate: Some(truncate),
    xSync: Some(sync),
    xFileSize: Some(file_size),
    xLock: Some(lock),
    xUnlock: Some(unlock),
    xCheckReservedLock: Some(check_reserved_lock),
    xFileControl: Some(file_control),
    xSectorSize: Some(sector_size),
    xDeviceCharacteristics: Some(device_characteristics),
    xShmMap: Some(shm_map),
    xShmLock: Some(shm_lock),
    xShmBarrier: Some(shm_barrier),
    xShmUnmap: Some(shm_unmap),
    xFetch: Some(fetch),
    xUnfetch: Some(unfetch),
};

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use rusqlite::{Connection, OpenFlags};

    use super::*;

    thread_local! {
        /// Writes this VFS handed to the file system on this thread.
        pub(super) static WRITES_OUT: Cell<u64> = const { Cell::new(0) };
    }

    #[test]
    fn writes_that_continue_or_overwrite_are_kept_together() {
        let mut kept = Kept::default();
        assert!(kept.absorb(b"head", 0));
        assert!(kept.absorb(b"page", 4));
        // A page written again in place (a frame rewritten in its transaction).
        assert!(kept.absorb(b"PA", 4));
        assert_eq!((kept.offset, kept.bytes.as_slice()), (0, &b"headPAge"[..]));
        // Overlapping the end extends it.
        assert!(kept.absorb(b"geXY", 6));
        assert_eq!(kept.bytes.as_slice(), b"headPAgeXY");
    }

    #[test]
    fn a_gap_or_a_write_before_what_is_kept_is_refused() {
        let mut kept = Kept::default();
        assert!(kept.absorb(b"abcd", 100));
        assert!(!kept.absorb(b"x", 105));
        assert!(!kept.absorb(b"x", 99));
        assert_eq!((kept.offset, kept.bytes.as_slice()), (100, &b"abcd"[..]));
    }

    #[test]
    fn what_is_kept_stays_bounded() {
        let mut kept = Kept::default();
        assert!(!kept.absorb(&vec![0; MAX_KEPT + 1], 0));
        assert!(kept.absorb(&vec![0; MAX_KEPT - 1], 0));
        assert!(kept.absorb(&[1], (MAX_KEPT - 1) as i64));
        assert!(!kept.absorb(&[2], MAX_KEPT as i64));
    }

    fn open(path: &std::path::Path) -> Connection {
        register().unwrap();
        let conn = Connection::open_with_flags_and_vfs(path, OpenFlags::default(), NAME).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.pragma_update(None, "synchronous", "FULL").unwrap();
        conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        conn
    }

    #[test]
    fn a_commit_of_many_pages_is_one_write_and_every_reader_sees_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let conn = open(&path);
        conn.execute_batch("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)").unwrap();
        let reader = Connection::open(&path).unwrap();
        for round in 0..3i64 {
            let before = WRITES_OUT.with(Cell::get);
            // About 20 pages: 40 frame writes for SQLite.
            conn.execute(
                "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 20)
                 INSERT INTO t SELECT i + ?1, zeroblob(4000) FROM s",
                [round * 100],
            )
            .unwrap();
            assert_eq!(WRITES_OUT.with(Cell::get) - before, 1, "round {round}");
            let seen: i64 = reader.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
            assert_eq!(seen, (round + 1) * 20);
        }
        // A checkpoint by another connection reads the frames from the file.
        reader.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap();
        drop((conn, reader));
        let conn = Connection::open(&path).unwrap();
        let (n, bytes): (i64, i64) = conn
            .query_row("SELECT count(*), sum(length(v)) FROM t", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        assert_eq!((n, bytes), (60, 60 * 4000));
    }

    #[test]
    fn a_transaction_larger_than_what_is_kept_is_written_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let conn = open(&path);
        // Pages spill to the WAL before the commit and some are written again in it.
        conn.pragma_update(None, "cache_size", 10).unwrap();
        conn.execute_batch(
            "CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB);
             BEGIN;
             WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 3000)
             INSERT INTO t SELECT i, randomblob(3000) FROM s;
             UPDATE t SET v = zeroblob(10) WHERE k % 7 = 0;
             COMMIT;",
        )
        .unwrap();
        drop(conn);
        let conn = Connection::open(&path).unwrap();
        let ok: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(ok, "ok");
        let (n, short): (i64, i64) = conn
            .query_row("SELECT count(*), sum(length(v) = 10) FROM t", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        assert_eq!((n, short), (3000, 428));
    }
}
