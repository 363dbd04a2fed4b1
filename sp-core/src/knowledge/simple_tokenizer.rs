//! A tokenizer for when no model is loaded.

use crate::error::Result;
use crate::model::Tokenizer;

/// Approximates a subword tokenizer without a vocabulary: every run of letters or digits costs
/// one token per 4 characters (rounded up), every other visible character one token. It
/// over-counts slightly against typical BPE vocabularies, which keeps budgets safe. Ids are
/// hashes of the pieces, stable across runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct SimpleTokenizer;

impl Tokenizer for SimpleTokenizer {
    fn tokenize(&self, text: &str) -> Result<Vec<u32>> {
        let mut ids = Vec::new();
        let mut word = String::new();
        let flush = |word: &mut String, ids: &mut Vec<u32>| {
            let chars: Vec<char> = word.chars().collect();
            for piece in chars.chunks(4) {
                ids.push(fnv1a(piece.iter().collect::<String>().as_bytes()) as u32);
            }
            word.clear();
        };
        for c in text.chars() {
            if c.is_alphanumeric() {
                word.push(c);
            } else {
                flush(&mut word, &mut ids);
                if !c.is_whitespace() {
                    ids.push(fnv1a(c.to_string().as_bytes()) as u32);
                }
            }
        }
        flush(&mut word, &mut ids);
        Ok(ids)
    }
}

/// FNV-1a, 64-bit: a tiny stable hash (the standard library's hasher is randomised per process).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_words_in_pieces_and_punctuation() {
        let t = SimpleTokenizer;
        assert_eq!(t.count_tokens("").unwrap(), 0);
        assert_eq!(t.count_tokens("cat").unwrap(), 1);
        assert_eq!(t.count_tokens("elephant").unwrap(), 2);
        assert_eq!(t.count_tokens("Hi, you!").unwrap(), 4);
        assert_eq!(
            t.tokenize("same words").unwrap(),
            t.tokenize("same words").unwrap()
        );
    }
}
