//! `KnowledgeStore`: documents and hybrid search, embedded (a directory) or on PostgreSQL.

use std::sync::Arc;

use pyo3::prelude::*;
use sp_core::config::CacheConfig;
use sp_core::knowledge::{
    HashEmbedder, IngestOutcome, KnowledgeBase, KnowledgeCacheTtl, KnowledgeConfig, Namespace,
    NewDocument, SearchHit, SearchMode, SearchQuery, SimpleTokenizer,
};
use sp_core::{Embedder, Id, Tokenizer};

use crate::convert::{block, serialized, to_json, to_python};
use crate::errors::{invalid, to_py};
use crate::model::Model;
use crate::stores;

use sp_platform::HASH_DIMENSIONS;

/// One passage a search found.
#[pyclass(module = "story_portal", frozen, get_all)]
pub struct Hit {
    /// The document's title.
    title: String,
    /// The passage.
    text: String,
    /// Its relevance (higher is better; the scale depends on the mode).
    score: f64,
    /// The document's id.
    document_id: String,
    /// The document's external id, if it has one.
    external_id: Option<String>,
    /// The headings above the passage, outermost first.
    heading: Vec<String>,
    /// The document's metadata.
    metadata: Py<PyAny>,
}

impl Hit {
    fn new(py: Python<'_>, hit: SearchHit) -> PyResult<Self> {
        Ok(Hit {
            metadata: to_python(py, &hit.metadata)?.unbind(),
            title: hit.title,
            text: hit.section.text,
            score: hit.score,
            document_id: hit.document_id.to_string(),
            external_id: hit.external_id,
            heading: hit.section.heading_path,
        })
    }
}

#[pymethods]
impl Hit {
    fn __repr__(&self) -> String {
        format!("Hit(title={:?}, score={:.4})", self.title, self.score)
    }
}

/// What an ingestion did.
#[pyclass(module = "story_portal", frozen, get_all)]
pub struct Ingested {
    /// The document's id.
    document_id: String,
    /// `"created"`, `"unchanged"` (same external id and content) or `"replaced"`.
    outcome: String,
    /// Sections stored.
    sections: u32,
}

#[pymethods]
impl Ingested {
    fn __repr__(&self) -> String {
        format!(
            "Ingested(document_id={:?}, outcome={:?}, sections={})",
            self.document_id, self.outcome, self.sections
        )
    }
}

fn mode(name: &str) -> PyResult<SearchMode> {
    match name {
        "hybrid" => Ok(SearchMode::Hybrid),
        "vector" => Ok(SearchMode::Vector),
        "keyword" => Ok(SearchMode::Keyword),
        other => Err(invalid(
            "mode",
            format!("`{other}` is not `hybrid`, `vector` or `keyword`"),
        )),
    }
}

fn document_id(raw: &str) -> PyResult<Id> {
    Id::parse_field("document_id", raw).map_err(to_py)
}

/// Documents, their sections and search, in one namespace by default.
#[pyclass(module = "story_portal._story_portal", frozen)]
pub struct KnowledgeStore {
    pub(crate) base: Arc<KnowledgeBase>,
    namespace: Namespace,
}

impl KnowledgeStore {
    pub(crate) fn from_parts(base: Arc<KnowledgeBase>, namespace: Namespace) -> Self {
        KnowledgeStore { base, namespace }
    }

    fn namespace(&self, name: Option<String>) -> PyResult<Namespace> {
        match name {
            Some(name) => Namespace::new(name).map_err(to_py),
            None => Ok(self.namespace.clone()),
        }
    }

    fn ingestion(
        &self,
        title: String,
        content: String,
        metadata: Option<&Bound<'_, PyAny>>,
        external_id: Option<String>,
        source: Option<String>,
        namespace: Option<String>,
    ) -> PyResult<NewDocument> {
        let mut document =
            NewDocument::new(title, content).in_namespace(self.namespace(namespace)?);
        if let Some(metadata) = metadata {
            document = document.with_metadata(to_json("metadata", metadata)?);
        }
        if let Some(id) = external_id {
            document = document.with_external_id(id);
        }
        if let Some(uri) = source {
            document = document.with_source(uri);
        }
        Ok(document)
    }

    fn query(
        &self,
        query: String,
        k: usize,
        mode: &str,
        filter: Option<&Bound<'_, PyAny>>,
        namespace: Option<String>,
    ) -> PyResult<SearchQuery> {
        Ok(SearchQuery {
            namespace: self.namespace(namespace)?,
            k,
            mode: self::mode(mode)?,
            filter: filter.map(|f| to_json("filter", f)).transpose()?,
            ..SearchQuery::new(query)
        })
    }
}

fn ingested(done: sp_core::knowledge::Ingested) -> Ingested {
    Ingested {
        document_id: done.document.id.to_string(),
        outcome: match done.outcome {
            IngestOutcome::Created => "created",
            IngestOutcome::Unchanged => "unchanged",
            IngestOutcome::Replaced => "replaced",
        }
        .to_owned(),
        sections: done.document.section_count,
    }
}

fn hits(py: Python<'_>, found: Vec<SearchHit>) -> PyResult<Vec<Hit>> {
    found.into_iter().map(|hit| Hit::new(py, hit)).collect()
}

#[pymethods]
impl KnowledgeStore {
    /// Opens a store: a directory path is the embedded store (created if missing), a
    /// `postgres://` URL PostgreSQL (tables in `schema`). Documents are embedded with
    /// `model` when given, else with the feature-hashing embedder (384 dimensions); a store
    /// keeps the dimension it was created with (`InvalidInputError` `SP-KB-002` otherwise).
    /// Query embeddings and search results are cached in process (`cache=False`: not);
    /// every write to a namespace invalidates its cached searches.
    #[staticmethod]
    #[pyo3(signature = (location, *, model=None, namespace=None, schema=None, cache=true))]
    fn open(
        py: Python<'_>,
        location: String,
        model: Option<PyRef<'_, Model>>,
        namespace: Option<String>,
        schema: Option<String>,
        cache: bool,
    ) -> PyResult<Self> {
        let (embedder, tokenizer): (Arc<dyn Embedder>, Arc<dyn Tokenizer>) = match &model {
            Some(model) => (model.embedder()?, Arc::new(model.engine.clone())),
            None => (
                Arc::new(HashEmbedder::new(HASH_DIMENSIONS)),
                Arc::new(SimpleTokenizer),
            ),
        };
        let namespace = stores::namespace(namespace)?;
        let dims = embedder.dimensions();
        let model_id = embedder.model_id().to_owned();
        // A store remembers which model made its vectors and refuses another (SP-KB-005).
        let store = block(py, async move {
            let store = stores::open(location, schema)
                .await?
                .document_store(dims)
                .await?;
            store.adopt_embedder(&model_id).await?;
            Ok(store)
        })?;
        let mut base = KnowledgeBase::new(store, embedder, tokenizer, KnowledgeConfig::default())
            .map_err(to_py)?;
        if cache {
            let config = CacheConfig::default();
            let ttl = KnowledgeCacheTtl {
                embedding: std::time::Duration::from_secs(config.embedding_ttl_secs),
                search: std::time::Duration::from_secs(config.search_ttl_secs),
            };
            base = base.with_cache(Arc::new(sp_data::MemoryCache::new(&config)), ttl);
        }
        Ok(KnowledgeStore {
            base: Arc::new(base),
            namespace,
        })
    }

    /// Stores a document (split into sections, embedded); re-ingesting the same external id
    /// and content changes nothing, new content replaces its sections.
    #[pyo3(signature = (title, content, *, metadata=None, external_id=None, source=None, namespace=None))]
    #[allow(clippy::too_many_arguments)] // Python keyword arguments
    fn ingest(
        &self,
        py: Python<'_>,
        title: String,
        content: String,
        metadata: Option<&Bound<'_, PyAny>>,
        external_id: Option<String>,
        source: Option<String>,
        namespace: Option<String>,
    ) -> PyResult<Ingested> {
        let document = self.ingestion(title, content, metadata, external_id, source, namespace)?;
        let base = self.base.clone();
        block(py, async move { base.ingest(document).await }).map(ingested)
    }

    /// `ingest` as an awaitable.
    #[pyo3(signature = (title, content, *, metadata=None, external_id=None, source=None, namespace=None))]
    #[allow(clippy::too_many_arguments)] // Python keyword arguments
    fn aingest<'py>(
        &self,
        py: Python<'py>,
        title: String,
        content: String,
        metadata: Option<&Bound<'py, PyAny>>,
        external_id: Option<String>,
        source: Option<String>,
        namespace: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let document = self.ingestion(title, content, metadata, external_id, source, namespace)?;
        let base = self.base.clone();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            base.ingest(document).await.map(ingested).map_err(to_py)
        })
    }

    /// The `k` best passages for `query`: `mode` `"hybrid"` (default), `"vector"` or
    /// `"keyword"`; `filter` keeps documents whose metadata contains it.
    #[pyo3(signature = (query, *, k=5, mode="hybrid", filter=None, namespace=None))]
    fn search(
        &self,
        py: Python<'_>,
        query: String,
        k: usize,
        mode: &str,
        filter: Option<&Bound<'_, PyAny>>,
        namespace: Option<String>,
    ) -> PyResult<Vec<Hit>> {
        let query = self.query(query, k, mode, filter, namespace)?;
        let base = self.base.clone();
        let found = block(py, async move { base.search(&query).await })?;
        hits(py, found)
    }

    /// `search` as an awaitable.
    #[pyo3(signature = (query, *, k=5, mode="hybrid", filter=None, namespace=None))]
    fn asearch<'py>(
        &self,
        py: Python<'py>,
        query: String,
        k: usize,
        mode: &str,
        filter: Option<&Bound<'py, PyAny>>,
        namespace: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let query = self.query(query, k, mode, filter, namespace)?;
        let base = self.base.clone();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            let found = base.search(&query).await.map_err(to_py)?;
            Python::attach(|py| hits(py, found))
        })
    }

    /// A document (a dict: id, title, external_id, source_uri, metadata, section_count, …).
    #[pyo3(signature = (document_id, *, namespace=None))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        document_id: &str,
        namespace: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (id, namespace) = (self::document_id(document_id)?, self.namespace(namespace)?);
        let base = self.base.clone();
        let document = block(py, async move { base.get(&namespace, id).await })?;
        serialized(py, &document)
    }

    /// `get` as an awaitable.
    #[pyo3(signature = (document_id, *, namespace=None))]
    fn aget<'py>(
        &self,
        py: Python<'py>,
        document_id: &str,
        namespace: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (id, namespace) = (self::document_id(document_id)?, self.namespace(namespace)?);
        let base = self.base.clone();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            let document = base.get(&namespace, id).await.map_err(to_py)?;
            Python::attach(|py| serialized(py, &document).map(Bound::unbind))
        })
    }

    /// Deletes a document (soft: the store can restore it until it is purged).
    #[pyo3(signature = (document_id, *, namespace=None))]
    fn delete(&self, py: Python<'_>, document_id: &str, namespace: Option<String>) -> PyResult<()> {
        let (id, namespace) = (self::document_id(document_id)?, self.namespace(namespace)?);
        let base = self.base.clone();
        block(py, async move { base.delete(&namespace, id).await })
    }

    /// `delete` as an awaitable.
    #[pyo3(signature = (document_id, *, namespace=None))]
    fn adelete<'py>(
        &self,
        py: Python<'py>,
        document_id: &str,
        namespace: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (id, namespace) = (self::document_id(document_id)?, self.namespace(namespace)?);
        let base = self.base.clone();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            base.delete(&namespace, id).await.map_err(to_py)
        })
    }
}
