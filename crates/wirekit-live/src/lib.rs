//! Live capture on Linux: AF_PACKET TPACKET_V3 receive ring and raw send; BPF interpreter for userland filtering.

pub mod bpf;
pub mod ring;
