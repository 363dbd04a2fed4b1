//! Everything that changes or reports the logits before a token is picked: OpenAI's
//! `logit_bias`, presence and frequency penalties, a grammar's mask, and log-probabilities.
//! A request with none of these keeps the picker's direct path over the model's logits.

use std::collections::HashMap;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use sp_core::chat::{Sampling, TokenLogprob, TopLogprob};

use crate::constraint::Constraint;
use crate::sampler::TokenPicker;
use crate::top_k::select_top_k;

/// The logit work of one request.
pub(crate) struct Shaping {
    constraint: Option<Constraint>,
    logit_bias: Vec<(usize, f32)>,
    presence_penalty: f32,
    frequency_penalty: f32,
    /// How often each token was generated so far (for the penalties).
    counts: HashMap<i32, u32>,
    top_logprobs: Option<u8>,
    scratch: Vec<f32>,
    top: Vec<(i32, f32)>,
}

impl Shaping {
    /// The shaping `sampling` and `constraint` ask for, or `None` when the logits are used
    /// as they are.
    pub(crate) fn new(sampling: &Sampling, constraint: Option<Constraint>) -> Option<Box<Self>> {
        if constraint.is_none() && !sampling.adjusts_logits() && sampling.logprobs.is_none() {
            return None;
        }
        Some(Box::new(Shaping {
            constraint,
            logit_bias: sampling
                .logit_bias
                .iter()
                .map(|(t, b)| (*t as usize, *b))
                .collect(),
            presence_penalty: sampling.presence_penalty,
            frequency_penalty: sampling.frequency_penalty,
            counts: HashMap::new(),
            top_logprobs: sampling.logprobs,
            scratch: Vec::new(),
            top: Vec::new(),
        }))
    }

    /// Whether presence or frequency penalties apply (only then are counts kept).
    fn penalised(&self) -> bool {
        self.presence_penalty != 0.0 || self.frequency_penalty != 0.0
    }

    /// Picks the next token from the logits at `idx`, with its log-probability when asked.
    /// An error means the grammar cannot go on.
    pub(crate) fn pick(
        &mut self,
        picker: &mut TokenPicker,
        ctx: &LlamaContext<'_>,
        idx: i32,
        model: &LlamaModel,
    ) -> Result<(LlamaToken, Option<TokenLogprob>), String> {
        let penalised = self.penalised();
        self.scratch.clear();
        self.scratch.extend_from_slice(ctx.get_logits_ith(idx));
        let logits = &mut self.scratch;
        for &(token, bias) in &self.logit_bias {
            if let Some(l) = logits.get_mut(token) {
                // -100 bans the token outright, as in OpenAI's API.
                *l = if bias <= -100.0 {
                    f32::NEG_INFINITY
                } else {
                    *l + bias
                };
            }
        }
        if penalised {
            for (&token, &count) in &self.counts {
                if let Some(l) = usize::try_from(token).ok().and_then(|t| logits.get_mut(t)) {
                    *l -= self.presence_penalty + self.frequency_penalty * count as f32;
                }
            }
        }
        // Log-probabilities of the model's own distribution (biases and penalties applied,
        // before a grammar's mask), at temperature 1, as OpenAI reports them.
        let log_norm = self.top_logprobs.map(|top| {
            select_top_k(logits, usize::from(top), &mut self.top);
            log_sum_exp(logits)
        });
        if let Some(constraint) = &mut self.constraint {
            constraint.mask(logits)?;
        }
        let token = picker.pick_from(logits);
        if let Some(constraint) = &mut self.constraint {
            constraint.accept(token)?;
        }
        if penalised {
            *self.counts.entry(token.0).or_insert(0) += 1;
        }
        let Some(norm) = log_norm else {
            return Ok((token, None));
        };
        // The mask never touches the picked token, so its logit is still the unmasked one.
        let logit = usize::try_from(token.0)
            .ok()
            .and_then(|t| logits.get(t).copied())
            .unwrap_or(f32::NEG_INFINITY);
        let piece = |t: i32| model.vocab().token_to_piece(LlamaToken(t), true, None);
        let bytes = piece(token.0);
        let logprob = TokenLogprob {
            token: String::from_utf8_lossy(&bytes).into_owned(),
            bytes,
            logprob: (logit - norm).min(0.0),
            top_logprobs: self
                .top
                .iter()
                .map(|&(t, l)| {
                    let bytes = piece(t);
                    TopLogprob {
                        token: String::from_utf8_lossy(&bytes).into_owned(),
                        bytes,
                        logprob: (l - norm).min(0.0),
                    }
                })
                .collect(),
        };
        Ok((token, Some(logprob)))
    }
}

/// `ln Σ exp(l)` without overflow.
fn log_sum_exp(logits: &[f32]) -> f32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !max.is_finite() {
        return max;
    }
    let sum: f32 = logits.iter().map(|l| (l - max).exp()).sum();
    max + sum.ln()
}

#[cfg(test)]
mod tests {
    use super::log_sum_exp;

    #[test]
    fn log_sum_exp_normalises() {
        let logits = [1.0f32, 2.0, 3.0];
        let norm = log_sum_exp(&logits);
        let total: f32 = logits.iter().map(|l| (l - norm).exp()).sum();
        assert!((total - 1.0).abs() < 1e-5, "{total}");
        assert!(log_sum_exp(&[1000.0, 1000.0]).is_finite());
    }
}
