//! Inputs, outputs and settings of the TCP reassembler.

pub use crate::tcp::OverlapPolicy;

/// TCP flag bits (RFC 793 / RFC 3168).
pub const FIN: u16 = 0x01;
pub const SYN: u16 = 0x02;
pub const RST: u16 = 0x04;
pub const PSH: u16 = 0x08;
pub const ACK: u16 = 0x10;

/// One side of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Endpoint {
    /// IPv4 addresses use the first 4 bytes, the rest is zero.
    pub addr: [u8; 16],
    pub port: u16,
}

/// A connection's addresses, oriented: `client` sent the first SYN (or was guessed, midstream).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ConnKey {
    pub ip_version: u8,
    pub client: Endpoint,
    pub server: Endpoint,
}

/// One TCP segment, as decoded (addresses, header fields and the payload bytes).
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    pub ip_version: u8,
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u16,
    /// Raw window field (unscaled).
    pub window: u16,
    /// The window-scale option's shift count, when the segment carried one (RFC 7323).
    pub wscale: Option<u8>,
    pub payload: &'a [u8],
    /// Where `payload` starts in the frame given to `Pipeline::push_frame`, when it lies
    /// there (not in a reassembled datagram): lets `TcpConfig::borrow_frames` skip a copy.
    pub frame_offset: Option<usize>,
    /// The TCP checksum was verified and is wrong.
    pub bad_checksum: bool,
}

/// Data direction: which way the bytes flow.
pub const TO_SERVER: u8 = 0;
pub const TO_CLIENT: u8 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// The connection is established (libnids' JUST_EST). `flags & OPENED_MIDSTREAM` when it
    /// was picked up without a handshake.
    Opened,
    /// In-order bytes `[offset, offset + len)` of direction `dir`.
    Data,
    /// Bytes `[offset, offset + len)` of direction `dir` were never seen; the next data event
    /// of that direction starts after them.
    Gap,
    /// Both FINs were delivered (or the connection was evicted/reused: see `flags`).
    Closed,
    /// A valid RST from `dir`'s sender (dir = TO_SERVER: the client reset).
    Reset,
    /// Idle longer than the timeout.
    TimedOut,
    /// End of input with the connection still open (`finish`).
    EndOfInput,
    /// Something suspicious; `anomaly` names it.
    Anomaly,
    /// A UDP datagram (pipeline only): `key.client` = source, `key.server` = destination,
    /// the payload in the data buffer.
    Udp,
    /// A whole IP datagram after defragmentation (pipeline only): the IP header and payload
    /// in the data buffer; `flags` = the L4 protocol number.
    Ip,
}

/// `Closed` flags: why, when it was not a normal FIN exchange.
pub const CLOSED_EVICTED: u32 = 1;
pub const CLOSED_REUSED: u32 = 2;
/// `Opened` flag: picked up midstream (no handshake seen).
pub const OPENED_MIDSTREAM: u32 = 1;
/// `EndOfInput` / `TimedOut` flags: FIN seen from the client / server.
pub const STATE_FIN_FROM_CLIENT: u32 = 0x10;
pub const STATE_FIN_FROM_SERVER: u32 = 0x20;

#[derive(Debug, Clone, Copy)]
pub struct Event {
    pub kind: EventKind,
    pub conn_id: u64,
    pub key: ConnKey,
    pub dir: u8,
    /// Stream offset of the first byte (Data, Gap), in bytes from the start of `dir`.
    /// Opened: ts_ns of the connection's first segment; Closed/Reset/TimedOut/EndOfInput:
    /// ts_ns of its last segment.
    pub offset: u64,
    /// Byte count (Data, Gap).
    pub len: u64,
    /// Data events: start of the bytes in the reassembler's output buffer (`data()`), or in
    /// the frame just pushed when `in_frame` is set.
    pub data_start: usize,
    /// Data events: the bytes were delivered in order straight from the segment and were not
    /// copied (only with `TcpConfig::borrow_frames`); `data_start` indexes that frame.
    pub in_frame: bool,
    pub ts_ns: i64,
    pub flags: u32,
    /// Anomaly events: the stable code.
    pub anomaly: &'static str,
}

/// What to do when a cap is hit. An anomaly is reported in every case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapPolicy {
    /// Stop collecting data of the stream that hit the cap (its buffer is released).
    StopCollecting,
    /// Make room: flush the oldest buffered data (gap then data) / evict the connection that
    /// would expire first.
    EvictOldest,
    /// Drop what does not fit (the new segment, the new connection).
    Drop,
}

/// When in-order data is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// As soon as it is in order (libnids). The overlap policy decides between copies of bytes
    /// still queued behind a hole.
    Immediate,
    /// Only once the receiver acknowledged it (Suricata's model): the overlap policy also
    /// decides between in-order copies sent before the ACK. Forced out at close/end.
    OnAck,
}

#[derive(Debug, Clone)]
pub struct TcpConfig {
    /// Overlap policy for every receiver, unless `policy_table` is set.
    pub policy: OverlapPolicy,
    /// Overlap policy per receiver address (Suricata's host-os-policy).
    pub policy_table: Option<crate::policy::PolicyTable>,
    pub delivery: Delivery,
    /// Follow connections whose handshake was not seen.
    pub midstream: bool,
    /// Keep the data of newly opened connections unless told otherwise (`set_collect`).
    pub collect_default: bool,
    /// Hold each new connection's data until `set_collect` decides (the binding asks its
    /// consumer at JUST_EST); `needs_decision()` says when a decision is pending.
    pub defer_collect: bool,
    pub max_conns: usize,
    pub max_buffer_per_stream: usize,
    pub max_buffer_total: usize,
    pub conn_cap_policy: CapPolicy,
    pub buffer_cap_policy: CapPolicy,
    /// Idle time after which an established connection times out.
    pub idle_timeout_ns: i64,
    /// Idle time after which a connection still in its handshake is forgotten.
    pub handshake_timeout_ns: i64,
    /// Segments further than this ahead of the next expected byte are dropped (anomaly).
    pub max_ahead_bytes: u64,
    /// In-order data still in the caller's frame is not copied into `data()`: its events
    /// say `in_frame` and point into the frame. For consumers that handle every event
    /// before the next frame and can keep the frame's bytes (a file sink over a mapping).
    pub borrow_frames: bool,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            policy: OverlapPolicy::First,
            policy_table: None,
            delivery: Delivery::Immediate,
            midstream: false,
            collect_default: true,
            defer_collect: false,
            max_conns: 1 << 20,
            max_buffer_per_stream: 16 << 20,
            max_buffer_total: 1 << 30,
            conn_cap_policy: CapPolicy::EvictOldest,
            buffer_cap_policy: CapPolicy::EvictOldest,
            idle_timeout_ns: 600_000_000_000,
            handshake_timeout_ns: 60_000_000_000,
            max_ahead_bytes: 1 << 30,
            borrow_frames: false,
        }
    }
}

/// Stable anomaly codes of the TCP layer (also in python/wirekit/anomalies.py).
pub mod anomaly {
    pub const BAD_CHECKSUM: &str = "tcp_bad_checksum";
    pub const OVERLAP_CONFLICT: &str = "tcp_overlap_conflict";
    pub const RST_OUT_OF_WINDOW: &str = "tcp_rst_out_of_window";
    pub const SYN_ON_ESTABLISHED: &str = "tcp_syn_on_established";
    pub const SYNACK_BAD_ACK: &str = "tcp_synack_bad_ack";
    pub const CONN_CAP: &str = "tcp_conn_cap";
    pub const STREAM_BUFFER_CAP: &str = "tcp_stream_buffer_cap";
    pub const TOTAL_BUFFER_CAP: &str = "tcp_total_buffer_cap";
    pub const DATA_BEYOND_WINDOW: &str = "tcp_data_beyond_window";
    pub const DATA_AFTER_FIN: &str = "tcp_data_after_fin";
    pub const WSCALE_TOO_LARGE: &str = "tcp_wscale_too_large";
    pub const MIDSTREAM: &str = "tcp_midstream_pickup";
}
