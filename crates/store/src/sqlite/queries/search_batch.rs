//! `confab_search_batch`: the documents of the batch the writer is committing, as a table SQLite
//! reads straight from the writer's memory, so the batch is indexed by one `INSERT … SELECT`
//! without encoding its texts for SQLite or reading its messages back (see
//! [`super::search::index_batch`]). It holds rows only while that statement runs.

use std::borrow::Cow;
use std::ffi::{c_int, CStr};

use rusqlite::vtab::{Context, Filters, IndexInfo, Module, VTab, VTabConnection, VTabCursor};
use rusqlite::{ffi, Connection};

use super::search::{SharedBatch, WrittenDoc};

const MODULE: Module<'static, SearchBatchTab> = Module::eponymous_only_module();

/// Registers the table on the writer's connection.
pub(crate) fn register(conn: &Connection, batch: SharedBatch) -> rusqlite::Result<()> {
    conn.create_module(c"confab_search_batch", &MODULE, Some(batch))
}

/// The table; SQLite's part comes first, as the virtual table interface requires.
#[repr(C)]
struct SearchBatchTab {
    base: ffi::sqlite3_vtab,
    batch: SharedBatch,
}

// SAFETY: `#[repr(C)]` with the `sqlite3_vtab` first, as `VTab` requires.
unsafe impl<'vtab> VTab<'vtab> for SearchBatchTab {
    type Aux = SharedBatch;
    type Cursor = SearchBatchCursor;

    fn connect(
        _: &mut VTabConnection,
        aux: Option<&SharedBatch>,
        _module_name: &[u8],
        _database_name: &[u8],
        _table_name: &[u8],
        _args: &[&[u8]],
    ) -> rusqlite::Result<(Cow<'static, CStr>, Self)> {
        let batch = aux.cloned().ok_or_else(|| {
            rusqlite::Error::ModuleError("confab_search_batch needs the writer's batch".into())
        })?;
        Ok((
            Cow::Borrowed(
                c"CREATE TABLE x(doc_id INTEGER, conversation_id TEXT, sequence_number INTEGER, text TEXT)",
            ),
            SearchBatchTab { base: ffi::sqlite3_vtab::default(), batch },
        ))
    }

    fn best_index(&self, info: &mut IndexInfo) -> rusqlite::Result<bool> {
        // Read whole, in the order written: no constraint is used.
        info.set_estimated_cost(1.0);
        info.set_estimated_rows(100);
        Ok(true)
    }

    fn open(&'vtab mut self) -> rusqlite::Result<SearchBatchCursor> {
        Ok(SearchBatchCursor {
            base: ffi::sqlite3_vtab_cursor::default(),
            batch: self.batch.clone(),
            docs: Vec::new(),
            at: 0,
        })
    }
}

/// A read of the table: the documents it took from the batch, and where it is among them.
#[repr(C)]
struct SearchBatchCursor {
    base: ffi::sqlite3_vtab_cursor,
    batch: SharedBatch,
    docs: Vec<WrittenDoc>,
    at: usize,
}

// SAFETY: `#[repr(C)]` with the `sqlite3_vtab_cursor` first, as `VTabCursor` requires.
unsafe impl VTabCursor for SearchBatchCursor {
    fn filter(
        &mut self,
        _idx_num: c_int,
        _idx_str: Option<&str>,
        _args: &Filters<'_>,
    ) -> rusqlite::Result<()> {
        // Taken, not copied: the rows are read once, by the one statement that indexes them.
        self.docs = self.batch.lock().take_ready();
        self.at = 0;
        Ok(())
    }

    fn next(&mut self) -> rusqlite::Result<()> {
        self.at += 1;
        Ok(())
    }

    fn eof(&self) -> bool {
        self.at >= self.docs.len()
    }

    fn column(&self, ctx: &mut Context, i: c_int) -> rusqlite::Result<()> {
        let Some(doc) = self.docs.get(self.at) else { return ctx.set_result(rusqlite::types::Null) };
        match i {
            0 => ctx.set_result(doc.doc_id),
            1 => ctx.set_result(doc.conversation_id.as_str()),
            2 => ctx.set_result(doc.sequence_number),
            _ => ctx.set_result(doc.text.as_deref()),
        }
    }

    fn rowid(&self) -> rusqlite::Result<i64> {
        Ok(self.at as i64 + 1)
    }
}
