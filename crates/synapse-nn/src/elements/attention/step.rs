//! One new query against the key-value cache: decoding's attention, one
//! token at a time ([`super::Attention`]'s `step` on the kernel path).
//!
//! ```text
//! s[h, j] = q[h] . K[h, j] / sqrt(D/H)          j < keys
//! o[h]    = sum_j softmax_j(s[h, .]) V[h, j]
//! q [1, heads, 1, D/H]; K, V [1, heads, capacity, D/H] (the first `keys` rows filled); o [1, D]
//! ```
//!
//! The cache is read where it lies: no transposed or narrowed copy of it
//! per token (the plain ops' `k.t().contiguous()` and `v.narrow(..)
//! .contiguous()` copied all of it, every token, in every layer). Each
//! head's scores are summed in `D/H` order, its softmax shifted by its
//! largest score, and its output summed over the keys in order.

use candle_core::{CpuStorage, Layout, Storage, Tensor};

use crate::kernel::storage::{contiguous, Real};
use crate::Result;

/// `o` `[1, D]` of one query over the first `keys` positions of the cache;
/// `None` where the kernel does not run (not on the CPU, not f32 or f64).
pub(super) fn attend_one(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    keys: usize,
) -> Result<Option<Tensor>> {
    let (qs, ql) = q.storage_and_layout();
    let (ks, kl) = k.storage_and_layout();
    let (vs, vl) = v.storage_and_layout();
    let (Storage::Cpu(qs), Storage::Cpu(ks), Storage::Cpu(vs)) = (&*qs, &*ks, &*vs) else {
        return Ok(None);
    };
    let parts = [(qs, ql), (ks, kl), (vs, vl)];
    Ok(Some(match qs {
        CpuStorage::F32(_) => run::<f32>(parts, keys)?,
        CpuStorage::F64(_) => run::<f64>(parts, keys)?,
        _ => return Ok(None),
    }))
}

fn run<T: Real>(parts: [(&CpuStorage, &Layout); 3], keys: usize) -> candle_core::Result<Tensor> {
    let [(qs, ql), (ks, kl), (vs, vl)] = parts;
    let (&[1, heads, 1, dh], &[1, kh, capacity, kd]) = (ql.dims(), kl.dims()) else {
        candle_core::bail!("attention step: q {:?}, K {:?}", ql.dims(), kl.dims());
    };
    // An internal invariant (the step hands over the cache it made), checked
    // so that a broken caller fails here and not out of bounds (mutants:
    // no input reaches it; equivalent).
    if kh != heads || kd != dh || vl.dims() != kl.dims() || keys == 0 || keys > capacity {
        candle_core::bail!(
            "attention step: q {:?}, K {:?}, V {:?}, {keys} keys",
            ql.dims(),
            kl.dims(),
            vl.dims()
        );
    }
    crate::kernel::count_call("attention-step");
    let q = contiguous::<T>(qs, ql, "attention step q")?;
    let k = contiguous::<T>(ks, kl, "attention step K")?;
    let v = contiguous::<T>(vs, vl, "attention step V")?;
    let scale = T::from_f64(1.0 / (dh as f64).sqrt());
    let mut o = vec![T::zero(); heads * dh];
    let mut s = vec![T::zero(); keys];
    for h in 0..heads {
        let qh = &q[h * dh..(h + 1) * dh];
        let rows = h * capacity * dh..(h * capacity + keys) * dh;
        for (sj, kj) in s.iter_mut().zip(k[rows.clone()].chunks_exact(dh)) {
            let dot = qh.iter().zip(kj).fold(T::zero(), |a, (&x, &y)| a + x * y);
            *sj = dot * scale;
        }
        let max = s.iter().copied().fold(T::neg_infinity(), T::max);
        let sum = T::exp_shifted(&mut s, max);
        let oh = &mut o[h * dh..(h + 1) * dh];
        for (&e, vj) in s.iter().zip(v[rows].chunks_exact(dh)) {
            let p = e / sum;
            oh.iter_mut().zip(vj).for_each(|(o, &x)| *o += p * x);
        }
    }
    T::cpu_tensor(o, (1, heads * dh).into())
}
