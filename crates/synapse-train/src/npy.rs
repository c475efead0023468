//! numpy's `.npy` arrays inside `.npz` zip files, read and written.
//!
//! Format (numpy's `format.py`): magic `\x93NUMPY`, version `major minor`, a
//! little-endian header length (u16 in 1.0, u32 in 2.0/3.0), then a Python
//! dict `{'descr': '<f4', 'fortran_order': False, 'shape': (N, D), }` padded
//! with spaces, then the raw data. Sizes are checked against the bytes that
//! are there before anything is allocated, so a lying header cannot exhaust
//! memory.

use std::io::{Cursor, Read, Write};
use std::path::Path;

use candle_core::{DType, Device, Tensor};

use crate::{Error, Result};

/// The element types we read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NpyType {
    /// `<f4`
    F32,
    /// `<f8`
    F64,
    /// `<i8`
    I64,
    /// `<i4`
    I32,
    /// `<i2`
    I16,
    /// `|u1`
    U8,
    /// `<u2`
    U16,
    /// `<u4`
    U32,
    /// `|b1`
    Bool,
}

impl NpyType {
    fn from_descr(descr: &str) -> Option<Self> {
        Some(match descr {
            "<f4" => NpyType::F32,
            "<f8" => NpyType::F64,
            "<i8" => NpyType::I64,
            "<i4" => NpyType::I32,
            "<i2" => NpyType::I16,
            "|u1" | "<u1" => NpyType::U8,
            "<u2" => NpyType::U16,
            "<u4" => NpyType::U32,
            "|b1" => NpyType::Bool,
            _ => return None,
        })
    }

    fn size(self) -> usize {
        match self {
            NpyType::F32 | NpyType::I32 | NpyType::U32 => 4,
            NpyType::F64 | NpyType::I64 => 8,
            NpyType::I16 | NpyType::U16 => 2,
            NpyType::U8 | NpyType::Bool => 1,
        }
    }

    /// Whether the type holds whole numbers.
    pub fn is_integer(self) -> bool {
        !matches!(self, NpyType::F32 | NpyType::F64)
    }
}

/// The values of an array: floats typed (read straight into their final
/// buffer, no second copy), whole numbers as their little-endian bytes.
#[derive(Debug, Clone, PartialEq)]
enum NpyData {
    F32(Vec<f32>),
    F64(Vec<f64>),
    Raw(Vec<u8>),
}

/// One array: its element type, shape and values.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    /// The element type in the file.
    pub dtype: NpyType,
    /// The shape, C order.
    pub shape: Vec<usize>,
    data: NpyData,
}

impl NpyArray {
    /// The array as a CPU tensor of `dtype` (floats), converting whole numbers.
    /// Consumes the array: f32 and f64 data become the tensor without a copy.
    pub fn into_tensor(self, dtype: DType) -> Result<Tensor> {
        let dev = Device::Cpu;
        let shape = self.shape.clone();
        let t = match self.data {
            NpyData::F32(v) => Tensor::from_vec(v, shape, &dev)?,
            NpyData::F64(v) => Tensor::from_vec(v, shape, &dev)?,
            NpyData::Raw(_) => Tensor::from_vec(self.values(), shape, &dev)?,
        };
        Ok(t.to_dtype(dtype)?)
    }

    /// The first value (flat index, value) that is finite but too large for
    /// f32, where the array holds wider numbers than f32.
    pub fn first_too_large_for_f32(&self) -> Option<(usize, f64)> {
        let too_large = |v: f64| v.is_finite() && v.abs() > f32::MAX as f64;
        match &self.data {
            NpyData::F32(_) => None,
            NpyData::F64(v) => v.iter().copied().enumerate().find(|&(_, v)| too_large(v)),
            NpyData::Raw(_) => self
                .values()
                .into_iter()
                .enumerate()
                .find(|&(_, v)| too_large(v)),
        }
    }

    /// Every value as `f64`.
    pub fn values(&self) -> Vec<f64> {
        match &self.data {
            NpyData::F32(v) => v.iter().map(|&x| x as f64).collect(),
            NpyData::F64(v) => v.clone(),
            NpyData::Raw(_) => self.integers().into_iter().map(|v| v as f64).collect(),
        }
    }

    /// The values of a whole-number array, exactly (ids beyond 2^53 too).
    pub fn integers(&self) -> Vec<i64> {
        let NpyData::Raw(b) = &self.data else {
            return self.values().into_iter().map(|v| v as i64).collect();
        };
        match self.dtype {
            NpyType::I64 => b
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().expect("8")))
                .collect(),
            NpyType::I32 => b
                .chunks_exact(4)
                .map(|c| i64::from(i32::from_le_bytes(c.try_into().expect("4"))))
                .collect(),
            NpyType::U32 => b
                .chunks_exact(4)
                .map(|c| i64::from(u32::from_le_bytes(c.try_into().expect("4"))))
                .collect(),
            NpyType::I16 => b
                .chunks_exact(2)
                .map(|c| i64::from(i16::from_le_bytes(c.try_into().expect("2"))))
                .collect(),
            NpyType::U16 => b
                .chunks_exact(2)
                .map(|c| i64::from(u16::from_le_bytes(c.try_into().expect("2"))))
                .collect(),
            _ => b.iter().map(|&v| i64::from(v)).collect(),
        }
    }
}

/// Reads `count` elements of `N` bytes each, in chunks. The buffer is sized
/// for `count` up front only when `in_file` (an uncompressed entry that the
/// file is long enough to hold: no copies while it grows, no freed halves
/// left behind); otherwise it grows only with what arrives, so a lying
/// header cannot make us allocate what the input does not hold.
fn read_elements<T: Copy, const N: usize>(
    r: &mut impl Read,
    count: usize,
    in_file: bool,
    decode: fn([u8; N]) -> T,
) -> std::result::Result<Vec<T>, String> {
    const CHUNK: usize = 1 << 16;
    let mut out = Vec::new();
    if in_file {
        // Best effort: without the room, the buffer grows as it would anyway.
        // mutants: `||` is equivalent on a little-endian machine but where
        // the reservation fails (memory exhausted), which no test can make.
        if out.try_reserve_exact(count).is_ok() && cfg!(target_endian = "little") {
            // The bytes in the file are the elements in memory (little-endian,
            // `N` bytes each): read them straight into the buffer.
            if N == std::mem::size_of::<T>() {
                return read_in_place(r, out, count, decode);
            }
        }
    }
    let mut buf = vec![0u8; CHUNK * N];
    let mut left = count;
    while left > 0 {
        let n = left.min(CHUNK);
        r.read_exact(&mut buf[..n * N]).map_err(|_| {
            format!(
                "truncated data: {count} elements expected, {} found",
                count - left
            )
        })?;
        let start = out.len();
        out.resize_with(start + n, || decode([0; N]));
        for (o, c) in out[start..].iter_mut().zip(buf[..n * N].chunks_exact(N)) {
            let mut bytes = [0u8; N];
            bytes.copy_from_slice(c);
            *o = decode(bytes);
        }
        left -= n;
    }
    Ok(out)
}

/// [`read_elements`] of `count` elements whose `N` file bytes are their
/// memory (a little-endian machine, `N` the size of `T`) into `out` (room for
/// `count` reserved): one read into the buffer, no chunk copied and decoded.
/// A large buffer is backed by huge pages where the kernel offers them
/// ([`crate::runtime::advise_huge_pages`]): a 100 MB array costs a few dozen
/// page faults instead of 25,000.
fn read_in_place<T: Copy, const N: usize>(
    r: &mut impl Read,
    mut out: Vec<T>,
    count: usize,
    decode: fn([u8; N]) -> T,
) -> std::result::Result<Vec<T>, String> {
    let len = count * N;
    crate::runtime::advise_huge_pages(out.as_mut_ptr().cast(), len);
    out.resize(count, decode([0; N]));
    // SAFETY: `out` holds `count` initialised elements of `N` bytes each
    // (checked by the caller: N == size_of::<T>()), `len` bytes; T is f32,
    // f64 or u8, for which every bit pattern is a value, so any bytes read
    // are valid.
    let bytes = unsafe { std::slice::from_raw_parts_mut(out.as_mut_ptr().cast::<u8>(), len) };
    let mut done = 0;
    while done < bytes.len() {
        match r.read(&mut bytes[done..]) {
            Ok(0) => {
                return Err(format!(
                    "truncated data: {count} elements expected, {} found",
                    done / N
                ))
            }
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => {
                return Err(format!(
                    "truncated data: {count} elements expected, {} found",
                    done / N
                ))
            }
        }
    }
    Ok(out)
}

/// Reads every array of an `.npz` file, in file order, named without `.npy`.
pub fn read_npz(path: &Path) -> Result<Vec<(String, NpyArray)>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    read_npz_from(std::io::BufReader::new(file), path)
}

/// Reads every array of an `.npz` from `input`; `path` only names the file in errors.
pub fn read_npz_from(
    mut input: impl Read + std::io::Seek,
    path: &Path,
) -> Result<Vec<(String, NpyArray)>> {
    use std::io::SeekFrom;
    let length = input
        .seek(SeekFrom::End(0))
        .and_then(|n| input.seek(SeekFrom::Start(0)).map(|_| n))
        .map_err(|e| Error::io(path, e))?;
    let mut zip = zip::ZipArchive::new(input)
        .map_err(|e| Error::data(path, format!("not a valid .npz (zip) file: {e}")))?;
    let mut arrays = Vec::new();
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| Error::data(path, format!("damaged .npz entry {i}: {e}")))?;
        let name = entry
            .name()
            .map_err(|e| Error::data(path, format!("damaged .npz entry {i}: {e}")))?
            .to_string();
        let name = name.strip_suffix(".npy").unwrap_or(&name).to_string();
        let declared = entry.size();
        // A stored (uncompressed) entry no longer than the file: its bytes
        // are there, so its size may size the array's buffer up front.
        // (mutants: `!=` for either `==` is equivalent in values: the
        // buffer is sized up front or grown, the same bytes are read.)
        let stored = entry.compression() == zip::CompressionMethod::Stored
            && entry.compressed_size() == declared
            && declared <= length;
        let array = read_npy(&mut entry, declared, stored).map_err(|reason| Error::Data {
            path: path.to_path_buf(),
            line: None,
            column: Some(format!("array `{name}`")),
            reason,
        })?;
        arrays.push((name, array));
    }
    Ok(arrays)
}

/// Reads one `.npy` stream of `available` bytes.
fn read_npy(
    r: &mut impl Read,
    available: u64,
    in_file: bool,
) -> std::result::Result<NpyArray, String> {
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic)
        .map_err(|_| "too short for a .npy array".to_string())?;
    if &magic[..6] != b"\x93NUMPY" {
        return Err("not a .npy array (bad magic)".into());
    }
    let header_len = match magic[6] {
        1 => {
            let mut b = [0u8; 2];
            r.read_exact(&mut b)
                .map_err(|_| "truncated header".to_string())?;
            u16::from_le_bytes(b) as u64
        }
        2 | 3 => {
            let mut b = [0u8; 4];
            r.read_exact(&mut b)
                .map_err(|_| "truncated header".to_string())?;
            u32::from_le_bytes(b) as u64
        }
        v => return Err(format!("unsupported .npy version {v}")),
    };
    let prefix = 8 + if magic[6] == 1 { 2 } else { 4 };
    if header_len + prefix > available {
        return Err("truncated header".into());
    }
    let mut header = vec![0u8; header_len as usize];
    r.read_exact(&mut header)
        .map_err(|_| "truncated header".to_string())?;
    let header = String::from_utf8(header).map_err(|_| "the header is not text".to_string())?;
    let (descr, fortran, shape) = parse_header(&header)?;
    let dtype = NpyType::from_descr(&descr).ok_or_else(|| {
        format!(
            "unsupported dtype `{descr}` (expected <f4, <f8, <i8, <i4, <i2, |u1, <u2, <u4 or |b1)"
        )
    })?;
    let count = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| format!("shape {shape:?} is too large"))?;
    let size = count
        .checked_mul(dtype.size())
        .ok_or_else(|| format!("shape {shape:?} is too large"))?;
    if size as u64 > available.saturating_sub(prefix + header_len) {
        return Err(format!(
            "shape {shape:?} needs {size} bytes but the array holds fewer"
        ));
    }
    let data = match dtype {
        NpyType::F32 => NpyData::F32(read_elements(r, count, in_file, f32::from_le_bytes)?),
        NpyType::F64 => NpyData::F64(read_elements(r, count, in_file, f64::from_le_bytes)?),
        _ => NpyData::Raw(read_elements(r, size, in_file, |b: [u8; 1]| b[0])?),
    };
    let mut array = NpyArray { dtype, shape, data };
    if fortran && array.shape.len() == 2 {
        array = transpose_fortran(array);
    } else if fortran && array.shape.len() > 2 {
        return Err("fortran-ordered arrays of more than 2 dimensions are not supported".into());
    }
    Ok(array)
}

fn transpose_fortran(a: NpyArray) -> NpyArray {
    fn t<T: Copy>(v: &[T], rows: usize, cols: usize, size: usize) -> Vec<T> {
        let mut out = Vec::with_capacity(v.len());
        for r in 0..rows {
            for c in 0..cols {
                out.extend_from_slice(&v[(c * rows + r) * size..][..size]);
            }
        }
        out
    }
    let (rows, cols) = (a.shape[0], a.shape[1]);
    let data = match &a.data {
        NpyData::F32(v) => NpyData::F32(t(v, rows, cols, 1)),
        NpyData::F64(v) => NpyData::F64(t(v, rows, cols, 1)),
        NpyData::Raw(v) => NpyData::Raw(t(v, rows, cols, a.dtype.size())),
    };
    NpyArray { data, ..a }
}

/// Parses `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`.
fn parse_header(h: &str) -> std::result::Result<(String, bool, Vec<usize>), String> {
    let field = |key: &str| -> std::result::Result<&str, String> {
        let at = h
            .find(&format!("'{key}'"))
            .ok_or_else(|| format!("the header has no `{key}`"))?;
        let rest = h[at + key.len() + 2..].trim_start();
        rest.strip_prefix(':')
            .map(str::trim_start)
            .ok_or_else(|| format!("bad `{key}` in the header"))
    };
    let descr = field("descr")?;
    let descr = descr
        .strip_prefix('\'')
        .and_then(|d| d.split('\'').next())
        .ok_or_else(|| "bad `descr` in the header".to_string())?
        .to_string();
    let fortran = field("fortran_order")?.starts_with("True");
    let shape = field("shape")?;
    let inner = shape
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| "bad `shape` in the header".to_string())?;
    let shape = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| format!("bad dimension `{s}` in the shape"))
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok((descr, fortran, shape))
}

/// Encodes one float tensor as a `.npy` 1.0 array.
fn npy_bytes(t: &Tensor) -> Result<Vec<u8>> {
    let (descr, data): (&str, Vec<u8>) = match t.dtype() {
        DType::F64 => (
            "<f8",
            t.flatten_all()?
                .to_vec1::<f64>()?
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
        ),
        DType::I64 => (
            "<i8",
            t.flatten_all()?
                .to_vec1::<i64>()?
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
        ),
        _ => (
            "<f4",
            t.flatten_all()?
                .to_dtype(DType::F32)?
                .to_vec1::<f32>()?
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
        ),
    };
    let dims: Vec<String> = t.dims().iter().map(|d| d.to_string()).collect();
    let shape = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    // Pad so that the data starts on a multiple of 64 bytes, ending with '\n'.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + data.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&data);
    Ok(out)
}

/// Encodes named float tensors as an uncompressed `.npz` (as `np.savez` writes).
pub fn npz_bytes(tensors: &[(String, Tensor)]) -> Result<Vec<u8>> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let fail = |e: String| Error::config("npz export", e);
    for (name, t) in tensors {
        zip.start_file(format!("{name}.npy"), options)
            .map_err(|e| fail(e.to_string()))?;
        zip.write_all(&npy_bytes(t)?)
            .map_err(|e| fail(e.to_string()))?;
    }
    Ok(zip.finish().map_err(|e| fail(e.to_string()))?.into_inner())
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};

    use super::{npy_bytes, read_npy, NpyType};

    /// A `.npy` 1.0 file as numpy's format documentation describes it: the
    /// magic, version 1.0, the header length (u16, little-endian), the
    /// header dict padded with spaces and ending in `\n` so that the data
    /// starts at a multiple of 64, then the data.
    fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
        let mut header =
            format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    /// An array of no elements is its header alone: the file ends where the
    /// header does, and that is not a truncation; one byte less is.
    /// A reader that hands out its bytes a few at a time, and in between
    /// the errors it was given (once each).
    struct Stutter {
        bytes: Vec<u8>,
        at: usize,
        errors: Vec<std::io::ErrorKind>,
    }

    impl std::io::Read for Stutter {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if let Some(kind) = self.errors.pop() {
                return Err(kind.into());
            }
            let n = buf.len().min(3).min(self.bytes.len() - self.at);
            buf[..n].copy_from_slice(&self.bytes[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    /// Reading in place takes the bytes as they come, retries a read that
    /// was interrupted (as `read_exact` does), and reports any other error
    /// as a truncation after the whole elements read so far.
    #[test]
    fn an_interrupted_read_is_retried_and_another_error_ends_it() {
        let values = [1.5f32, -2.0, 3.25];
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let read = |errors: Vec<std::io::ErrorKind>| {
            let mut r = Stutter {
                bytes: bytes.clone(),
                at: 0,
                errors,
            };
            super::read_in_place(&mut r, Vec::with_capacity(3), 3, f32::from_le_bytes)
        };
        let interrupted = vec![std::io::ErrorKind::Interrupted; 2];
        assert_eq!(read(interrupted).unwrap(), values);
        assert_eq!(
            read(vec![std::io::ErrorKind::Other]).unwrap_err(),
            "truncated data: 3 elements expected, 0 found"
        );
    }

    #[test]
    fn an_empty_array_is_its_header_alone() {
        let bytes = npy("<f4", "(0, 3)", &[]);
        let a = read_npy(&mut bytes.as_slice(), bytes.len() as u64, true).unwrap();
        assert_eq!(a.shape, [0, 3]);
        assert!(a.values().is_empty());
        let short = &bytes[..bytes.len() - 1];
        let e = read_npy(&mut &short[..], short.len() as u64, true).unwrap_err();
        assert!(e.contains("truncated"), "{e}");
    }

    #[test]
    fn little_endian_int16_reads_as_its_values() {
        let values: [i16; 4] = [-2, 300, 7, i16::MIN];
        let data: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let bytes = npy("<i2", "(2, 2)", &data);
        let a = read_npy(&mut bytes.as_slice(), bytes.len() as u64, true).unwrap();
        assert_eq!((a.dtype, a.shape.clone()), (NpyType::I16, vec![2, 2]));
        assert_eq!(a.integers(), [-2, 300, 7, -32768]);
        assert_eq!(a.values(), [-2.0, 300.0, 7.0, -32768.0]);
    }

    /// Every whole-number dtype numpy writes for ids (`<i8`, `<i4`, `<u4`,
    /// `|u1`, `<u1`) is read as its own type, and its values exactly, its
    /// extremes too (the bytes as `np.array(v, dtype).tobytes()` gives them:
    /// little-endian two's complement).
    #[test]
    fn each_integer_dtype_reads_as_its_values() {
        fn bytes_of<const N: usize>(values: &[i64], to: impl Fn(i64) -> [u8; N]) -> Vec<u8> {
            values.iter().flat_map(|&v| to(v)).collect()
        }
        let cases: [(&str, NpyType, Vec<i64>, Vec<u8>); 5] = {
            let i8s = vec![-3, 0, i64::MAX, i64::MIN];
            let i4s = vec![-3, 70_000, i64::from(i32::MAX), i64::from(i32::MIN)];
            let u4s = vec![0, 70_000, i64::from(u32::MAX), 1];
            let u1s = vec![0, 7, 128, 255];
            [
                (
                    "<i8",
                    NpyType::I64,
                    i8s.clone(),
                    bytes_of(&i8s, i64::to_le_bytes),
                ),
                (
                    "<i4",
                    NpyType::I32,
                    i4s.clone(),
                    bytes_of(&i4s, |v| (v as i32).to_le_bytes()),
                ),
                (
                    "<u4",
                    NpyType::U32,
                    u4s.clone(),
                    bytes_of(&u4s, |v| (v as u32).to_le_bytes()),
                ),
                (
                    "|u1",
                    NpyType::U8,
                    u1s.clone(),
                    bytes_of(&u1s, |v| [v as u8]),
                ),
                (
                    "<u1",
                    NpyType::U8,
                    u1s.clone(),
                    bytes_of(&u1s, |v| [v as u8]),
                ),
            ]
        };
        for (descr, dtype, values, data) in cases {
            let bytes = npy(descr, "(2, 2)", &data);
            let a = read_npy(&mut bytes.as_slice(), bytes.len() as u64, true).unwrap();
            assert_eq!((a.dtype, a.shape.clone()), (dtype, vec![2, 2]), "{descr}");
            assert_eq!(a.integers(), values, "{descr}");
        }
    }

    /// `<u2` (numpy's uint16) is read as its values, the ones past i16's
    /// range too.
    #[test]
    fn little_endian_uint16_reads_as_its_values() {
        let values: [u16; 4] = [0, 300, 7, u16::MAX];
        let data: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let bytes = npy("<u2", "(4,)", &data);
        let a = read_npy(&mut bytes.as_slice(), bytes.len() as u64, true).unwrap();
        assert_eq!(a.dtype, NpyType::U16);
        let want: Vec<i64> = values.iter().map(|&v| i64::from(v)).collect();
        assert_eq!(a.integers(), want);
    }

    /// The declared size of an entry must hold the magic, the header's
    /// length and the header itself: one byte short of that is a truncated
    /// header, even where the stream goes on past the declared size.
    #[test]
    fn a_declared_size_shorter_than_the_header_is_a_truncation() {
        let bytes = npy("<f4", "(0, 3)", &[]);
        let short = bytes.len() as u64 - 1;
        let e = read_npy(&mut bytes.as_slice(), short, true).unwrap_err();
        assert!(e.contains("truncated header"), "{e}");
    }

    /// f64 values fit f32 up to f32's largest value itself; the first
    /// finite value past it is found (infinities are another error's).
    #[test]
    fn f64_values_past_f32s_largest_are_found() {
        let max = f64::from(f32::MAX);
        for (values, want) in [
            (vec![1.0, -max, max, f64::INFINITY], None),
            (vec![1.0, max, -max * 1.5, 1e300], Some((2, -max * 1.5))),
        ] {
            let data: Vec<u8> = values.iter().flat_map(|v: &f64| v.to_le_bytes()).collect();
            let bytes = npy("<f8", "(4,)", &data);
            let a = read_npy(&mut bytes.as_slice(), bytes.len() as u64, true).unwrap();
            assert_eq!(a.first_too_large_for_f32(), want, "{values:?}");
        }
    }

    /// What `npy_bytes` writes is byte for byte the layout above (the
    /// header as `np.save` writes it: `(3,)` for one dimension), and reads
    /// back as the same values.
    #[test]
    fn written_arrays_have_numpys_layout_and_read_back() {
        let dev = Device::Cpu;
        let f32s = Tensor::new(&[[1.5f32, -2.0, 0.25], [4.0, 5.0, 6.0]], &dev).unwrap();
        let data: Vec<u8> = [1.5f32, -2.0, 0.25, 4.0, 5.0, 6.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert_eq!(npy_bytes(&f32s).unwrap(), npy("<f4", "(2, 3)", &data));
        let f64s = Tensor::new(&[0.1f64, -1e300, 3.0], &dev).unwrap();
        let data: Vec<u8> = [0.1f64, -1e300, 3.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let bytes = npy_bytes(&f64s).unwrap();
        assert_eq!(bytes, npy("<f8", "(3,)", &data));
        assert_eq!(bytes.len() % 64, data.len() % 64);
        let back = read_npy(&mut bytes.as_slice(), bytes.len() as u64, true).unwrap();
        assert_eq!(
            (back.dtype, back.values()),
            (NpyType::F64, vec![0.1, -1e300, 3.0])
        );
        let i64s = Tensor::new(&[i64::MAX, -5], &dev).unwrap();
        let data: Vec<u8> = [i64::MAX, -5]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let bytes = npy_bytes(&i64s).unwrap();
        assert_eq!(bytes, npy("<i8", "(2,)", &data));
        let back = read_npy(&mut bytes.as_slice(), bytes.len() as u64, true).unwrap();
        assert_eq!(back.integers(), [i64::MAX, -5]);
    }

    /// Fortran order: a 2-D array is read transposed into row-major order;
    /// more dimensions are refused, not read in the wrong order.
    #[test]
    fn fortran_order_of_more_than_two_dimensions_is_refused() {
        let fortran_of = |descr: &str, shape: &str, data: &[u8]| {
            // `npy`'s header says False; True is as long with the space after.
            let mut bytes = npy(descr, shape, data);
            let (from, to) = (b"'fortran_order': False,", b"'fortran_order': True, ");
            let at = bytes.windows(from.len()).position(|w| w == from).unwrap();
            bytes[at..at + to.len()].copy_from_slice(to);
            read_npy(&mut bytes.as_slice(), bytes.len() as u64, false)
        };
        let fortran = |shape: &str, data: &[u8]| fortran_of("|u1", shape, data);
        // Column by column on disk: [[1, 3, 5], [2, 4, 6]] in rows.
        let two = fortran("(2, 3)", &[1, 2, 3, 4, 5, 6]).unwrap();
        assert_eq!(two.shape, [2, 3]);
        assert_eq!(two.integers(), [1, 3, 5, 2, 4, 6]);
        // Elements of several bytes move whole (`<i4`, kept as bytes).
        let ints: Vec<u8> = [1i32, -2, 3, -4, 5, -6]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let wide = fortran_of("<i4", "(2, 3)", &ints).unwrap();
        assert_eq!(wide.integers(), [1, 3, 5, -2, -4, -6]);
        let e = fortran("(2, 2, 2)", &[0; 8]).err().unwrap();
        assert!(
            e.contains("fortran-ordered arrays of more than 2 dimensions"),
            "{e}"
        );
    }
}
