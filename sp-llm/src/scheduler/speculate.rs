//! Prompt-lookup speculative decoding: when the last few tokens of a sequence occurred before
//! in it (a RAG answer quoting its sources, a JSON rewrite of a JSON input, a code edit), the
//! tokens that followed them then are guessed to follow now. The guesses are fed in the same
//! batch as the sequence's next token and checked against the model's own greedy choice at
//! each position: every guess the model agrees with is a token generated without a decode
//! step of its own, and the first it disagrees with is replaced by the model's token (its KV
//! and every guess after it dropped). So the output is the output without speculation —
//! only greedy, unshaped requests speculate.

use llama_cpp_2::token::LlamaToken;

/// Most guesses fed with one token.
pub(crate) const MAX_DRAFT: usize = 8;
/// The longest and shortest tail of the sequence looked up (longer first: a longer match
/// predicts better).
const MAX_NGRAM: usize = 4;
const MIN_NGRAM: usize = 2;

/// Up to `max` tokens that followed the latest earlier occurrence of the sequence's last
/// `MAX_NGRAM`..=`MIN_NGRAM` tokens; none when there is no such occurrence.
///
/// The search runs over the whole sequence (prompt and generated tokens); it is linear in
/// its length and runs once per speculating slot per step, far below a decode's cost.
pub(crate) fn lookup(history: &[LlamaToken], max: usize) -> Vec<LlamaToken> {
    if max == 0 {
        return Vec::new();
    }
    for n in (MIN_NGRAM..=MAX_NGRAM).rev() {
        if history.len() <= n {
            continue;
        }
        let tail = &history[history.len() - n..];
        // The latest earlier occurrence whose continuation is not the tail itself.
        let found = (0..history.len() - n)
            .rev()
            .find(|&start| &history[start..start + n] == tail);
        if let Some(start) = found {
            let from = start + n;
            let to = (from + max).min(history.len());
            return history[from..to].to_vec();
        }
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(ids: &[i32]) -> Vec<LlamaToken> {
        ids.iter().copied().map(LlamaToken).collect()
    }

    #[test]
    fn the_tokens_after_the_latest_earlier_occurrence_are_the_draft() {
        // ... 5 6 7 8 9 ... 5 6 7 | → 8 9 10
        let history = tokens(&[1, 5, 6, 7, 8, 9, 10, 2, 3, 5, 6, 7]);
        assert_eq!(lookup(&history, 3), tokens(&[8, 9, 10]));
        assert_eq!(lookup(&history, 1), tokens(&[8]));
        // The draft stops at the end of what is known.
        assert_eq!(lookup(&history, 100).len(), 8);
        // The latest occurrence wins: 6 7 was last followed by 1 here.
        let history = tokens(&[6, 7, 8, 6, 7, 1, 4, 6, 7]);
        assert_eq!(lookup(&history, 2), tokens(&[1, 4]));
    }

    #[test]
    fn no_earlier_occurrence_or_no_room_drafts_nothing() {
        assert!(lookup(&tokens(&[1, 2, 3, 4, 5]), 4).is_empty());
        assert!(lookup(&tokens(&[1, 2, 1, 2]), 0).is_empty());
        assert!(lookup(&tokens(&[1]), 4).is_empty());
    }
}
