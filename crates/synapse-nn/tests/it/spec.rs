//! The architecture spec: canonical round trips and one clear error per malformed form.

use synapse_nn::{Activation, ArchSpec, ElementSpec};

fn parse_err(text: &str) -> String {
    match text.parse::<ArchSpec>() {
        Ok(spec) => panic!("`{text}` parsed as `{spec}`"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn canonical_form_round_trips() {
    for text in [
        "linear(3,1,bias=false), sigmoid",
        "linear(3,4), sigmoid, linear(4,1,bias=false), sigmoid",
        "linear(2,8), tanh, linear(8,8), relu, linear(8,8), leaky_relu(0.2), linear(8,3), softmax",
        "linear(5,5), identity, linear(5,1), leaky_relu(0.01)",
    ] {
        let spec: ArchSpec = text.parse().unwrap();
        assert_eq!(spec.to_string(), text);
        assert_eq!(spec.to_string().parse::<ArchSpec>().unwrap(), spec);
    }
}

#[test]
fn whitespace_is_ignored_and_defaults_are_filled() {
    let spec: ArchSpec = " linear( 2 , 3 ) ,\n leaky_relu , linear(3,1, bias = false)"
        .parse()
        .unwrap();
    assert_eq!(
        spec.to_string(),
        "linear(2,3), leaky_relu(0.01), linear(3,1,bias=false)"
    );
    assert_eq!(
        spec.elements()[1],
        ElementSpec::Activation(Activation::LeakyRelu(0.01))
    );
}

#[test]
fn parameter_names_and_shapes_follow_pytorch() {
    let spec: ArchSpec = "linear(2,8), tanh, linear(8,1), sigmoid".parse().unwrap();
    let shapes = spec.parameter_shapes();
    let expected: Vec<(String, Vec<usize>)> = vec![
        ("0.weight".into(), vec![8, 2]),
        ("0.bias".into(), vec![8]),
        ("2.weight".into(), vec![1, 8]),
        ("2.bias".into(), vec![1]),
    ];
    assert_eq!(shapes, expected);
    assert_eq!(spec.parameter_count(), 8 * 2 + 8 + 8 + 1);
}

#[test]
fn unknown_element_is_named() {
    let e = parse_err("linear(3,4), sigmod, linear(4,1)");
    assert!(e.contains("element 1 `sigmod`"), "{e}");
    assert!(e.contains("unknown element"), "{e}");
    assert!(e.contains("sigmoid, tanh, relu"), "{e}");
}

#[test]
fn missing_size_is_explained() {
    let e = parse_err("linear(3), sigmoid");
    assert!(e.contains("element 0 `linear(3)`"), "{e}");
    assert!(e.contains("linear needs two sizes"), "{e}");
    let e = parse_err("linear");
    assert!(e.contains("linear needs two sizes"), "{e}");
}

#[test]
fn size_mismatch_names_both_sizes() {
    let e = parse_err("linear(3,4), relu, linear(5,1)");
    assert!(e.contains("element 2 `linear(5,1)`"), "{e}");
    assert!(
        e.contains("input size 5") && e.contains("output size 4"),
        "{e}"
    );
}

#[test]
fn bad_numbers_are_named() {
    for (text, bad) in [
        ("linear(3,x)", "`x`"),
        ("linear(-3,1)", "`-3`"),
        ("linear(0,1)", "`0`"),
        ("linear(2.5,1)", "`2.5`"),
        ("linear(2,1), leaky_relu(abc)", "`abc`"),
        ("linear(2,1), leaky_relu(inf)", "`inf`"),
        ("linear(2,1,bias=maybe)", "`bias=maybe`"),
    ] {
        let e = parse_err(text);
        assert!(e.contains(bad), "{text}: {e}");
    }
}

#[test]
fn structural_errors_are_clear() {
    assert!(parse_err("").contains("empty"));
    assert!(parse_err("   ").contains("empty"));
    assert!(parse_err("sigmoid, tanh").contains("at least one element with parameters"));
    assert!(parse_err("linear(3,1),,sigmoid").contains("empty element"));
    assert!(parse_err("linear(3,1").contains("unbalanced"));
    assert!(parse_err("linear(3,1))").contains("unbalanced"));
    assert!(parse_err("sigmoid(2), linear(1,1)").contains("takes no arguments"));
    assert!(parse_err("linear(3,1)x").contains("after the closing parenthesis"));
}

// Found by fuzzing (fuzz/artifacts/spec_parser) and from the shell: sizes
// whose product overflows are refused when the spec is parsed, naming the
// element, never reported as a saturated or wrapped number.
#[test]
fn huge_sizes_do_not_overflow_and_are_refused_before_allocation() {
    for (text, needle) in [
        (
            "linear(7777777777277777727,4)" as &str,
            "element 0 `linear(7777777777277777727,4)`: the parameter count overflows",
        ),
        (
            "conv2d(4294967296,4294967296,4294967296)",
            "the parameter count overflows",
        ),
        // 2^62 + 2^31 parameters each: the fourth makes the total overflow.
        (
            &["linear(2147483648,2147483648)"; 4].join(", "),
            "element 3 `linear(2147483648,2147483648)`: the parameter count overflows",
        ),
        (
            "reshape(4294967296,4294967296,2), flatten, linear(2,1)",
            "element 0 `reshape(4294967296,4294967296,2)`: the product of its sizes [4294967296, 4294967296, 2] overflows",
        ),
        (
            "reshape(1,4,4), conv2d(1,1,1,padding=9223372036854775807), linear(1,1)",
            "padded input size 4 + 2*9223372036854775807 overflows",
        ),
    ] {
        let e = parse_err(text);
        assert!(e.contains(needle), "{text}: {e}");
    }
    let big: ArchSpec = "linear(100000,100000)".parse().unwrap();
    assert_eq!(big.parameter_count(), 10_000_100_000);
    let e = synapse_nn::Sequential::init(
        &big,
        synapse_nn::Init::Torch,
        1,
        candle_core::DType::F32,
        &candle_core::Device::Cpu,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("parameters") && e.contains("can be allocated"),
        "{e}"
    );
}

// Issue 26: `residual(` nested 10,000 deep overflowed the stack (SIGABRT
// from `synapse summary`, a segfault in Python). The depth is counted in
// one pass before anything recurses, and refused in one line naming it.
#[test]
fn deep_nesting_is_refused_before_any_recursion() {
    let n = 10_000;
    for (text, depth) in [
        // 10,000 blocks around a linear: 10,001 levels of parentheses.
        (
            format!("{}linear(2,2){}", "residual(".repeat(n), ")".repeat(n)),
            "10001 levels deep",
        ),
        ("residual(".repeat(n), "10000 levels deep"),
    ] {
        let e = parse_err(&text);
        assert!(!e.contains('\n'), "{e}");
        assert!(e.contains(depth), "{e}");
        assert!(e.contains(&synapse_nn::MAX_SPEC_DEPTH.to_string()), "{e}");
    }
    // The limit itself parses.
    let depth = synapse_nn::MAX_SPEC_DEPTH;
    let text = format!(
        "{}linear(2,2{}",
        "residual(".repeat(depth - 1),
        ")".repeat(depth)
    );
    let spec: ArchSpec = text.parse().unwrap();
    assert_eq!(spec.parameter_count(), 6);
    let e = parse_err(&format!("residual({text})"));
    assert!(e.contains("65 levels deep"), "{e}");
}

// Issue 26: an element that takes ids (`embedding`) anywhere but first
// parsed and failed only in training. Ids come from the data: refused when
// parsed, naming the element, at the top level and inside blocks.
#[test]
fn an_element_taking_ids_comes_only_first() {
    for (text, needles) in [
        (
            "linear(3,8), embedding(10,8)",
            &["element 1 `embedding(10,8)`", "integer ids", "first"][..],
        ),
        (
            "embedding(10,8), embedding(10,8)",
            &["element 1 `embedding(10,8)`", "integer ids", "first"],
        ),
        (
            "embedding(10,8), residual(embedding(10,8))",
            &["`embedding(10,8)`", "integer ids", "block"],
        ),
        (
            "residual(embedding(10,8), seqmean), linear(8,2)",
            &["`embedding(10,8)`", "integer ids", "block"],
        ),
        (
            "linear(8,8), residual(linear(8,8), residual(embedding(10,8)))",
            &["`embedding(10,8)`", "integer ids", "block"],
        ),
    ] {
        let e = parse_err(text);
        assert!(!e.contains('\n'), "{text}: {e}");
        for needle in needles {
            assert!(e.contains(needle), "{text}: `{needle}` not in: {e}");
        }
    }
    let spec: ArchSpec = "embedding(10,8), seqmean, linear(8,2)".parse().unwrap();
    assert!(spec.takes_ids());
    assert_eq!(spec.ids(), Some(10));
    let spec: ArchSpec = "linear(3,8), relu".parse().unwrap();
    assert!(!spec.takes_ids());
    assert_eq!(spec.ids(), None);
}

/// The fusion plan pairs `linear` with each activation its kernel applies
/// (`DenseAct::of`: sigmoid, tanh, relu, identity and gelu) and with no
/// other; `conv2d`'s kernel takes no gelu (`KernelAct::of`); `lstm` and
/// `gru` take the linear layer after them.
#[test]
fn the_fusion_plan_pairs_linear_with_the_activations_its_kernel_applies() {
    for (act, fused) in [
        ("sigmoid", true),
        ("tanh", true),
        ("relu", true),
        ("identity", true),
        ("gelu", true),
        ("softmax", false),
        ("leaky_relu", false),
    ] {
        let spec: ArchSpec = format!("linear(3,4), {act}, linear(4,2)").parse().unwrap();
        // The one stage, as (start, end): with the activation in the kernel,
        // both layers run as one linked pair; without, each alone.
        let stages: Vec<(usize, usize)> = spec.fused().iter().map(|r| (r.start, r.end)).collect();
        let want: &[(usize, usize)] = if fused { &[(0, 3)] } else { &[] };
        assert_eq!(stages, want, "{act}");
    }
    // Two linear layers with nothing between are a pair too; a third (and
    // its activation) is a stage of its own.
    for (text, want) in [
        ("linear(3,4), linear(4,2)", vec![(0, 2)]),
        (
            "linear(3,4), relu, linear(4,4), relu, linear(4,2), tanh",
            vec![(0, 4), (4, 6)],
        ),
        ("linear(3,4), relu, dropout(0.5), linear(4,2)", vec![(0, 2)]),
    ] {
        let spec: ArchSpec = text.parse().unwrap();
        let stages: Vec<(usize, usize)> = spec.fused().iter().map(|r| (r.start, r.end)).collect();
        assert_eq!(stages, want, "{text}");
    }
    // A recurrent layer takes the linear layer right after it (and that
    // layer's activation), linked; after `last`, or alone, it runs alone.
    // An embedding right before it feeds it by lookup (`Lookup`), with the
    // linear layer it takes, if any.
    for (text, want) in [
        ("embedding(9,4), lstm(4,3), linear(3,9)", vec![(0, 3)]),
        ("embedding(9,4), gru(4,3), last, linear(3,9)", vec![(0, 2)]),
        ("embedding(9,4), tanh, lstm(4,3), linear(3,9)", vec![(2, 4)]),
        ("embedding(9,4), linear(4,3), tanh", vec![(1, 3)]),
        ("gru(4,3), linear(3,2), tanh, linear(2,2)", vec![(0, 3)]),
        ("lstm(4,3), linear(3,3), linear(3,2)", vec![(0, 2)]),
        ("lstm(4,3), last, linear(3,2)", vec![]),
        ("gru(4,3), lstm(3,3)", vec![]),
    ] {
        let spec: ArchSpec = text.parse().unwrap();
        let stages: Vec<(usize, usize)> = spec.fused().iter().map(|r| (r.start, r.end)).collect();
        assert_eq!(stages, want, "{text}");
    }
    let conv: ArchSpec = "conv2d(1,2,3), gelu, flatten".parse().unwrap();
    assert!(conv.fused().is_empty(), "{:?}", conv.fused());
    let conv: ArchSpec = "conv2d(1,2,3), relu, flatten".parse().unwrap();
    let stages: Vec<(usize, usize)> = conv.fused().iter().map(|r| (r.start, r.end)).collect();
    assert_eq!(stages, [(0, 2)]);
}

/// What one row makes flow through a stack (the memory check's basis):
/// the row, every element's output row, and a convolution's unfolded
/// windows `IN*K*K*OH*OW`, counted here by hand.
#[test]
fn activation_values_count_each_output_and_the_unfolded_windows() {
    let mlp: ArchSpec = "linear(3,4), relu, linear(4,2)".parse().unwrap();
    assert_eq!(mlp.activation_values(&[3]).unwrap(), 3 + 4 + 4 + 2);
    let cnn: ArchSpec = "conv2d(1,2,3), relu, flatten, linear(18,2)"
        .parse()
        .unwrap();
    // Input 1x5x5; conv output 2x3x3 = 18 with 1*3*3 * 3*3 = 81 windows' values.
    assert_eq!(
        cnn.activation_values(&[1, 5, 5]).unwrap(),
        25 + (18 + 81) + 18 + 18 + 2
    );
}

/// A size that may be 0 (`padding`) says "whole number"; one that must be
/// at least 1 says "positive whole number".
#[test]
fn a_bad_size_says_which_whole_numbers_it_takes() {
    let e = parse_err("conv2d(1,2,3,padding=-1)");
    assert!(e.contains("`-1` is not a whole number (padding)"), "{e}");
    let e = parse_err("linear(0,2)");
    assert!(e.contains("positive whole number"), "{e}");
}

/// A stack whose first sized element does not act on the last dimension
/// (batchnorm, reshape) takes flat rows only: it is not retried as a
/// sequence, so an element after it that needs sequences is the error.
#[test]
fn only_a_last_dimension_element_first_is_retried_as_a_sequence() {
    for spec in [
        "batchnorm(1), positional(5,1), linear(1,2)",
        "reshape(1), lstm(1,2)",
    ] {
        let e = spec.parse::<ArchSpec>().unwrap_err().to_string();
        assert!(e.contains("element 1"), "{spec}: {e}");
    }
    // `linear` first is retried: sequences [T, 1] fit.
    "linear(1,1), positional(5,1), linear(1,2)"
        .parse::<ArchSpec>()
        .unwrap();
}

/// `rmsnorm` acts on the last dimension as `layernorm` and `linear` do: a
/// stack that starts with it takes sequences when what follows needs them,
/// and its weight is a parameter of the stack.
#[test]
fn rmsnorm_first_takes_sequences_and_its_weight_is_a_parameter() {
    use candle_core::{DType, Device};
    let spec: ArchSpec = "rmsnorm(4), positional(5,4), linear(4,2)".parse().unwrap();
    assert_eq!(spec.input_shape().to_string(), "[batch, ?, 4]");
    let net =
        synapse_nn::Sequential::init(&spec, synapse_nn::Init::Torch, 1, DType::F32, &Device::Cpu)
            .unwrap();
    let names: Vec<String> = net.parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["0.weight", "1.weight", "2.weight", "2.bias"]);
}

/// `seqmean`'s ONNX node: `ReduceMean` over axis 1, the axes an attribute
/// up to opset 17 and an input from 18 (the op's signature changed there).
#[test]
fn seqmean_exports_its_axes_as_the_opset_wants() {
    use candle_core::{DType, Device};
    let spec: ArchSpec = "linear(3,4), seqmean, linear(4,2)".parse().unwrap();
    let net =
        synapse_nn::Sequential::init(&spec, synapse_nn::Init::Torch, 1, DType::F32, &Device::Cpu)
            .unwrap();
    for (opset, inputs, attributes) in [(17, 1, 2), (18, 2, 1)] {
        let e = net.export("x", "y", opset).unwrap();
        let mean = e
            .nodes
            .iter()
            .find(|n| n.op == "ReduceMean")
            .expect("a ReduceMean");
        assert_eq!(
            (mean.inputs.len(), mean.attributes.len()),
            (inputs, attributes),
            "opset {opset}: {mean:?}"
        );
    }
}
