//! Top-k sampling on the logits directly: top-k → top-p → min-p → temperature → draw.
//!
//! llama.cpp's sampler chain copies the whole vocabulary into a candidate array and sorts it
//! for every token (49k entries for SmolLM2); selecting the k best in one pass over the logits
//! and doing the rest on k candidates gives the same distribution for a fraction of the work.

/// The filters in llama.cpp's order, applied to `k` candidates.
#[derive(Debug, Clone)]
pub(crate) struct TopKSampler {
    k: usize,
    top_p: f32,
    min_p: f32,
    temperature: f32,
    rng: SplitMix64,
    candidates: Vec<(i32, f32)>,
}

impl TopKSampler {
    pub(crate) fn new(k: usize, top_p: f32, min_p: f32, temperature: f32, seed: u64) -> Self {
        TopKSampler {
            k: k.max(1),
            top_p,
            min_p,
            temperature,
            rng: SplitMix64(seed),
            // Never more than a vocabulary's worth, whatever k is (the engine refuses larger).
            candidates: Vec::with_capacity(k.clamp(1, 1 << 18) + 1),
        }
    }

    /// Draws the next token from `logits`.
    pub(crate) fn sample(&mut self, logits: &[f32]) -> i32 {
        select_top_k(logits, self.k, &mut self.candidates);
        let c = &mut self.candidates;
        // top-p and min-p see probabilities at temperature 1, as in llama.cpp's chain.
        let max = c[0].1;
        let weights: Vec<f32> = c.iter().map(|(_, l)| (l - max).exp()).collect();
        let total: f32 = weights.iter().sum();
        let mut keep = c.len();
        if self.top_p < 1.0 {
            let mut cumulative = 0.0;
            for (i, w) in weights.iter().enumerate() {
                cumulative += w / total;
                if cumulative >= self.top_p {
                    keep = i + 1;
                    break;
                }
            }
        }
        if self.min_p > 0.0 {
            // p_i / p_max = weight_i, since the best candidate's weight is 1.
            let above = weights[..keep]
                .iter()
                .take_while(|w| **w >= self.min_p)
                .count();
            keep = above.max(1);
        }
        c.truncate(keep);
        let t = self.temperature.max(1e-6);
        let best = c[0].1;
        let scaled: Vec<f32> = c.iter().map(|(_, l)| ((l - best) / t).exp()).collect();
        let sum: f32 = scaled.iter().sum();
        let mut target = self.rng.unit() as f32 * sum;
        for (i, w) in scaled.iter().enumerate() {
            target -= w;
            if target <= 0.0 {
                return c[i].0;
            }
        }
        c[c.len() - 1].0
    }
}

/// The `k` largest logits as `(token, logit)`, best first; ties keep the lower id first.
pub(crate) fn select_top_k(logits: &[f32], k: usize, out: &mut Vec<(i32, f32)>) {
    out.clear();
    let k = k.min(logits.len());
    if k == 0 {
        return;
    }
    let mut floor = f32::NEG_INFINITY;
    for (i, &l) in logits.iter().enumerate() {
        if out.len() == k && l <= floor {
            continue;
        }
        // Insert in descending order; the slice is short, so a linear scan is fastest.
        let at = out.iter().position(|(_, v)| l > *v).unwrap_or(out.len());
        out.insert(at, (i as i32, l));
        if out.len() > k {
            out.pop();
        }
        if out.len() == k {
            floor = out[k - 1].1;
        }
    }
}

/// SplitMix64: a small, well-distributed PRNG; seeded, so sampling is reproducible.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selects_the_k_best_in_order() {
        let mut out = Vec::new();
        select_top_k(&[0.1, 5.0, -1.0, 3.0, 5.0, 2.0], 3, &mut out);
        assert_eq!(out, vec![(1, 5.0), (4, 5.0), (3, 3.0)]);
    }

    #[test]
    fn draws_follow_the_distribution_and_the_seed() {
        // Two tokens with logits ln(3) and 0: probabilities 0.75 / 0.25 at temperature 1.
        let logits = [3f32.ln(), 0.0, -50.0];
        let mut sampler = TopKSampler::new(2, 1.0, 0.0, 1.0, 42);
        let draws: Vec<i32> = (0..4000).map(|_| sampler.sample(&logits)).collect();
        let share = draws.iter().filter(|t| **t == 0).count() as f64 / 4000.0;
        assert!((share - 0.75).abs() < 0.03, "{share}");
        let mut again = TopKSampler::new(2, 1.0, 0.0, 1.0, 42);
        assert_eq!(
            (0..4000).map(|_| again.sample(&logits)).collect::<Vec<_>>(),
            draws
        );
    }

    #[test]
    fn min_p_and_top_p_cut_the_tail() {
        let logits = [0.0f32, -0.1, -5.0, -6.0];
        let mut min_p = TopKSampler::new(4, 1.0, 0.5, 1.0, 1);
        assert!((0..500).all(|_| min_p.sample(&logits) < 2));
        let mut top_p = TopKSampler::new(4, 0.4, 0.0, 1.0, 1);
        assert!((0..500).all(|_| top_p.sample(&logits) == 0));
    }
}
