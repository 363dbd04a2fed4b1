//! Facts a context has learned, what an observation of one looks like, and how observations
//! are matched to the facts they confirm or contradict.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::knowledge::Namespace;
use crate::{Id, Timestamp};

/// Longest subject or attribute (characters).
pub const MAX_KEY_CHARS: usize = 80;
/// Longest value (characters).
pub const MAX_VALUE_CHARS: usize = 400;

/// A fact a context learned: `subject` `attribute` is `value`, held from `valid_from` until
/// `valid_to` (open while current). A fact is never changed by a later observation: one that
/// contradicts it closes it (`valid_to`, `superseded_by`) and becomes the current fact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Fact {
    /// Identifier (UUIDv7).
    pub id: Id,
    /// Tenant.
    pub namespace: Namespace,
    /// The context it was learned in.
    pub context_id: Id,
    /// Whom or what it is about (`user` for the person speaking).
    pub subject: String,
    /// Which property of the subject.
    pub attribute: String,
    /// The property's value.
    pub value: String,
    /// How sure the extractor was, 0 to 1 (the highest of the merged observations).
    pub confidence: f32,
    /// Observations merged into this fact (1 when first learned).
    pub mentions: u32,
    /// The message it was learned from (absent for facts added by hand).
    pub source_message: Option<Id>,
    /// Since when it holds.
    pub valid_from: Timestamp,
    /// Until when it held; absent while current.
    pub valid_to: Option<Timestamp>,
    /// The fact that replaced it.
    pub superseded_by: Option<Id>,
    /// When it was last observed or edited.
    pub updated_at: Timestamp,
}

impl Fact {
    /// The new current fact that observation `fact` of context `context_id` makes at `at`
    /// (what a store records when nothing matches it, or when it supersedes).
    pub fn observed(namespace: &Namespace, context_id: Id, fact: &NewFact, at: Timestamp) -> Fact {
        Fact {
            id: Id::new(),
            namespace: namespace.clone(),
            context_id,
            subject: fact.subject.trim().to_owned(),
            attribute: fact.attribute.trim().to_owned(),
            value: fact.value.trim().to_owned(),
            confidence: fact.confidence,
            mentions: 1,
            source_message: fact.source_message,
            valid_from: at,
            valid_to: None,
            superseded_by: None,
            updated_at: at,
        }
    }

    /// True while no later fact has replaced it.
    pub fn is_current(&self) -> bool {
        self.valid_to.is_none()
    }

    /// True when it held at `at`.
    pub fn held_at(&self, at: Timestamp) -> bool {
        self.valid_from <= at && self.valid_to.is_none_or(|end| end > at)
    }
}

/// An observation of a fact: what extraction found, or what a caller adds by hand.
///
/// ```
/// use sp_core::facts::NewFact;
///
/// let fact = NewFact::new("I", "city", "Oslo").with_confidence(0.9);
/// let key = fact.validate().unwrap();
/// assert_eq!(key.subject, "user", "first-person subjects are the user");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewFact {
    /// Whom or what it is about.
    pub subject: String,
    /// Which property.
    pub attribute: String,
    /// The value.
    pub value: String,
    /// 0 to 1 (default 1: a fact added by hand is certain).
    #[serde(default = "certain")]
    pub confidence: f32,
    /// The message it comes from.
    #[serde(default)]
    pub source_message: Option<Id>,
}

fn certain() -> f32 {
    1.0
}

impl NewFact {
    /// An observation with confidence 1 and no source message.
    pub fn new(
        subject: impl Into<String>,
        attribute: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        NewFact {
            subject: subject.into(),
            attribute: attribute.into(),
            value: value.into(),
            confidence: 1.0,
            source_message: None,
        }
    }

    /// Sets the confidence.
    pub fn with_confidence(mut self, confidence: f32) -> Self {
        self.confidence = confidence;
        self
    }

    /// Sets the source message.
    pub fn from_message(mut self, message: Id) -> Self {
        self.source_message = Some(message);
        self
    }

    /// Checks the fields and returns the keys it is matched by: `SP-VAL-001` for an empty or
    /// over-long field, a NUL, or a confidence outside 0..=1.
    pub fn validate(&self) -> Result<FactKey> {
        for (field, text, limit) in [
            ("subject", &self.subject, MAX_KEY_CHARS),
            ("attribute", &self.attribute, MAX_KEY_CHARS),
            ("value", &self.value, MAX_VALUE_CHARS),
        ] {
            crate::nul::refuse_nul(field, text)?;
            if text.trim().is_empty() {
                return Err(Error::invalid_input(field, "must not be empty"));
            }
            if text.chars().count() > limit {
                return Err(Error::invalid_input(
                    field,
                    format!("at most {limit} characters"),
                ));
            }
        }
        if !(0.0..=1.0).contains(&self.confidence) {
            return Err(Error::invalid_input(
                "confidence",
                "must be between 0 and 1",
            ));
        }
        Ok(FactKey::of(&self.subject, &self.attribute, &self.value))
    }
}

/// The normalised form facts are matched by: two observations with the same subject and
/// attribute are about the same thing (one current value each); with the same value too,
/// they are the same fact.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FactKey {
    /// Normalised subject (first-person words become `user`).
    pub subject: String,
    /// Normalised attribute.
    pub attribute: String,
    /// Normalised value.
    pub value: String,
}

impl FactKey {
    /// The keys of a subject, attribute and value.
    pub fn of(subject: &str, attribute: &str, value: &str) -> FactKey {
        let subject = normalise(subject);
        // The extractor writes the speaker in several ways; they are one subject.
        let subject = match subject.as_str() {
            "i" | "me" | "my" | "myself" | "mine" | "the user" | "user's" | "speaker" => {
                "user".to_owned()
            }
            _ => subject,
        };
        FactKey {
            subject,
            attribute: normalise(attribute).replace([' ', '-'], "_"),
            value: normalise(value),
        }
    }
}

/// Lower case, trimmed, inner whitespace collapsed, trailing sentence punctuation dropped.
fn normalise(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    words
        .join(" ")
        .trim_end_matches(['.', '!', '?', ',', ';', ':'])
        .to_lowercase()
}

/// What recording an observation did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Recorded {
    /// Nothing was known about the subject's attribute: a new current fact.
    Added {
        /// The new fact.
        fact: Fact,
    },
    /// The current fact said the same: merged into it (mentions, confidence, time seen).
    Merged {
        /// The fact, updated.
        fact: Fact,
    },
    /// The current fact said something else: it was closed and this one replaced it.
    Superseded {
        /// The new current fact.
        fact: Fact,
        /// The fact it replaced, now history.
        previous: Box<Fact>,
    },
}

impl Recorded {
    /// The current fact after recording.
    pub fn fact(&self) -> &Fact {
        match self {
            Recorded::Added { fact } | Recorded::Merged { fact } => fact,
            Recorded::Superseded { fact, .. } => fact,
        }
    }
}

/// A correction by hand: the fields given replace the fact's own, in place (a wrong
/// extraction is fixed, not turned into history).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FactEdit {
    /// A new subject.
    #[serde(default)]
    pub subject: Option<String>,
    /// A new attribute.
    #[serde(default)]
    pub attribute: Option<String>,
    /// A new value.
    #[serde(default)]
    pub value: Option<String>,
    /// A new confidence.
    #[serde(default)]
    pub confidence: Option<f32>,
}

impl FactEdit {
    /// `fact` with the edit applied, validated; `SP-VAL-001` for an empty edit.
    pub fn apply(&self, fact: &Fact) -> Result<(NewFact, FactKey)> {
        if self.subject.is_none()
            && self.attribute.is_none()
            && self.value.is_none()
            && self.confidence.is_none()
        {
            return Err(Error::invalid_input("body", "names no field to change"));
        }
        let edited = NewFact {
            subject: self.subject.clone().unwrap_or_else(|| fact.subject.clone()),
            attribute: self
                .attribute
                .clone()
                .unwrap_or_else(|| fact.attribute.clone()),
            value: self.value.clone().unwrap_or_else(|| fact.value.clone()),
            confidence: self.confidence.unwrap_or(fact.confidence),
            source_message: fact.source_message,
        };
        let key = edited.validate()?;
        Ok((edited, key))
    }
}

/// Which facts of a context a listing returns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FactView {
    /// Those current now (the default).
    #[default]
    Current,
    /// Those that held at an instant.
    AsOf(Timestamp),
    /// Every fact, current and superseded.
    History,
}

/// A fact found by a search, with its score (higher is better).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FactHit {
    /// The fact.
    pub fact: Fact,
    /// Fused keyword and vector rank, weighted by recency.
    pub score: f64,
}

/// A current fact with the vector it is searched by (absent when no embedder was set).
#[derive(Debug, Clone, PartialEq)]
pub struct IndexedFact {
    /// The fact.
    pub fact: Fact,
    /// Its embedding (`subject attribute value`).
    pub vector: Option<Vec<f32>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_spellings_of_one_fact() {
        let a = FactKey::of("I", "Home City", "Oslo.");
        let b = FactKey::of(" the user ", "home-city", "oslo");
        assert_eq!(a, b);
        assert_ne!(a, FactKey::of("user", "home city", "Bergen"));
    }

    #[test]
    fn bad_observations_are_refused() {
        assert!(NewFact::new("", "city", "Oslo").validate().is_err());
        assert!(
            NewFact::new("user", "city", "x".repeat(401))
                .validate()
                .is_err()
        );
        assert!(
            NewFact::new("user", "city", "Oslo")
                .with_confidence(1.5)
                .validate()
                .is_err()
        );
        assert!(NewFact::new("user", "ci\0ty", "Oslo").validate().is_err());
        assert!(FactEdit::default().apply(&sample()).is_err());
    }

    fn sample() -> Fact {
        Fact {
            id: Id::new(),
            namespace: Namespace::default(),
            context_id: Id::new(),
            subject: "user".into(),
            attribute: "city".into(),
            value: "Oslo".into(),
            confidence: 0.9,
            mentions: 1,
            source_message: None,
            valid_from: Timestamp::now(),
            valid_to: None,
            superseded_by: None,
            updated_at: Timestamp::now(),
        }
    }

    #[test]
    fn a_fact_holds_within_its_validity() {
        let mut fact = sample();
        let start = fact.valid_from;
        assert!(fact.held_at(start));
        fact.valid_to = Timestamp::from_unix_micros(start.unix_micros() + 10);
        assert!(!fact.is_current());
        assert!(!fact.held_at(Timestamp::from_unix_micros(start.unix_micros() + 10).unwrap()));
        assert!(fact.held_at(Timestamp::from_unix_micros(start.unix_micros() + 9).unwrap()));
    }
}
