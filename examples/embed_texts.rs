//! Run with: `cargo run -p sp-examples --example embed_texts -- [MODEL.gguf]`
//!
//! Embeds a few sentences and prints their cosine similarities: paraphrases score higher than
//! unrelated sentences. Uses the test model unless a path is given.

use story_portal::prelude::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let engine = sp_examples::load_engine_from_args().await?;
    let embedder = EmbeddingModel::new(&engine)?;

    let texts: Vec<String> = [
        "The cat sat on the mat.",
        "A cat was sitting on the rug.",
        "Stock markets fell sharply on Monday.",
        "Shares dropped steeply at the start of the week.",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let vectors = embedder.embed(&texts).await?;
    println!(
        "{} vectors of {} dimensions",
        vectors.len(),
        embedder.dimensions()
    );
    for (i, a) in vectors.iter().enumerate() {
        for (j, b) in vectors.iter().enumerate().skip(i + 1) {
            let cosine: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            println!("{cosine:.3}  {:?} ~ {:?}", texts[i], texts[j]);
        }
    }
    Ok(())
}
