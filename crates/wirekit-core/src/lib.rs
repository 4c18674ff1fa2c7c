//! wirekit-core: the per-packet hot loops of wirekit, in plain Rust (no Python).
//!
//! Every engine here is sans-IO: bytes and `now_ns` in, records or events out. The PyO3
//! binding crate (`wirekit-py`) wraps these in coarse, batch-sized calls.

pub mod checksum;
pub mod decode;
pub mod framer;
