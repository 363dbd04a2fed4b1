//! How the next token is chosen and when generation ends: the sampling table.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Most stop sequences a request may carry.
pub const MAX_STOP_SEQUENCES: usize = 8;

/// How the next token is chosen, and when generation ends.
///
/// `temperature == 0` is greedy decoding: deterministic for a given prompt.
///
/// ```
/// use sp_core::chat::Sampling;
///
/// let greedy = Sampling { temperature: 0.0, max_tokens: 32, ..Sampling::default() };
/// greedy.validate().unwrap();
/// let bad = Sampling { top_p: 1.5, ..Sampling::default() };
/// assert!(bad.validate().unwrap_err().to_string().contains("top_p"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Sampling {
    /// Softmax temperature, `0..=2`; `0` picks the most likely token.
    pub temperature: f32,
    /// Keep only the `top_k` most likely tokens; `0` disables. At most the model's vocabulary
    /// size (the engine refuses more).
    pub top_k: u32,
    /// Nucleus sampling: keep the smallest set whose probability reaches `top_p`, `(0, 1]`.
    pub top_p: f32,
    /// Drop tokens less likely than `min_p` × the most likely one, `[0, 1)`.
    pub min_p: f32,
    /// Penalty for tokens seen in the last `repeat_last_n` tokens; `1` disables, `(0, 2]`.
    pub repeat_penalty: f32,
    /// How many recent tokens the repeat penalty looks at.
    pub repeat_last_n: u32,
    /// Seed of the random sampler, for reproducible non-greedy output.
    pub seed: Option<u32>,
    /// Most tokens to generate; [`Sampling::UNTIL_WINDOW`] generates up to the room the
    /// prompt leaves in the context window.
    pub max_tokens: u32,
    /// Generation stops before the first of these strings; it is not part of the output.
    pub stop: Vec<String>,
    /// Keep generating past the model's end-of-turn token (benchmarks, fixed-length output).
    pub ignore_eos: bool,
    /// Subtracted from a token's logit once it has appeared in the output, `-2..=2`.
    pub presence_penalty: f32,
    /// Subtracted from a token's logit per time it has appeared in the output, `-2..=2`.
    pub frequency_penalty: f32,
    /// Added to the logits of these token ids, each `-100..=100` (OpenAI's `logit_bias`;
    /// `-100` bans a token).
    pub logit_bias: Vec<(u32, f32)>,
    /// Report each generated token's log-probability and this many alternatives (`0..=20`);
    /// `None` reports nothing.
    pub logprobs: Option<u8>,
    /// Whose prompt this is (a tenant): an engine reuses cached prompt state (its KV
    /// prefixes, in a slot, in RAM or on disk) only within one scope, so one tenant's prompt
    /// is never served from — or timed against — another's. `None` is the scope of callers
    /// that give none. Set by the caller, never read from a request body.
    #[serde(skip)]
    pub cache_scope: Option<String>,
    /// What the prompt belongs to within its scope (a context's id): KV state an engine
    /// keeps on disk after the request is tagged with it, so that deleting the context
    /// deletes its files. Set by the caller, never read from a request body.
    #[serde(skip)]
    pub cache_owner: Option<String>,
}

/// Most entries `logit_bias` may have.
pub const MAX_LOGIT_BIAS: usize = 1024;

/// Most alternatives `top_logprobs` may ask for.
pub const MAX_TOP_LOGPROBS: u8 = 20;

impl Default for Sampling {
    fn default() -> Self {
        Sampling {
            temperature: 0.8,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            repeat_penalty: 1.0,
            repeat_last_n: 64,
            seed: None,
            max_tokens: 256,
            stop: Vec::new(),
            ignore_eos: false,
            presence_penalty: 0.0,
            frequency_penalty: 0.0,
            logit_bias: Vec::new(),
            logprobs: None,
            cache_scope: None,
            cache_owner: None,
        }
    }
}

impl Sampling {
    /// `max_tokens` meaning "up to the room the prompt leaves in the window".
    pub const UNTIL_WINDOW: u32 = u32::MAX;

    /// Greedy decoding of at most `max_tokens` tokens.
    pub fn greedy(max_tokens: u32) -> Self {
        Sampling {
            temperature: 0.0,
            max_tokens,
            ..Sampling::default()
        }
    }

    /// The sampling of choice `index` of an `n`-choice request: the same settings, the seed
    /// moved by `index` so that each choice differs and the set is reproducible.
    ///
    /// ```
    /// use sp_core::chat::Sampling;
    ///
    /// let base = Sampling { seed: Some(7), ..Sampling::default() };
    /// assert_eq!(base.for_choice(2).seed, Some(9));
    /// assert_eq!(Sampling::default().for_choice(2).seed, None);
    /// ```
    pub fn for_choice(&self, index: usize) -> Self {
        Sampling {
            seed: self
                .seed
                .map(|s| s.wrapping_add(u32::try_from(index).unwrap_or(0))),
            ..self.clone()
        }
    }

    /// The same sampling, its prompt cached in `scope` (see [`Sampling::cache_scope`]).
    ///
    /// ```
    /// use sp_core::chat::Sampling;
    /// let scoped = Sampling::greedy(8).in_scope("acme");
    /// assert_eq!(scoped.cache_scope.as_deref(), Some("acme"));
    /// ```
    pub fn in_scope(mut self, scope: impl std::fmt::Display) -> Self {
        self.cache_scope = Some(scope.to_string());
        self
    }

    /// The same sampling, its cached state owned by `owner` (see [`Sampling::cache_owner`]).
    ///
    /// ```
    /// use sp_core::chat::Sampling;
    /// let owned = Sampling::greedy(8).in_scope("acme").owned_by("context-1");
    /// assert_eq!(owned.cache_owner.as_deref(), Some("context-1"));
    /// ```
    pub fn owned_by(mut self, owner: impl std::fmt::Display) -> Self {
        self.cache_owner = Some(owner.to_string());
        self
    }

    /// True when the next token is always the most likely one.
    pub fn is_greedy(&self) -> bool {
        self.temperature <= 0.0
    }

    /// True when presence or frequency penalties or logit biases change the logits.
    pub fn adjusts_logits(&self) -> bool {
        self.presence_penalty != 0.0 || self.frequency_penalty != 0.0 || !self.logit_bias.is_empty()
    }

    /// Refuses values outside their documented ranges, naming the field.
    pub fn validate(&self) -> Result<()> {
        let check = |ok: bool, field: &str, reason: String| {
            if ok {
                Ok(())
            } else {
                Err(Error::invalid_input(field, reason))
            }
        };
        check(
            (0.0..=2.0).contains(&self.temperature),
            "temperature",
            format!("must be in 0..=2, got {}", self.temperature),
        )?;
        check(
            self.top_p > 0.0 && self.top_p <= 1.0,
            "top_p",
            format!("must be in (0, 1], got {}", self.top_p),
        )?;
        check(
            (0.0..1.0).contains(&self.min_p),
            "min_p",
            format!("must be in [0, 1), got {}", self.min_p),
        )?;
        check(
            self.repeat_penalty > 0.0 && self.repeat_penalty <= 2.0,
            "repeat_penalty",
            format!("must be in (0, 2], got {}", self.repeat_penalty),
        )?;
        check(
            self.max_tokens >= 1,
            "max_tokens",
            "must be at least 1".to_owned(),
        )?;
        check(
            self.stop.len() <= MAX_STOP_SEQUENCES,
            "stop",
            format!(
                "at most {MAX_STOP_SEQUENCES} sequences, got {}",
                self.stop.len()
            ),
        )?;
        check(
            self.stop.iter().all(|s| !s.is_empty() && s.len() <= 256),
            "stop",
            "each sequence must hold 1 to 256 bytes".to_owned(),
        )?;
        for (field, value) in [
            ("presence_penalty", self.presence_penalty),
            ("frequency_penalty", self.frequency_penalty),
        ] {
            check(
                (-2.0..=2.0).contains(&value),
                field,
                format!("must be in -2..=2, got {value}"),
            )?;
        }
        check(
            self.logit_bias.len() <= MAX_LOGIT_BIAS,
            "logit_bias",
            format!(
                "at most {MAX_LOGIT_BIAS} entries, got {}",
                self.logit_bias.len()
            ),
        )?;
        if let Some((token, bias)) = self
            .logit_bias
            .iter()
            .find(|(_, bias)| !(-100.0..=100.0).contains(bias))
        {
            return Err(Error::invalid_input(
                "logit_bias",
                format!("the bias of token {token} must be in -100..=100, got {bias}"),
            ));
        }
        if let Some(top) = self.logprobs {
            check(
                top <= MAX_TOP_LOGPROBS,
                "top_logprobs",
                format!("must be in 0..={MAX_TOP_LOGPROBS}, got {top}"),
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_each_field() {
        let cases: Vec<(Sampling, &str)> = vec![
            (
                Sampling {
                    temperature: -1.0,
                    ..Sampling::default()
                },
                "temperature",
            ),
            (
                Sampling {
                    temperature: 9.0,
                    ..Sampling::default()
                },
                "temperature",
            ),
            (
                Sampling {
                    top_p: 0.0,
                    ..Sampling::default()
                },
                "top_p",
            ),
            (
                Sampling {
                    min_p: 1.0,
                    ..Sampling::default()
                },
                "min_p",
            ),
            (
                Sampling {
                    repeat_penalty: 0.0,
                    ..Sampling::default()
                },
                "repeat_penalty",
            ),
            (
                Sampling {
                    max_tokens: 0,
                    ..Sampling::default()
                },
                "max_tokens",
            ),
            (
                Sampling {
                    stop: vec![String::new()],
                    ..Sampling::default()
                },
                "stop",
            ),
            (
                Sampling {
                    stop: vec!["x".into(); 9],
                    ..Sampling::default()
                },
                "stop",
            ),
        ];
        for (sampling, field) in cases {
            let err = sampling.validate().expect_err(field);
            assert_eq!(err.code(), crate::ErrorCode::InvalidInput);
            assert!(err.to_string().contains(field), "{err}");
        }
        Sampling::default().validate().expect("defaults are valid");
    }
}
