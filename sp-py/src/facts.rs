//! The work behind `Contexts.facts` and its siblings: what a context has learned, listed,
//! searched, added, corrected and forgotten (the same calls as `/v1/contexts/{id}/facts`).

use std::future::Future;
use std::sync::Arc;

use pyo3::prelude::*;
use sp_core::facts::{Fact, FactEdit, FactHit, FactView, Facts, NewFact, Recorded};
use sp_core::knowledge::Namespace;
use sp_core::{Id, Result, Timestamp};

use crate::errors::{invalid, to_py};

fn id(field: &str, raw: &str) -> PyResult<Id> {
    Id::parse_field(field, raw).map_err(to_py)
}

/// The view `as_of` (RFC 3339) and `history` ask for.
fn view(as_of: Option<&str>, history: bool) -> PyResult<FactView> {
    match (as_of, history) {
        (Some(_), true) => Err(invalid("history", "cannot be combined with as_of")),
        (Some(at), false) => {
            let at: Timestamp = serde_json::from_value(serde_json::Value::String(at.to_owned()))
                .map_err(|_| invalid("as_of", "must be an RFC 3339 time"))?;
            Ok(FactView::AsOf(at))
        }
        (None, true) => Ok(FactView::History),
        (None, false) => Ok(FactView::Current),
    }
}

/// Lists the facts of a context.
pub(crate) fn listing(
    facts: &Arc<Facts>,
    namespace: &Namespace,
    context_id: &str,
    as_of: Option<&str>,
    history: bool,
    limit: u32,
) -> PyResult<impl Future<Output = Result<Vec<Fact>>> + Send + 'static> {
    let (context, view) = (id("context_id", context_id)?, view(as_of, history)?);
    let (facts, namespace) = (facts.clone(), namespace.clone());
    Ok(async move { facts.list(&namespace, context, view, limit).await })
}

/// Records a fact by hand.
pub(crate) fn adding(
    facts: &Arc<Facts>,
    namespace: &Namespace,
    context_id: &str,
    fact: NewFact,
) -> PyResult<impl Future<Output = Result<Recorded>> + Send + 'static> {
    let context = id("context_id", context_id)?;
    let (facts, namespace) = (facts.clone(), namespace.clone());
    Ok(async move { facts.add(&namespace, context, fact).await })
}

/// Searches the current facts of a context.
pub(crate) fn searching(
    facts: &Arc<Facts>,
    namespace: &Namespace,
    context_id: &str,
    query: String,
    limit: usize,
) -> PyResult<impl Future<Output = Result<Vec<FactHit>>> + Send + 'static> {
    let context = id("context_id", context_id)?;
    let (facts, namespace) = (facts.clone(), namespace.clone());
    Ok(async move { facts.search(&namespace, context, &query, limit).await })
}

/// Corrects a fact in place.
pub(crate) fn editing(
    facts: &Arc<Facts>,
    namespace: &Namespace,
    context_id: &str,
    fact_id: &str,
    edit: FactEdit,
) -> PyResult<impl Future<Output = Result<Fact>> + Send + 'static> {
    let (context, fact) = (id("context_id", context_id)?, id("fact_id", fact_id)?);
    let (facts, namespace) = (facts.clone(), namespace.clone());
    Ok(async move { facts.edit(&namespace, context, fact, &edit).await })
}

/// Forgets a fact.
pub(crate) fn forgetting(
    facts: &Arc<Facts>,
    namespace: &Namespace,
    context_id: &str,
    fact_id: &str,
) -> PyResult<impl Future<Output = Result<()>> + Send + 'static> {
    let (context, fact) = (id("context_id", context_id)?, id("fact_id", fact_id)?);
    let (facts, namespace) = (facts.clone(), namespace.clone());
    Ok(async move { facts.delete(&namespace, context, fact).await })
}
