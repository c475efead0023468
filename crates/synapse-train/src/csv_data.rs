//! Reading a CSV dataset (SPEC section 6): a header row, then numbers.
//!
//! `--target` columns become `y` (default: the last column), every other
//! column is an input, in file order. A `.gz` file is decompressed on the fly.
//! For class targets the column may hold indices or words; words become
//! indices in sorted order. Every error names the file, line and column.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use candle_core::{DType, Device, Tensor};

use crate::dataset::{Classes, Dataset, LoadOptions, Targets, MAX_CLASSES};
use crate::{Error, Result};

/// A cell's place, for error messages.
struct Cell<'a> {
    path: &'a Path,
    line: usize,
    column: usize,
    name: &'a str,
    dtype: DType,
}

impl Cell<'_> {
    fn error(&self, reason: String) -> Error {
        Error::Data {
            path: self.path.to_path_buf(),
            line: Some(self.line),
            column: Some(format!("{} (\"{}\")", self.column + 1, self.name)),
            reason,
        }
    }

    fn number(&self, text: &str) -> Result<f64> {
        match text.parse::<f64>() {
            Ok(v) if self.dtype == DType::F32 && v.is_finite() && v.abs() > f32::MAX as f64 => {
                Err(self.error(format!(
                    "`{}` does not fit in f32 (whose largest size is about 3.4e38); use the f64 dtype (--dtype f64) or rescale the column",
                    shorten(text)
                )))
            }
            Ok(v) if v.is_finite() => Ok(v),
            Ok(_) => Err(self.error(format!(
                "`{}` is not a finite number (NaN and infinity are not allowed)",
                shorten(text)
            ))),
            Err(_) if text.is_empty() => {
                Err(self.error("the cell is empty; expected a number".into()))
            }
            Err(_) => Err(self.error(format!("`{}` is not a number", shorten(text)))),
        }
    }
}

/// A cell's text for a message: at most 40 characters.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

fn open(path: &Path) -> Result<Box<dyn Read>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
    {
        Ok(Box::new(flate2::read::GzDecoder::new(BufReader::new(file))))
    } else {
        Ok(Box::new(BufReader::new(file)))
    }
}

/// Reads `path` as a CSV dataset.
pub fn load_csv(path: &Path, options: &LoadOptions) -> Result<Dataset> {
    read_csv(open(path)?, path, options)
}

/// Reads CSV text from `input`; `path` only names the file in errors.
pub fn read_csv(input: impl Read, path: &Path, options: &LoadOptions) -> Result<Dataset> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(input);
    let header = read_header(&mut reader, path)?;
    let columns = Columns::of(path, &header, options)?;
    let cells = read_rows(&mut reader, path, &header, &columns, options)?;
    let mut labels = None;
    let mut y = cells.y;
    if let (Some(&c), false) = (
        columns.targets.first(),
        matches!(options.classes, Classes::No),
    ) {
        let (indices, words) = class_indices(&cells.classes, &options.classes, |line| Cell {
            path,
            line,
            column: c,
            name: &header[c],
            dtype: options.dtype,
        })?;
        y = indices;
        labels = words;
    }
    let k = if matches!(options.classes, Classes::No) {
        columns.targets.len()
    } else {
        columns.targets.len().min(1)
    };
    let dev = Device::Cpu;
    let rows = cells.rows;
    let x =
        Tensor::from_vec(cells.x, (rows, columns.inputs.len()), &dev)?.to_dtype(options.dtype)?;
    let y = Tensor::from_vec(y, (rows, k), &dev)?.to_dtype(options.dtype)?;
    let mut data = Dataset::new(x, y)?;
    data.input_names = columns.inputs.iter().map(|&c| header[c].clone()).collect();
    data.target_names = columns.targets.iter().map(|&c| header[c].clone()).collect();
    data.labels = labels;
    Ok(data)
}

/// A csv crate error as ours: the OS's, invalid UTF-8 by line, or its words.
fn csv_error(path: &Path, e: csv::Error) -> Error {
    match e.kind() {
        csv::ErrorKind::Io(io) => Error::io(path, std::io::Error::new(io.kind(), io.to_string())),
        csv::ErrorKind::Utf8 { pos, .. } => Error::Data {
            path: path.to_path_buf(),
            line: pos.as_ref().map(|p| p.line() as usize),
            column: None,
            reason: "the text is not valid UTF-8".into(),
        },
        _ => Error::data(path, e.to_string()),
    }
}

/// The header row: at least one column name, each named once.
fn read_header(reader: &mut csv::Reader<impl Read>, path: &Path) -> Result<Vec<String>> {
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| csv_error(path, e))?
        .iter()
        .map(str::to_string)
        .collect();
    if header.is_empty() || (header.len() == 1 && header[0].is_empty()) {
        return Err(Error::data(
            path,
            "the file is empty; expected a header row of column names",
        ));
    }
    // One pass with a set: headers can have millions of columns.
    let mut seen = std::collections::HashMap::with_capacity(header.len());
    let duplicate = header
        .iter()
        .enumerate()
        .find_map(|(j, h)| seen.insert(h.as_str(), j).map(|first| (j, h, first)));
    if let Some((j, name, first)) = duplicate {
        return Err(Error::Data {
            path: path.to_path_buf(),
            line: Some(1),
            column: Some(format!("{} (\"{}\")", j + 1, shorten(name))),
            reason: format!(
                "the header names column {} \"{}\" again; every column needs its own name",
                first + 1,
                shorten(name)
            ),
        });
    }
    Ok(header)
}

/// Which columns are targets and which inputs (in file order).
struct Columns {
    targets: Vec<usize>,
    inputs: Vec<usize>,
}

impl Columns {
    /// The options' targets in `header`; the columns `Targets::Drop` names
    /// are neither; class targets are one column.
    fn of(path: &Path, header: &[String], options: &LoadOptions) -> Result<Self> {
        let dropped = match &options.targets {
            Targets::Drop(names) => target_columns(path, header, &Targets::Named(names.clone()))?,
            _ => Vec::new(),
        };
        let targets = target_columns(path, header, &options.targets)?;
        if !matches!(options.classes, Classes::No) && targets.len() != 1 {
            return Err(Error::config(
                "target",
                format!(
                    "class targets need exactly one target column, got {}",
                    targets.len()
                ),
            ));
        }
        let inputs = (0..header.len())
            .filter(|c| !targets.contains(c) && !dropped.contains(c))
            .collect();
        Ok(Self { targets, inputs })
    }
}

/// The data rows as read: input values row by row, float targets, or the
/// class column's text with its line (turned into indices afterwards).
struct Cells {
    x: Vec<f64>,
    y: Vec<f64>,
    classes: Vec<(usize, String)>,
    rows: usize,
}

/// Reads every data row (blank lines skipped): as many cells as the header,
/// each input a number.
fn read_rows(
    reader: &mut csv::Reader<impl Read>,
    path: &Path,
    header: &[String],
    columns: &Columns,
    options: &LoadOptions,
) -> Result<Cells> {
    let mut cells = Cells {
        x: Vec::new(),
        y: Vec::new(),
        classes: Vec::new(),
        rows: 0,
    };
    let mut record = csv::StringRecord::new();
    while reader
        .read_record(&mut record)
        .map_err(|e| csv_error(path, e))?
    {
        let line = record.position().map_or(0, |p| p.line() as usize);
        if record.len() == 1 && record[0].is_empty() {
            continue; // a blank line
        }
        if record.len() != header.len() {
            let how = if record.len() < header.len() {
                "too few"
            } else {
                "too many"
            };
            return Err(Error::Data {
                path: path.to_path_buf(),
                line: Some(line),
                column: None,
                reason: format!(
                    "{how} cells: {} where the header has {}",
                    record.len(),
                    header.len()
                ),
            });
        }
        let cell = |column: usize| Cell {
            path,
            line,
            column,
            name: &header[column],
            dtype: options.dtype,
        };
        for &c in &columns.inputs {
            cells.x.push(cell(c).number(&record[c])?);
        }
        if let Classes::No = options.classes {
            for &c in &columns.targets {
                cells.y.push(cell(c).number(&record[c])?);
            }
        } else if let Some(&c) = columns.targets.first() {
            cells.classes.push((line, record[c].to_string()));
        }
        cells.rows += 1;
    }
    if cells.rows == 0 {
        return Err(Error::data(path, "the file has a header but no data rows"));
    }
    Ok(cells)
}

fn target_columns(path: &Path, header: &[String], targets: &Targets) -> Result<Vec<usize>> {
    match targets {
        Targets::Last => Ok(vec![header.len() - 1]),
        Targets::None | Targets::Drop(_) => Ok(vec![]),
        Targets::Named(names) => names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                if names[..i].contains(name) {
                    return Err(Error::data(
                        path,
                        format!("target column \"{}\" is named twice", shorten(name)),
                    ));
                }
                header.iter().position(|h| h == name).ok_or_else(|| {
                    Error::data(
                        path,
                        format!(
                            "target column \"{}\" does not exist; the columns are: {}",
                            shorten(name),
                            list_columns(header)
                        ),
                    )
                })
            })
            .collect(),
    }
}

/// The column names for a message: the first few, each cut, and how many more.
fn list_columns(header: &[String]) -> String {
    const SHOWN: usize = 12;
    let mut text = header
        .iter()
        .take(SHOWN)
        .map(|h| shorten(h))
        .collect::<Vec<_>>()
        .join(", ");
    if header.len() > SHOWN {
        text.push_str(&format!(" and {} more", header.len() - SHOWN));
    }
    text
}

/// Class indices from a column of indices or words, and the words when there were words.
///
/// With known words (a trained model's labels), every cell is read as one of
/// them, even a cell that looks like a number: labels `["1", "10", "2"]` are words.
fn class_indices<'a>(
    raw: &[(usize, String)],
    classes: &Classes,
    cell: impl Fn(usize) -> Cell<'a>,
) -> Result<(Vec<f64>, Option<Vec<String>>)> {
    let known_words = matches!(classes, Classes::Known(l) if !l.is_empty());
    let all_numeric = raw.iter().all(|(_, t)| t.parse::<f64>().is_ok());
    if all_numeric && !known_words {
        let mut out = Vec::with_capacity(raw.len());
        for (line, text) in raw {
            let c = cell(*line);
            let v = c.number(text)?;
            if synapse_nn::class_index(v, MAX_CLASSES).is_err() {
                return Err(c.error(format!(
                    "`{}` is not a class index (a whole number 0 or more)",
                    shorten(text)
                )));
            }
            if let Classes::Known(labels) = classes {
                if v as usize >= labels.len() {
                    return Err(c.error(format!(
                        "class index {text} is out of range for {} classes",
                        labels.len()
                    )));
                }
            }
            out.push(v);
        }
        // Indices come with no words: known words would have read every cell as one.
        return Ok((out, None));
    }
    // An empty cell is a missing class, never a class named "".
    if let Some((line, _)) = raw.iter().find(|(_, t)| t.is_empty()) {
        return Err(cell(*line).error("the cell is empty; expected a class".into()));
    }
    let labels: Vec<String> = match classes {
        Classes::Known(l) if !l.is_empty() => l.clone(),
        _ => raw
            .iter()
            .map(|(_, t)| t.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
    };
    let mut out = Vec::with_capacity(raw.len());
    for (line, text) in raw {
        match labels.iter().position(|l| l == text) {
            Some(i) => out.push(i as f64),
            None if text.is_empty() => {
                return Err(cell(*line).error("the cell is empty; expected a class".into()))
            }
            None => {
                return Err(cell(*line).error(format!(
                    "unknown class `{}`; the model knows: {}",
                    shorten(text),
                    list_columns(&labels)
                )))
            }
        }
    }
    Ok((out, Some(labels)))
}

#[cfg(test)]
mod tests {
    /// Twelve column names are all shown; past twelve, how many more.
    #[test]
    fn past_twelve_columns_the_rest_are_counted() {
        let header = |n: usize| -> Vec<String> { (0..n).map(|i| format!("c{i}")).collect() };
        let twelve = super::list_columns(&header(12));
        assert!(
            twelve.ends_with("c11") && !twelve.contains("more"),
            "{twelve}"
        );
        let thirteen = super::list_columns(&header(13));
        assert!(thirteen.ends_with("c11 and 1 more"), "{thirteen}");
    }
}
