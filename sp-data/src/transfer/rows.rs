//! Reading a table's rows as cells and inserting cells as rows, written once and stamped for
//! SQLite and PostgreSQL by [`transfer_rows!`]. The dialects differ only in a few spellings:
//! PostgreSQL reads every integer as BIGINT and vectors as `real[]`, orders text bytewise
//! (`COLLATE "C"`, SQLite's order, whatever the database's locale) and fills `kb_sections`'
//! copy of its document's namespace.

use super::catalogue::{Kind, Table};

/// `SELECT` of every catalogue column of `table`, in key order.
pub(crate) fn select_sql(table: &Table, postgres: bool) -> String {
    let columns: Vec<String> = table
        .columns
        .iter()
        .map(|(name, kind)| match (postgres, kind) {
            (true, Kind::Int) => format!("\"{name}\"::int8"),
            (true, Kind::Vector) => format!("\"{name}\"::real[]"),
            _ => format!("\"{name}\""),
        })
        .collect();
    let order: Vec<String> = table
        .key
        .iter()
        .map(|key| match (postgres, table.kind_of(key)) {
            (true, Some(Kind::Text)) => format!("\"{key}\" COLLATE \"C\""),
            _ => format!("\"{key}\""),
        })
        .collect();
    format!(
        "SELECT {} FROM {} ORDER BY {}",
        columns.join(", "),
        table.name,
        order.join(", ")
    )
}

/// `INSERT` of every catalogue column of `table`, bound in catalogue order.
pub(crate) fn insert_sql(table: &Table, postgres: bool) -> String {
    let mut columns: Vec<String> = table
        .columns
        .iter()
        .map(|(name, _)| format!("\"{name}\""))
        .collect();
    let mut values: Vec<String> = table
        .columns
        .iter()
        .enumerate()
        .map(|(i, (_, kind))| match (postgres, kind) {
            (true, Kind::Vector) => format!("${}::real[]::vector", i + 1),
            _ => format!("${}", i + 1),
        })
        .collect();
    if postgres && table.name == "kb_sections" {
        // Vector search filters on this copy of the document's namespace (0002 migration).
        columns.push("namespace".into());
        values.push("(SELECT namespace FROM kb_documents WHERE id = $1)".into());
    }
    // An identity column (`events.seq`) takes the exported value; the sequence is moved past
    // the imported rows afterwards.
    let overriding = if postgres {
        " OVERRIDING SYSTEM VALUE"
    } else {
        ""
    };
    format!(
        "INSERT INTO {} ({}){overriding} VALUES ({})",
        table.name,
        columns.join(", "),
        values.join(", ")
    )
}

/// Stamps `decode` (a row into cells) and `insert` (cells into a row) for one driver.
/// `$vector_out` turns the driver's vector column into `Vec<f32>`, `$vector_in` back.
macro_rules! transfer_rows {
    ($module:ident, $db:ty, $raw_vector:ty, $vector_out:expr, $vector_in:expr) => {
        pub(crate) mod $module {
            use serde_json::Value;
            use sqlx::Row;

            use crate::sql::{DbId, DbTime};
            use crate::transfer::catalogue::{Kind, Table};
            use crate::transfer::cell::Cell;

            type DbRow = <$db as sqlx::Database>::Row;

            /// A row of [`super::select_sql`] as cells, `None` for NULL.
            pub(crate) fn decode(
                row: &DbRow,
                table: &Table,
            ) -> Result<Vec<Option<Cell>>, sqlx::Error> {
                let mut cells = Vec::with_capacity(table.columns.len());
                for (i, (_, kind)) in table.columns.iter().enumerate() {
                    cells.push(match kind {
                        Kind::Id => row.try_get::<Option<DbId>, _>(i)?.map(|v| Cell::Id(v.0)),
                        Kind::Time => row
                            .try_get::<Option<DbTime>, _>(i)?
                            .map(|v| Cell::Time(v.0)),
                        Kind::Json => row.try_get::<Option<Value>, _>(i)?.map(Cell::Json),
                        Kind::Text => row.try_get::<Option<String>, _>(i)?.map(Cell::Text),
                        Kind::Int => row.try_get::<Option<i64>, _>(i)?.map(Cell::Int),
                        Kind::Real => row.try_get::<Option<f32>, _>(i)?.map(Cell::Real),
                        Kind::Bool => row.try_get::<Option<bool>, _>(i)?.map(Cell::Bool),
                        Kind::Vector => row
                            .try_get::<Option<$raw_vector>, _>(i)?
                            .map(|raw| Cell::Vector($vector_out(raw))),
                        Kind::Bytes => row.try_get::<Option<Vec<u8>>, _>(i)?.map(Cell::Bytes),
                    });
                }
                Ok(cells)
            }

            /// Inserts one row of cells with [`super::insert_sql`]'s statement `sql`.
            pub(crate) async fn insert(
                conn: &mut <$db as sqlx::Database>::Connection,
                sql: &str,
                table: &Table,
                cells: &[Option<Cell>],
            ) -> Result<(), sqlx::Error> {
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()));
                for ((_, kind), cell) in table.columns.iter().zip(cells) {
                    query = match (kind, cell) {
                        (Kind::Id, Some(Cell::Id(id))) => query.bind(Some(DbId(*id))),
                        (Kind::Id, _) => query.bind(None::<DbId>),
                        (Kind::Time, Some(Cell::Time(at))) => query.bind(Some(DbTime(*at))),
                        (Kind::Time, _) => query.bind(None::<DbTime>),
                        (Kind::Json, Some(Cell::Json(v))) => query.bind(Some(v.clone())),
                        (Kind::Json, _) => query.bind(None::<Value>),
                        (Kind::Text, Some(Cell::Text(s))) => query.bind(Some(s.clone())),
                        (Kind::Text, _) => query.bind(None::<String>),
                        (Kind::Int, Some(Cell::Int(n))) => query.bind(Some(*n)),
                        (Kind::Int, _) => query.bind(None::<i64>),
                        (Kind::Real, Some(Cell::Real(x))) => query.bind(Some(*x)),
                        (Kind::Real, _) => query.bind(None::<f32>),
                        (Kind::Bool, Some(Cell::Bool(b))) => query.bind(Some(*b)),
                        (Kind::Bool, _) => query.bind(None::<bool>),
                        (Kind::Vector, Some(Cell::Vector(v))) => query.bind(Some($vector_in(v))),
                        (Kind::Vector, _) => query.bind(None::<$raw_vector>),
                        (Kind::Bytes, Some(Cell::Bytes(b))) => query.bind(Some(b.clone())),
                        (Kind::Bytes, _) => query.bind(None::<Vec<u8>>),
                    };
                }
                query.execute(&mut *conn).await.map(|_| ())
            }
        }
    };
}

transfer_rows!(
    sqlite,
    sqlx::Sqlite,
    Vec<u8>,
    |raw: Vec<u8>| crate::knowledge::vector_from_bytes(&raw),
    |v: &Vec<f32>| crate::knowledge::vector_to_bytes(v)
);

#[cfg(feature = "postgres")]
transfer_rows!(
    postgres,
    sqlx::Postgres,
    Vec<f32>,
    |raw: Vec<f32>| raw,
    |v: &Vec<f32>| v.clone()
);

/// After an import into PostgreSQL: every identity or serial column's sequence moved past the
/// largest imported value, so the next row the store writes does not collide. Partitions
/// share their parent's sequence and are skipped.
#[cfg(feature = "postgres")]
pub(crate) async fn reset_sequences(conn: &mut sqlx::PgConnection) -> Result<(), sqlx::Error> {
    let columns: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = current_schema() \
         AND (is_identity = 'YES' OR column_default LIKE 'nextval%') \
         AND NOT EXISTS (SELECT 1 FROM pg_class c \
             WHERE c.relnamespace = current_schema()::regnamespace \
             AND c.relname = table_name AND c.relispartition)",
    )
    .fetch_all(&mut *conn)
    .await?;
    for (table, column) in columns {
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence('\"{table}\"', '{column}'), \
             COALESCE((SELECT max(\"{column}\") FROM \"{table}\"), 0) + 1, false)"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
