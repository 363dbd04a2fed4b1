//! [`Constraint`]: what a request's output must match, as a sampler that masks the logits.

use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;

/// A grammar being followed by one generation.
pub(crate) enum Constraint {
    /// llguidance's matcher (JSON Schema, regex, Lark).
    Guidance(Box<llguidance::Matcher>),
    /// llama.cpp's GBNF sampler.
    Gbnf(Box<LlamaSampler>),
}

impl std::fmt::Debug for Constraint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Constraint::Guidance(_) => "Constraint::Guidance",
            Constraint::Gbnf(_) => "Constraint::Gbnf",
        })
    }
}

impl Constraint {
    /// Sets the logits of every token the grammar forbids next to `-inf`. An error means the
    /// grammar cannot go on (a bug or an exhausted parser): the generation must end.
    pub(crate) fn mask(&mut self, logits: &mut [f32]) -> Result<(), String> {
        match self {
            Constraint::Guidance(matcher) => {
                let mask = matcher
                    .compute_mask_or_eos()
                    .map_err(|err| format!("the grammar cannot continue: {err}"))?;
                let words = mask.as_slice();
                for (w, chunk) in logits.chunks_mut(32).enumerate() {
                    let word = words.get(w).copied().unwrap_or(0);
                    if word == u32::MAX {
                        continue;
                    }
                    for (bit, logit) in chunk.iter_mut().enumerate() {
                        if word & (1 << bit) == 0 {
                            *logit = f32::NEG_INFINITY;
                        }
                    }
                }
                Ok(())
            }
            Constraint::Gbnf(sampler) => {
                let mut candidates = crate::sampler::candidates(logits);
                candidates.apply_sampler(sampler);
                for data in &candidates.data {
                    if let Some(slot) = usize::try_from(data.id().0)
                        .ok()
                        .and_then(|i| logits.get_mut(i))
                    {
                        *slot = data.logit();
                    }
                }
                Ok(())
            }
        }
    }

    /// Advances the grammar by the token just picked.
    pub(crate) fn accept(&mut self, token: LlamaToken) -> Result<(), String> {
        match self {
            Constraint::Guidance(matcher) => {
                if matcher.is_stopped() {
                    return Ok(());
                }
                matcher
                    .consume_token(u32::try_from(token.0).unwrap_or(u32::MAX))
                    .map_err(|err| format!("the grammar refused a token: {err}"))
            }
            Constraint::Gbnf(sampler) => {
                sampler.accept(token);
                Ok(())
            }
        }
    }
}
