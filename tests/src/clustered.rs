//! Clustered synthetic vectors for recall tests and benchmarks. Uniform random vectors in
//! hundreds of dimensions defeat every graph index and measure nothing real; real embeddings
//! cluster, and so do these.

/// A small deterministic generator (xorshift64*): every run sees the same data.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Standard normal (Box-Muller).
    pub fn gauss(&mut self) -> f32 {
        let (u, v) = (self.uniform().max(1e-7), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f32::consts::PI * v).cos()
    }
}

/// Scales to unit length.
pub fn normalise(mut v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= n);
    v
}

/// Unit vectors around `clusters` random centres (gaussian noise of `spread` per component).
#[derive(Debug, Clone)]
pub struct Clustered {
    /// The vectors.
    pub vectors: Vec<Vec<f32>>,
    /// The cluster of each vector.
    pub clusters: Vec<usize>,
    /// Query vectors drawn from the same clusters, with their cluster.
    pub queries: Vec<(Vec<f32>, usize)>,
}

impl Clustered {
    /// `n` vectors in groups of `per_group` consecutive vectors of one cluster (a document's
    /// sections), and `queries` queries.
    pub fn generate(
        n: usize,
        dims: usize,
        clusters: usize,
        per_group: usize,
        queries: usize,
    ) -> Self {
        let mut rng = Rng(0x5eed);
        let centres: Vec<Vec<f32>> = (0..clusters)
            .map(|_| normalise((0..dims).map(|_| rng.gauss()).collect()))
            .collect();
        let point = |rng: &mut Rng, c: usize| {
            normalise(centres[c].iter().map(|x| x + 0.06 * rng.gauss()).collect())
        };
        let assignment: Vec<usize> = (0..n.div_ceil(per_group))
            .flat_map(|g| std::iter::repeat_n(g % clusters, per_group))
            .take(n)
            .collect();
        let vectors = assignment.iter().map(|&c| point(&mut rng, c)).collect();
        let queries = (0..queries)
            .map(|i| {
                let c = (i * 37) % clusters;
                (point(&mut rng, c), c)
            })
            .collect();
        Clustered {
            vectors,
            clusters: assignment,
            queries,
        }
    }

    /// Indices of the exact 10 nearest vectors to `query` (dot product), best first.
    pub fn exact_top(&self, query: &[f32], k: usize) -> Vec<usize> {
        let mut scored: Vec<(usize, f32)> = self
            .vectors
            .iter()
            .enumerate()
            .map(|(i, v)| (i, v.iter().zip(query).map(|(a, b)| a * b).sum()))
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1));
        scored.into_iter().take(k).map(|(i, _)| i).collect()
    }
}
