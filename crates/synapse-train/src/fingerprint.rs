//! A 64-bit fingerprint of content (data, settings): the same bytes give the
//! same number on every machine and run, different bytes almost surely a
//! different one. Not for security: it only has to tell a changed file or a
//! rank with other flags from the original, cheaply.
//!
//! Words of 8 bytes (little-endian; the tail zero-padded, its length mixed
//! in) are folded in with a multiply and a rotation, and the result goes
//! through splitmix64's finaliser:
//! ```text
//! h = rotl((h ^ w) * K, 29)        K = 0x9e3779b97f4a7c15
//! ```
//! A 100 MB dataset takes tens of milliseconds; it is computed only where it
//! is compared (a checkpoint, a resume, distributed ranks).
//!
//! ```
//! use synapse_train::Fingerprint;
//! let mut a = Fingerprint::new();
//! a.bytes(b"0,0,1");
//! let mut b = Fingerprint::new();
//! b.bytes(b"0,0,2");
//! assert_ne!(a.finish(), b.finish());
//! assert_eq!(a.finish(), { let mut c = Fingerprint::new(); c.bytes(b"0,0,1"); c.finish() });
//! ```

use candle_core::{CpuStorage, Device, Tensor};

use crate::Result;

const K: u64 = 0x9e37_79b9_7f4a_7c15;

/// A running fingerprint (see the module doc).
#[derive(Debug, Clone, Copy)]
pub struct Fingerprint(u64);

impl Default for Fingerprint {
    fn default() -> Self {
        Self::new()
    }
}

impl Fingerprint {
    /// An empty fingerprint.
    pub fn new() -> Self {
        Self(0x243f_6a88_85a3_08d3)
    }

    fn word(&mut self, w: u64) {
        self.0 = ((self.0 ^ w).wrapping_mul(K)).rotate_left(29);
    }

    /// Folds in `bytes` and their length (so `"ab" + "c"` differs from `"a" + "bc"`).
    pub fn bytes(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.word(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let mut tail = [0u8; 8];
        tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
        self.word(u64::from_le_bytes(tail));
        self.word(bytes.len() as u64);
    }

    /// Folds in a tensor: its dtype, dims and values (in row-major order).
    pub fn tensor(&mut self, t: &Tensor) -> Result<()> {
        self.bytes(t.dtype().as_str().as_bytes());
        for &d in t.dims() {
            self.word(d as u64);
        }
        let t = t.to_device(&Device::Cpu)?.contiguous()?;
        let (storage, layout) = t.storage_and_layout();
        let candle_core::Storage::Cpu(cpu) = &*storage else {
            return Err(candle_core::Error::Msg("fingerprint of a non-CPU tensor".into()).into());
        };
        let (start, end) = layout
            .contiguous_offsets()
            .ok_or_else(|| candle_core::Error::Msg("fingerprint: not contiguous".into()))?;
        match cpu {
            CpuStorage::F32(v) => self.halves(v[start..end].iter().map(|x| x.to_bits())),
            CpuStorage::U32(v) => self.halves(v[start..end].iter().copied()),
            CpuStorage::F64(v) => v[start..end].iter().for_each(|x| self.word(x.to_bits())),
            CpuStorage::I64(v) => v[start..end].iter().for_each(|&x| self.word(x as u64)),
            CpuStorage::U8(v) => self.bytes(&v[start..end]),
            _ => {
                let v = t.flatten_all()?.to_dtype(candle_core::DType::F64)?;
                return self.tensor(&v);
            }
        }
        self.word((end - start) as u64);
        Ok(())
    }

    /// Folds in 32-bit values two to a word.
    fn halves(&mut self, mut values: impl Iterator<Item = u32>) {
        while let Some(a) = values.next() {
            let b = values.next().unwrap_or(0);
            // mutants: `^` for `|` is equivalent: the two halves' bits
            // never overlap.
            self.word(u64::from(a) | (u64::from(b) << 32));
        }
    }

    /// The fingerprint so far.
    pub fn finish(&self) -> u64 {
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::{Fingerprint, K};

    /// `finish` is splitmix64's finaliser: applied to `K` and `2 K` it gives
    /// splitmix64's first two outputs from seed 0 (Vigna's reference
    /// `splitmix64.c`), 0xe220a8397b1dcdaf and 0x6e789e6aa1b965f4.
    #[test]
    fn finish_is_the_splitmix64_finaliser() {
        assert_eq!(Fingerprint(K).finish(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(
            Fingerprint(K.wrapping_mul(2)).finish(),
            0x6e78_9e6a_a1b9_65f4
        );
    }

    /// The fold of the module doc, written out in Python (integers mod
    /// 2^64) for the bytes `0,0,1`: the word `b"0,0,1\0\0\0"` (little-endian),
    /// then the length 5, then the finaliser:
    /// ```text
    /// rotl = lambda x, r: ((x << r) | (x >> (64 - r))) & M
    /// word = lambda h, w: rotl(((h ^ w) * K) & M, 29)
    /// h = word(word(0x243f6a8885a308d3, unpack('<Q', b'0,0,1\0\0\0')[0]), 5)
    /// ```
    /// f32 values fold two to a word: every value counts, an odd last one
    /// paired with 0 (so [1, 2, 3] differs from [1, 2], and from [1, 2, 4]).
    #[test]
    fn every_f32_value_counts() {
        let print = |v: &[f32]| {
            let mut f = Fingerprint::new();
            f.tensor(&candle_core::Tensor::new(v, &candle_core::Device::Cpu).unwrap())
                .unwrap();
            f.finish()
        };
        let base = print(&[1.0, 2.0, 3.0]);
        assert_eq!(base, print(&[1.0, 2.0, 3.0]));
        for other in [&[1.0, 2.0, 4.0][..], &[0.0, 2.0, 3.0], &[1.0, 2.5, 3.0]] {
            assert_ne!(base, print(other), "{other:?}");
        }
        // By hand: the dtype's name, the size 3, then (1, 2) and (3, 0) as
        // words, then the element count.
        let mut f = Fingerprint::new();
        f.bytes(b"f32");
        f.word(3);
        f.word(u64::from(1f32.to_bits()) | (u64::from(2f32.to_bits()) << 32));
        f.word(u64::from(3f32.to_bits()));
        f.word(3);
        assert_eq!(base, f.finish());
    }

    #[test]
    fn bytes_fold_as_the_module_doc_says() {
        let mut f = Fingerprint::new();
        f.bytes(b"0,0,1");
        assert_eq!(f.finish(), 0x7371_fae5_f01e_1605);
    }

    /// i64 values (ids) fold one to a word, as they are: the same print as
    /// their words written out, then the count.
    #[test]
    fn i64_values_fold_one_to_a_word() {
        let mut by_tensor = Fingerprint::new();
        by_tensor
            .tensor(
                &candle_core::Tensor::new(&[3i64, -1, 1 << 60], &candle_core::Device::Cpu).unwrap(),
            )
            .unwrap();
        // The dtype's name and the dims first, as every tensor.
        let mut by_hand = Fingerprint::new();
        by_hand.bytes(b"i64");
        for w in [3u64, 3, u64::MAX, 1 << 60, 3] {
            by_hand.word(w);
        }
        assert_eq!(by_tensor.finish(), by_hand.finish());
    }

    /// u32 values (class targets) fold two to a word, as f32 bits do: the
    /// same print as their words written out, then the count.
    #[test]
    fn u32_values_fold_two_to_a_word() {
        let mut by_tensor = Fingerprint::new();
        by_tensor
            .tensor(
                &candle_core::Tensor::new(&[7u32, 9, u32::MAX], &candle_core::Device::Cpu).unwrap(),
            )
            .unwrap();
        let mut by_hand = Fingerprint::new();
        by_hand.bytes(b"u32");
        for w in [3u64, 7 | (9 << 32), u64::from(u32::MAX), 3] {
            by_hand.word(w);
        }
        assert_eq!(by_tensor.finish(), by_hand.finish());
    }
}
