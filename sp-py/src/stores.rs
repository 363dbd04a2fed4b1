//! Opening a location's database (a directory is the embedded database, a `postgres://` URL
//! PostgreSQL with its tables in `schema`), migrated, for the classes that open one store.

/// `location`'s database, migrated.
pub async fn open(location: String, schema: Option<String>) -> sp_core::Result<sp_data::Database> {
    let database = sp_data::Database::open(&location, schema.as_deref()).await?;
    database.migrate().await?;
    Ok(database)
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
