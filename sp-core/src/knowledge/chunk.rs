//! Splitting documents into sections, bounded by tokens, with overlap.

use serde::{Deserialize, Serialize};
use text_splitter::{MarkdownSplitter, TextSplitter, TryChunkSizer};

use super::types::{ContentFormat, Section};
use crate::error::{Error, Result};
use crate::model::Tokenizer;

/// Section size limits, in tokens of the configured [`Tokenizer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChunkConfig {
    /// Largest section.
    pub max_tokens: usize,
    /// Tokens repeated from the end of one section at the start of the next, so a passage cut
    /// at a boundary is still found whole in one of them.
    pub overlap_tokens: usize,
}

impl Default for ChunkConfig {
    fn default() -> Self {
        ChunkConfig {
            max_tokens: 256,
            overlap_tokens: 32,
        }
    }
}

impl ChunkConfig {
    /// Overlap must be smaller than the section.
    pub fn validate(&self) -> Result<()> {
        if self.max_tokens < 8 {
            return Err(Error::invalid_input("max_tokens", "must be at least 8"));
        }
        if self.overlap_tokens >= self.max_tokens {
            return Err(Error::invalid_input(
                "overlap_tokens",
                "must be smaller than max_tokens",
            ));
        }
        Ok(())
    }
}

struct TokenSizer<'a>(&'a dyn Tokenizer);

impl TryChunkSizer for TokenSizer<'_> {
    type Error = Error;
    fn try_size(&self, chunk: &str) -> Result<usize> {
        self.0.count_tokens(chunk)
    }
}

/// Splits `content` into sections of at most `config.max_tokens` tokens. Markdown is split at
/// headings first, then paragraphs, sentences and words; each section records the headings
/// above it. The same input always gives the same sections.
///
/// ```
/// use sp_core::knowledge::{chunk, ChunkConfig, ContentFormat, SimpleTokenizer};
///
/// let text = "# Install\nRun the script.\n\n## Linux\nUse apt.\n";
/// let sections = chunk(text, ContentFormat::Markdown, &ChunkConfig { max_tokens: 8, overlap_tokens: 0 }, &SimpleTokenizer).unwrap();
/// assert_eq!(sections.last().unwrap().heading_path, ["Install", "Linux"]);
/// ```
pub fn chunk(
    content: &str,
    format: ContentFormat,
    config: &ChunkConfig,
    tokenizer: &dyn Tokenizer,
) -> Result<Vec<Section>> {
    config.validate()?;
    let splitter_config = text_splitter::ChunkConfig::new(config.max_tokens)
        .with_sizer(TokenSizer(tokenizer))
        .with_overlap(config.overlap_tokens)
        .map_err(|err| Error::invalid_input("overlap_tokens", err.to_string()))?;
    let pieces: Vec<(usize, &str)> = match format {
        ContentFormat::Markdown => MarkdownSplitter::new(splitter_config)
            .try_chunk_indices(content)
            .collect::<Result<_>>()?,
        ContentFormat::Text => TextSplitter::new(splitter_config)
            .try_chunk_indices(content)
            .collect::<Result<_>>()?,
    };
    let headings = match format {
        ContentFormat::Markdown => markdown_headings(content),
        ContentFormat::Text => Vec::new(),
    };
    pieces
        .into_iter()
        .enumerate()
        .map(|(ordinal, (offset, text))| {
            Ok(Section {
                ordinal: u32::try_from(ordinal).unwrap_or(u32::MAX),
                heading_path: heading_path_at(&headings, offset),
                text: text.to_owned(),
                token_count: u32::try_from(tokenizer.count_tokens(text)?).unwrap_or(u32::MAX),
            })
        })
        .collect()
}

/// A heading: where it starts, its level (1-6) and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Heading {
    offset: usize,
    level: usize,
    text: String,
}

/// ATX headings (`#` … `######`) outside fenced code blocks.
fn markdown_headings(content: &str) -> Vec<Heading> {
    let mut headings = Vec::new();
    let mut in_fence = false;
    let mut offset = 0;
    for line in content.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_fence = !in_fence;
        } else if !in_fence {
            let level = trimmed.bytes().take_while(|b| *b == b'#').count();
            let rest = &trimmed[level..];
            if (1..=6).contains(&level) && (rest.starts_with(' ') || rest.trim().is_empty()) {
                let text = rest.trim().trim_end_matches('#').trim().to_owned();
                if !text.is_empty() {
                    headings.push(Heading {
                        offset: offset + (line.len() - trimmed.len()),
                        level,
                        text,
                    });
                }
            }
        }
        offset += line.len();
    }
    headings
}

/// The open headings at byte `offset`, outermost first.
fn heading_path_at(headings: &[Heading], offset: usize) -> Vec<String> {
    let mut stack: Vec<&Heading> = Vec::new();
    for heading in headings.iter().take_while(|h| h.offset <= offset) {
        while stack.last().is_some_and(|top| top.level >= heading.level) {
            stack.pop();
        }
        stack.push(heading);
    }
    stack.into_iter().map(|h| h.text.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::SimpleTokenizer;

    const DOC: &str = "# Guide\nIntro text here.\n\n## Install\nRun the installer and wait.\n\n```\n# not a heading\n```\n\n### Linux\nUse the package manager.\n\n## Usage\nStart it.\n";

    fn sections(max: usize, overlap: usize) -> Vec<Section> {
        chunk(
            DOC,
            ContentFormat::Markdown,
            &ChunkConfig {
                max_tokens: max,
                overlap_tokens: overlap,
            },
            &SimpleTokenizer,
        )
        .unwrap()
    }

    #[test]
    fn heading_paths_follow_the_outline() {
        let s = sections(10, 0);
        let paths: Vec<Vec<String>> = s.iter().map(|s| s.heading_path.clone()).collect();
        assert!(
            paths.contains(&vec!["Guide".to_owned(), "Install".into(), "Linux".into()]),
            "{paths:?}"
        );
        assert!(
            paths.contains(&vec!["Guide".to_owned(), "Usage".into()]),
            "{paths:?}"
        );
        assert!(!paths.iter().flatten().any(|h| h.contains("not a heading")));
        for (i, section) in s.iter().enumerate() {
            assert_eq!(section.ordinal as usize, i);
            assert!(section.token_count as usize <= 10, "{section:?}");
        }
    }

    #[test]
    fn chunking_is_deterministic_and_bounded() {
        assert_eq!(sections(12, 4), sections(12, 4));
        let long = "word ".repeat(1000);
        let s = chunk(
            &long,
            ContentFormat::Text,
            &ChunkConfig::default(),
            &SimpleTokenizer,
        )
        .unwrap();
        assert!(s.len() > 3);
        assert!(s.iter().all(|s| s.token_count <= 256));
    }

    #[test]
    fn overlap_repeats_text_across_sections() {
        let text = (0..200)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        let cfg = ChunkConfig {
            max_tokens: 40,
            overlap_tokens: 10,
        };
        let s = chunk(&text, ContentFormat::Text, &cfg, &SimpleTokenizer).unwrap();
        let first_words: Vec<&str> = s[1].text.split_whitespace().take(3).collect();
        assert!(
            s[0].text.contains(first_words[0]),
            "{:?} / {:?}",
            s[0].text,
            s[1].text
        );
    }

    #[test]
    fn bad_configs_are_refused() {
        let cfg = ChunkConfig {
            max_tokens: 16,
            overlap_tokens: 16,
        };
        assert!(chunk("x", ContentFormat::Text, &cfg, &SimpleTokenizer).is_err());
    }
}
