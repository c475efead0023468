//! Every element's hand-written backward against central finite differences,
//! in f64: the input gradient and every parameter gradient of
//! `L = sum(forward(x) * r)` for a fixed random `r`, so `dL/dy = r`.
//! Step `H = 1e-5`; agreement within `TOL` relative to `max(1, |g|)`.

mod common;

use common::{assert_close, Lcg};
use synapse_reference::{
    Array, RefActivation, RefAvgPool2d, RefBatchNorm, RefConv2d, RefDense, RefDropout, RefElement,
    RefLayerNorm, RefLoss, RefMaxPool2d, RefMode, RefReshape, RefStack,
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
    let out = stack.forward(x, mode);
    let r = Lcg::new(seed).array(&out.shape, -1.0, 1.0);
    let (dx, grads) = stack.backward(x, &r, mode);
    assert_eq!(dx.shape, x.shape, "{what}: dx shape");
    let mut xv = x.clone();
    let numeric: Vec<f64> = (0..x.numel())
        .map(|i| central(&mut xv, i, |xp| objective(stack, xp, &r, mode)))
        .collect();
    assert_close(&dx.data, &numeric, TOL, &format!("{what} dx"));
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
                    objective(&s, x, &r, mode)
                })
            })
            .collect();
        assert_close(&g.data, &numeric, TOL, &format!("{what} {name}"));
    }
}

fn one(e: RefElement) -> RefStack {
    RefStack::new(vec![e])
}

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
}

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
