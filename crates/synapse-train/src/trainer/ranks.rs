//! Distributed training's first check: every rank was started with rank
//! 0's settings, epochs and data (compared by fingerprint).

use crate::distributed::{Collective, Flat};
use crate::{Error, Fingerprint, Result, Rows};

use super::Trainer;

impl Trainer {
    /// Distributed: every rank's settings, epochs and data are rank 0's
    /// (compared by fingerprint, in one fixed-size broadcast, before any
    /// message whose size depends on them); else an error saying what differs.
    pub(super) fn same_as_rank_zero<R: Rows + ?Sized>(
        &self,
        c: &dyn Collective,
        train: &R,
        val: Option<&R>,
    ) -> Result<()> {
        let mut settings = Fingerprint::new();
        settings.bytes(self.settings().as_bytes());
        for (k, v) in &self.checkpoint_metadata {
            settings.bytes(k.as_bytes());
            settings.bytes(v.as_bytes());
        }
        let ours = [
            settings.finish(),
            self.config.epochs as u64,
            train.fingerprint()?,
            val.map(|v| v.fingerprint()).transpose()?.unwrap_or(0),
        ];
        // Each u64 as four 16-bit parts: exact in any float type.
        let mut buf: Vec<f64> = ours
            .iter()
            .flat_map(|v| (0..4).map(move |k| ((v >> (16 * k)) & 0xffff) as f64))
            .collect();
        c.broadcast(Flat::F64(&mut buf))?;
        // mutants: `^` for `|` is equivalent: `a << 16` has its low 16 bits
        // clear and each part is below 2^16, so the two share no bit.
        let theirs: Vec<u64> = buf
            .chunks(4)
            .map(|p| p.iter().rev().fold(0u64, |a, &h| (a << 16) | h as u64))
            .collect();
        let differs = |why: String| {
            Err(Error::Collective {
                reason: format!("{why}; every rank must be started with the same flags and data"),
            })
        };
        if ours[0] != theirs[0] {
            return differs("its training settings differ from rank 0's".into());
        }
        if ours[1] != theirs[1] {
            return differs(format!(
                "its epochs ({}) differ from rank 0's ({})",
                ours[1], theirs[1]
            ));
        }
        if ours[2] != theirs[2] {
            return differs("its training data differ from rank 0's (other rows or values)".into());
        }
        if ours[3] != theirs[3] {
            return differs("its validation data differ from rank 0's".into());
        }
        Ok(())
    }
}
