//! Run with: `cargo run -p sp-examples --example chat_repl -- [MODEL.gguf]`
//!
//! A streaming chat in the terminal. Uses the test model (`scripts/models.sh` fetches it)
//! unless a path is given. Type a message and Enter; an empty line or Ctrl-D quits. The
//! conversation is kept, and the engine's prompt cache means each turn only processes the
//! new text: watch `cached` grow in the usage line.

use std::io::{BufRead as _, Write as _};

use futures::StreamExt as _;
use story_portal::prelude::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let engine = sp_examples::load_engine_from_args().await?;
    println!("model {} loaded; empty line to quit", engine.info().id);

    let mut messages = vec![ChatMessage::system("You are a concise, helpful assistant.")];
    let stdin = std::io::stdin();
    loop {
        print!("> ");
        std::io::stdout().flush()?;
        let mut line = String::new();
        if stdin.lock().read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        messages.push(ChatMessage::user(line.trim()));
        let mut stream = engine.chat_stream(&messages, &Sampling::greedy(256))?;
        let mut answer = String::new();
        while let Some(event) = stream.next().await {
            match event? {
                StreamEvent::Delta { text } => {
                    print!("{text}");
                    std::io::stdout().flush()?;
                    answer.push_str(&text);
                }
                StreamEvent::Done {
                    finish_reason,
                    usage,
                } => println!(
                    "\n[{finish_reason:?}: {} prompt ({} cached), {} generated]",
                    usage.prompt_tokens, usage.cached_tokens, usage.completion_tokens
                ),
                // Log-probabilities and tool calls come only when asked for.
                StreamEvent::Logprobs { .. } | StreamEvent::ToolCalls { .. } => {}
            }
        }
        messages.push(ChatMessage::assistant(answer));
    }
    Ok(())
}
