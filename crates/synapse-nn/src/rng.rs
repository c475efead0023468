//! Our seeded generator: MT19937 exactly as numpy's legacy `RandomState`.
//!
//! `Mt19937::new(seed)` is `np.random.seed(seed)` (Matsumoto and Nishimura's
//! `init_genrand`); [`Mt19937::random_sample`] is `np.random.random()`: a 53-bit
//! double `((a >> 5) * 2^26 + (b >> 6)) / 2^53` from two 32-bit draws `a`, `b`;
//! [`Mt19937::interval`] and [`Mt19937::shuffle`] are numpy's legacy
//! `random_interval` (masked rejection) and `np.random.shuffle`.
//! candle's CPU generator cannot be seeded, so every random number in synapse
//! comes from here. The whole state (624 words and a position) can be saved.
//!
//! ```
//! use synapse_nn::Mt19937;
//! let mut rng = Mt19937::new(1);
//! // np.random.seed(1); np.random.random() -> 0.417022004702574
//! assert_eq!(rng.random_sample(), 0.417022004702574);
//! ```

const N: usize = 624;
const M: usize = 397;
const MATRIX_A: u32 = 0x9908_b0df;
const UPPER_MASK: u32 = 0x8000_0000;
const LOWER_MASK: u32 = 0x7fff_ffff;

/// The Mersenne Twister MT19937, numpy-compatible.
#[derive(Clone, Debug, PartialEq)]
pub struct Mt19937 {
    state: [u32; N],
    pos: usize,
}

/// MT19937's tempering of one state word into a draw.
#[inline(always)]
fn temper(mut y: u32) -> u32 {
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c_5680;
    y ^= (y << 15) & 0xefc6_0000;
    y ^ (y >> 18)
}

impl Mt19937 {
    /// The generator of `np.random.seed(seed)`.
    pub fn new(seed: u32) -> Self {
        let mut state = [0u32; N];
        state[0] = seed;
        for i in 1..N {
            let prev = state[i - 1];
            state[i] = 1_812_433_253u32
                .wrapping_mul(prev ^ (prev >> 30))
                .wrapping_add(i as u32);
        }
        Self { state, pos: N }
    }

    /// The next 624 words, in place: `s[i] = s[i + M] ^ twist(s[i], s[i + 1])`
    /// (indices mod N), written as three runs without the modulo so that the
    /// loops vectorise (a model's millions of initial weights come from here).
    fn generate(&mut self) {
        #[inline(always)]
        fn twist(a: u32, b: u32, c: u32) -> u32 {
            // mutants: `|` -> `^` is equivalent: the two masks share no bit.
            let y = (a & UPPER_MASK) | (b & LOWER_MASK);
            c ^ (y >> 1) ^ ((y & 1).wrapping_neg() & MATRIX_A)
        }
        let s = &mut self.state;
        for i in 0..N - M {
            s[i] = twist(s[i], s[i + 1], s[i + M]);
        }
        for i in N - M..N - 1 {
            s[i] = twist(s[i], s[i + 1], s[i + M - N]);
        }
        s[N - 1] = twist(s[N - 1], s[0], s[M - 1]);
        self.pos = 0;
    }

    /// The next 32-bit draw (numpy's `rk_random`).
    pub fn next_u32(&mut self) -> u32 {
        if self.pos >= N {
            self.generate();
        }
        let y = self.state[self.pos];
        self.pos += 1;
        temper(y)
    }

    /// Fills `out` with the next `out.len()` draws, exactly as that many
    /// calls of [`Mt19937::next_u32`], a run of the state at a time (the
    /// tempering of a run vectorises: dropout's masks come from here).
    pub fn fill_u32(&mut self, out: &mut [u32]) {
        let mut out = out;
        while !out.is_empty() {
            if self.pos >= N {
                self.generate();
            }
            let k = (N - self.pos).min(out.len());
            let (run, rest) = std::mem::take(&mut out).split_at_mut(k);
            for (o, &s) in run.iter_mut().zip(&self.state[self.pos..self.pos + k]) {
                *o = temper(s);
            }
            self.pos += k;
            out = rest;
        }
    }

    /// `keep[i] = random_sample() >= p` for the next `keep.len()` samples
    /// (two draws each, as [`Mt19937::random_sample`]), compared as whole
    /// numbers: `random_sample()` is `k / 2^53` exactly, with
    /// `k = (a >> 5) 2^26 + (b >> 6)`, and `p 2^53` is exact too (a power of
    /// two), so `u >= p` is `k >= ceil(p 2^53)`. The same answers as the
    /// one-by-one loop, 2.5 times as fast (20 million flags: 44 ms against
    /// 109 ms on one core of an AMD EPYC, Zen 4).
    pub fn fill_keep(&mut self, keep: &mut [bool], p: f64) {
        const CHUNK: usize = 512;
        let threshold = (p * 9_007_199_254_740_992.0).ceil();
        let mut words = [0u32; 2 * CHUNK];
        for part in keep.chunks_mut(CHUNK) {
            let words = &mut words[..2 * part.len()];
            self.fill_u32(words);
            for (k, w) in part.iter_mut().zip(words.chunks_exact(2)) {
                // mutants: `|` -> `^` is equivalent: `b >> 6` is under 2^26,
                // below the bits of `a << 26`.
                let draw = (u64::from(w[0] >> 5) << 26) | u64::from(w[1] >> 6);
                *k = draw as f64 >= threshold;
            }
        }
    }

    /// A double uniform in `[0, 1)`, numpy's `random_sample` (53 bits).
    pub fn random_sample(&mut self) -> f64 {
        let a = (self.next_u32() >> 5) as f64;
        let b = (self.next_u32() >> 6) as f64;
        (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
    }

    /// A double uniform in `[low, high)`: `low + (high - low) * random_sample()`.
    pub fn uniform(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.random_sample()
    }

    /// A whole number uniform in `0..=max`, numpy's legacy `random_interval`.
    pub fn interval(&mut self, max: u32) -> u32 {
        if max == 0 {
            return 0;
        }
        let mut mask = max;
        for shift in [1, 2, 4, 8, 16] {
            mask |= mask >> shift;
        }
        loop {
            let v = self.next_u32() & mask;
            if v <= max {
                return v;
            }
        }
    }

    /// Shuffles in place as `np.random.shuffle` does (Fisher-Yates from the end).
    ///
    /// Slices longer than `u32::MAX` are not supported (numpy draws 64-bit there).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.interval(i as u32) as usize;
            items.swap(i, j);
        }
    }

    /// The state as 625 words: the 624 of the twister, then the position.
    pub fn to_words(&self) -> Vec<u32> {
        let mut words = self.state.to_vec();
        words.push(self.pos as u32);
        words
    }

    /// Restores a state saved by [`Mt19937::to_words`]; `None` if malformed.
    pub fn from_words(words: &[u32]) -> Option<Self> {
        if words.len() != N + 1 || words[N] as usize > N {
            return None;
        }
        let mut state = [0u32; N];
        state.copy_from_slice(&words[..N]);
        Some(Self {
            state,
            pos: words[N] as usize,
        })
    }
}
