//! Documents, sections and searches.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
pub use crate::namespace::Namespace;
use crate::{Id, Timestamp};

/// How a document's content is split.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ContentFormat {
    /// Markdown: split at headings first, each section knows its heading path.
    #[default]
    Markdown,
    /// Plain text: split at paragraphs, then sentences.
    Text,
}

/// A document to ingest.
///
/// ```
/// use sp_core::knowledge::NewDocument;
///
/// let doc = NewDocument::new("Guide", "# Install\nRun the script.")
///     .with_external_id("guide.md")
///     .with_metadata(serde_json::json!({"lang": "en"}));
/// assert_eq!(doc.namespace.as_str(), "default");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewDocument {
    /// The tenant.
    #[serde(default)]
    pub namespace: Namespace,
    /// The caller's own id; with it, ingesting again replaces instead of duplicating.
    #[serde(default)]
    pub external_id: Option<String>,
    /// Title.
    pub title: String,
    /// The text.
    pub content: String,
    /// Where it came from.
    #[serde(default)]
    pub source_uri: Option<String>,
    /// A JSON object; searches filter on it.
    #[serde(default = "empty_object")]
    pub metadata: Value,
    /// How to split `content`.
    #[serde(default)]
    pub format: ContentFormat,
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

impl NewDocument {
    /// A Markdown document in the default namespace.
    pub fn new(title: impl Into<String>, content: impl Into<String>) -> Self {
        NewDocument {
            namespace: Namespace::default(),
            external_id: None,
            title: title.into(),
            content: content.into(),
            source_uri: None,
            metadata: empty_object(),
            format: ContentFormat::Markdown,
        }
    }

    /// Sets the namespace.
    pub fn in_namespace(mut self, namespace: Namespace) -> Self {
        self.namespace = namespace;
        self
    }

    /// Sets the external id.
    pub fn with_external_id(mut self, id: impl Into<String>) -> Self {
        self.external_id = Some(id.into());
        self
    }

    /// Sets the metadata object.
    pub fn with_metadata(mut self, metadata: Value) -> Self {
        self.metadata = metadata;
        self
    }

    /// Sets the source URI.
    pub fn with_source(mut self, uri: impl Into<String>) -> Self {
        self.source_uri = Some(uri.into());
        self
    }

    /// Sets the format.
    pub fn with_format(mut self, format: ContentFormat) -> Self {
        self.format = format;
        self
    }
}

/// A stored document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Document {
    /// Id.
    pub id: Id,
    /// Tenant.
    pub namespace: Namespace,
    /// The caller's id.
    pub external_id: Option<String>,
    /// Title.
    pub title: String,
    /// Origin.
    pub source_uri: Option<String>,
    /// JSON object.
    pub metadata: Value,
    /// SHA-256 of title, content and format (hex): unchanged content is not ingested again.
    pub content_hash: String,
    /// Number of sections.
    pub section_count: u32,
    /// First ingestion.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// When it was soft-deleted; deleted documents are invisible to search and get.
    pub deleted_at: Option<Timestamp>,
}

/// A passage of a document, the unit of search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Section {
    /// Position in the document, from 0.
    pub ordinal: u32,
    /// The Markdown headings above it, outermost first.
    pub heading_path: Vec<String>,
    /// The text.
    pub text: String,
    /// Its size in tokens of the configured tokenizer.
    pub token_count: u32,
}

/// How to search.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    /// Nearest embeddings (cosine).
    Vector,
    /// Full-text match (BM25 on SQLite, `ts_rank` on PostgreSQL).
    Keyword,
    /// Both, fused by reciprocal rank.
    #[default]
    Hybrid,
}

/// Most results one search returns.
pub const MAX_K: usize = 100;

/// A search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// The tenant.
    #[serde(default)]
    pub namespace: Namespace,
    /// What to look for.
    pub query: String,
    /// How many results (1..=100).
    #[serde(default = "default_k")]
    pub k: usize,
    /// Mode.
    #[serde(default)]
    pub mode: SearchMode,
    /// Only documents whose metadata contains this JSON object.
    #[serde(default)]
    pub filter: Option<Value>,
    /// A second stage: the `k` hits rescored by a reranker, the best `top_n` kept
    /// ([`KnowledgeBase::search_reranked`](super::KnowledgeBase::search_reranked)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerank: Option<RerankStage>,
}

/// The rerank stage of a search: which model rescores the hits and how many to keep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RerankStage {
    /// The reranking model's name; absent: the default embedding model.
    #[serde(default)]
    pub model: Option<String>,
    /// How many hits to keep, 1..=`k`; absent: all `k`.
    #[serde(default)]
    pub top_n: Option<usize>,
}

fn default_k() -> usize {
    10
}

/// The longest search query, bytes.
pub const MAX_QUERY_BYTES: usize = 4096;
/// Most words of a search query (each becomes a full-text term).
pub const MAX_QUERY_WORDS: usize = 256;

impl SearchQuery {
    /// A hybrid search for `query` in the default namespace.
    pub fn new(query: impl Into<String>) -> Self {
        SearchQuery {
            namespace: Namespace::default(),
            query: query.into(),
            k: default_k(),
            mode: SearchMode::Hybrid,
            filter: None,
            rerank: None,
        }
    }

    /// `text` cut to what a query may hold: its first [`MAX_QUERY_WORDS`] words, within
    /// [`MAX_QUERY_BYTES`] (for searches made for a message, which may be longer).
    ///
    /// ```
    /// use sp_core::knowledge::SearchQuery;
    ///
    /// let long = "word ".repeat(1000);
    /// assert!(SearchQuery::new(SearchQuery::clip(&long)).validate().is_ok());
    /// ```
    pub fn clip(text: &str) -> String {
        let mut clipped = String::new();
        for word in text.split_whitespace().take(MAX_QUERY_WORDS) {
            if clipped.len() + word.len() + 1 > MAX_QUERY_BYTES {
                break;
            }
            if !clipped.is_empty() {
                clipped.push(' ');
            }
            clipped.push_str(word);
        }
        clipped
    }

    /// Refuses an empty or oversized query ([`MAX_QUERY_BYTES`], [`MAX_QUERY_WORDS`]), a `k`
    /// out of range and a filter that is not a JSON object.
    pub fn validate(&self) -> Result<()> {
        if self.query.trim().is_empty() {
            return Err(Error::invalid_input("query", "must not be empty"));
        }
        // A 2 MiB query became a full-text OR of a million terms (review finding L9).
        if self.query.len() > MAX_QUERY_BYTES {
            return Err(Error::invalid_input(
                "query",
                format!("at most {MAX_QUERY_BYTES} bytes, got {}", self.query.len()),
            ));
        }
        let words = self.query.split_whitespace().count();
        if words > MAX_QUERY_WORDS {
            return Err(Error::invalid_input(
                "query",
                format!("at most {MAX_QUERY_WORDS} words, got {words}"),
            ));
        }
        if !(1..=MAX_K).contains(&self.k) {
            return Err(Error::invalid_input(
                "k",
                format!("must be 1..={MAX_K}, got {}", self.k),
            ));
        }
        if let Some(filter) = &self.filter {
            validate_filter(filter)?;
        }
        if let Some(top_n) = self.rerank.as_ref().and_then(|stage| stage.top_n)
            && !(1..=self.k).contains(&top_n)
        {
            return Err(Error::invalid_input(
                "rerank.top_n",
                format!("must be 1..={} (k), got {top_n}", self.k),
            ));
        }
        Ok(())
    }
}

/// A filter is a JSON object; a document matches when its metadata contains it (every key
/// present with an equal value, recursively; arrays contain the listed elements).
pub fn validate_filter(filter: &Value) -> Result<()> {
    if filter.is_object() {
        Ok(())
    } else {
        Err(Error::invalid_input(
            "filter",
            "must be a JSON object such as {\"lang\": \"en\"}",
        ))
    }
}

/// True when `haystack` contains `needle` in the sense of PostgreSQL's `@>` on `jsonb`.
pub fn json_contains(haystack: &Value, needle: &Value) -> bool {
    match (haystack, needle) {
        (Value::Object(h), Value::Object(n)) => n
            .iter()
            .all(|(k, nv)| h.get(k).is_some_and(|hv| json_contains(hv, nv))),
        (Value::Array(h), Value::Array(n)) => {
            n.iter().all(|nv| h.iter().any(|hv| json_contains(hv, nv)))
        }
        // As in PostgreSQL, an array contains a bare primitive it holds.
        (Value::Array(h), primitive) if !primitive.is_object() && !primitive.is_array() => {
            h.iter().any(|hv| hv == primitive)
        }
        (h, n) => h == n,
    }
}

/// One result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchHit {
    /// The document.
    pub document_id: Id,
    /// Its title.
    pub title: String,
    /// Its external id.
    pub external_id: Option<String>,
    /// Its metadata.
    pub metadata: Value,
    /// The section.
    pub section: Section,
    /// Higher is better; comparable within one mode only.
    pub score: f64,
}

/// What an ingestion did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum IngestOutcome {
    /// A new document.
    Created,
    /// Same namespace, external id and content: nothing written.
    Unchanged,
    /// Same external id, new content: sections replaced.
    Replaced,
}

/// The answer to an ingestion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ingested {
    /// The document as stored.
    pub document: Document,
    /// What happened.
    pub outcome: IngestOutcome,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn containment_follows_jsonb_semantics() {
        let meta = json!({"lang": "en", "tags": ["a", "b"], "n": 3, "nested": {"x": 1, "y": 2}});
        assert!(json_contains(&meta, &json!({})));
        assert!(json_contains(&meta, &json!({"lang": "en"})));
        assert!(json_contains(&meta, &json!({"tags": ["b"]})));
        assert!(json_contains(&meta, &json!({"tags": "a"})));
        assert!(json_contains(&meta, &json!({"nested": {"x": 1}})));
        assert!(!json_contains(&meta, &json!({"lang": "fr"})));
        assert!(!json_contains(&meta, &json!({"tags": ["c"]})));
        assert!(!json_contains(&meta, &json!({"missing": 1})));
        assert!(!json_contains(&meta, &json!({"n": "3"})));
    }

    #[test]
    fn queries_are_validated() {
        assert!(SearchQuery::new("x").validate().is_ok());
        assert!(SearchQuery::new("  ").validate().is_err());
        let mut q = SearchQuery::new("x");
        q.k = 0;
        assert!(q.validate().unwrap_err().to_string().contains('k'));
        q.k = 5;
        q.filter = Some(json!(["not", "an", "object"]));
        assert!(q.validate().unwrap_err().to_string().contains("filter"));
    }

    /// Review finding L9: a 2 MiB query became an OR of a million full-text terms.
    #[test]
    fn oversized_queries_are_refused_and_clipping_makes_them_fit() {
        let many = "term ".repeat(MAX_QUERY_WORDS + 1);
        let err = SearchQuery::new(many.as_str()).validate().unwrap_err();
        assert_eq!(err.code(), crate::ErrorCode::InvalidInput);
        assert!(err.to_string().contains("words"), "{err}");
        let huge = "x".repeat(MAX_QUERY_BYTES + 1);
        assert!(SearchQuery::new(huge.as_str()).validate().is_err());
        let clipped = SearchQuery::clip(&many);
        assert_eq!(clipped.split_whitespace().count(), MAX_QUERY_WORDS);
        assert!(SearchQuery::new(clipped).validate().is_ok());
        assert_eq!(SearchQuery::clip(&huge), "", "one word too long to keep");
        let long_words = format!("{} ", "y".repeat(1000)).repeat(10);
        assert!(SearchQuery::clip(&long_words).len() <= MAX_QUERY_BYTES);
    }
}
