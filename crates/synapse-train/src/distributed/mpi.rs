//! [`Collective`] over MPI (rsmpi on OpenMPI): `MPI_COMM_WORLD`,
//! `MPI_Allreduce(MPI_SUM)` and `MPI_Bcast` from rank 0.
//!
//! Built with the `mpi` feature; needs OpenMPI and libclang
//! (`apt-get install openmpi-bin libopenmpi-dev libclang-dev`). Started by
//! `mpirun -np W`; a process started alone is a world of one.
//!
//! MPI errors are fatal (the default `MPI_ERRORS_ARE_FATAL` handler): a lost
//! peer makes `mpirun` end every rank, so the calls below never fail softly.
//! OpenMPI picks its all-reduce algorithm from W and the message size only,
//! so the same W gives the same bits on every run, and the MPI standard asks
//! that every rank get the same result (checked at the end of `fit`).

use std::cell::RefCell;

use mpi::collective::{CommunicatorCollectives, Root, SystemOperation};
use mpi::environment::Universe;
use mpi::topology::{Communicator, SimpleCommunicator};
use mpi::Threading;

use super::{Collective, Flat};
use crate::{Error, Result};

/// `MPI_COMM_WORLD`; MPI is finalised when this is dropped.
pub struct Mpi {
    world: SimpleCommunicator,
    /// The send side of the all-reduce (rsmpi has no `MPI_IN_PLACE`), kept
    /// between steps.
    send32: RefCell<Vec<f32>>,
    send64: RefCell<Vec<f64>>,
    _universe: Universe,
}

impl Mpi {
    /// Initialises MPI (once per process); calls to MPI come from this thread.
    pub fn init() -> Result<Self> {
        let (universe, _) =
            mpi::initialize_with_threading(Threading::Funneled).ok_or_else(|| {
                Error::Collective {
                    reason: "MPI was initialised already in this process".into(),
                }
            })?;
        Ok(Self {
            world: universe.world(),
            send32: RefCell::new(Vec::new()),
            send64: RefCell::new(Vec::new()),
            _universe: universe,
        })
    }
}

impl Collective for Mpi {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    fn size(&self) -> usize {
        self.world.size() as usize
    }

    fn all_reduce_sum(&self, buf: Flat<'_>) -> Result<()> {
        if self.size() == 1 {
            return Ok(());
        }
        match buf {
            Flat::F32(b) => {
                let mut send = self.send32.borrow_mut();
                send.clear();
                send.extend_from_slice(b);
                self.world
                    .all_reduce_into(&send[..], b, SystemOperation::sum());
            }
            Flat::F64(b) => {
                let mut send = self.send64.borrow_mut();
                send.clear();
                send.extend_from_slice(b);
                self.world
                    .all_reduce_into(&send[..], b, SystemOperation::sum());
            }
        }
        Ok(())
    }

    fn broadcast(&self, buf: Flat<'_>) -> Result<()> {
        if self.size() == 1 {
            return Ok(());
        }
        let root = self.world.process_at_rank(0);
        match buf {
            Flat::F32(b) => root.broadcast_into(b),
            Flat::F64(b) => root.broadcast_into(b),
        }
        Ok(())
    }
}
