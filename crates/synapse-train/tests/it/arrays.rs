//! In-memory arrays to a dataset (`dataset_from_arrays`, what Python's numpy
//! arrays become): strided views, number types, empty views, and targets far
//! beyond any class. Each case was found by the `array_checks` fuzz target.

use candle_core::{DType, Device, Tensor};
use synapse_nn::Loss;
use synapse_train::{check_fits, dataset_from_arrays};

type R = Result<(), Box<dyn std::error::Error>>;

#[test]
fn a_strided_view_is_taken_as_its_values_in_order() -> R {
    let dev = Device::Cpu;
    // A transpose: batches are cut with index_select, which refused the view.
    let x = Tensor::new(&[[0f32, 1., 2.], [3., 4., 5.]], &dev)?.t()?;
    let y = Tensor::new(&[0f32, 1., 2.], &dev)?;
    let d = dataset_from_arrays(x, Some(y), false, DType::F32)?;
    assert_eq!(d.x().to_vec2::<f32>()?, [[0., 3.], [1., 4.], [2., 5.]]);
    let rows = d.subset(&[2, 0])?;
    assert_eq!(rows.x().to_vec2::<f32>()?, [[2., 5.], [0., 3.]]);
    assert_eq!(rows.y().to_vec2::<f32>()?, [[2.], [0.]]);
    // Ids, transposed.
    let x = Tensor::new(&[[1i64, 2], [3, 4]], &dev)?.t()?;
    let d = dataset_from_arrays(x, None, false, DType::F32)?;
    assert_eq!(d.subset(&[1])?.x().to_vec2::<i64>()?, [[2, 4]]);
    // One row broadcast to three (stride 0), numpy's `broadcast_to`.
    let x = Tensor::new(&[[1f64, 2.]], &dev)?.broadcast_as((3, 2))?;
    let d = dataset_from_arrays(x, None, false, DType::F64)?;
    assert_eq!(d.subset(&[2])?.x().to_vec2::<f64>()?, [[1., 2.]]);
    Ok(())
}

#[test]
fn numpy_number_types_are_read_and_smaller_floats_refused_by_name() -> R {
    let dev = Device::Cpu;
    let halves = Tensor::new(&[[1f32, 2.5]], &dev)?.to_dtype(DType::F16)?;
    let d = dataset_from_arrays(halves, None, false, DType::F32)?;
    assert_eq!(d.x().to_vec2::<f32>()?, [[1., 2.5]]);
    let d = dataset_from_arrays(Tensor::new(&[[7i16, 9]], &dev)?, None, false, DType::F32)?;
    assert_eq!(d.x().to_vec2::<i64>()?, [[7, 9]]);
    let eighths = Tensor::zeros((2, 2), DType::F32, &dev)?.to_dtype(DType::F8E4M3)?;
    let e = dataset_from_arrays(eighths, None, false, DType::F32)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("invalid x: holds f8e4m3 values"), "{e}");
    let x = Tensor::zeros((2, 2), DType::F32, &dev)?;
    let y = Tensor::from_raw_buffer(&[0u8; 2], DType::F4, &[2], &dev)?;
    let e = dataset_from_arrays(x, Some(y), false, DType::F32)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("invalid y: holds f4 values"), "{e}");
    Ok(())
}

#[test]
fn an_empty_view_of_empty_targets_is_read() -> R {
    let dev = Device::Cpu;
    // No values, but an offset of 3 into an empty storage: candle read there.
    let y = Tensor::zeros((2, 0, 4), DType::F32, &dev)?.narrow(2, 3, 0)?;
    let x = Tensor::zeros((2, 2), DType::F32, &dev)?;
    let d = dataset_from_arrays(x, Some(y), false, DType::F32)?;
    assert_eq!(d.y().dims(), [2, 0, 0]);
    Ok(())
}

#[test]
fn targets_far_beyond_any_class_are_refused_for_cross_entropy() -> R {
    let dev = Device::Cpu;
    // Their class count overflowed: a panic, or 0 classes in a release build.
    let x = Tensor::zeros((2, 2), DType::F64, &dev)?;
    let y = Tensor::new(&[0f64, 1e300], &dev)?;
    let d = dataset_from_arrays(x, Some(y), false, DType::F64)?;
    assert_eq!(d.class_count()?, usize::MAX);
    let e = check_fits(&"linear(2,3)".parse()?, Loss::CrossEntropy, &d)
        .unwrap_err()
        .to_string();
    assert!(e.contains("3 outputs"), "{e}");
    Ok(())
}
