//! Choosing the next token.

use std::hash::{BuildHasher, Hasher};

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::token::data::LlamaTokenData;
use llama_cpp_2::token::data_array::LlamaTokenDataArray;
use sp_core::chat::Sampling;

use crate::top_k::TopKSampler;

/// Picks tokens for one request.
pub(crate) enum TokenPicker {
    /// Arg-max over the logits. Skips llama.cpp's sampler, which sorts a candidate array of
    /// the whole vocabulary per token — the main cost of a naive generation loop.
    Greedy,
    /// Top-k sampling done on the logits directly (see [`TopKSampler`]).
    TopK(TopKSampler),
    /// llama.cpp's sampler chain (penalties → top-k → top-p → min-p → temperature → draw),
    /// for repeat penalties and sampling over the whole vocabulary.
    Chain(Box<LlamaSampler>),
}

impl TokenPicker {
    /// A picker for `sampling`; `history` (the prompt's tail) primes the repeat penalty.
    pub(crate) fn new(sampling: &Sampling, n_vocab: i32, history: &[LlamaToken]) -> Self {
        let penalised = (sampling.repeat_penalty - 1.0).abs() > f32::EPSILON;
        if sampling.is_greedy() && !penalised {
            return TokenPicker::Greedy;
        }
        if !penalised && sampling.top_k > 0 {
            return TokenPicker::TopK(TopKSampler::new(
                sampling.top_k as usize,
                sampling.top_p,
                sampling.min_p,
                sampling.temperature,
                u64::from(sampling.seed.unwrap_or_else(random_seed)),
            ));
        }
        let mut chain = Vec::new();
        if penalised {
            let last_n = i32::try_from(sampling.repeat_last_n).unwrap_or(i32::MAX);
            chain.push(LlamaSampler::penalties(
                n_vocab,
                last_n,
                sampling.repeat_penalty,
                0.0,
                0.0,
            ));
        }
        if sampling.is_greedy() {
            chain.push(LlamaSampler::greedy());
        } else {
            if sampling.top_k > 0 {
                chain.push(LlamaSampler::top_k(
                    i32::try_from(sampling.top_k).unwrap_or(i32::MAX),
                ));
            }
            chain.push(LlamaSampler::top_p(sampling.top_p, 1));
            if sampling.min_p > 0.0 {
                chain.push(LlamaSampler::min_p(sampling.min_p, 1));
            }
            chain.push(LlamaSampler::temp(sampling.temperature));
            chain.push(LlamaSampler::dist(
                sampling.seed.unwrap_or_else(random_seed),
            ));
        }
        let mut sampler = LlamaSampler::chain_simple(chain);
        if penalised {
            let window = usize::try_from(sampling.repeat_last_n).unwrap_or(usize::MAX);
            let start = history.len().saturating_sub(window);
            sampler.accept_many(&history[start..]);
        }
        TokenPicker::Chain(Box::new(sampler))
    }

    /// The next token from the logits at batch index `idx` (the sampler records it).
    pub(crate) fn pick(&mut self, ctx: &LlamaContext<'_>, idx: i32) -> LlamaToken {
        match self {
            TokenPicker::Greedy => LlamaToken(arg_max(ctx.get_logits_ith(idx))),
            TokenPicker::TopK(sampler) => LlamaToken(sampler.sample(ctx.get_logits_ith(idx))),
            TokenPicker::Chain(sampler) => sampler.sample(ctx, idx),
        }
    }

    /// The next token from `logits` that were adjusted first (biases, penalties, a grammar's
    /// mask); the sampler records it.
    pub(crate) fn pick_from(&mut self, logits: &[f32]) -> LlamaToken {
        match self {
            TokenPicker::Greedy => LlamaToken(arg_max(logits)),
            TokenPicker::TopK(sampler) => LlamaToken(sampler.sample(logits)),
            TokenPicker::Chain(sampler) => {
                let mut candidates = candidates(logits);
                candidates.apply_sampler(sampler);
                let token = candidates
                    .selected_token()
                    .unwrap_or_else(|| LlamaToken(arg_max(logits)));
                sampler.accept(token);
                token
            }
        }
    }
}

/// The whole vocabulary as llama.cpp's candidate array, for its samplers.
pub(crate) fn candidates(logits: &[f32]) -> LlamaTokenDataArray {
    LlamaTokenDataArray::from_iter(
        logits
            .iter()
            .enumerate()
            .map(|(i, &l)| LlamaTokenData::new(LlamaToken(i as i32), l, 0.0)),
        false,
    )
}

pub(crate) fn arg_max(logits: &[f32]) -> i32 {
    let mut best = 0usize;
    let mut best_value = f32::NEG_INFINITY;
    for (i, &v) in logits.iter().enumerate() {
        // Strictly greater: ties go to the lowest id, as in llama.cpp's greedy sampler.
        if v > best_value {
            best_value = v;
            best = i;
        }
    }
    i32::try_from(best).unwrap_or(0)
}

fn random_seed() -> u32 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(sp_core::Id::new().as_uuid().as_u128());
    hasher.finish() as u32
}

#[cfg(test)]
mod tests {
    use super::arg_max;

    #[test]
    fn arg_max_takes_first_of_ties() {
        assert_eq!(arg_max(&[0.0, 3.0, 1.0, 3.0]), 1);
        assert_eq!(arg_max(&[-5.0]), 0);
    }
}
