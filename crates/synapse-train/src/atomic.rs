//! Atomic file writes: a temporary file in the same folder, synced, then renamed.
//!
//! A reader (or a crash) sees either the old whole file or the new whole file,
//! never a torn one; a failed write leaves the old file as it was.
//!
//! What is replaced:
//! - only a regular file, or nothing: a folder, FIFO, device or socket at the
//!   path is refused and left alone (`/dev/null` stays a device);
//! - a symbolic link is followed: the file it points to is replaced and the
//!   link stays a link; a link that points nowhere is refused;
//! - a hard link: the name gets the new file (that is what a rename does);
//!   the file's other names keep the old content.
//!
//! [`write_all_atomic`] writes several files as one step: every temporary
//! file is written and synced before the first rename, so a failure in any of
//! them (a full disk, a folder that cannot be written) replaces none.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_all_atomic(&[(path, bytes)])
}

/// What goes into one file: its bytes, or a function that writes them (so a
/// large model goes to its file without a second copy of it in memory).
pub enum Content<'a> {
    /// These bytes.
    Bytes(&'a [u8]),
    /// Whatever this writes; an error stops the whole write as a failed
    /// write would.
    Writer(&'a dyn Fn(&mut dyn Write) -> std::io::Result<()>),
}

/// Writes every `(path, bytes)` atomically, replacing none unless all were written.
pub fn write_all_atomic(files: &[(&Path, &[u8])]) -> Result<()> {
    let files: Vec<(&Path, Content)> = files
        .iter()
        .map(|&(path, bytes)| (path, Content::Bytes(bytes)))
        .collect();
    write_all_contents_atomic(&files)
}

/// [`write_all_atomic`] for [`Content`]: every temporary file is written
/// (through a buffer when the content writes itself) and synced before the
/// first rename.
pub fn write_all_contents_atomic(files: &[(&Path, Content)]) -> Result<()> {
    let mut staged: Vec<(PathBuf, PathBuf)> = Vec::with_capacity(files.len());
    let cleanup = |staged: &[(PathBuf, PathBuf)]| {
        for (tmp, _) in staged {
            let _ = fs::remove_file(tmp);
        }
    };
    for (path, content) in files {
        let target = match writable_target(path) {
            Ok(t) => t,
            Err(e) => {
                cleanup(&staged);
                return Err(e);
            }
        };
        let tmp = temp_name(&target);
        let written = (|| -> std::io::Result<()> {
            let mut f = fs::File::create(&tmp)?;
            match content {
                Content::Bytes(bytes) => f.write_all(bytes)?,
                Content::Writer(write) => {
                    let mut w = std::io::BufWriter::with_capacity(1 << 20, &mut f);
                    write(&mut w)?;
                    w.flush()?;
                }
            }
            f.sync_all()
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            cleanup(&staged);
            return Err(Error::io(path, e));
        }
        staged.push((tmp, target));
    }
    for (i, (tmp, target)) in staged.iter().enumerate() {
        if let Err(e) = fs::rename(tmp, target) {
            cleanup(&staged[i..]);
            return Err(Error::io(target, e));
        }
        // Make the rename itself durable (best effort: not every platform can).
        if let Some(dir) = target.parent() {
            if let Ok(d) = fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
    }
    Ok(())
}

/// The file that writing `path` replaces: `path` itself, or where its link
/// points. Refuses what must never be replaced (see the module doc).
pub fn writable_target(path: &Path) -> Result<PathBuf> {
    let refuse = |reason: &str| {
        Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidInput, reason.to_string()),
        )
    };
    if path.file_name().is_none() {
        return Err(refuse("names no file"));
    }
    let target = match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => match fs::canonicalize(path) {
            Ok(t) => t,
            Err(_) => return Err(refuse("is a symbolic link to a file that does not exist")),
        },
        _ => path.to_path_buf(),
    };
    if let Ok(m) = fs::metadata(&target) {
        if m.is_dir() {
            return Err(refuse("is a folder; expected a file name"));
        }
        if !m.is_file() {
            return Err(refuse(&format!(
                "is {}, not a regular file; it is never replaced",
                special_kind(&m)
            )));
        }
    }
    let dir = folder(&target);
    if !dir.is_dir() {
        return Err(refuse(&format!(
            "the folder {} does not exist",
            dir.display()
        )));
    }
    Ok(target)
}

/// The folder a file is in (`.` for a bare name).
pub(crate) fn folder(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// The temporary file next to `target` that becomes it.
fn temp_name(target: &Path) -> PathBuf {
    let name = target.file_name().unwrap_or_default().to_string_lossy();
    folder(target).join(format!(".{name}.tmp-{}", std::process::id()))
}

/// A short description of a file that is neither a folder nor a regular file.
pub fn special_kind(m: &fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = m.file_type();
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    let _ = m;
    "a special file"
}
