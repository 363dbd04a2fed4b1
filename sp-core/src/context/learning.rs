//! Queueing answers for fact extraction (see [`crate::facts`]).

use super::contexts::Contexts;
use super::types::Message;
use crate::knowledge::Namespace;

impl Contexts {
    /// Records the turn an answer ends for fact extraction, when its context learns. The
    /// answer is stored already: a failure here is logged, not returned.
    pub(super) async fn queue_for_learning(&self, namespace: &Namespace, answer: &Message) {
        match self.store.get(namespace, answer.context_id).await {
            Ok(context) if context.extract_facts => {
                let (id, seq) = (answer.context_id, answer.seq);
                self.events
                    .record(|| crate::facts::turn_event(namespace, id, seq))
                    .await;
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(%err, "cannot queue a turn for fact extraction"),
        }
    }

    /// Queues the turn `answer` ends for fact extraction whatever its context's setting (an
    /// agent whose definition asks to learn); once only when the context learns anyway.
    pub async fn learn_from(&self, namespace: &Namespace, answer: &Message) {
        if self.learns
            && let Ok(context) = self.store.get(namespace, answer.context_id).await
            && context.extract_facts
        {
            return; // `append` queued it already
        }
        let (id, seq) = (answer.context_id, answer.seq);
        self.events
            .record(|| crate::facts::turn_event(namespace, id, seq))
            .await;
    }
}
