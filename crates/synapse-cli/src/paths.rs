//! The files a command reads and writes, checked before any work is done.
//!
//! Nothing a user needs is lost:
//! - two flags naming the same file are refused, naming both flags. Files are
//!   compared by identity (device and inode when the file exists, else the
//!   canonical folder and the name), so `data.csv`, `./data.csv`, a symbolic
//!   link and a hard link to it are all the same file. The one pair allowed is
//!   `--resume F --checkpoint F`, which keeps checkpointing where it resumed;
//! - an output must be a regular file or nothing yet: a folder, FIFO, device
//!   or socket is refused and never replaced;
//! - a symbolic link given as an output is followed (the file it points to is
//!   replaced, the link stays); one that points nowhere is refused;
//! - a hard link given as an output: the name gets the new file (an atomic
//!   rename), the file's other names keep the old content;
//! - an output that cannot be a file is refused before any work, naming its
//!   own flag: a name ending in `/`, a path through a file (`a.csv/x.svg`), a
//!   folder (see `synapse_train::writable_target`);
//! - every output's folder must exist and accept a new file: a probe file is
//!   created there exclusively, under a random name, and removed, so an
//!   unwritable `--plot` is found before training rather than after `--out`
//!   was replaced, and no file of the user's is ever touched by the probe.
//!
//! A write that fails later is reported under the flag of the file that
//! failed ([`Files::flag_of`]), not under the first output's.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use synapse_train::{create_new_beside, writable_target};

/// A file's identity, to tell whether two paths name the same file.
#[derive(Debug, PartialEq, Eq)]
enum Identity {
    /// An existing file: device and inode.
    Inode(u64, u64),
    /// A file not there yet: its canonical folder and name.
    Path(PathBuf),
}

fn identity(path: &Path) -> Option<Identity> {
    if let Ok(m) = fs::metadata(path) {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            return Some(Identity::Inode(m.dev(), m.ino()));
        }
        #[cfg(not(unix))]
        {
            let _ = m;
            return fs::canonicalize(path).ok().map(Identity::Path);
        }
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name()?;
    fs::canonicalize(dir)
        .ok()
        .map(|d| Identity::Path(d.join(name)))
}

/// The inputs and outputs of one command, by flag.
#[derive(Debug, Default)]
pub struct Files<'a> {
    inputs: Vec<(&'static str, &'a Path)>,
    outputs: Vec<(&'static str, &'a Path)>,
    may_share: Vec<(&'static str, &'static str)>,
}

impl<'a> Files<'a> {
    /// A file the command reads (ignored when `None`).
    pub fn input(mut self, flag: &'static str, path: Option<&'a Path>) -> Self {
        self.inputs.extend(path.map(|p| (flag, p)));
        self
    }

    /// A file the command writes (ignored when `None`).
    pub fn output(mut self, flag: &'static str, path: Option<&'a Path>) -> Self {
        self.outputs.extend(path.map(|p| (flag, p)));
        self
    }

    /// Lets these two flags name the same file.
    pub fn may_share(mut self, a: &'static str, b: &'static str) -> Self {
        self.may_share.push((a, b));
        self
    }

    /// Checks every output, then that no two flags name the same file.
    pub fn check(&self) -> Result<()> {
        let mut targets = Vec::with_capacity(self.outputs.len());
        for &(flag, path) in &self.outputs {
            let target = writable_target(path).map_err(|e| anyhow::anyhow!("{flag} {e}"))?;
            probe_folder(flag, path, &target)?;
            targets.push((flag, path, identity(&target)));
        }
        let inputs: Vec<_> = self
            .inputs
            .iter()
            .map(|&(f, p)| (f, p, identity(p)))
            .collect();
        for (i, (flag, path, id)) in targets.iter().enumerate() {
            let Some(id) = id else { continue };
            let clash = inputs
                .iter()
                .chain(&targets[..i])
                .find(|(other, _, other_id)| {
                    other_id.as_ref() == Some(id) && !self.shares(flag, other)
                });
            if let Some((other, ..)) = clash {
                bail!(
                    "{flag} {}: names the same file as {other}; refusing to overwrite it",
                    path.display()
                );
            }
        }
        Ok(())
    }

    /// The flag of the output or input named `path` (as given), if any: to
    /// report a later failure under the flag of the file that failed.
    pub fn flag_of(&self, path: &Path) -> Option<&'static str> {
        self.outputs
            .iter()
            .chain(&self.inputs)
            .find(|(_, p)| *p == path)
            .map(|(f, _)| *f)
    }

    /// A library error prefixed with the flag of the file it names (its
    /// [`synapse_train::Error::Io`] path), else with `fallback`.
    pub fn flagged(&self, fallback: &str, e: synapse_train::Error) -> anyhow::Error {
        let flag = match &e {
            synapse_train::Error::Io { path, .. } => self.flag_of(path).unwrap_or(fallback),
            _ => fallback,
        };
        let text = format!("{flag} {e}");
        anyhow::Error::new(e).context(text)
    }

    fn shares(&self, a: &str, b: &str) -> bool {
        self.may_share
            .iter()
            .any(|&(x, y)| (x == a && y == b) || (x == b && y == a))
    }
}

/// Creates a new file in `target`'s folder and removes it: the folder takes
/// new files. The probe is created exclusively, so only it is removed.
fn probe_folder(flag: &str, path: &Path, target: &Path) -> Result<()> {
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    match create_new_beside(target, "probe") {
        Ok((probe, file)) => {
            drop(file);
            let _ = fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => bail!(
            "{flag} {}: cannot write in the folder {}: {}",
            path.display(),
            dir.display(),
            crate::message::os_error(&e)
        ),
    }
}
