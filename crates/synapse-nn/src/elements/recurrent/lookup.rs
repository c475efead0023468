//! `embedding(V,D)` followed by `lstm(D,H)`/`gru(D,H)`: the recurrent
//! layer's input product as a lookup (the plan's `Lookup` stage).
//!
//! The input product of every position is `x_n W_ih^T` with `x_n = E[id_n]`,
//! a row of `E W_ih^T` `[V, G H]`. When the vocabulary is small against the
//! batch's positions (a character model: V = 65 against B T = 2,048), that
//! table costs less than the product it replaces, and so do its gradients:
//!
//! ```text
//! P     = W_ih E^T                   [G H, V]    candle's matmul, in the graph
//! A_n   = P[:, id_n]                 [G H]       a gather (for all n: [B T, G H])
//! dP[:, v] = sum_{n: id_n = v} dA_n             a scatter, in the order of n
//! dW_ih = dP E      dE = dP^T W_ih               candle's matmul backward
//! ```
//!
//! Per position that is `2 G H` values moved instead of `6 G H D` flops
//! (the product, `dW_ih` and `dX`); the table and its gradients cost `6 V D
//! G H` flops a step. The recurrent op (`kernel.rs`) takes the ids `[B, T]`
//! as its input and `[P | W_hh]` as its weight: the ids are one-hot rows of
//! width V, so every line of its forward and backward holds with `IN = V`
//! and `X` one-hot, whose products are the gather and the scatter here. The
//! ids get no gradient. The rounding differs from the elements apart (the
//! sums of `dW_ih` are grouped by id), so the two paths agree to rounding,
//! not bits; each gives the same bits on any thread count.
//!
//! Shapes: ids `[B T]` (u32, each below V, checked by the embedding's rule
//! first); `W` `[G H, V + H]`; `dA` `[B T, G H]`.

use candle_core::Result;

use crate::kernel::parallel::for_each_part;
use crate::kernel::storage::Real;

/// Whether the lookup pays: the table's three products (`6 V D G H`) cost
/// at most half of the input products they replace (`6 B T D G H`).
pub(crate) fn pays(vocab: usize, positions: usize) -> bool {
    2 * vocab <= positions
}

/// The input products `[B T, G H]`: row `n` is column `id_n` of `W` `[G
/// H, V + H]`, copied from `P`'s transpose `[V, G H]` (made once, so that
/// each row is one copy), the rows written in parts on the pool straight
/// into the buffer (no zeros first). Every id is checked to be below V.
pub(super) fn gather<T: Real>(
    ids: &[u32],
    w: &[T],
    gh: usize,
    vocab: usize,
    w_cols: usize,
) -> Result<Vec<T>> {
    if let Some(&id) = ids.iter().find(|&&id| id as usize >= vocab) {
        candle_core::bail!("recurrent lookup: id {id} of a vocabulary of {vocab}");
    }
    let mut pt = vec![T::zero(); vocab * gh];
    for (j, row) in w.chunks_exact(w_cols).take(gh).enumerate() {
        for (v, &p) in row[..vocab].iter().enumerate() {
            pt[v * gh + j] = p;
        }
    }
    let n = ids.len() * gh;
    let mut out: Vec<T> = Vec::with_capacity(n);
    // mutants: the work only picks the split: equivalent.
    for_each_part(out.spare_capacity_mut(), gh, n, |rows, part| {
        for (&id, row) in ids[rows].iter().zip(part.chunks_exact_mut(gh)) {
            for (o, &p) in row.iter_mut().zip(&pt[id as usize * gh..][..gh]) {
                o.write(p);
            }
        }
    });
    // SAFETY: the parts cover all `ids.len()` rows of `gh` (`for_each_part`),
    // each element written above.
    unsafe { out.set_len(n) };
    Ok(out)
}

/// Rows `first..` of `dP` `[G H, V]`, written into the first V columns of
/// `rows` (rows of `w_cols`, as many as `rows` holds): `dP[j, v] = sum over
/// n with id_n = v of dA[n, j]`, added in the order of `n` (whatever the
/// block, so the same bits on any thread count). Columns of ids that do
/// not occur are left as they are (zeros).
pub(super) fn scatter<T: Real>(
    rows: &mut [T],
    w_cols: usize,
    (da, gh): (&[T], usize),
    ids: &[u32],
    first: usize,
) {
    let block = rows.len() / w_cols;
    // The sums by id, `[V, block]`, row after row of dA.
    let used = ids.iter().map(|&i| i as usize + 1).max().unwrap_or(0);
    let mut sums = vec![T::zero(); used * block];
    for (&id, row) in ids.iter().zip(da.chunks_exact(gh)) {
        let sum = &mut sums[id as usize * block..][..block];
        for (s, &g) in sum.iter_mut().zip(&row[first..first + block]) {
            *s += g;
        }
    }
    for (jj, out) in rows.chunks_exact_mut(w_cols).enumerate() {
        for (v, o) in out[..used].iter_mut().enumerate() {
            *o = sums[v * block + jj];
        }
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device, Tensor, Var};

    use super::super::{Gates, Recurrent};
    use crate::elements::gru::GruCell;
    use crate::elements::lstm::LstmCell;
    use crate::testing::{grads_of, var};
    use crate::{Activation, Embedding, Linear};

    /// `b` `[B, T]` ids of a vocabulary of `v`, each id used (the last
    /// ones unused when `B T` is short).
    fn ids(b: usize, t: usize, v: u32) -> Tensor {
        let ids: Vec<u32> = (0..(b * t) as u32).map(|i| (7 * i + i / 5) % v).collect();
        Tensor::from_vec(ids, (b, t), &Device::Cpu).unwrap()
    }

    /// The lookup gives the values of the embedding and the recurrent
    /// layer apart (each on its kernel), to rounding: the output and the
    /// gradients of the table and of every parameter, for lstm and gru,
    /// f32 and f64, alone and linked to a dense layer, both backwards.
    /// The two differ in rounding only: `dW_ih`'s sums grouped by id.
    #[test]
    fn the_lookup_gives_the_values_of_the_embedding_and_the_layer_apart() {
        fn check<G: Gates>(dtype: DType, then: bool) {
            let (b, t, v, d, h, out) = (6, 5, 7, 4, 6, 3);
            let (table, layer, vars) = table_and_layer::<G>((v, d, h), dtype);
            let e = Embedding::new(table.clone()).unwrap();
            let w = var(&[out, h], 5.0, dtype);
            let linear = Linear::new(w.clone(), Some(var(&[out], 6.0, dtype))).unwrap();
            let act = Some(&Activation::Tanh);
            let next = then.then_some((&linear, act));
            let mut wrt = vec![table.as_tensor()];
            wrt.extend(vars.iter().map(Var::as_tensor));
            if then {
                wrt.push(w.as_tensor());
            }
            let ids = ids(b, t, v as u32);
            assert!(super::pays(v, b * t));
            let tol = if dtype == DType::F64 { 1e-12 } else { 1e-5 };
            for synapse_backward in [false, true] {
                let calls = crate::kernel::kernel_calls_of("recurrent-lookup");
                let fed = layer.forward_looked_up(&ids, &e, next).unwrap();
                assert_eq!(
                    crate::kernel::kernel_calls_of("recurrent-lookup"),
                    calls + 1
                );
                let apart = layer.forward_then(&e.forward(&ids).unwrap(), next).unwrap();
                let context = format!("{:?} {dtype:?} then {then}", G::KIND);
                let (a, b) = (crate::testing::flat(&fed), crate::testing::flat(&apart));
                close(&a, &b, tol, &format!("{context}: y"));
                let (ga, gb) = (
                    grads_of(&fed, &wrt, synapse_backward),
                    grads_of(&apart, &wrt, synapse_backward),
                );
                for (k, (x, y)) in ga.iter().zip(&gb).enumerate() {
                    close(x, y, tol, &format!("{context}: gradient {k}"));
                }
            }
        }
        for dtype in [DType::F32, DType::F64] {
            for then in [false, true] {
                check::<LstmCell>(dtype, then);
                check::<GruCell>(dtype, then);
            }
        }
    }

    /// A table `[v, d]` and a layer of kind `G` from `d` to `h`, with the
    /// layer's four parameters.
    fn table_and_layer<G: Gates>(
        (v, d, h): (usize, usize, usize),
        dtype: DType,
    ) -> (Var, Recurrent<G>, [Var; 4]) {
        let g = <G as Gates>::GATES;
        let vars = [
            var(&[g * h, d], 1.0, dtype),
            var(&[g * h, h], 2.0, dtype),
            var(&[g * h], 3.0, dtype),
            var(&[g * h], 4.0, dtype),
        ];
        let [a, b, c, e] = vars.clone();
        let layer = Recurrent::<G>::new(a, b, c, e).unwrap();
        (var(&[v, d], 0.1, dtype), layer, vars)
    }

    /// Each value within `tol` of the other's size (at least 1).
    fn close(a: &[f64], b: &[f64], tol: f64, context: &str) {
        assert_eq!(a.len(), b.len(), "{context}");
        let worst = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs() / y.abs().max(1.0))
            .fold(0.0, f64::max);
        assert!(worst <= tol, "{context}: off by {worst:e}");
        assert!(a.iter().any(|x| *x != 0.0), "{context}: all zeros");
    }

    /// The lookup's bits are the same on one thread and on two (its sums
    /// by id run in the order of the rows in every block of `dW`'s rows).
    #[test]
    fn the_lookup_gives_the_same_bits_on_any_thread_count() {
        let (b, t, v, d, h) = (40, 6, 9, 8, 32);
        let (table, layer, vars) = table_and_layer::<LstmCell>((v, d, h), DType::F32);
        let e = Embedding::new(table.clone()).unwrap();
        let mut wrt = vec![table.as_tensor()];
        wrt.extend(vars.iter().map(Var::as_tensor));
        let ids = ids(b, t, v as u32);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let y = layer.forward_looked_up(&ids, &e, None).unwrap();
                let mut all = vec![crate::testing::flat(&y)];
                all.extend(grads_of(&y, &wrt, true));
                all
            })
        };
        assert_eq!(run(1), run(2));
    }
}
