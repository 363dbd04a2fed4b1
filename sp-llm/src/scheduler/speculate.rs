//! Prompt-lookup speculative decoding: when the last few tokens of a sequence occurred before
//! in it (a RAG answer quoting its sources, a JSON rewrite of a JSON input, a code edit), the
//! tokens that followed them then are guessed to follow now. The guesses are fed in the same
//! batch as the sequence's next token and checked against the model's own greedy choice at
//! each position: every guess the model agrees with is a token generated without a decode
//! step of its own, and the first it disagrees with is replaced by the model's token (its KV
//! and every guess after it dropped). So the output is the output without speculation —
//! only greedy, unshaped requests speculate.

use llama_cpp_2::token::LlamaToken;

/// Most guesses fed with one token. On a CPU a batch costs nearly its tokens' worth of
/// compute, so guesses past the first rejected one are paid for: short drafts of confident
/// guesses beat long ones (benches/speculation.rs; 8 and 16-32 measured slower).
pub(crate) const MAX_DRAFT: usize = 6;
/// The longest and shortest tail of the sequence looked up (longer first: a longer match
/// predicts better). Tails of 2-4 tokens matched often and guessed wrong most of the time
/// (21-40 % accepted, 0.64-0.80× the speed without); 6-12 drafts a third as often, ~75 %
/// accepted (docs/inference.md).
const MAX_NGRAM: usize = 12;
const MIN_NGRAM: usize = 6;

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
        // ... 5 6 7 8 9 10 | 11 12 13 ... 5 6 7 8 9 10 | → 11 12 13
        let quoted = [5, 6, 7, 8, 9, 10];
        let history = tokens(&[&[1][..], &quoted, &[11, 12, 13, 2, 3], &quoted].concat());
        assert_eq!(lookup(&history, 3), tokens(&[11, 12, 13]));
        assert_eq!(lookup(&history, 1), tokens(&[11]));
        // The draft stops at the end of what is known.
        assert_eq!(lookup(&history, 100).len(), 11);
        // The latest occurrence wins: the tail was last followed by 4 here.
        let history = tokens(&[&quoted[..], &[8], &quoted, &[4, 9], &quoted].concat());
        assert_eq!(lookup(&history, 2), tokens(&[4, 9]));
    }

    #[test]
    fn short_or_absent_matches_and_no_room_draft_nothing() {
        assert!(lookup(&tokens(&[1, 2, 3, 4, 5]), 4).is_empty());
        // A five-token repeat is too short a match to trust.
        assert!(lookup(&tokens(&[1, 2, 3, 4, 5, 9, 1, 2, 3, 4, 5]), 4).is_empty());
        let repeat = tokens(&[1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6]);
        assert!(lookup(&repeat, 0).is_empty());
        assert!(lookup(&tokens(&[1]), 4).is_empty());
    }
}
