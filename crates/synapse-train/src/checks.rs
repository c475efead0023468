//! What is checked before training, so that a run refused then changes
//! nothing (SPEC section 9): the data against the stack and the loss, the
//! sizes of the stack and of one batch's activations, and that every
//! batchnorm sees at least two values per feature in every training batch.
//!
//! Each rule lives here once; a caller (the command line, Python) maps the
//! error's `name` (`arch`, `batch-size`) to its own spelling of the option.

use candle_core::DType;
use synapse_nn::{ArchSpec, ElementSpec, Loss, RowShape};

use crate::distributed::slice_range;
use crate::{BatchSize, Dataset, Error, Result};

/// Stacks above this many parameters need `allow_large`.
pub const LARGE_PARAMETERS: usize = 100_000_000;
/// One batch whose activations (every element's output, and a convolution's
/// unfolded windows) exceed this many values needs `allow_large` (1 GiB in f32).
pub const LARGE_ACTIVATIONS: usize = 1 << 28;
/// One batch of more activation values than this is refused even with
/// `allow_large` (32 GiB in f32, 64 in f64): it could not be allocated.
pub const MAX_ACTIVATIONS: usize = 1 << 33;

/// Checks that `data` fits `net` and `loss`: input width, target width or
/// classes (no more classes than outputs), and for `bce`/`bce-logits` targets
/// in `[0, 1]`. Any data that a stack is trained on or evaluated with.
pub fn check_fits(spec: &ArchSpec, loss: Loss, data: &Dataset) -> Result<()> {
    let out = stack_output(spec, data)?;
    check_ids(spec, data)?;
    let targets = data.target_shape();
    if loss.is_classification() {
        // One class per row ([C] outputs), or per position ([T, C]).
        let (lead, classes_out) = out.split_at(out.len() - 1);
        let fits = match lead {
            [] => targets == [1],
            _ => targets == lead,
        };
        if !fits {
            let want = if lead.is_empty() {
                "one target column of class indices".to_string()
            } else {
                format!("targets {lead:?}: one class per position")
            };
            return Err(Error::config(
                "targets",
                format!("{loss} on outputs {out:?} needs {want}, got targets {targets:?}"),
            ));
        }
        let classes = data.class_count()?;
        let outputs = classes_out[0];
        if classes > outputs {
            let reason = match data.first_class_from(outputs)? {
                // A class per position: the first one out of range, by its row and position.
                Some((row, position, class)) if !lead.is_empty() => format!(
                    "row {}, position {}: class {class} is out of range: the stack `{spec}` has {outputs} outputs, one per class",
                    synapse_nn::index(row),
                    synapse_nn::index(position)
                ),
                _ => format!("it has {classes} classes but the stack `{spec}` has {outputs} outputs"),
            };
            return Err(Error::config("targets", reason));
        }
    } else if targets.iter().product::<usize>() != out.iter().product::<usize>()
        || (targets.len() > 1 && targets != out.as_slice())
    {
        let what = if targets.len() == 1 && out.len() == 1 {
            format!(
                "it has {} target columns but the stack `{spec}` has {} outputs",
                targets[0], out[0]
            )
        } else {
            format!("its targets are {targets:?} per row but the stack `{spec}` gives {out:?}")
        };
        return Err(Error::config("targets", what));
    }
    if matches!(loss, Loss::Bce | Loss::BceLogits) {
        check_probabilities(loss, data)?;
    }
    Ok(())
}

/// For a stack that starts with `embedding(V,D)`: `x` holds ids, each in
/// `0..V`; an error names the first id outside by its row and position.
fn check_ids(spec: &ArchSpec, data: &Dataset) -> Result<()> {
    let (Some(vocab), Some(e)) = (spec.ids(), spec.elements().first()) else {
        if data.is_ids() {
            return Err(Error::config(
                "data",
                format!("its inputs are ids (integers), but `{spec}` does not start with embedding(V,D)"),
            ));
        }
        return Ok(());
    };
    if !data.is_ids() {
        return Err(Error::config(
            "data",
            format!("`{spec}` starts with {e}, which takes integer ids, but its inputs are numbers; give an integer array x"),
        ));
    }
    let t = data.row_shape().iter().product::<usize>().max(1);
    let ids = data
        .x()
        .flatten_all()?
        .to_dtype(candle_core::DType::I64)?
        .to_vec1::<i64>()?;
    if let Some(k) = ids.iter().position(|&id| id < 0 || id as usize >= vocab) {
        return Err(Error::config(
            "data",
            format!(
                "row {}, position {}: id {} is not one of {e}'s ids 0..{} (V = {})",
                synapse_nn::index(k / t),
                synapse_nn::index(k % t),
                ids[k],
                vocab - 1,
                vocab
            ),
        ));
    }
    Ok(())
}

/// The stack's output row for `data`'s rows, or an error naming the
/// element that does not fit them (e.g. a convolution fed flat CSV rows).
fn stack_output(spec: &ArchSpec, data: &Dataset) -> Result<Vec<usize>> {
    let row = data.row_shape();
    if let (&[n], Some(width)) = (row, spec.input_width()) {
        if n != width && !data.is_ids() {
            return Err(Error::config(
                "data",
                format!("it has {n} input columns but the stack `{spec}` takes {width}"),
            ));
        }
    }
    spec.check_input(row).map_err(|e| {
        let flat = if data.is_ids() {
            format!("its rows are sequences of {} ids", row[0])
        } else if row.len() == 1 {
            format!("its rows are flat ({} values)", row[0])
        } else {
            format!("its rows have the shape {row:?}")
        };
        Error::config(
            "data",
            format!("{flat}, which the stack does not take: {e}"),
        )
    })
}

/// [`check_fits`], and what training data needs beyond it: for
/// cross-entropy, at least two classes and one output per class.
pub fn check_training_data(spec: &ArchSpec, loss: Loss, data: &Dataset) -> Result<()> {
    check_fits(spec, loss, data)?;
    if loss.is_classification() {
        let classes = data.class_count()?;
        let known = match &data.labels {
            Some(l) => format!(" ({})", l.join(", ")),
            None => String::new(),
        };
        if classes < 2 {
            return Err(Error::config(
                "data",
                format!("{loss} needs at least 2 classes, the target column has {classes}{known}"),
            ));
        }
        let outputs = *stack_output(spec, data)?.last().unwrap_or(&0);
        if classes != outputs {
            return Err(Error::config(
                "data",
                format!(
                    "it has {classes} classes{known} but the stack `{spec}` has {outputs} outputs; {loss} needs one output per class"
                ),
            ));
        }
    }
    Ok(())
}

/// `bce` and `bce-logits` targets are probabilities: every one in `[0, 1]`.
fn check_probabilities(loss: Loss, data: &Dataset) -> Result<()> {
    let y = data.y().to_dtype(candle_core::DType::F64)?;
    let (lo, hi) = (
        y.min_all()?.to_scalar::<f64>()?,
        y.max_all()?.to_scalar::<f64>()?,
    );
    if lo >= 0.0 && hi <= 1.0 {
        return Ok(());
    }
    let k = data.targets().max(1);
    let values = y.flatten_all()?.to_vec1::<f64>()?;
    let at = values
        .iter()
        .position(|v| !(0.0..=1.0).contains(v))
        .unwrap_or(0);
    Err(Error::config(
        "targets",
        format!(
            "data row {}, target column \"{}\": {} is outside [0, 1]; {loss} takes probabilities as targets",
            synapse_nn::index(at / k),
            data.target_names.get(at % k).map_or("", String::as_str),
            values[at]
        ),
    ))
}

/// The stack's size: more than [`LARGE_PARAMETERS`] parameters only with
/// `allow_large` ([`Error::TooLarge`] naming the option `arch`).
pub fn check_parameters(spec: &ArchSpec, allow_large: bool) -> Result<()> {
    let count = spec.parameter_count();
    if count > LARGE_PARAMETERS && !allow_large {
        return Err(Error::TooLarge {
            option: "arch",
            reason: format!("the stack has {count} parameters, more than {LARGE_PARAMETERS}"),
            allowable: true,
        });
    }
    Ok(())
}

/// One batch's activations for rows of shape `row` (see
/// [`ArchSpec::activation_values`]): more than [`LARGE_ACTIVATIONS`] values
/// only with `allow_large`, more than [`MAX_ACTIVATIONS`] never. Checked
/// before anything is allocated; the error names the option `batch-size`.
pub fn check_activations(
    spec: &ArchSpec,
    row: &[usize],
    batch_rows: usize,
    dtype: DType,
    allow_large: bool,
) -> Result<()> {
    let total = spec
        .activation_values(row)?
        .checked_mul(batch_rows)
        .filter(|&t| t <= MAX_ACTIVATIONS);
    let head = format!("one batch of {batch_rows} rows of `{spec}` needs");
    let tail = "use a smaller batch or stack";
    match total {
        Some(t) if t <= LARGE_ACTIVATIONS || allow_large => Ok(()),
        Some(t) => {
            let gib = t as f64 * dtype.size_in_bytes() as f64 / (1u64 << 30) as f64;
            Err(Error::TooLarge {
                option: "batch-size",
                reason: format!(
                    "{head} {t} activation values ({gib:.1} GiB in {}), more than {LARGE_ACTIVATIONS}; {tail}",
                    crate::dtype_name(dtype)
                ),
                allowable: true,
            })
        }
        None => Err(Error::TooLarge {
            option: "batch-size",
            reason: format!(
                "{head} more than the {MAX_ACTIVATIONS} activation values that can be allocated; {tail}"
            ),
            allowable: false,
        }),
    }
}

/// Every batchnorm sees at least two values per feature in every training
/// batch (one value has no variance; PyTorch refuses it mid-epoch). `rows`
/// rows of shape `row` are cut into batches of `batch`, each batch into
/// `ranks` slices (one per distributed rank, which normalises its own slice).
/// The error is named `batch-size` and says which element and which batch.
pub fn check_batch_statistics(
    spec: &ArchSpec,
    row: &[usize],
    rows: usize,
    batch: BatchSize,
    ranks: usize,
) -> Result<()> {
    let norms = batchnorm_values_per_row(spec, row)?;
    if norms.is_empty() || rows == 0 {
        return Ok(());
    }
    let b = batch.rows(rows).min(rows);
    let mut sizes = vec![(b, "every batch")];
    if !rows.is_multiple_of(b) {
        sizes.push((rows % b, "the last batch"));
    }
    for (size, which) in sizes {
        let smallest = (0..ranks.max(1))
            .map(|r| slice_range(size, ranks.max(1), r).len())
            .filter(|&s| s > 0)
            .min()
            .unwrap_or(size);
        for (name, per_row) in &norms {
            if smallest.saturating_mul(*per_row) < 2 {
                let slice = if ranks > 1 {
                    format!(" (cut over {ranks} ranks, a slice of {smallest} row)")
                } else {
                    String::new()
                };
                return Err(Error::config(
                    "batch-size",
                    format!(
                        "{batch}: of the {rows} training rows, {which} has {size} row{}{slice}, and {name} needs at least 2 values per feature in training; choose a batch size that leaves no batch of one row",
                        if size == 1 { "" } else { "s" }
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Each batchnorm of the stack (`"batchnorm(4) (element 2)"`, `"element
/// 1.0"` inside a block) with the values one row gives each of its
/// features: 1, or `H*W` for `batchnorm2d`.
fn batchnorm_values_per_row(spec: &ArchSpec, row: &[usize]) -> Result<Vec<(String, usize)>> {
    let mut out = Vec::new();
    walk(spec.elements(), RowShape::known(row), "", &mut out)?;
    Ok(out)
}

fn walk(
    elements: &[ElementSpec],
    mut input: RowShape,
    prefix: &str,
    out: &mut Vec<(String, usize)>,
) -> Result<()> {
    for (i, e) in elements.iter().enumerate() {
        if let Some(per_row) = e.batch_statistics(&input) {
            out.push((format!("{e} (element {prefix}{i})"), per_row));
        }
        if !e.inner().is_empty() {
            walk(e.inner(), input.clone(), &format!("{prefix}{i}."), out)?;
        }
        input = e.output_shape(&input).map_err(|reason| {
            Error::config("arch", format!("element {prefix}{i} `{e}`: {reason}"))
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use synapse_nn::ArchSpec;

    use candle_core::{DType, Device, Tensor};

    use super::{check_batch_statistics, check_fits, check_ids, check_parameters, stack_output};
    use crate::{BatchSize, Dataset};

    /// Rows of `row` values (zeros), one target each.
    fn data(row: &[usize]) -> Dataset {
        let dims: Vec<usize> = [&[2usize][..], row].concat();
        let x = Tensor::zeros(dims, DType::F32, &Device::Cpu).unwrap();
        Dataset::new(x, Tensor::zeros(2, DType::F32, &Device::Cpu).unwrap()).unwrap()
    }

    /// The output row of a stack that takes the data, else an error naming
    /// the column counts, or the data's row shape and the element.
    #[test]
    fn the_stack_output_or_what_does_not_fit() {
        let spec = |s: &str| -> ArchSpec { s.parse().unwrap() };
        assert_eq!(
            stack_output(&spec("linear(3,4), relu, linear(4,2)"), &data(&[3])).unwrap(),
            [2]
        );
        let e = stack_output(&spec("linear(4,1)"), &data(&[3]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("it has 3 input columns but the stack `linear(4,1)` takes 4"),
            "{e}"
        );
        let conv = spec("conv2d(1,2,3), flatten");
        assert_eq!(stack_output(&conv, &data(&[1, 4, 4])).unwrap(), [8]);
        let e = stack_output(&conv, &data(&[9])).unwrap_err().to_string();
        assert!(
            e.contains("its rows are flat (9 values), which the stack does not take"),
            "{e}"
        );
        let e = stack_output(&conv, &data(&[2, 4, 4]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("its rows have the shape [2, 4, 4]"), "{e}");
    }

    /// A batchnorm needs two values per feature in every training batch and
    /// in every rank's slice of it (`slice_range`: 8 rows over 3 ranks are
    /// 3, 3, 2; 4 rows over 3 are 2, 1, 1).
    #[test]
    fn every_batch_and_slice_gives_a_batchnorm_two_values() {
        let dense: ArchSpec = "linear(3,4), batchnorm(4), relu, linear(4,1)"
            .parse()
            .unwrap();
        let check = |rows, batch, ranks| check_batch_statistics(&dense, &[3], rows, batch, ranks);
        let err =
            |rows, batch, ranks| -> String { check(rows, batch, ranks).unwrap_err().to_string() };
        assert!(check(10, BatchSize::Rows(4), 1).is_ok());
        let e = err(9, BatchSize::Rows(4), 1);
        assert!(
            e.contains("the last batch has 1 row,") && e.contains("batchnorm(4)"),
            "{e}"
        );
        assert!(check(9, BatchSize::Full, 1).is_ok());
        assert!(check(0, BatchSize::Rows(4), 1).is_ok());
        assert!(check(8, BatchSize::Rows(4), 2).is_ok());
        let e = err(8, BatchSize::Rows(4), 3);
        assert!(
            e.contains("every batch has 4 rows (cut over 3 ranks, a slice of 1 row)"),
            "{e}"
        );
        assert!(check(8, BatchSize::Rows(8), 3).is_ok());
        // More ranks than rows: the empty slices do not count, the others hold 1.
        let e = err(8, BatchSize::Rows(8), 9);
        assert!(e.contains("a slice of 1 row"), "{e}");
        // No batchnorm: nothing to check.
        let plain: ArchSpec = "linear(3,1)".parse().unwrap();
        assert!(check_batch_statistics(&plain, &[3], 9, BatchSize::Rows(4), 1).is_ok());
        // batchnorm2d sees H W values per channel of each row: 2 x 2 here.
        let conv: ArchSpec = "conv2d(1,2,3), batchnorm2d(2)".parse().unwrap();
        assert!(check_batch_statistics(&conv, &[1, 4, 4], 9, BatchSize::Rows(4), 1).is_ok());
        let e = check_batch_statistics(&conv, &[1, 3, 3], 9, BatchSize::Rows(4), 1)
            .unwrap_err()
            .to_string();
        assert!(e.contains("batchnorm2d(2)"), "{e}");
    }

    /// Ids are `0..V`: V itself (and a negative id) is named by its row and
    /// position (counted from 1 here, as the command line counts).
    #[test]
    fn an_id_outside_the_vocabulary_is_named_by_row_and_position() {
        let spec: ArchSpec = "embedding(5,2), linear(2,3)".parse().unwrap();
        let y = Tensor::zeros((2, 2), DType::F32, &Device::Cpu).unwrap();
        for (bad, shown) in [(5i64, "id 5"), (-1, "id -1")] {
            let x = Tensor::new(&[[0i64, 1], [4, bad]], &Device::Cpu).unwrap();
            let data = Dataset::new(x, y.clone()).unwrap();
            let e = check_ids(&spec, &data).unwrap_err().to_string();
            assert!(e.contains(&format!("row 2, position 2: {shown} ")), "{e}");
        }
        let x = Tensor::new(&[[0i64, 1], [4, 4]], &Device::Cpu).unwrap();
        check_ids(&spec, &Dataset::new(x, y).unwrap()).unwrap();
    }

    /// Flat targets fit any output of as many values (a row of 6 targets
    /// for an output [2, 3]); targets of a shape must be the output's.
    #[test]
    fn flat_targets_fit_an_output_of_as_many_values() {
        let spec: ArchSpec = "linear(4,6), reshape(2,3)".parse().unwrap();
        let x = Tensor::zeros((2, 4), DType::F32, &Device::Cpu).unwrap();
        let flat = Tensor::zeros((2, 6), DType::F32, &Device::Cpu).unwrap();
        let data = Dataset::new(x.clone(), flat).unwrap();
        check_fits(&spec, synapse_nn::Loss::Mse, &data).unwrap();
        let shaped = Tensor::zeros((2, 3, 2), DType::F32, &Device::Cpu).unwrap();
        let data = Dataset::new(x, shaped).unwrap();
        let e = check_fits(&spec, synapse_nn::Loss::Mse, &data)
            .unwrap_err()
            .to_string();
        assert!(e.contains("[3, 2] per row") && e.contains("[2, 3]"), "{e}");
        // Flat targets of another count: named as a shape beside the
        // output's shape, not as columns against its first size.
        let five = Tensor::zeros((2, 5), DType::F32, &Device::Cpu).unwrap();
        let x = Tensor::zeros((2, 4), DType::F32, &Device::Cpu).unwrap();
        let data = Dataset::new(x, five).unwrap();
        let e = check_fits(&spec, synapse_nn::Loss::Mse, &data)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("its targets are [5] per row but the stack `linear(4,6), reshape(2,3)` gives [2, 3]"),
            "{e}"
        );
    }

    /// More than 100 million parameters only with `allow_large`.
    #[test]
    fn a_large_stack_needs_allow_large() {
        let big: ArchSpec = "linear(20000,5001)".parse().unwrap();
        assert!(big.parameter_count() > super::LARGE_PARAMETERS);
        let e = check_parameters(&big, false).unwrap_err().to_string();
        assert!(e.contains("more than 100000000"), "{e}");
        check_parameters(&big, true).unwrap();
        check_parameters(&"linear(2,3)".parse().unwrap(), false).unwrap();
    }
}
