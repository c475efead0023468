//! `mpirun -np W synapse train ... --distributed` (SPEC section 7,
//! "Distributed"): every rank runs `train` with the same flags over one MPI
//! world; rank 0 alone prints progress and writes `--out`, `--plot` and
//! `--checkpoint`.
//!
//! Errors: one rank reports, every rank stops, nothing is written.
//! - Inside `fit` the ranks agree on every step and epoch (the Trainer's
//!   collective): the lowest failing rank gets its own error, the others
//!   `PeerFailed`; a divergence is seen by all, and rank 0 reports it.
//! - Before `fit` (flags, files, data), a failing rank joins the agreement
//!   that the others make when `fit` starts, so they stop there too.
//! - The reporter prints its line, then every rank meets once more before
//!   exiting, so that `mpirun` ends no rank before the line is out.
//!
//! Every rank ends with the reporter's exit code; the process that is not
//! the reporter returns [`Reported`], which `main` turns into that code
//! without a message.

use std::fmt;

use anyhow::Result;

use crate::args::TrainArgs;

/// A failure reported by another rank (or already printed): exit with
/// `code`, print nothing.
#[derive(Debug)]
pub struct Reported {
    pub code: u8,
}

impl fmt::Display for Reported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "reported by another rank (exit {})", self.code)
    }
}

impl std::error::Error for Reported {}

/// A build without MPI refuses `--distributed`, saying how to get it.
#[cfg(not(feature = "mpi"))]
pub fn run(_a: &TrainArgs) -> Result<()> {
    anyhow::bail!("--distributed needs synapse built with MPI: cargo install --path crates/synapse-cli --features mpi (which needs OpenMPI: apt-get install openmpi-bin libopenmpi-dev libclang-dev), then run it under mpirun -np W")
}

#[cfg(feature = "mpi")]
pub fn run(a: &TrainArgs) -> Result<()> {
    use std::cell::Cell;
    use std::rc::Rc;

    use synapse_train::distributed::{agree, Collective, Flat, Mpi};

    /// The world, remembering whether this rank has made a collective call
    /// (that is, reached `fit`).
    struct World {
        mpi: Mpi,
        used: Cell<bool>,
    }

    impl Collective for World {
        fn rank(&self) -> usize {
            self.mpi.rank()
        }
        fn size(&self) -> usize {
            self.mpi.size()
        }
        fn all_reduce_sum(&self, buf: Flat<'_>) -> synapse_train::Result<()> {
            self.used.set(true);
            self.mpi.all_reduce_sum(buf)
        }
        fn broadcast(&self, buf: Flat<'_>) -> synapse_train::Result<()> {
            self.used.set(true);
            self.mpi.broadcast(buf)
        }
    }

    let world = Rc::new(World {
        mpi: Mpi::init()?,
        used: Cell::new(false),
    });
    let ranks: Rc<dyn Collective> = world.clone();
    let result = crate::train::run_on(a, Some(ranks));
    let rank = world.rank();
    let failure = match result {
        Ok(()) => return Ok(()),
        Err(e) if !world.used.get() => {
            // Failed before fit: join the agreement fit starts with.
            match agree(
                &*world,
                Err::<(), _>(synapse_train::Error::Collective {
                    reason: String::new(),
                }),
            ) {
                Err(synapse_train::Error::PeerFailed { .. }) => None,
                _ => Some(e),
            }
        }
        Err(e) => match e
            .chain()
            .find_map(|c| c.downcast_ref::<synapse_train::Error>())
        {
            Some(synapse_train::Error::PeerFailed { .. }) => None,
            Some(synapse_train::Error::Diverged { .. }) if rank != 0 => {
                return Err(quiet_after_meeting(&*world, 1));
            }
            _ => Some(e),
        },
    };
    let code = match failure {
        Some(e) => {
            let at = if rank == 0 {
                String::new()
            } else {
                format!("rank {rank}: ")
            };
            eprintln!("error: {at}{}", crate::message::render(&e));
            crate::exit_code(&e)
        }
        None => 2,
    };
    Err(quiet_after_meeting(&*world, code))
}

/// Meets every rank once more (after the reporter printed), then ends this
/// one quietly with `code`.
#[cfg(feature = "mpi")]
fn quiet_after_meeting(
    world: &dyn synapse_train::distributed::Collective,
    code: u8,
) -> anyhow::Error {
    let _ = synapse_train::distributed::agree(world, Ok(()));
    Reported { code }.into()
}
