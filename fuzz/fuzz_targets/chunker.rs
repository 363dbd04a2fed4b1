//! Any text, as Markdown and as plain text, through the chunker with small and odd limits:
//! sections or a coded error, never a panic, and every section within its token limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sp_core::Tokenizer as _;
use sp_core::knowledge::{ChunkConfig, ContentFormat, SimpleTokenizer, chunk};

fuzz_target!(|data: &[u8]| {
    let Some((&knob, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let config = ChunkConfig {
        max_tokens: usize::from(knob % 64) + 1,
        overlap_tokens: usize::from(knob / 64),
    };
    for format in [ContentFormat::Markdown, ContentFormat::Text] {
        if let Ok(sections) = chunk(&text, format, &config, &SimpleTokenizer) {
            for section in sections {
                let tokens = SimpleTokenizer.count_tokens(&section.text).unwrap_or(0);
                // The splitter may exceed the limit only for a single unsplittable word.
                assert!(
                    tokens <= config.max_tokens || !section.text.trim().contains(' '),
                    "{tokens} > {} in {:?}",
                    config.max_tokens,
                    section.text
                );
            }
        }
    }
});
