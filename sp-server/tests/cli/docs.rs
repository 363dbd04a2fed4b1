//! The documentation's code blocks: every block names its language, and every command block
//! (`sh`, `console`) says how it is checked — `run` (this test runs it, with `sp` on `PATH`,
//! in a new folder that is also `SP_DATA_DIR`), `tested=FILE[,FILE…]` (a test file that runs
//! those commands: each `sp SUBCOMMAND` and `scripts/NAME` of the block must appear in one of
//! them), or `no-run` (not run: it needs a server, a model, a network or minutes; the prose
//! says so). Every page is in the docs site's table of contents.

use std::path::{Path, PathBuf};

use crate::process::SP;

struct Block {
    at: String,
    info: String,
    body: Vec<String>,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn pages() -> Vec<PathBuf> {
    let mut pages = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

fn blocks(page: &Path) -> Vec<Block> {
    let text = std::fs::read_to_string(page).expect("read page");
    let name = page
        .strip_prefix(root())
        .unwrap_or(page)
        .display()
        .to_string();
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for (index, line) in text.lines().enumerate() {
        let Some(fence) = line.strip_prefix("```") else {
            if let Some(block) = open.as_mut() {
                block.body.push(line.to_owned());
            }
            continue;
        };
        match open.take() {
            Some(block) => out.push(block),
            None => {
                open = Some(Block {
                    at: format!("{name}:{}", index + 1),
                    info: fence.trim().to_owned(),
                    body: Vec::new(),
                })
            }
        }
    }
    assert!(open.is_none(), "{name}: a code block is never closed");
    out
}

fn is_command_block(info: &str) -> bool {
    matches!(
        info.split_whitespace().next(),
        Some("sh" | "bash" | "shell" | "console")
    )
}

/// The commands of a block: lines without comments and continuations joined, prompts removed.
fn commands(block: &Block) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut continued = false;
    for line in &block.body {
        let line = line.trim();
        let line = line.strip_prefix("$ ").unwrap_or(line);
        let joined = if continued {
            let last = out.pop().unwrap_or_default();
            format!("{last} {line}")
        } else if line.is_empty() || line.starts_with('#') {
            continue;
        } else {
            line.to_owned()
        };
        continued = joined.ends_with('\\');
        out.push(joined.trim_end_matches('\\').to_owned());
    }
    out
}

/// What a tested block's test file must mention: `"SUBCOMMAND"` for each `sp` line and the
/// script's file name for each `scripts/…` line.
fn mentions(command: &str) -> Option<String> {
    let mut words = command
        .split_whitespace()
        .skip_while(|word| word.contains('=') && !word.starts_with('-'));
    match words.next()? {
        "sp" => words.next().map(|sub| format!("\"{sub}\"")),
        script if script.starts_with("scripts/") => script.rsplit('/').next().map(str::to_owned),
        _ => None,
    }
}

#[test]
fn every_command_block_is_run_tested_or_marked_not_run() {
    let mut problems = Vec::new();
    let mut ran = 0;
    for page in pages() {
        for block in blocks(&page) {
            if block.info.is_empty() {
                problems.push(format!("{}: a code block without a language", block.at));
                continue;
            }
            if !is_command_block(&block.info) {
                continue;
            }
            let marks: Vec<&str> = block.info.split_whitespace().skip(1).collect();
            match marks.as_slice() {
                ["run"] => {
                    run_block(&block);
                    ran += 1;
                }
                ["no-run"] => {}
                [tested] if tested.starts_with("tested=") => {
                    let files: Vec<String> = tested["tested=".len()..]
                        .split(',')
                        .map(|file| {
                            std::fs::read_to_string(root().join(file))
                                .unwrap_or_else(|_| panic!("{}: {file} does not exist", block.at))
                        })
                        .collect();
                    for command in commands(&block) {
                        if let Some(needle) = mentions(&command)
                            && !files.iter().any(|text| text.contains(&needle))
                        {
                            problems.push(format!(
                                "{}: `{command}` — {needle} is in none of {tested}",
                                block.at
                            ));
                        }
                    }
                }
                _ => problems.push(format!(
                    "{}: a command block needs `run`, `tested=FILE` or `no-run` after its \
                     language (has `{}`)",
                    block.at, block.info
                )),
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(ran > 0, "at least one block is run");
}

/// Runs a `run` block with bash (`-e`: the first failing command fails it) in a new folder.
fn run_block(block: &Block) {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = Path::new(SP).parent().expect("the binary's folder");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = std::process::Command::new("bash");
    for (key, _) in std::env::vars() {
        if key.starts_with("SP_") || key == "DATABASE_URL" || key == "REDIS_URL" {
            cmd.env_remove(key);
        }
    }
    let output = cmd
        .args(["-euo", "pipefail", "-c", &block.body.join("\n")])
        .current_dir(dir.path())
        .env("PATH", path)
        .env("SP_DATA_DIR", dir.path().join("data"))
        .output()
        .expect("run bash");
    assert!(
        output.status.success(),
        "{} failed ({}):\n{}\n{}",
        block.at,
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn every_page_is_in_the_table_of_contents() {
    let summary = std::fs::read_to_string(root().join("docs/SUMMARY.md")).expect("SUMMARY.md");
    for page in pages().iter().skip(1) {
        let name = page
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name == "SUMMARY.md" {
            continue;
        }
        assert!(
            summary.contains(&format!("]({name})")),
            "docs/{name} is not in docs/SUMMARY.md"
        );
    }
}

#[test]
fn commands_join_continuations_and_name_what_tests_must_mention() {
    let block = Block {
        at: "x".into(),
        info: "sh no-run".into(),
        body: vec![
            "# a comment".into(),
            "$ sp backup /b --verify   # while serving".into(),
            "SP_X=1 sp import f \\".into(),
            "  --data-dir d".into(),
            "scripts/pg-pitr.sh base URL DEST".into(),
        ],
    };
    let commands = commands(&block);
    assert_eq!(commands.len(), 3, "{commands:?}");
    assert_eq!(mentions(&commands[0]).as_deref(), Some("\"backup\""));
    assert_eq!(mentions(&commands[1]).as_deref(), Some("\"import\""));
    assert!(commands[1].contains("--data-dir d"));
    assert_eq!(mentions(&commands[2]).as_deref(), Some("pg-pitr.sh"));
    assert_eq!(mentions("curl -s localhost"), None);
}
