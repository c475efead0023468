//! Model files: save -> load is the identity; foreign and broken files are clear errors.

use std::collections::HashMap;
use std::path::PathBuf;

use candle_core::{DType, Device, Tensor};
use synapse_nn::{ArchSpec, Init, Loss, Sequential};
use synapse_train::{load_weights, predict, Model, Normalizer};

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("synapse-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn bits(net: &Sequential) -> Vec<(String, Vec<u64>)> {
    net.parameters()
        .iter()
        .map(|(n, v)| {
            let v = v
                .flatten_all()
                .unwrap()
                .to_dtype(DType::F64)
                .unwrap()
                .to_vec1::<f64>()
                .unwrap();
            (n.clone(), v.iter().map(|x| x.to_bits()).collect())
        })
        .collect()
}

#[test]
fn save_then_load_is_the_identity_in_f32_and_f64() {
    let spec: ArchSpec = "linear(4,5), tanh, linear(5,3,bias=false), softmax"
        .parse()
        .unwrap();
    for dtype in [DType::F32, DType::F64] {
        let net = Sequential::init(&spec, Init::Torch, 9, dtype, &Device::Cpu).unwrap();
        let mut model = Model::new(net.clone());
        model.loss = Some(Loss::CrossEntropy);
        model.labels = Some(vec!["ant".into(), "bee".into(), "cow".into()]);
        model.normalize = Some(Normalizer {
            mean: vec![1.0, 2.0, 3.0, 4.5],
            std: vec![0.5, 1.0, 2.0, 1.0],
        });
        model.metadata.insert("epochs".into(), "12".into());
        let path = temp(&format!("m-{dtype:?}.safetensors"));
        model.save(&path).unwrap();
        let back = Model::load(&path, None, &Device::Cpu).unwrap();
        assert_eq!(back.net.dtype(), dtype);
        assert_eq!(back.net.spec(), &spec);
        assert_eq!(bits(&back.net), bits(&net));
        assert_eq!(
            (back.loss, back.labels.clone(), back.normalize.clone()),
            (model.loss, model.labels.clone(), model.normalize.clone())
        );
        assert_eq!(back.metadata.get("epochs").map(String::as_str), Some("12"));
        assert_eq!(
            back.metadata.get("format").map(String::as_str),
            Some("synapse")
        );
        let x = Tensor::new(
            &[[0.1f64, -0.2, 0.3, 0.4], [1.0, 2.0, 3.0, 4.0]],
            &Device::Cpu,
        )
        .unwrap();
        let a = predict(&net, &x)
            .unwrap()
            .to_dtype(DType::F64)
            .unwrap()
            .to_vec2::<f64>()
            .unwrap();
        let b = predict(&back.net, &x)
            .unwrap()
            .to_dtype(DType::F64)
            .unwrap()
            .to_vec2::<f64>()
            .unwrap();
        assert_eq!(a, b);
    }
}

/// A safetensors file as PyTorch's `save_file(model.state_dict(), path)` writes it:
/// the state dict's names, no metadata.
fn pytorch_file(path: &PathBuf, tensors: &[(&str, Tensor)]) {
    let data: HashMap<String, Tensor> = tensors
        .iter()
        .map(|(n, t)| (n.to_string(), t.clone()))
        .collect();
    candle_core::safetensors::save(&data, path).unwrap();
}

#[test]
fn a_pytorch_state_dict_loads_with_the_spec() {
    let dev = Device::Cpu;
    let path = temp("torch.safetensors");
    let w0 = Tensor::new(&[[0.5f32, -1.0], [2.0, 0.25]], &dev).unwrap();
    let b0 = Tensor::new(&[0.1f32, -0.1], &dev).unwrap();
    let w2 = Tensor::new(&[[1.0f32, 1.0]], &dev).unwrap();
    let b2 = Tensor::new(&[0.0f32], &dev).unwrap();
    pytorch_file(
        &path,
        &[
            ("0.weight", w0),
            ("0.bias", b0),
            ("2.weight", w2),
            ("2.bias", b2),
        ],
    );
    let e = Model::load(&path, None, &dev).unwrap_err().to_string();
    assert!(
        e.contains("torch.safetensors") && e.contains("--arch"),
        "{e}"
    );
    let spec: ArchSpec = "linear(2,2), relu, linear(2,1)".parse().unwrap();
    let model = Model::load(&path, Some(&spec), &dev).unwrap();
    // x = [1, 1]: relu([0.5-1+0.1, 2+0.25-0.1]) = [0, 2.15]; out = 2.15
    let out = predict(&model.net, &Tensor::new(&[[1f32, 1.0]], &dev).unwrap()).unwrap();
    assert!((out.to_vec2::<f32>().unwrap()[0][0] - 2.15).abs() < 1e-6);
    // A wrong spec is a clear error naming the parameter.
    let wrong: ArchSpec = "linear(2,3), relu, linear(3,1)".parse().unwrap();
    let e = Model::load(&path, Some(&wrong), &dev)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("0.weight") && e.contains("[2, 2]") && e.contains("[3, 2]"),
        "{e}"
    );
}

#[test]
fn wrong_names_shapes_and_dtypes_are_errors() {
    let dev = Device::Cpu;
    let spec: ArchSpec = "linear(2,1)".parse().unwrap();
    let w = Tensor::new(&[[1f32, 2.0]], &dev).unwrap();
    let b = Tensor::new(&[0f32], &dev).unwrap();
    type Case<'a> = (&'a str, Vec<(&'a str, Tensor)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            "renamed",
            vec![("0.weight", w.clone()), ("1.bias", b.clone())],
            "1.bias",
        ),
        (
            "missing",
            vec![("0.weight", w.clone())],
            "0.bias` is missing",
        ),
        (
            "shape",
            vec![
                ("0.weight", w.t().unwrap().contiguous().unwrap()),
                ("0.bias", b.clone()),
            ],
            "has shape [2, 1]",
        ),
        (
            "int",
            vec![
                ("0.weight", Tensor::new(&[[1u32, 2]], &dev).unwrap()),
                ("0.bias", b.clone()),
            ],
            "dtype u32",
        ),
        (
            "mixed",
            vec![
                ("0.weight", w.to_dtype(DType::F64).unwrap()),
                ("0.bias", b.clone()),
            ],
            "f32",
        ),
    ];
    for (name, tensors, expected) in cases {
        let path = temp(&format!("{name}.safetensors"));
        pytorch_file(&path, &tensors);
        let e = Model::load(&path, Some(&spec), &dev)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(expected) && e.contains(&format!("{name}.safetensors")),
            "{name}: {e}"
        );
    }
}

#[test]
fn broken_files_are_errors_not_panics() {
    let dev = Device::Cpu;
    let spec: ArchSpec = "linear(2,1)".parse().unwrap();
    let net = Sequential::init(&spec, Init::Torch, 1, DType::F32, &dev).unwrap();
    let good = Model::new(net).to_bytes().unwrap();
    let mut junk = vec![0u8; 64];
    junk.iter_mut()
        .enumerate()
        .for_each(|(i, b)| *b = (i * 37 % 251) as u8);
    for (name, bytes) in [
        ("empty", Vec::new()),
        ("truncated", good[..good.len() - 3].to_vec()),
        ("half", good[..good.len() / 2].to_vec()),
        ("random", junk),
    ] {
        let path = temp(&format!("{name}.safetensors"));
        std::fs::write(&path, &bytes).unwrap();
        let e = Model::load(&path, None, &dev).unwrap_err().to_string();
        assert!(e.contains(&format!("{name}.safetensors")), "{name}: {e}");
    }
    let e = Model::load(&temp("absent.safetensors"), None, &dev)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("absent.safetensors") && e.contains("No such file"),
        "{e}"
    );
}

#[test]
fn weights_export_to_npz_and_import_back() {
    let dev = Device::Cpu;
    let spec: ArchSpec = "linear(3,4), relu, linear(4,2)".parse().unwrap();
    let net = Sequential::init(&spec, Init::He, 4, DType::F64, &dev).unwrap();
    let npz = temp("w.npz");
    Model::new(net.clone()).export_npz(&npz).unwrap();
    let back = load_weights(&npz, &spec, DType::F64, &dev).unwrap();
    assert_eq!(bits(&back), bits(&net));
    let st = temp("w.safetensors");
    Model::new(net.clone()).save(&st).unwrap();
    assert_eq!(
        bits(&load_weights(&st, &spec, DType::F64, &dev).unwrap()),
        bits(&net)
    );
    let other: ArchSpec = "linear(3,5), relu, linear(5,2)".parse().unwrap();
    let e = load_weights(&npz, &other, DType::F64, &dev)
        .unwrap_err()
        .to_string();
    assert!(e.contains("w.npz") && e.contains("0.weight"), "{e}");
}

#[test]
fn a_failed_save_leaves_the_old_file_whole_and_temporary_names_touch_nothing() {
    let spec: ArchSpec = "linear(2,1)".parse().unwrap();
    let net = Sequential::init(&spec, Init::Torch, 1, DType::F32, &Device::Cpu).unwrap();
    let e = Model::new(net)
        .save(&temp("no-such-folder/m.safetensors"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no-such-folder") && e.contains("does not exist"),
        "{e}"
    );
    assert!(!temp("no-such-folder").exists());

    // An old model replaced by a save. (A save that fails half-way is
    // `a_write_that_fails_half_way_replaces_nothing` below.)
    let dir = temp("failed-save");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("m.safetensors");
    let old_net = Sequential::init(&spec, Init::Torch, 2, DType::F32, &Device::Cpu).unwrap();
    Model::new(old_net).save(&path).unwrap();
    let old = std::fs::read(&path).unwrap();
    // Files of the user's with names like our temporary files: a save
    // creates its own under a new random name and never touches them.
    let pid = std::process::id();
    let mut theirs = vec![format!(".m.safetensors.tmp-{pid}")];
    // This process's first 200 temporary names: the save takes a later one.
    theirs.extend((0..200).map(|n| format!(".m.safetensors.tmp-{pid}-{n}")));
    for name in &theirs {
        std::fs::write(dir.join(name), b"a user's file").unwrap();
    }
    let net = Sequential::init(&spec, Init::Torch, 3, DType::F32, &Device::Cpu).unwrap();
    Model::new(net.clone()).save(&path).unwrap();
    assert_ne!(std::fs::read(&path).unwrap(), old, "the new model is there");
    for name in &theirs {
        assert_eq!(
            std::fs::read(dir.join(name)).unwrap(),
            b"a user's file",
            "{name}"
        );
    }
    // A name of 250 bytes still has a temporary name (cut to fit 255 bytes).
    let long = dir.join(format!("{}.safetensors", "m".repeat(238)));
    Model::new(net).save(&long).unwrap();
    let mut left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    let mut expected: Vec<String> = theirs.clone();
    expected.extend([
        long.file_name().unwrap().to_string_lossy().into_owned(),
        "m.safetensors".into(),
    ]);
    expected.sort();
    assert_eq!(left, expected, "no temporary file of ours remains");
}

/// A content that fails half-way through its write (a full disk, a model
/// that cannot be encoded): the files named keep what they held, the other
/// file of the same step is not replaced either, and no temporary remains.
#[test]
fn a_write_that_fails_half_way_replaces_nothing() {
    use std::io::Write;
    use synapse_train::{write_all_contents_atomic, Content};
    let dir = temp("half-way");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (model, plot) = (dir.join("m.safetensors"), dir.join("p.png"));
    std::fs::write(&model, b"old model").unwrap();
    std::fs::write(&plot, b"old plot").unwrap();
    let half = |w: &mut dyn Write| -> std::io::Result<()> {
        w.write_all(&[7u8; 3 << 20])?;
        Err(std::io::Error::other("the disk is full"))
    };
    let e = write_all_contents_atomic(&[
        (&plot, Content::Bytes(b"new plot")),
        (&model, Content::Writer(&half)),
    ])
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("m.safetensors") && e.contains("the disk is full"),
        "{e}"
    );
    assert_eq!(std::fs::read(&model).unwrap(), b"old model");
    assert_eq!(std::fs::read(&plot).unwrap(), b"old plot");
    let mut left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(
        left,
        ["m.safetensors", "p.png"],
        "no temporary file remains"
    );
    // The same call with a content that succeeds replaces both.
    let whole = |w: &mut dyn Write| w.write_all(b"new model");
    write_all_contents_atomic(&[
        (&plot, Content::Bytes(b"new plot")),
        (&model, Content::Writer(&whole)),
    ])
    .unwrap();
    assert_eq!(std::fs::read(&model).unwrap(), b"new model");
    assert_eq!(std::fs::read(&plot).unwrap(), b"new plot");
}

#[test]
fn a_character_model_whose_metadata_does_not_fit_its_stack_is_refused() {
    let dev = Device::Cpu;
    let character_model = |arch: &str, context: usize| {
        let spec: ArchSpec = arch.parse().unwrap();
        let net = Sequential::init(&spec, Init::Torch, 1, DType::F32, &dev).unwrap();
        let mut model = Model::new(net);
        model.loss = Some(Loss::CrossEntropy);
        model.vocab = Some(vec!['a', 'b', 'c', 'd', 'e']);
        model.context = Some(context);
        model
    };
    // Seven scores for five characters: generate would draw an id that names none.
    let path = temp("wide.safetensors");
    character_model("embedding(5,4), linear(4,7)", 4)
        .save(&path)
        .unwrap();
    let e = Model::load(&path, None, &dev).unwrap_err().to_string();
    for needle in ["wide.safetensors", "vocab", "5 characters", "7 scores"] {
        assert!(e.contains(needle), "`{needle}` not in {e}");
    }
    // A context longer than the positional table holds.
    let path = temp("long.safetensors");
    character_model("embedding(5,4), positional(3,4), linear(4,5)", 4)
        .save(&path)
        .unwrap();
    let e = Model::load(&path, None, &dev).unwrap_err().to_string();
    for needle in ["long.safetensors", "context 4", "positional(3,4)", "3"] {
        assert!(e.contains(needle), "`{needle}` not in {e}");
    }
    // The same stacks with metadata that fits load.
    let path = temp("fits.safetensors");
    character_model("embedding(5,4), positional(4,4), linear(4,5)", 4)
        .save(&path)
        .unwrap();
    let back = Model::load(&path, None, &dev).unwrap();
    assert_eq!(
        (back.vocab.map(|v| v.len()), back.context),
        (Some(5), Some(4))
    );
}

#[test]
fn a_context_or_a_normalisation_that_does_not_fit_the_stack_is_refused() {
    // Found by the `model_metadata` fuzz target: `context` was checked only
    // beside a `vocab`, and `normalize` was read for a stack of ids.
    let dev = Device::Cpu;
    let model = |arch: &str| {
        let spec: ArchSpec = arch.parse().unwrap();
        Model::new(Sequential::init(&spec, Init::Torch, 1, DType::F32, &dev).unwrap())
    };
    let path = temp("dense_context.safetensors");
    let mut dense = model("linear(2,3), relu");
    dense.context = Some(6);
    dense.save(&path).unwrap();
    let e = Model::load(&path, None, &dev).unwrap_err().to_string();
    for needle in ["dense_context.safetensors", "context 6", "embedding"] {
        assert!(e.contains(needle), "`{needle}` not in {e}");
    }
    let path = temp("long_context.safetensors");
    let mut long = model("embedding(5,4), positional(3,4), linear(4,5)");
    long.context = Some(4);
    long.save(&path).unwrap();
    let e = Model::load(&path, None, &dev).unwrap_err().to_string();
    for needle in ["context 4", "positional(3,4)"] {
        assert!(e.contains(needle), "`{needle}` not in {e}");
    }
    let path = temp("ids_normalize.safetensors");
    let mut ids = model("embedding(4,3), linear(3,4)");
    ids.normalize = Some(Normalizer {
        mean: vec![0.0],
        std: vec![1.0],
    });
    ids.save(&path).unwrap();
    let e = Model::load(&path, None, &dev).unwrap_err().to_string();
    for needle in ["ids_normalize.safetensors", "normalize", "ids"] {
        assert!(e.contains(needle), "`{needle}` not in {e}");
    }
    // A context the stack reads, without a vocabulary, loads.
    let path = temp("context_only.safetensors");
    let mut fits = model("embedding(5,4), positional(4,4), linear(4,5)");
    fits.context = Some(4);
    fits.save(&path).unwrap();
    assert_eq!(Model::load(&path, None, &dev).unwrap().context, Some(4));
}

/// A model file's `normalize` statistics must have one column per input
/// column of its stack; another count is refused when the file is read.
#[test]
fn normalize_metadata_of_another_width_is_refused() {
    let spec: ArchSpec = "linear(2,1)".parse().unwrap();
    let net = Sequential::init(&spec, Init::Torch, 1, DType::F32, &Device::Cpu).unwrap();
    let mut m = Model::new(net);
    m.normalize = Some(Normalizer {
        mean: vec![0.0; 3],
        std: vec![1.0; 3],
    });
    let path = std::path::Path::new("m.safetensors");
    let e = Model::from_bytes(path, &m.to_bytes().unwrap(), None, &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("normalize has 3 columns, the stack takes 2"),
        "{e}"
    );
    m.normalize = Some(Normalizer {
        mean: vec![0.0; 2],
        std: vec![1.0; 2],
    });
    Model::from_bytes(path, &m.to_bytes().unwrap(), None, &Device::Cpu).unwrap();
}
