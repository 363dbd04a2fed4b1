//! Running llama.cpp's own tools as benchmark anchors.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `llama-bench` figures for one model.
#[derive(Debug, Clone)]
pub struct LlamaBench {
    /// Prompt processing of 128 tokens, tokens/s.
    pub pp128: f64,
    /// Generation of 64 tokens, tokens/s (llama-bench does not sample).
    pub tg64: f64,
    /// Which llama.cpp build ran.
    pub version: String,
}

type BoxError = Box<dyn std::error::Error>;

impl LlamaBench {
    /// Runs `llama-bench -p 128 -n 64 -r 3` with `threads`.
    pub fn run(dir: &str, model: &str, threads: u32) -> Result<Self, BoxError> {
        let output = Command::new(format!("{dir}/llama-bench"))
            .args([
                "-m", model, "-p", "128", "-n", "64", "-r", "3", "-o", "json",
            ])
            .args(["-t", &threads.to_string()])
            .stderr(Stdio::null())
            .output()?;
        if !output.status.success() {
            return Err(format!("llama-bench failed: {}", output.status).into());
        }
        let rows: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout)?;
        let rate = |prompt: u64, generated: u64| {
            rows.iter()
                .find(|r| r["n_prompt"] == prompt && r["n_gen"] == generated)
                .and_then(|r| r["avg_ts"].as_f64())
                .ok_or_else(|| format!("no p{prompt} n{generated} row"))
        };
        let version = rows
            .first()
            .map(|r| {
                format!(
                    "llama.cpp build {} ({})",
                    r["build_number"], r["build_commit"]
                )
            })
            .unwrap_or_default();
        Ok(LlamaBench {
            pp128: rate(128, 0)?,
            tg64: rate(0, 64)?,
            version,
        })
    }
}

/// A running `llama-server`, stopped on drop.
pub struct LlamaServer {
    child: Child,
    addr: String,
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl LlamaServer {
    /// Starts `llama-server --parallel slots` with a 1024-token window per slot.
    pub fn start(dir: &str, model: &str, threads: u32, slots: usize) -> Result<Self, BoxError> {
        let window = (1024 * slots).to_string();
        Self::start_with(
            dir,
            model,
            threads,
            &["--parallel", &slots.to_string(), "-c", &window],
        )
    }

    /// Starts `llama-server` on `model` with `threads` and `extra` arguments, and waits
    /// until it is healthy.
    pub fn start_with(
        dir: &str,
        model: &str,
        threads: u32,
        extra: &[&str],
    ) -> Result<Self, BoxError> {
        Self::spawn(dir, threads, &[&["-m", model], extra].concat())
    }

    /// Starts `llama-server` in router mode (no model: `extra` names `--models-dir`), and
    /// waits until it is healthy.
    pub fn start_router(dir: &str, threads: u32, extra: &[&str]) -> Result<Self, BoxError> {
        Self::spawn(dir, threads, extra)
    }

    fn spawn(dir: &str, threads: u32, args: &[&str]) -> Result<Self, BoxError> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new(format!("{dir}/llama-server"))
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["-t", &threads.to_string(), "-tb", &threads.to_string()])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let server = LlamaServer {
            child,
            addr: format!("127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        let runtime = tokio::runtime::Handle::current();
        while Instant::now() < deadline {
            let health = tokio::task::block_in_place(|| {
                runtime.block_on(crate::http(&server.addr, "GET", "/health", &[], b""))
            });
            if health.is_ok_and(|r| r.status == 200) {
                return Ok(server);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Err("llama-server did not become healthy".into())
    }

    /// Aggregate tokens/s of one round of concurrent `tokens`-token completions, one per
    /// prompt, sampled like ours (top-k 40, top-p 0.95, min-p 0.05, temperature 0.8,
    /// end-of-turn ignored, no prompt cache).
    pub async fn aggregate_rate(&self, prompts: &[String], tokens: u32) -> Result<f64, BoxError> {
        let bodies: Vec<Vec<u8>> = prompts
            .iter()
            .map(|prompt| {
                serde_json::json!({
                    "prompt": prompt,
                    "n_predict": tokens, "ignore_eos": true, "cache_prompt": false,
                    "temperature": 0.8, "top_k": 40, "top_p": 0.95, "min_p": 0.05, "seed": 7
                })
                .to_string()
                .into_bytes()
            })
            .collect();
        let started = Instant::now();
        let replies = futures::future::join_all(bodies.iter().map(|body| {
            crate::http(
                &self.addr,
                "POST",
                "/completion",
                &[("Content-Type", "application/json")],
                body,
            )
        }))
        .await;
        let mut generated = 0.0;
        for reply in replies {
            let reply = reply?;
            generated += reply.json()["tokens_predicted"].as_f64().unwrap_or(0.0);
        }
        Ok(generated / started.elapsed().as_secs_f64())
    }

    /// Greedy decode rate (tokens/s after the prompt, llama-server's own `timings`) and
    /// tokens generated of one completion of `prompt` constrained to `schema` (llama-server
    /// turns it into a GBNF grammar), no prompt cache.
    pub async fn json_schema_rate(
        &self,
        prompt: &str,
        schema: &serde_json::Value,
        tokens: u32,
    ) -> Result<(f64, u64), BoxError> {
        let body = serde_json::json!({
            "prompt": prompt, "n_predict": tokens, "cache_prompt": false,
            "temperature": 0.0, "json_schema": schema,
        })
        .to_string();
        let reply = crate::http(
            &self.addr,
            "POST",
            "/completion",
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
        .await?;
        let json = reply.json();
        let rate = json["timings"]["predicted_per_second"]
            .as_f64()
            .ok_or("llama-server sent no timings")?;
        Ok((rate, json["tokens_predicted"].as_u64().unwrap_or(0)))
    }

    /// The vectors of `texts`, one `/v1/embeddings` request.
    pub async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, BoxError> {
        let body = serde_json::json!({"input": texts, "model": "bench"}).to_string();
        let reply = crate::http(
            &self.addr,
            "POST",
            "/v1/embeddings",
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
        .await?;
        if reply.status != 200 {
            return Err(format!("llama-server embeddings: {} {}", reply.status, reply.body).into());
        }
        embeddings_of(&reply.json())
    }

    /// Its address, `127.0.0.1:PORT`.
    pub fn addr(&self) -> &str {
        &self.addr
    }
}

/// The vectors of an OpenAI-shaped `/v1/embeddings` reply, in input order.
pub fn embeddings_of(reply: &serde_json::Value) -> Result<Vec<Vec<f32>>, BoxError> {
    let data = reply["data"].as_array().ok_or("no data in the reply")?;
    let mut rows: Vec<(u64, Vec<f32>)> = data
        .iter()
        .map(|row| {
            let vector = row["embedding"]
                .as_array()
                .ok_or("no embedding")?
                .iter()
                .map(|x| x.as_f64().map(|x| x as f32).ok_or("not a number"))
                .collect::<Result<Vec<f32>, _>>()?;
            Ok((row["index"].as_u64().unwrap_or(0), vector))
        })
        .collect::<Result<_, BoxError>>()?;
    rows.sort_by_key(|(index, _)| *index);
    Ok(rows.into_iter().map(|(_, vector)| vector).collect())
}
