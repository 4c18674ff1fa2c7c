//! Flow metering: the flow table, timeouts and expiry, sans-IO.
//!
//! # Theory of operation
//!
//! A [`Meter`] takes one [`PacketInfo`] at a time (already decoded: addresses, ports, IP
//! length, TCP flags) and keeps a bounded table of open flows. Records leave the table, in a
//! deterministic order, when:
//!
//! * the flow was idle for `idle_timeout_ns` (end reason 1, RFC 5102 flowEndReason
//!   idleTimeout),
//! * it has been open for `active_timeout_ns` (2, activeTimeout; a later packet opens a new
//!   record for the same key, as NetFlow exporters do),
//! * TCP ended: RST seen, or FIN seen (in a biflow: FIN seen in both directions), then
//!   `fin_linger_ns` passed without the flow being reopened (3, endOfFlowDetected) - the
//!   linger keeps the last ACKs in the record they belong to,
//! * the input ended ([`Meter::flush`], 4, forcedEnd),
//! * the table is full and a new flow arrives: the open flow whose deadline comes first goes
//!   (5, lackOfResources; counted in `evicted_cache_full`). The deadline is the earliest of
//!   last packet + idle timeout, first packet + active timeout and RST/FIN + linger; ties go
//!   to the lowest slab slot. Often that is the least recently seen flow, but a flow in its
//!   FIN linger or near its active timeout leaves before an older idle one (not LRU).
//!   Flows that never expire (both timeouts 0) come after all others, oldest first.
//!
//! Time is packet time only: `now` is the largest timestamp seen so far (or given to
//! [`Meter::advance`]), so replaying a capture gives the same records every run. Timestamps
//! that step backwards are counted in `ts_backwards` and do not move `now` back.
//!
//! Fragments: every fragment counts as the packet it is, in the flow of its datagram. The
//! first fragment carries the ports; [`frag::PortMap`] remembers them by (src, dst, proto,
//! IP id) for the later fragments. A later fragment seen before its first one goes to the
//! port-0 flow of its addresses (counted in `frag_ports_unknown`).

pub mod frag;
pub mod index;
pub mod meter;
pub mod pack;
pub mod timers;

pub use meter::{Config, Counters, EndReason, FlowKey, FlowRecord, Meter, PacketInfo};
