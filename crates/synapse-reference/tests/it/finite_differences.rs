//! Every element's hand-written backward against central finite differences,
//! in f64: the input gradient and every parameter gradient of
//! `L = sum(forward(x) * r)` for a fixed random `r`, so `dL/dy = r`.
//! Step `H = 1e-5`; agreement within `TOL` relative to `max(1, |g|)`.
//! Integer inputs (embedding ids) have no gradient: there only the parameters
//! are checked, and `dx` must be zero.

use crate::common::{assert_close, Lcg};
use synapse_reference::{
    Array, RefActivation, RefAttention, RefAvgPool2d, RefBatchNorm, RefConv2d, RefDense,
    RefDropout, RefElement, RefEmbedding, RefGru, RefLayerNorm, RefLoss, RefLstm, RefMaxPool2d,
    RefMode, RefPositional, RefReshape, RefResidual, RefRmsNorm, RefSeqReduce, RefStack,
};

const H: f64 = 1e-5;
const TOL: f64 = 1e-8;

/// `sum(stack(x) * r)`.
fn objective(stack: &RefStack, x: &Array, r: &Array, mode: RefMode) -> f64 {
    stack.forward(x, mode).zip(r, |y, r| y * r).sum()
}

/// Central difference of `f` at `v[i]`.
fn central(v: &mut Array, i: usize, mut f: impl FnMut(&Array) -> f64) -> f64 {
    let keep = v.data[i];
    v.data[i] = keep + H;
    let up = f(v);
    v.data[i] = keep - H;
    let down = f(v);
    v.data[i] = keep;
    (up - down) / (2.0 * H)
}

/// Checks `dx` and every parameter gradient of `stack` at `x` in `mode`.
fn check(stack: &RefStack, x: &Array, mode: RefMode, seed: u64, what: &str) {
    check_with(stack, x, Input::Values, mode, seed, what);
}

/// Whether the input has a gradient to check.
#[derive(Clone, Copy, PartialEq)]
enum Input {
    /// Real values: `dx` against finite differences.
    Values,
    /// Embedding ids: `dx` must be zero.
    Ids,
}

/// Checks `dx` (per `input`) and every parameter gradient of `sum(stack(x) * r)`.
fn check_with(stack: &RefStack, x: &Array, input: Input, mode: RefMode, seed: u64, what: &str) {
    let out = stack.forward(x, mode);
    let r = Lcg::new(seed).array(&out.shape, -1.0, 1.0);
    let (dx, grads) = stack.backward(x, &r, mode);
    check_grads(stack, x, input, (dx, grads), what, |s, xp| {
        objective(s, xp, &r, mode)
    });
}

/// Checks `(dx, named gradients)` against central differences of `f(stack, x)`.
fn check_grads(
    stack: &RefStack,
    x: &Array,
    input: Input,
    (dx, grads): (Array, Vec<(String, Array)>),
    what: &str,
    f: impl Fn(&RefStack, &Array) -> f64,
) {
    assert_eq!(dx.shape, x.shape, "{what}: dx shape");
    if input == Input::Values {
        let mut xv = x.clone();
        let numeric: Vec<f64> = (0..x.numel())
            .map(|i| central(&mut xv, i, |xp| f(stack, xp)))
            .collect();
        assert_close(&dx.data, &numeric, TOL, &format!("{what} dx"));
    } else {
        assert!(
            dx.data.iter().all(|&v| v == 0.0),
            "{what}: ids get no gradient"
        );
    }
    let names: Vec<String> = stack.parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        grads.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(),
        "{what}: gradient names"
    );
    for (k, (name, g)) in grads.iter().enumerate() {
        let mut s = stack.clone();
        let mut p = s.parameters_mut()[k].1.clone();
        assert_eq!(g.shape, p.shape, "{what} {name}: shape");
        let numeric: Vec<f64> = (0..p.numel())
            .map(|i| {
                central(&mut p, i, |pp| {
                    *s.parameters_mut()[k].1 = pp.clone();
                    f(&s, x)
                })
            })
            .collect();
        assert_close(&g.data, &numeric, TOL, &format!("{what} {name}"));
    }
}

/// Checks `dx` (per `input`) and every parameter gradient of `loss(stack(x), t)`.
fn check_loss(stack: &RefStack, x: &Array, t: &Array, input: Input, mode: RefMode, what: &str) {
    let loss = RefLoss::CrossEntropy;
    let out = stack.forward(x, mode);
    let (dx, grads) = stack.backward(x, &loss.backward(&out, t), mode);
    assert_eq!(
        grads,
        stack.gradients(x, t, loss, mode),
        "{what}: gradients()"
    );
    check_grads(stack, x, input, (dx, grads), what, |s, xp| {
        loss.forward(&s.forward(xp, mode), t)
    });
}

fn one(e: RefElement) -> RefStack {
    RefStack::new(vec![e])
}

// kinds: conv2d
#[test]
fn conv2d() {
    let mut rng = Lcg::new(1);
    let x = rng.array(&[2, 3, 5, 6], -1.0, 1.0);
    for (stride, padding, bias) in [(1, 0, true), (2, 1, true), (2, 0, false), (3, 2, true)] {
        let w = rng.array(&[4, 3, 3, 3], -0.5, 0.5);
        let b = bias.then(|| rng.array(&[4], -0.5, 0.5));
        let conv = RefConv2d::new(w, b, stride, padding);
        let what = format!("conv2d stride {stride} padding {padding} bias {bias}");
        check(&one(RefElement::Conv2d(conv)), &x, RefMode::Train, 2, &what);
    }
}

// kinds: maxpool2d avgpool2d
#[test]
fn pools() {
    // distinct random values: no ties within H of each other in practice
    let x = Lcg::new(3).array(&[2, 2, 7, 6], -2.0, 2.0);
    for (k, stride) in [(2, 2), (2, 1), (3, 2), (3, 1), (4, 3)] {
        let max = RefElement::MaxPool2d(RefMaxPool2d { k, stride });
        check(
            &one(max),
            &x,
            RefMode::Train,
            4,
            &format!("maxpool k {k} s {stride}"),
        );
        let avg = RefElement::AvgPool2d(RefAvgPool2d { k, stride });
        check(
            &one(avg),
            &x,
            RefMode::Train,
            5,
            &format!("avgpool k {k} s {stride}"),
        );
    }
}

fn batchnorm(c: usize, rng: &mut Lcg) -> RefBatchNorm {
    let mut bn = RefBatchNorm::new(c);
    bn.weight = rng.array(&[c], 0.5, 1.5);
    bn.bias = rng.array(&[c], -0.5, 0.5);
    bn.running_mean = rng.array(&[c], -0.5, 0.5);
    bn.running_var = rng.array(&[c], 0.5, 2.0);
    bn
}

// kinds: batchnorm batchnorm2d
#[test]
fn batchnorm_both_ranks_both_modes() {
    let mut rng = Lcg::new(6);
    let bn = batchnorm(3, &mut rng);
    let x2 = rng.array(&[5, 3], -2.0, 2.0);
    let x4 = rng.array(&[2, 3, 3, 2], -2.0, 2.0);
    // one row per channel per batch sample, but M = H*W > 1 per channel: allowed
    let x4_one = rng.array(&[1, 3, 2, 2], -2.0, 2.0);
    for mode in [RefMode::Train, RefMode::Eval] {
        let s = one(RefElement::BatchNorm(bn.clone()));
        check(&s, &x2, mode, 7, &format!("batchnorm1d {mode:?}"));
        check(&s, &x4, mode, 8, &format!("batchnorm2d {mode:?}"));
        check(&s, &x4_one, mode, 9, &format!("batchnorm2d N=1 {mode:?}"));
    }
}

#[test]
#[should_panic(expected = "more than 1 value per channel")]
fn batchnorm_refuses_one_value_per_channel_in_training() {
    let bn = RefBatchNorm::new(2);
    bn.forward(&Array::new(vec![1, 2], vec![1.0, 2.0]), RefMode::Train);
}

// kinds: layernorm
#[test]
fn layernorm() {
    let mut rng = Lcg::new(10);
    let mut ln = RefLayerNorm::new(5);
    ln.weight = rng.array(&[5], 0.5, 1.5);
    ln.bias = rng.array(&[5], -0.5, 0.5);
    let s = one(RefElement::LayerNorm(ln));
    check(
        &s,
        &rng.array(&[4, 5], -2.0, 2.0),
        RefMode::Train,
        11,
        "layernorm [4,5]",
    );
    check(
        &s,
        &rng.array(&[2, 3, 5], -2.0, 2.0),
        RefMode::Eval,
        12,
        "layernorm [2,3,5]",
    );
}

// kinds: rmsnorm
#[test]
fn rmsnorm() {
    let mut rng = Lcg::new(40);
    let mut norm = RefRmsNorm::new(5);
    norm.weight = rng.array(&[5], 0.5, 1.5);
    let s = one(RefElement::RmsNorm(norm.clone()));
    check(
        &s,
        &rng.array(&[4, 5], -2.0, 2.0),
        RefMode::Train,
        41,
        "rmsnorm [4,5]",
    );
    norm.eps = 0.25;
    check(
        &one(RefElement::RmsNorm(norm)),
        &rng.array(&[2, 3, 5], -2.0, 2.0),
        RefMode::Eval,
        42,
        "rmsnorm [2,3,5] eps 0.25",
    );
}

// kinds: dropout
#[test]
fn dropout() {
    let mut rng = Lcg::new(13);
    let x = rng.array(&[4, 6], -2.0, 2.0);
    let mask = rng.array(&[4, 6], 0.0, 1.0).map(|u| f64::from(u >= 0.3));
    let d = RefDropout {
        p: 0.3,
        mask: Some(mask),
    };
    let s = one(RefElement::Dropout(d));
    check(&s, &x, RefMode::Train, 14, "dropout train");
    check(&s, &x, RefMode::Eval, 15, "dropout eval");
    // a sequence batch [batch, T, D]: the mask has its shape
    let x3 = rng.array(&[2, 3, 4], -2.0, 2.0);
    let mask = rng.array(&[2, 3, 4], 0.0, 1.0).map(|u| f64::from(u >= 0.5));
    let d = RefDropout {
        p: 0.5,
        mask: Some(mask),
    };
    check(
        &one(RefElement::Dropout(d)),
        &x3,
        RefMode::Train,
        14,
        "dropout [2,3,4]",
    );
}

// kinds: reshape flatten linear sigmoid tanh relu identity leaky_relu gelu softmax
#[test]
fn reshape_flatten_dense_and_activations() {
    let mut rng = Lcg::new(16);
    let x = rng.array(&[3, 12], -2.0, 2.0);
    let reshape = RefElement::Reshape(RefReshape::Unflatten(vec![3, 2, 2]));
    check(&one(reshape), &x, RefMode::Train, 17, "reshape");
    let x4 = rng.array(&[2, 3, 2, 2], -2.0, 2.0);
    check(
        &one(RefElement::Reshape(RefReshape::Flatten)),
        &x4,
        RefMode::Train,
        18,
        "flatten",
    );
    let dense = RefDense::new(
        rng.array(&[4, 2], -1.0, 1.0),
        Some(rng.array(&[4], -1.0, 1.0)),
    );
    check(
        &one(RefElement::Dense(dense)),
        &x4,
        RefMode::Train,
        19,
        "dense on [2,3,2,2]",
    );
    for a in [
        RefActivation::Sigmoid,
        RefActivation::Tanh,
        RefActivation::Relu,
        RefActivation::Identity,
        RefActivation::LeakyRelu(0.01),
        RefActivation::LeakyRelu(0.3),
        RefActivation::Gelu,
        RefActivation::GeluTanh,
        RefActivation::Softmax,
    ] {
        check(
            &one(RefElement::Activation(a)),
            &x4,
            RefMode::Train,
            20,
            &format!("{a:?}"),
        );
    }
}

#[test]
fn losses() {
    let mut rng = Lcg::new(21);
    let probs = rng.array(&[4, 3], 0.05, 0.95);
    let logits = rng.array(&[4, 3], -3.0, 3.0);
    let targets01 = rng.array(&[4, 3], 0.0, 1.0);
    let classes = Array::new(vec![4], vec![2.0, 0.0, 1.0, 2.0]);
    let cases = [
        (RefLoss::Sse, &logits, &targets01),
        (RefLoss::Mse, &logits, &targets01),
        (RefLoss::Bce, &probs, &targets01),
        (RefLoss::BceLogits, &logits, &targets01),
        (RefLoss::CrossEntropy, &logits, &classes),
    ];
    for (loss, out, target) in cases {
        let g = loss.backward(out, target);
        let mut o = out.clone();
        let numeric: Vec<f64> = (0..o.numel())
            .map(|i| central(&mut o, i, |op| loss.forward(op, target)))
            .collect();
        assert_close(&g.data, &numeric, TOL, &format!("{loss:?}"));
    }
}

/// A small CNN with every kind, through `gradients` and a loss.
fn cnn(rng: &mut Lcg) -> RefStack {
    let conv = RefConv2d::new(
        rng.array(&[3, 1, 3, 3], -0.5, 0.5),
        Some(rng.array(&[3], -0.1, 0.1)),
        1,
        1,
    );
    let mut ln = RefLayerNorm::new(5);
    ln.weight = rng.array(&[5], 0.5, 1.5);
    ln.bias = rng.array(&[5], -0.5, 0.5);
    RefStack::new(vec![
        RefElement::Reshape(RefReshape::Unflatten(vec![1, 6, 6])),
        RefElement::Conv2d(conv),
        RefElement::BatchNorm(batchnorm(3, rng)),
        RefElement::Activation(RefActivation::LeakyRelu(0.1)),
        RefElement::MaxPool2d(RefMaxPool2d { k: 2, stride: 2 }),
        RefElement::AvgPool2d(RefAvgPool2d { k: 2, stride: 1 }),
        RefElement::Reshape(RefReshape::Flatten),
        RefElement::Dense(RefDense::new(
            rng.array(&[5, 12], -0.5, 0.5),
            Some(rng.array(&[5], -0.1, 0.1)),
        )),
        RefElement::LayerNorm(ln),
        RefElement::Dropout(RefDropout {
            p: 0.25,
            mask: Some(Array::new(
                vec![4, 5],
                (0..20).map(|i| f64::from(i % 3 != 1)).collect(),
            )),
        }),
        RefElement::Activation(RefActivation::Tanh),
        RefElement::Dense(RefDense::new(rng.array(&[3, 5], -0.5, 0.5), None)),
    ])
}

#[test]
fn a_whole_cnn_through_the_loss() {
    let mut rng = Lcg::new(22);
    let stack = cnn(&mut rng);
    let x = rng.array(&[4, 36], -1.0, 1.0);
    let t = Array::new(vec![4, 1], vec![0.0, 2.0, 1.0, 1.0]);
    for mode in [RefMode::Train, RefMode::Eval] {
        check(&stack, &x, mode, 23, &format!("cnn {mode:?}"));
        let grads = stack.gradients(&x, &t, RefLoss::CrossEntropy, mode);
        let names: Vec<&str> = grads.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "1.weight",
                "1.bias",
                "2.weight",
                "2.bias",
                "7.weight",
                "7.bias",
                "8.weight",
                "8.bias",
                "11.weight"
            ]
        );
        for (k, (name, g)) in grads.iter().enumerate() {
            let mut s = stack.clone();
            let mut p = s.parameters_mut()[k].1.clone();
            let numeric: Vec<f64> = (0..p.numel())
                .map(|i| {
                    central(&mut p, i, |pp| {
                        *s.parameters_mut()[k].1 = pp.clone();
                        RefLoss::CrossEntropy.forward(&s.forward(&x, mode), &t)
                    })
                })
                .collect();
            assert_close(&g.data, &numeric, TOL, &format!("cnn loss {mode:?} {name}"));
        }
    }
}

#[test]
fn sgd_step_moves_parameters_and_buffers() {
    let mut rng = Lcg::new(24);
    let mut stack = cnn(&mut rng);
    let x = rng.array(&[4, 36], -1.0, 1.0);
    let t = Array::new(vec![4, 1], vec![0.0, 2.0, 1.0, 1.0]);
    let before = stack.clone();
    let grads = stack.gradients(&x, &t, RefLoss::CrossEntropy, RefMode::Train);
    let loss = stack.sgd_step(&x, &t, RefLoss::CrossEntropy, 0.1, RefMode::Train);
    assert_eq!(
        loss,
        RefLoss::CrossEntropy.forward(&before.forward(&x, RefMode::Train), &t)
    );
    for (((name, p0), (_, p1)), (_, g)) in before
        .parameters()
        .iter()
        .zip(stack.parameters())
        .zip(&grads)
    {
        let want = p0.zip(g, |p, d| p - 0.1 * d);
        assert_eq!(p1, want, "{name}");
    }
    // the buffers advanced exactly as one training forward of the same batch
    let mut forwarded = before.clone();
    forwarded.forward_train(&x);
    assert_eq!(stack.buffers(), forwarded.buffers());
    assert_ne!(stack.buffers(), before.buffers());
    let names: Vec<String> = stack.state_dict().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names[..5],
        ["1.weight", "1.bias", "2.weight", "2.bias", "2.running_mean"].map(String::from)
    );
    assert_eq!(
        names[5..7],
        ["2.running_var", "2.num_batches_tracked"].map(String::from)
    );
    // in evaluation the buffers stay
    let mut eval = before.clone();
    eval.sgd_step(&x, &t, RefLoss::CrossEntropy, 0.1, RefMode::Eval);
    assert_eq!(eval.buffers(), before.buffers());
}

/// Ids `[b, t]` in `0..v`, every id once at least when `b * t >= v`.
fn ids(b: usize, t: usize, v: usize) -> Array {
    Array::from_fn(vec![b, t], |i| ((i * 3) % v) as f64)
}

// kinds: embedding positional
#[test]
fn embedding_and_positional() {
    let mut rng = Lcg::new(25);
    let emb = RefEmbedding::new(rng.array(&[5, 3], -1.0, 1.0));
    let s = one(RefElement::Embedding(emb));
    // ids 0, 3, 1, 4, 2, 0, 3, 1: some rows picked twice
    check_with(
        &s,
        &ids(2, 4, 5),
        Input::Ids,
        RefMode::Train,
        26,
        "embedding",
    );
    let pos = RefElement::Positional(RefPositional::new(rng.array(&[4, 3], -1.0, 1.0)));
    for t in [3, 4] {
        let x = rng.array(&[2, t, 3], -1.0, 1.0);
        check(
            &one(pos.clone()),
            &x,
            RefMode::Train,
            27,
            &format!("positional t = {t}"),
        );
    }
}

fn lstm(input: usize, h: usize, rng: &mut Lcg) -> RefLstm {
    RefLstm::new(
        rng.array(&[4 * h, input], -0.6, 0.6),
        rng.array(&[4 * h, h], -0.6, 0.6),
        rng.array(&[4 * h], -0.5, 0.5),
        rng.array(&[4 * h], -0.5, 0.5),
    )
}

fn gru(input: usize, h: usize, rng: &mut Lcg) -> RefGru {
    RefGru::new(
        rng.array(&[3 * h, input], -0.6, 0.6),
        rng.array(&[3 * h, h], -0.6, 0.6),
        rng.array(&[3 * h], -0.5, 0.5),
        rng.array(&[3 * h], -0.5, 0.5),
    )
}

// kinds: lstm gru
#[test]
fn lstm_and_gru_through_time() {
    let mut rng = Lcg::new(28);
    let x = rng.array(&[2, 4, 5], -1.0, 1.0);
    let s = one(RefElement::Lstm(lstm(5, 3, &mut rng)));
    check(&s, &x, RefMode::Train, 29, "lstm");
    let names: Vec<String> = s.parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "0.weight_ih_l0",
            "0.weight_hh_l0",
            "0.bias_ih_l0",
            "0.bias_hh_l0"
        ]
    );
    check(
        &one(RefElement::Gru(gru(5, 3, &mut rng))),
        &x,
        RefMode::Train,
        30,
        "gru",
    );
}

fn attention(d: usize, heads: usize, causal: bool, rng: &mut Lcg) -> RefAttention {
    RefAttention::new(
        rng.array(&[3 * d, d], -0.7, 0.7),
        rng.array(&[3 * d], -0.3, 0.3),
        rng.array(&[d, d], -0.7, 0.7),
        rng.array(&[d], -0.3, 0.3),
        heads,
        causal,
    )
}

// kinds: attention
#[test]
fn attention_one_two_three_heads_causal_or_not() {
    let mut rng = Lcg::new(31);
    let x = rng.array(&[2, 4, 6], -1.0, 1.0);
    for heads in [1, 2, 3] {
        for causal in [false, true] {
            let s = one(RefElement::Attention(attention(6, heads, causal, &mut rng)));
            check(
                &s,
                &x,
                RefMode::Train,
                32,
                &format!("attention heads {heads} causal {causal}"),
            );
        }
    }
}

// kinds: last seqmean
#[test]
fn last_and_seqmean() {
    let x = Lcg::new(33).array(&[2, 3, 4], -1.0, 1.0);
    for r in [RefSeqReduce::Last, RefSeqReduce::Mean] {
        check(
            &one(RefElement::SeqReduce(r)),
            &x,
            RefMode::Train,
            34,
            &format!("{r:?}"),
        );
    }
}

#[test]
fn cross_entropy_per_position_with_ignored_targets() {
    let logits = Lcg::new(35).array(&[2, 3, 4], -3.0, 3.0);
    let loss = RefLoss::CrossEntropy;
    let some = Array::new(vec![2, 3], vec![1.0, -100.0, 3.0, 0.0, 2.0, -100.0]);
    let rows = Array::new(vec![2, 1], vec![-100.0, 2.0]);
    let logits2 = Lcg::new(36).array(&[2, 4], -3.0, 3.0);
    for (out, t, what) in [(&logits, &some, "[2,3,4]"), (&logits2, &rows, "[2,4]")] {
        let g = loss.backward(out, t);
        let mut o = out.clone();
        let numeric: Vec<f64> = (0..o.numel())
            .map(|i| central(&mut o, i, |op| loss.forward(op, t)))
            .collect();
        assert_close(&g.data, &numeric, TOL, &format!("cross-entropy {what}"));
        // the ignored rows get nothing
        for (row, &k) in g.data.chunks(4).zip(&t.data) {
            assert_eq!(row.iter().all(|&v| v == 0.0), k == -100.0, "{what}");
        }
    }
    // every target ignored: loss 0, no gradient
    let none = Array::new(vec![2, 3], vec![-100.0; 6]);
    assert_eq!(loss.forward(&logits, &none), 0.0);
    assert_eq!(loss.backward(&logits, &none), Array::zeros(vec![2, 3, 4]));
}

fn layernorm_rand(d: usize, rng: &mut Lcg) -> RefLayerNorm {
    let mut ln = RefLayerNorm::new(d);
    ln.weight = rng.array(&[d], 0.5, 1.5);
    ln.bias = rng.array(&[d], -0.5, 0.5);
    ln
}

fn dense(i: usize, o: usize, rng: &mut Lcg) -> RefElement {
    RefElement::Dense(RefDense::new(
        rng.array(&[o, i], -0.6, 0.6),
        Some(rng.array(&[o], -0.2, 0.2)),
    ))
}

/// `first -> positional -> residual(layernorm, causal attention,
/// residual(linear, gelu, linear)) -> lstm -> gru -> linear` on `D = 6`.
fn sequence_model(first: RefElement, rng: &mut Lcg) -> RefStack {
    let inner = RefResidual::new(vec![
        dense(6, 8, rng),
        RefElement::Activation(RefActivation::Gelu),
        dense(8, 6, rng),
    ]);
    let block = RefResidual::new(vec![
        RefElement::LayerNorm(layernorm_rand(6, rng)),
        RefElement::Attention(attention(6, 2, true, rng)),
        RefElement::Residual(inner),
    ]);
    RefStack::new(vec![
        first,
        RefElement::Positional(RefPositional::new(rng.array(&[5, 6], -0.5, 0.5))),
        RefElement::Residual(block),
        RefElement::Lstm(lstm(6, 3, rng)),
        RefElement::Gru(gru(3, 3, rng)),
        dense(3, 4, rng),
    ])
}

// kinds: residual
#[test]
fn a_nested_sequence_model_through_the_loss() {
    let mut rng = Lcg::new(37);
    let first = dense(3, 6, &mut rng);
    let model = sequence_model(first, &mut rng);
    let names: Vec<String> = model.parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names[..12],
        [
            "0.weight",
            "0.bias",
            "1.weight",
            "2.0.weight",
            "2.0.bias",
            "2.1.in_proj_weight",
            "2.1.in_proj_bias",
            "2.1.out_proj.weight",
            "2.1.out_proj.bias",
            "2.2.0.weight",
            "2.2.0.bias",
            "2.2.2.weight",
        ]
        .map(String::from)
    );
    assert_eq!(
        names[13..15],
        ["3.weight_ih_l0", "3.weight_hh_l0"].map(String::from)
    );
    let x = rng.array(&[2, 4, 3], -1.0, 1.0);
    check(&model, &x, RefMode::Train, 38, "sequence model");
    let t = Array::new(
        vec![2, 4],
        vec![1.0, -100.0, 3.0, 0.0, 2.0, 2.0, -100.0, 1.0],
    );
    check_loss(
        &model,
        &x,
        &t,
        Input::Values,
        RefMode::Eval,
        "sequence model loss",
    );

    let emb = RefElement::Embedding(RefEmbedding::new(rng.array(&[7, 6], -1.0, 1.0)));
    let model = sequence_model(emb, &mut rng);
    check_loss(
        &model,
        &ids(2, 4, 7),
        &t,
        Input::Ids,
        RefMode::Train,
        "embedding model loss",
    );
}

/// `linear -> residual(batchnorm, tanh, residual(linear, batchnorm)) -> linear`.
fn batchnorm_blocks(rng: &mut Lcg) -> RefStack {
    let inner = RefResidual::new(vec![
        dense(3, 3, rng),
        RefElement::BatchNorm(batchnorm(3, rng)),
    ]);
    RefStack::new(vec![
        dense(4, 3, rng),
        RefElement::Residual(RefResidual::new(vec![
            RefElement::BatchNorm(batchnorm(3, rng)),
            RefElement::Activation(RefActivation::Tanh),
            RefElement::Residual(inner),
        ])),
        dense(3, 2, rng),
    ])
}

#[test]
fn batchnorms_inside_residual_blocks() {
    let mut rng = Lcg::new(39);
    let stack = batchnorm_blocks(&mut rng);
    let x = rng.array(&[5, 4], -1.0, 1.0);
    for mode in [RefMode::Train, RefMode::Eval] {
        check(&stack, &x, mode, 40, &format!("batchnorm blocks {mode:?}"));
    }
    let names: Vec<String> = stack.state_dict().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "0.weight",
            "0.bias",
            "1.0.weight",
            "1.0.bias",
            "1.0.running_mean",
            "1.0.running_var",
            "1.0.num_batches_tracked",
            "1.2.0.weight",
            "1.2.0.bias",
            "1.2.1.weight",
            "1.2.1.bias",
            "1.2.1.running_mean",
            "1.2.1.running_var",
            "1.2.1.num_batches_tracked",
            "2.weight",
            "2.bias",
        ]
        .map(String::from)
    );

    // A training forward advances each inner batchnorm from the input it sees.
    let RefElement::Residual(block) = &stack.elements[1] else {
        unreachable!()
    };
    let RefElement::Residual(inner) = &block.elements[2] else {
        unreachable!()
    };
    let (RefElement::BatchNorm(bn_outer), RefElement::BatchNorm(bn_inner)) =
        (&block.elements[0], &inner.elements[1])
    else {
        unreachable!()
    };
    let h0 = stack.elements[0].forward(&x, RefMode::Train);
    let h1 = RefActivation::Tanh.forward(&bn_outer.forward(&h0, RefMode::Train));
    let h2 = inner.elements[0].forward(&h1, RefMode::Train);
    let (mut want_outer, mut want_inner) = (bn_outer.clone(), bn_inner.clone());
    want_outer.update_running(&h0);
    want_inner.update_running(&h2);
    let want: Vec<(String, Array)> = [("1.0", &want_outer), ("1.2.1", &want_inner)]
        .into_iter()
        .flat_map(|(at, bn)| {
            RefElement::BatchNorm(bn.clone())
                .buffers()
                .into_iter()
                .map(move |(n, a)| (format!("{at}.{n}"), a))
        })
        .collect();
    let mut trained = stack.clone();
    let y = trained.forward_train(&x);
    assert_eq!(y, stack.forward(&x, RefMode::Train));
    assert_eq!(trained.buffers(), want);
    assert_ne!(trained.buffers(), stack.buffers());
    // sgd_step in training mode moves the same buffers; in evaluation none
    let t = Array::new(vec![5], vec![0.0, 1.0, 1.0, 0.0, 1.0]);
    let mut stepped = stack.clone();
    stepped.sgd_step(&x, &t, RefLoss::CrossEntropy, 0.1, RefMode::Train);
    assert_eq!(stepped.buffers(), want);
    let mut eval = stack.clone();
    eval.sgd_step(&x, &t, RefLoss::CrossEntropy, 0.1, RefMode::Eval);
    assert_eq!(eval.buffers(), stack.buffers());
    assert_ne!(eval.parameters(), stack.parameters());
}
