//! `sp export` / `sp import`: every table of a store as versioned JSON Lines, portable between
//! the embedded store and PostgreSQL. The same store exports to the same bytes from either
//! backend (rows in key order, times in µs, JSON keys sorted), so a round trip can be checked
//! by comparing files. An import reads the whole file first and writes only if every line is
//! good, then writes it in one transaction: a bad line imports nothing.

mod catalogue;
mod cell;
mod format;
mod rows;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use futures::TryStreamExt;
use sp_core::{Error, Result};
use sqlx::AssertSqlSafe;

use crate::Database;
use catalogue::{SEEDED, TABLES};
pub use format::{EXPORT_FORMAT, EXPORT_VERSION};
use format::{Line, end_line, header_line, invalid, parse_line, row_line};

/// What an export wrote or an import loaded: rows per table (every table, zeros included).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TransferSummary {
    /// Table name → rows.
    pub rows: BTreeMap<String, u64>,
}

impl TransferSummary {
    /// Rows of all tables.
    pub fn total(&self) -> u64 {
        self.rows.values().sum()
    }
}

/// Every table an export carries, in the order it writes them, with its columns. Derived data
/// is left out and rebuilt by the stores: the embedded store's full-text table and vector-index
/// journal, PostgreSQL's section ids, `tsv` and section namespace copies.
///
/// ```
/// let tables = sp_data::exported_tables();
/// assert_eq!(tables[0].0, "tenants");
/// assert!(tables.iter().any(|(name, columns)| *name == "kb_sections" && columns.contains(&"embedding")));
/// ```
pub fn exported_tables() -> Vec<(&'static str, Vec<&'static str>)> {
    TABLES
        .iter()
        .map(|t| (t.name, t.columns.iter().map(|(name, _)| *name).collect()))
        .collect()
}

fn io_error(path: &Path, err: std::io::Error) -> Error {
    Error::invalid_input("dest", format!("{}: {err}", path.display()))
}

/// Writes every table of `database` to the new file `dest` as JSON Lines, from one consistent
/// snapshot (servers may keep writing). The file is written as `DEST.partial` and renamed once
/// whole, so a failed export (a full disk) never leaves a file that looks like one.
///
/// ```no_run
/// # async fn run(database: &sp_data::Database) -> sp_core::Result<()> {
/// let summary = sp_data::export_store(database, std::path::Path::new("store.jsonl")).await?;
/// println!("{} rows", summary.total());
/// # Ok(()) }
/// ```
pub async fn export_store(database: &Database, dest: &Path) -> Result<TransferSummary> {
    if dest.exists() {
        return Err(Error::invalid_input(
            "dest",
            format!("{} exists; an export goes into a new file", dest.display()),
        ));
    }
    let mut partial_name = dest.as_os_str().to_owned();
    partial_name.push(".partial");
    let partial = std::path::PathBuf::from(partial_name);
    let written = async {
        let file = std::fs::File::create(&partial).map_err(|err| io_error(&partial, err))?;
        let mut out = BufWriter::new(file);
        writeln!(out, "{}", header_line()).map_err(|err| io_error(&partial, err))?;
        let counts = match database {
            Database::Embedded(store) => export_sqlite(store.pool(), &mut out, &partial).await?,
            #[cfg(feature = "postgres")]
            Database::Postgres(store) => export_postgres(store.pool(), &mut out, &partial).await?,
        };
        writeln!(out, "{}", end_line(&counts)).map_err(|err| io_error(&partial, err))?;
        let file = out
            .into_inner()
            .map_err(|err| io_error(&partial, err.into_error()))?;
        file.sync_all().map_err(|err| io_error(&partial, err))?;
        Ok::<_, Error>(counts)
    }
    .await;
    match written {
        Ok(rows) => {
            std::fs::rename(&partial, dest).map_err(|err| io_error(dest, err))?;
            Ok(TransferSummary { rows })
        }
        Err(err) => {
            let _ = std::fs::remove_file(&partial);
            Err(err)
        }
    }
}

/// Loads an [`export_store`] file into `database`, which must hold no data yet (freshly
/// migrated: only its seeded default tenant and settings, which the import replaces). Every
/// line is checked before anything is written; a bad one is `SP-OPS-002` naming `FILE:LINE`,
/// and nothing is imported. The rows go in one transaction.
///
/// ```no_run
/// # async fn run(database: &sp_data::Database) -> sp_core::Result<()> {
/// sp_data::import_store(database, std::path::Path::new("store.jsonl")).await?;
/// # Ok(()) }
/// ```
pub async fn import_store(database: &Database, src: &Path) -> Result<TransferSummary> {
    let rows = check_file(src)?;
    match database {
        Database::Embedded(store) => import_sqlite(store.pool(), src).await?,
        #[cfg(feature = "postgres")]
        Database::Postgres(store) => import_postgres(store.pool(), src).await?,
    }
    Ok(TransferSummary { rows })
}

/// Reads the whole file: a header first, rows in catalogue order, the closing line last with
/// counts equal to the rows read. Returns those counts.
fn check_file(src: &Path) -> Result<BTreeMap<String, u64>> {
    let name = src.display().to_string();
    let file = std::fs::File::open(src).map_err(|err| invalid(&name, 0, err.to_string()))?;
    let mut counts: BTreeMap<String, u64> = TABLES.iter().map(|t| (t.name.into(), 0)).collect();
    let mut last_table = 0;
    let mut ended = false;
    for (n, text) in BufReader::new(file).lines().enumerate() {
        let line = n + 1;
        let text = text.map_err(|err| invalid(&name, line, err.to_string()))?;
        if ended {
            return Err(invalid(&name, line, "a line after the closing line"));
        }
        let parsed = parse_line(&text).map_err(|reason| invalid(&name, line, reason))?;
        match (line, parsed) {
            (1, Line::Header) => {}
            (1, _) => return Err(invalid(&name, 1, "not an `sp export` file (no header)")),
            (_, Line::Header) => return Err(invalid(&name, line, "a second header")),
            (_, Line::Row { index, table, .. }) => {
                if index < last_table {
                    return Err(invalid(
                        &name,
                        line,
                        format!("a `{}` row after the rows of a later table", table.name),
                    ));
                }
                last_table = index;
                *counts.entry(table.name.into()).or_default() += 1;
            }
            (_, Line::End(expected)) => {
                if expected != counts {
                    return Err(invalid(
                        &name,
                        line,
                        format!("the closing line counts {expected:?}, the file holds {counts:?}"),
                    ));
                }
                ended = true;
            }
        }
    }
    if !ended {
        return Err(invalid(
            &name,
            0,
            "the file ends before its closing line (truncated?)",
        ));
    }
    Ok(counts)
}

/// Stamps the export and import drivers for one backend.
macro_rules! transfer_driver {
    ($export:ident, $import:ident, $db:ty, $rows:ident, $postgres:expr, $begin_read:expr,
     $finish:expr) => {
        async fn $export(
            pool: &sqlx::Pool<$db>,
            out: &mut impl Write,
            path: &Path,
        ) -> Result<BTreeMap<String, u64>> {
            use crate::sql::Dialect;
            let db = <$db as Dialect>::error;
            // One transaction: every table from the same snapshot.
            let mut tx = pool.begin_with($begin_read).await.map_err(db)?;
            let mut counts = BTreeMap::new();
            for table in TABLES {
                let sql = rows::select_sql(table, $postgres);
                let mut stream = sqlx::query(AssertSqlSafe(sql)).fetch(&mut *tx);
                let mut count = 0u64;
                while let Some(row) = stream.try_next().await.map_err(db)? {
                    let cells = rows::$rows::decode(&row, table).map_err(db)?;
                    writeln!(out, "{}", row_line(table, &cells))
                        .map_err(|err| io_error(path, err))?;
                    count += 1;
                }
                counts.insert(table.name.to_owned(), count);
            }
            tx.rollback().await.map_err(db)?;
            Ok(counts)
        }

        async fn $import(pool: &sqlx::Pool<$db>, src: &Path) -> Result<()> {
            use crate::sql::Dialect;
            let db = <$db as Dialect>::error;
            let name = src.display().to_string();
            let mut tx = pool
                .begin_with(<$db as Dialect>::BEGIN_WRITE)
                .await
                .map_err(db)?;
            for table in TABLES.iter().filter(|t| !SEEDED.contains(&t.name)) {
                let sql = format!("SELECT 1 FROM {} LIMIT 1", table.name);
                let found = sqlx::query(AssertSqlSafe(sql))
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db)?;
                if found.is_some() {
                    return Err(invalid(
                        &name,
                        0,
                        format!(
                            "the target store already holds data (table `{}`); import into an \
                             empty, migrated store",
                            table.name
                        ),
                    ));
                }
            }
            let tenants = sqlx::query("SELECT 1 FROM tenants WHERE id <> 'default' LIMIT 1")
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
            if tenants.is_some() {
                return Err(invalid(&name, 0, "the target store already holds tenants"));
            }
            // The migrations' seeds are replaced by the export's rows of the same tables.
            for seeded in SEEDED.iter().rev() {
                sqlx::query(AssertSqlSafe(format!("DELETE FROM {seeded}")))
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
            }
            let file =
                std::fs::File::open(src).map_err(|err| invalid(&name, 0, err.to_string()))?;
            let mut statements: BTreeMap<&str, String> = BTreeMap::new();
            for (n, text) in BufReader::new(file).lines().enumerate() {
                let line = n + 1;
                let text = text.map_err(|err| invalid(&name, line, err.to_string()))?;
                let Line::Row { table, cells, .. } =
                    parse_line(&text).map_err(|reason| invalid(&name, line, reason))?
                else {
                    continue;
                };
                let sql = statements
                    .entry(table.name)
                    .or_insert_with(|| rows::insert_sql(table, $postgres));
                rows::$rows::insert(&mut *tx, sql, table, &cells)
                    .await
                    .map_err(|err| {
                        invalid(&name, line, format!("the database refused the row: {err}"))
                    })?;
            }
            $finish(&mut *tx).await.map_err(db)?;
            tx.commit().await.map_err(db)?;
            Ok(())
        }
    };
}

transfer_driver!(
    export_sqlite,
    import_sqlite,
    sqlx::Sqlite,
    sqlite,
    false,
    "BEGIN",
    // SQLite moves an INTEGER PRIMARY KEY's next value past inserted rows itself.
    |_: &mut sqlx::SqliteConnection| async { Ok::<(), sqlx::Error>(()) }
);

#[cfg(feature = "postgres")]
transfer_driver!(
    export_postgres,
    import_postgres,
    sqlx::Postgres,
    postgres,
    true,
    "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
    rows::reset_sequences
);
