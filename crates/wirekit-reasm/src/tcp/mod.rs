//! TCP stream reassembly, IPv4 and IPv6 (libnids' model: connections, per-direction
//! in-order delivery, `collect`), sans-IO: segments + `now_ns` in, events out.

pub mod assembler;
pub mod engine;
pub mod scan;
pub mod seq;
pub mod types;

pub use engine::{Stats, TcpReassembler};
pub use types::*;

pub use crate::policy::OverlapPolicy;
