//! IPv4/IPv6 defragmentation and TCP stream reassembly (libnids' model), sans-IO.
pub mod policy;
pub mod tcp;
pub mod defrag;
pub mod pipeline;
