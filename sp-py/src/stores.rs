//! Opening the stores of a location: a directory is the embedded database, a `postgres://`
//! URL PostgreSQL (tables in `schema`).

use std::path::PathBuf;

/// One opened database.
pub enum Database {
    /// The embedded SQLite database of a directory.
    Embedded(sp_data::SqliteStore),
    /// PostgreSQL (migrated lazily by each store's `open`).
    Postgres(sp_data::PgStore),
}

/// Opens `location`.
pub async fn open(location: String, schema: Option<String>) -> sp_core::Result<Database> {
    if location.starts_with("postgres://") || location.starts_with("postgresql://") {
        let mut config = sp_core::config::DatabaseConfig {
            url: Some(location),
            ..Default::default()
        };
        if let Some(schema) = schema {
            config.schema = schema;
        }
        Ok(Database::Postgres(sp_data::PgStore::connect_lazy(&config)?))
    } else {
        Ok(Database::Embedded(
            sp_data::SqliteStore::open(&PathBuf::from(location)).await?,
        ))
    }
}

/// The namespace a caller names, or the default one.
pub fn namespace(name: Option<String>) -> pyo3::PyResult<sp_core::knowledge::Namespace> {
    match name {
        Some(name) => sp_core::knowledge::Namespace::new(name).map_err(crate::errors::to_py),
        None => Ok(sp_core::knowledge::Namespace::default()),
    }
}

/// A definition (a JSON object from Python) in `namespace` unless it names its own.
pub fn default_namespace(json: &mut serde_json::Value, namespace: &sp_core::knowledge::Namespace) {
    if let serde_json::Value::Object(map) = json {
        map.entry("namespace")
            .or_insert_with(|| serde_json::Value::String(namespace.as_str().to_owned()));
    }
}
