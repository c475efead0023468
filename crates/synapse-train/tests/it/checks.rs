//! The data-against-stack rules of `checks.rs` and `arrays.rs`, tested here
//! next to them (the CLI's and Python's tests reach them only through a
//! whole run): a class column per row, at least two classes and one output
//! per class, the activation budget of one batch, and f64 values beyond
//! f32's range.

use candle_core::{DType, Device, Tensor};
use synapse_nn::{ArchSpec, Loss};
use synapse_train::{
    check_activations, check_batch_statistics, check_training_data, dataset_from_arrays, BatchSize,
    Dataset, Error, LARGE_ACTIVATIONS, MAX_ACTIVATIONS,
};

type R = Result<(), Box<dyn std::error::Error>>;

/// Four rows of two inputs, and the given class targets (`[4]` or `[4, k]`).
fn rows_with(y: Tensor) -> Result<Dataset, Error> {
    let x = Tensor::new(&[[0f32, 1.], [1., 0.], [2., 2.], [3., 1.]], &Device::Cpu)?;
    dataset_from_arrays(x, Some(y), true, DType::F32)
}

#[test]
fn training_data_needs_one_class_column_two_classes_and_an_output_per_class() -> R {
    let dev = Device::Cpu;
    let three: ArchSpec = "linear(2,3)".parse()?;
    let ce = Loss::CrossEntropy;
    let good = rows_with(Tensor::new(&[0u32, 1, 2, 1], &dev)?)?;
    check_training_data(&three, ce, &good)?;

    // Two class columns for a stack of one output per class.
    let two_columns = rows_with(Tensor::new(&[[0u32, 1], [1, 0], [2, 1], [1, 1]], &dev)?)?;
    let e = check_training_data(&three, ce, &two_columns)
        .unwrap_err()
        .to_string();
    assert!(e.contains("one target column of class indices"), "{e}");

    // One class only (classes count from 0 to the largest index).
    let one = rows_with(Tensor::new(&[0u32, 0, 0, 0], &dev)?)?;
    let e = check_training_data(&"linear(2,1)".parse()?, ce, &one)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("needs at least 2 classes, the target column has 1"),
        "{e}"
    );

    // Two classes for three outputs (more classes than outputs is check_fits').
    let two = rows_with(Tensor::new(&[0u32, 1, 0, 1], &dev)?)?;
    let e = check_training_data(&three, ce, &two)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("it has 2 classes but the stack `linear(2,3)` has 3 outputs"),
        "{e}"
    );
    check_training_data(&"linear(2,2)".parse()?, ce, &two)?;
    Ok(())
}

#[test]
fn per_position_targets_are_one_class_per_position() -> R {
    let dev = Device::Cpu;
    let lm: ArchSpec = "embedding(5,4), linear(4,5)".parse()?;
    let x = Tensor::new(&[[0i64, 1, 2], [3, 4, 0]], &dev)?;
    let y = Tensor::new(&[[1u32, 2, 3], [4, 0, 1]], &dev)?;
    let d = dataset_from_arrays(x.clone(), Some(y), true, DType::F32)?;
    check_training_data(&lm, Loss::CrossEntropy, &d)?;
    // The first class out of range, by its row and position (from 1 here).
    let y = Tensor::new(&[[1u32, 2, 3], [4, 7, 0]], &dev)?;
    let d = dataset_from_arrays(x.clone(), Some(y), true, DType::F32)?;
    let e = check_training_data(&lm, Loss::CrossEntropy, &d)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("row 2, position 2: class 7 is out of range"),
        "{e}"
    );
    // A class per row (or one position too many) is not one per position.
    for y in [
        Tensor::new(&[1u32, 2], &dev)?,
        Tensor::new(&[[1u32, 2, 3, 4], [4, 0, 1, 2]], &dev)?,
    ] {
        let d = dataset_from_arrays(x.clone(), Some(y), true, DType::F32)?;
        let e = check_training_data(&lm, Loss::CrossEntropy, &d)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("needs targets [3]: one class per position"),
            "{e}"
        );
    }
    Ok(())
}

#[test]
fn one_batchs_activations_are_refused_past_the_budget_and_never_past_the_maximum() -> R {
    // linear(1000,1000): 1,000 inputs and 1,000 outputs per row.
    let spec: ArchSpec = "linear(1000,1000)".parse()?;
    let per_row = spec.activation_values(&[1000])?;
    let fits = LARGE_ACTIVATIONS / per_row;
    check_activations(&spec, &[1000], fits, DType::F32, false)?;
    let large = fits + 1;
    match check_activations(&spec, &[1000], large, DType::F32, false) {
        Err(Error::TooLarge {
            option,
            reason,
            allowable,
        }) => {
            assert_eq!((option, allowable), ("batch-size", true));
            assert!(
                reason.contains(&format!("one batch of {large} rows")),
                "{reason}"
            );
            // Just past 2^28 values, 4 bytes each: 1.0 GiB.
            assert!(reason.contains("(1.0 GiB in f32)"), "{reason}");
        }
        other => panic!("{large} rows: {other:?}"),
    }
    check_activations(&spec, &[1000], large, DType::F32, true)?;
    let beyond = MAX_ACTIVATIONS / per_row + 1;
    match check_activations(&spec, &[1000], beyond, DType::F32, true) {
        Err(Error::TooLarge {
            option, allowable, ..
        }) => {
            assert_eq!((option, allowable), ("batch-size", false));
        }
        other => panic!("{beyond} rows: {other:?}"),
    }
    Ok(())
}

#[test]
fn f64_values_beyond_f32_are_refused_for_f32_training_by_row_and_column() -> R {
    let dev = Device::Cpu;
    let x = Tensor::new(&[[1f64, 2.], [3., -1e39]], &dev)?;
    let e = dataset_from_arrays(x.clone(), None, false, DType::F32)
        .unwrap_err()
        .to_string();
    // Rows and columns counted from 1 here (Python renders them from 0).
    assert!(
        e.starts_with("invalid x: row 2, column 2: -1000000000000000000000000000000000000000 does not fit in f32"),
        "{e}"
    );
    // In f64 the value is kept.
    let d = dataset_from_arrays(x, None, false, DType::F64)?;
    assert_eq!(d.x().to_vec2::<f64>()?[1][1], -1e39);
    // The same for targets.
    let x = Tensor::new(&[[1f64], [2.]], &dev)?;
    let y = Tensor::new(&[0.5f64, 4e38], &dev)?;
    let e = dataset_from_arrays(x, Some(y), false, DType::F32)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("invalid y: row 2")
            && e.contains("400000000000000000000000000000000000000 does not fit in f32"),
        "{e}"
    );
    Ok(())
}

#[test]
fn a_batch_of_one_row_is_refused_for_a_batchnorm_inside_a_block_too() -> R {
    // 5 rows in batches of 4: the last batch has one row.
    for (arch, name) in [
        (
            "linear(2,4), batchnorm(4), linear(4,2)",
            "batchnorm(4) (element 1)",
        ),
        (
            "linear(2,4), residual(batchnorm(4), linear(4,4)), linear(4,2)",
            "batchnorm(4) (element 1.0)",
        ),
    ] {
        let spec: ArchSpec = arch.parse()?;
        let e = check_batch_statistics(&spec, &[2], 5, BatchSize::Rows(4), 1)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("the last batch has 1 row") && e.contains(name),
            "{arch}: {e}"
        );
        check_batch_statistics(&spec, &[2], 6, BatchSize::Rows(4), 1)?;
    }
    Ok(())
}

#[test]
fn new_targets_keep_the_shape() -> R {
    let dev = Device::Cpu;
    let d = rows_with(Tensor::new(&[0u32, 1, 2, 1], &dev)?)?;
    let scaled = d.with_y((d.y() * 2.0)?)?;
    assert_eq!(scaled.y().to_vec2::<f32>()?, [[0.], [2.], [4.], [2.]]);
    let e = d
        .with_y(Tensor::zeros((4, 2), DType::F32, &dev)?)
        .unwrap_err()
        .to_string();
    assert!(e.contains("must keep the shape [4, 1], got [4, 2]"), "{e}");
    Ok(())
}

#[test]
fn probability_targets_are_in_0_1() -> R {
    let dev = Device::Cpu;
    let x = Tensor::new(&[[0f32, 1.], [1., 0.], [2., 2.], [3., 1.]], &dev)?;
    let spec: ArchSpec = "linear(2,1)".parse()?;
    let good = dataset_from_arrays(
        x.clone(),
        Some(Tensor::new(&[0f32, 1., 0.5, 1.], &dev)?),
        false,
        DType::F32,
    )?;
    check_training_data(&spec, Loss::BceLogits, &good)?;
    for (y, bad) in [([0f32, 1., 2., 0.], "2"), ([0f32, -0.5, 1., 0.], "-0.5")] {
        let d = dataset_from_arrays(x.clone(), Some(Tensor::new(&y, &dev)?), false, DType::F32)?;
        let e = check_training_data(&spec, Loss::BceLogits, &d)
            .unwrap_err()
            .to_string();
        assert!(e.contains(&format!("{bad} is outside [0, 1]")), "{e}");
    }
    Ok(())
}

#[test]
fn no_rows_have_no_classes_and_a_run_of_rows_is_those_rows() -> R {
    use synapse_train::Rows;
    let dev = Device::Cpu;
    let d = rows_with(Tensor::new(&[0u32, 1, 2, 1], &dev)?)?;
    assert_eq!(d.subset(&[])?.class_count()?, 0);
    assert_eq!(d.class_count()?, 3);
    let (x, y) = d.range(0, 2)?;
    assert_eq!(x.to_vec2::<f32>()?, [[0., 1.], [1., 0.]]);
    assert_eq!(y.to_vec2::<f32>()?, [[0.], [1.]]);
    let (x, _) = d.range(2, 2)?;
    assert_eq!(x.to_vec2::<f32>()?, [[2., 2.], [3., 1.]]);
    let (x, _) = d.range(0, 4)?;
    assert_eq!(x.dims(), [4, 2]);
    Ok(())
}
