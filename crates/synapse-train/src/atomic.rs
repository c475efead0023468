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
//!
//! **Architecture invariant: a run removes only what it created.** Temporary
//! and probe files are created exclusively (`O_EXCL`), the next name tried on
//! a clash ([`create_new_beside`]): a user's file that happens to have such a
//! name is never truncated, replaced or deleted. Their names stay within 255
//! bytes, so any name a folder takes as a target also has a temporary name.

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
/// first rename. An error is [`Error::Io`] naming the path as the caller gave
/// it, so a caller can tell which of its files failed.
pub fn write_all_contents_atomic(files: &[(&Path, Content)]) -> Result<()> {
    // (temporary file, target, the caller's path: what errors name).
    let mut staged: Vec<(PathBuf, PathBuf, &Path)> = Vec::with_capacity(files.len());
    let cleanup = |staged: &[(PathBuf, PathBuf, &Path)]| {
        for (tmp, _, _) in staged {
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
        let (tmp, mut f) = match create_new_beside(&target, "tmp") {
            Ok(created) => created,
            Err(e) => {
                cleanup(&staged);
                return Err(Error::io(path, e));
            }
        };
        let written = (|| -> std::io::Result<()> {
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
        staged.push((tmp, target, path));
    }
    for (i, (tmp, target, path)) in staged.iter().enumerate() {
        if let Err(e) = fs::rename(tmp, target) {
            cleanup(&staged[i..]);
            return Err(Error::io(path, e));
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
/// points. Refuses what must never be replaced and what cannot be a file (see
/// the module doc), with the reason: a name ending in `/`, a path through a
/// file, a folder, a FIFO, device or socket (also behind a link, such as
/// `/dev/stdout` on a pipe), a link that points nowhere, a missing folder.
pub fn writable_target(path: &Path) -> Result<PathBuf> {
    let refuse = |reason: String| {
        Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidInput, reason),
        )
    };
    if path.as_os_str().is_empty() || path.file_name().is_none() {
        return Err(refuse("names no file".into()));
    }
    if ends_in_separator(path) {
        return Err(refuse(
            "ends in `/`, which names a folder; expected a file name".into(),
        ));
    }
    if let Some(file) = file_on_the_way(path) {
        return Err(refuse(format!(
            "{} is a file, not a folder",
            file.display()
        )));
    }
    // mutants: the guard `true` is equivalent: an existing file that is not
    // a link canonicalises to itself (the same file, written the same way).
    let target = match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => match fs::canonicalize(path) {
            Ok(t) => t,
            // A link the kernel resolves to no path: a pipe or socket
            // (`/dev/stdout` on a pipe), or nothing at all.
            Err(_) => match fs::metadata(path) {
                Ok(m) => return Err(refuse(never_replaced(&m))),
                Err(_) => {
                    return Err(refuse(
                        "is a symbolic link to a file that does not exist".into(),
                    ))
                }
            },
        },
        _ => path.to_path_buf(),
    };
    if let Ok(m) = fs::metadata(&target) {
        if m.is_dir() {
            return Err(refuse("is a folder; expected a file name".into()));
        }
        if !m.is_file() {
            return Err(refuse(never_replaced(&m)));
        }
    }
    let dir = folder(&target);
    if !dir.is_dir() {
        return Err(refuse(format!(
            "the folder {} does not exist",
            dir.display()
        )));
    }
    Ok(target)
}

fn never_replaced(m: &fs::Metadata) -> String {
    format!(
        "is {}, not a regular file; it is never replaced",
        special_kind(m)
    )
}

/// Whether the path's text ends in a separator (`out.svg/`).
fn ends_in_separator(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        path.as_os_str().as_bytes().ends_with(b"/")
    }
    #[cfg(not(unix))]
    {
        let s = path.to_string_lossy();
        s.ends_with('/') || s.ends_with('\\')
    }
}

/// The first existing ancestor of `path`'s folder when it is not a folder
/// (`a.csv/l.csv` with `a.csv` a file), else `None`.
fn file_on_the_way(path: &Path) -> Option<PathBuf> {
    let mut dir = path.parent()?;
    loop {
        if dir.as_os_str().is_empty() {
            return None;
        }
        match fs::metadata(dir) {
            Ok(m) if m.is_dir() => return None,
            Ok(_) => return Some(dir.to_path_buf()),
            Err(_) => dir = dir.parent()?,
        }
    }
}

/// The folder a file is in (`.` for a bare name).
pub(crate) fn folder(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// The longest file name most file systems take, in bytes.
const NAME_MAX: usize = 255;

/// Creates a new file beside `target`, exclusively (`O_EXCL`: never an
/// existing file), named `.{name}.{role}-{pid}-{n}` with `n` a count of this
/// process's names and `name` cut so the whole fits in [`NAME_MAX`] bytes. A
/// name that exists already (a user's file, a crashed run's leftover) is left
/// alone and the next `n` is tried. The caller owns (and removes) what this
/// created.
pub fn create_new_beside(target: &Path, role: &str) -> std::io::Result<(PathBuf, fs::File)> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let name = target.file_name().unwrap_or_default().to_string_lossy();
    let pid = std::process::id();
    let mut last = None;
    for _ in 0..1000 {
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let suffix = format!(".{role}-{pid}-{n}");
        let mut keep = NAME_MAX.saturating_sub(1 + suffix.len()).min(name.len());
        while !name.is_char_boundary(keep) {
            keep -= 1;
        }
        let candidate = folder(target).join(format!(".{}{suffix}", &name[..keep]));
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate)
        {
            Ok(f) => return Ok((candidate, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free temporary name")))
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

#[cfg(all(test, unix))]
mod tests {
    use std::ffi::CString;
    use std::fs;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::net::UnixListener;

    use super::{create_new_beside, special_kind, writable_target, NAME_MAX};

    /// Each kind of special file named as it is (made here: a FIFO by
    /// `mkfifo`, a socket by binding one; `/dev/null` is a device).
    #[test]
    fn special_files_are_named_by_kind() {
        let dir = std::env::temp_dir().join(format!("synapse-special-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let kind = |p: &std::path::Path| special_kind(&fs::metadata(p).unwrap());
        assert_eq!(kind("/dev/null".as_ref()), "a device");
        let fifo = dir.join("fifo");
        let c = CString::new(fifo.as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert_eq!(kind(&fifo), "a FIFO (named pipe)");
        let socket = dir.join("socket");
        let _listener = UnixListener::bind(&socket).unwrap();
        assert_eq!(kind(&socket), "a socket");
        assert_eq!(kind(env!("CARGO_MANIFEST_DIR").as_ref()), "a special file");
        fs::remove_dir_all(&dir).unwrap();
    }

    /// A path through a file (`f/x.csv`, `f/sub/x.csv` with `f` a file)
    /// is refused naming that file, before anything is created; a path
    /// through a folder that does not exist yet is refused for that reason
    /// instead (the missing folder), not as a path through a file.
    #[test]
    fn a_path_through_a_file_names_the_file() {
        let dir = std::env::temp_dir().join(format!("synapse-through-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("f");
        fs::write(&file, b"kept").unwrap();
        for path in [file.join("x.csv"), file.join("sub").join("x.csv")] {
            let e = writable_target(&path).unwrap_err().to_string();
            let want = format!("{} is a file, not a folder", file.display());
            assert!(e.contains(&want), "{e}");
        }
        let missing = writable_target(&dir.join("nowhere").join("x.csv"))
            .unwrap_err()
            .to_string();
        assert!(!missing.contains("is a file, not a folder"), "{missing}");
        assert_eq!(fs::read(&file).unwrap(), b"kept");
        fs::remove_dir_all(&dir).unwrap();
    }

    /// A device is never replaced, and the refusal says so.
    #[test]
    fn a_device_is_refused_as_never_replaced() {
        let e = writable_target(std::path::Path::new("/dev/null"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/dev/null: is a device, not a regular file; it is never replaced"),
            "{e}"
        );
    }

    /// A long name of two-byte characters is cut at a character boundary
    /// so that the temporary name fits in NAME_MAX bytes (both parities of
    /// the cut, one character apart: 400 or 401 bytes, longer than the
    /// room, so the cut falls inside a character in one of the two).
    #[test]
    fn a_long_multibyte_name_is_cut_to_fit() {
        let dir = std::env::temp_dir().join(format!("synapse-beside-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        for lead in ["", "a"] {
            let name = format!("{lead}{}", "é".repeat(200));
            let (path, _file) = create_new_beside(&dir.join(&name), "tmp").unwrap();
            let made = path.file_name().unwrap().to_str().unwrap().to_string();
            assert!(made.len() <= NAME_MAX, "{} bytes", made.len());
            fs::remove_file(&path).unwrap();
        }
        fs::remove_dir_all(&dir).unwrap();
    }
}
