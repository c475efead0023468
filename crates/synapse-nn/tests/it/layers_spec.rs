//! The spec of the new elements (SPEC section 1): grammar, canonical form,
//! state names (section 2), shapes through the stack, and one clear error
//! per bad form, naming the element and the sizes.

use synapse_nn::{ArchSpec, ElementKind, ElementSpec, RowShape};

fn parse_err(text: &str) -> String {
    match text.parse::<ArchSpec>() {
        Ok(spec) => panic!("`{text}` parsed as `{spec}`"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn canonical_forms_round_trip_and_leave_out_defaults() {
    for (text, canonical) in [
        ("dropout(0.5), linear(3,2)", "dropout(0.5), linear(3,2)"),
        ("linear(3,4), batchnorm(4)", "linear(3,4), batchnorm(4)"),
        (
            "linear(3,4), batchnorm(4, eps=1e-5, momentum=0.1)",
            "linear(3,4), batchnorm(4)",
        ),
        (
            "linear(3,4), batchnorm(4,eps=0.001,momentum=0.2)",
            "linear(3,4), batchnorm(4,eps=0.001,momentum=0.2)",
        ),
        (
            "linear(3,4), batchnorm(4,momentum=0.2)",
            "linear(3,4), batchnorm(4,momentum=0.2)",
        ),
        (
            "conv2d(1,2,3), batchnorm2d(2,eps=0.01)",
            "conv2d(1,2,3), batchnorm2d(2,eps=0.01)",
        ),
        (
            "linear(3,4), layernorm(4,eps=1e-5)",
            "linear(3,4), layernorm(4)",
        ),
        ("layernorm(4,eps=0.0001)", "layernorm(4,eps=0.0001)"),
        (
            "reshape(1, 8, 8), conv2d(1,4,3,stride=1,padding=0,bias=true)",
            "reshape(1,8,8), conv2d(1,4,3)",
        ),
        (
            "conv2d(3,8,5,stride=2,padding=2,bias=false)",
            "conv2d(3,8,5,stride=2,padding=2,bias=false)",
        ),
        (
            "conv2d(1,2,3), maxpool2d(2, stride=2), avgpool2d(2,stride=1)",
            "conv2d(1,2,3), maxpool2d(2), avgpool2d(2,stride=1)",
        ),
        (
            "conv2d(1,2,3), flatten, linear(8,1)",
            "conv2d(1,2,3), flatten, linear(8,1)",
        ),
    ] {
        let spec: ArchSpec = text.parse().unwrap();
        assert_eq!(spec.to_string(), canonical, "{text}");
        assert_eq!(
            spec.to_string().parse::<ArchSpec>().unwrap(),
            spec,
            "{text}"
        );
    }
}

#[test]
fn every_kind_has_a_name_that_parses() {
    for &kind in ElementKind::ALL {
        let sample = match kind {
            ElementKind::Linear => "linear(2,2)",
            ElementKind::Dropout => "linear(2,2), dropout(0.1)",
            ElementKind::BatchNorm => "batchnorm(2)",
            ElementKind::BatchNorm2d => "batchnorm2d(2)",
            ElementKind::LayerNorm => "layernorm(2)",
            ElementKind::RmsNorm => "rmsnorm(2)",
            ElementKind::Reshape => "reshape(2,1,1), conv2d(2,1,1)",
            ElementKind::Conv2d => "conv2d(1,1,1)",
            ElementKind::MaxPool2d => "conv2d(1,1,1), maxpool2d(1)",
            ElementKind::AvgPool2d => "conv2d(1,1,1), avgpool2d(1)",
            ElementKind::Embedding => "embedding(5,2)",
            ElementKind::Positional => "positional(4,2)",
            ElementKind::Lstm => "lstm(2,3)",
            ElementKind::Gru => "gru(2,3)",
            ElementKind::Attention => "attention(4,2)",
            ElementKind::Last => "lstm(2,2), last",
            ElementKind::SeqMean => "lstm(2,2), seqmean",
            ElementKind::Residual => "residual(linear(2,2))",
            _ => &*format!("linear(2,2), {}", kind.name()),
        };
        let spec: ArchSpec = sample.parse().unwrap_or_else(|e| panic!("{sample}: {e}"));
        assert!(spec.elements().iter().any(|e| e.kind() == kind), "{sample}");
    }
}

#[test]
fn state_names_follow_pytorch_with_buffers() {
    let spec: ArchSpec =
        "reshape(1,4,4), conv2d(1,2,3), batchnorm2d(2), relu, flatten, linear(8,3,bias=false), layernorm(3)"
            .parse()
            .unwrap();
    let names = |v: Vec<(String, Vec<usize>)>| v;
    assert_eq!(
        names(spec.parameter_shapes()),
        vec![
            ("1.weight".to_string(), vec![2, 1, 3, 3]),
            ("1.bias".into(), vec![2]),
            ("2.weight".into(), vec![2]),
            ("2.bias".into(), vec![2]),
            ("5.weight".into(), vec![3, 8]),
            ("6.weight".into(), vec![3]),
            ("6.bias".into(), vec![3]),
        ]
    );
    assert_eq!(
        spec.buffer_shapes(),
        vec![
            ("2.running_mean".to_string(), vec![2]),
            ("2.running_var".into(), vec![2]),
            ("2.num_batches_tracked".into(), vec![]),
        ]
    );
    let state: Vec<String> = spec.state_shapes().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        state,
        [
            "1.weight",
            "1.bias",
            "2.weight",
            "2.bias",
            "2.running_mean",
            "2.running_var",
            "2.num_batches_tracked",
            "5.weight",
            "6.weight",
            "6.bias"
        ]
    );
    assert_eq!(spec.parameter_count(), 18 + 2 + 4 + 24 + 6);
}

#[test]
fn shapes_flow_through_the_stack() {
    let spec: ArchSpec =
        "reshape(1,8,8), conv2d(1,16,3,padding=1), relu, maxpool2d(2), conv2d(16,8,3,stride=2), flatten, linear(8,10)"
            .parse()
            .unwrap();
    assert_eq!(spec.input_shape(), &RowShape::known(&[64]));
    let shapes: Vec<String> = spec.output_shapes().iter().map(|s| s.to_string()).collect();
    assert_eq!(
        shapes,
        [
            "[batch, 1, 8, 8]",
            "[batch, 16, 8, 8]",
            "[batch, 16, 8, 8]",
            "[batch, 16, 4, 4]",
            "[batch, 8, 1, 1]",
            "[batch, 8]",
            "[batch, 10]"
        ]
    );
    assert_eq!(
        (spec.input_width(), spec.output_width()),
        (Some(64), Some(10))
    );
    assert_eq!((spec.input_dim(), spec.output_dim()), (64, 10));

    // A stack that starts with a convolution learns H and W from the data.
    let cnn: ArchSpec = "conv2d(1,4,3), maxpool2d(2), flatten".parse().unwrap();
    assert_eq!(cnn.input_shape().to_string(), "[batch, 1, ?, ?]");
    assert_eq!(cnn.output_shape().to_string(), "[batch, ?]");
    assert_eq!(cnn.input_width(), None);
    // 0 where only data can tell.
    assert_eq!((cnn.input_dim(), cnn.output_dim()), (0, 0));
    assert_eq!(cnn.check_input(&[1, 8, 8]).unwrap(), [36]);
    let e = cnn.check_input(&[64]).unwrap_err().to_string();
    assert!(
        e.contains("conv2d(1,4,3)") && e.contains("[batch, 64]") && e.contains("reshape"),
        "{e}"
    );
    let e = cnn.check_input(&[3, 8, 8]).unwrap_err().to_string();
    assert!(e.contains("1 channels") && e.contains("has 3"), "{e}");
    let e = cnn.check_input(&[1, 3, 3]).unwrap_err().to_string();
    assert!(
        e.contains("maxpool2d(2)") && e.contains("kernel 2") && e.contains("input size 1"),
        "{e}"
    );
    let shapes = cnn.shapes_for(&RowShape::known(&[1, 10, 12])).unwrap();
    assert_eq!(shapes[1].to_string(), "[batch, 4, 4, 5]");
}

#[test]
fn each_bad_form_is_one_error_naming_element_and_sizes() {
    for (text, needles) in [
        (
            "linear(2,2), dropout(1.5)",
            &["element 1 `dropout(1.5)`", "1.5", "0 <= P < 1"][..],
        ),
        ("conv2d(1,8,0)", &["`conv2d(1,8,0)`", "`0`", "kernel size"]),
        (
            "reshape(1,8,8), conv2d(1,4,3), flatten, linear(100,10)",
            &[
                "element 3 `linear(100,10)`",
                "input size 100",
                "output size 144",
            ],
        ),
        (
            "linear(4,64), conv2d(64,8,3)",
            &[
                "element 1 `conv2d(64,8,3)`",
                "[batch, 64]",
                "reshape(C,H,W)",
            ],
        ),
        (
            "reshape(1,4,4), maxpool2d(5)",
            &["element 1 `maxpool2d(5)`", "kernel 5", "input size 4"],
        ),
        (
            "reshape(1,4,4), conv2d(1,2,3), avgpool2d(3)",
            &["avgpool2d(3)", "kernel 3", "input size 2"],
        ),
        (
            "linear(2,10), reshape(3,3)",
            &["element 1 `reshape(3,3)`", "9", "10"],
        ),
        (
            "reshape(2,4,4), conv2d(3,1,1)",
            &["conv2d(3,1,1)", "3 channels", "has 2"],
        ),
        (
            "linear(2,3), batchnorm(4)",
            &["batchnorm(4)", "input size 4", "output size 3"],
        ),
        (
            "reshape(2,3,3), batchnorm2d(3)",
            &["batchnorm2d(3)", "3 channels", "has 2"],
        ),
        (
            "linear(2,3), layernorm(4)",
            &["layernorm(4)", "4", "ends in 3"],
        ),
        (
            "linear(2,3), batchnorm(3,momentum=2)",
            &["momentum 2", "[0, 1]"],
        ),
        (
            "linear(2,3), layernorm(3,eps=0)",
            &["eps 0", "greater than 0"],
        ),
        (
            "linear(2,3), layernorm(3,eps=1,eps=2)",
            &["`eps` is given twice"],
        ),
        (
            "conv2d(1,2,3,dilation=2)",
            &["`dilation=2`", "stride, padding, bias"],
        ),
        ("conv2d(1,2,3,stride=0)", &["`0`", "stride"]),
        ("conv2d(1,2)", &["conv2d needs three sizes"]),
        ("reshape()", &["`` is not a positive whole number"]),
        (
            "maxpool2d(2), flatten",
            &["at least one element with parameters"],
        ),
        ("flatten(2), linear(2,2)", &["takes no arguments"]),
        ("linear(2,2), dropout", &["dropout needs a probability"]),
    ] {
        let e = parse_err(text);
        assert!(!e.contains('\n'), "{text}: {e}");
        for needle in needles {
            assert!(e.contains(needle), "{text}: `{needle}` not in: {e}");
        }
    }
}

// Sizes whose products overflow saturate and are refused before allocation
// (as the fuzzer found for linear).
#[test]
fn huge_conv_and_reshape_sizes_do_not_overflow() {
    for text in [
        "conv2d(4294967296,4294967296,4294967296)",
        "reshape(4294967296,4294967296,4294967296), flatten, linear(3,1)",
        "reshape(99999999999,99999999999), conv2d(99999999999,1,1), flatten",
    ] {
        match text.parse::<ArchSpec>() {
            Ok(spec) => {
                assert_eq!(spec.parameter_count(), usize::MAX, "{text}");
                let e = synapse_nn::Sequential::init(
                    &spec,
                    synapse_nn::Init::Torch,
                    1,
                    candle_core::DType::F32,
                    &candle_core::Device::Cpu,
                )
                .unwrap_err()
                .to_string();
                assert!(e.contains("can be allocated"), "{text}: {e}");
            }
            Err(e) => assert!(!e.to_string().is_empty(), "{text}"),
        }
    }
    let spec: ArchSpec = "dropout(0), linear(2,2)".parse().unwrap();
    assert!(matches!(spec.elements()[0], ElementSpec::Dropout(d) if d.p() == 0.0));
}
