//! The connection table and per-connection state machine.
//!
//! Theory of operation. A connection is created by a SYN (client = its sender), learns the
//! server's ISN from the SYN/ACK (or from the server's own SYN: simultaneous open), and opens
//! (libnids' JUST_EST) when the client sends an ACK after both ISNs are known. Each direction
//! ("half") maps sequence numbers to 64-bit stream offsets relative to its ISN + 1, so
//! wrap-around never reaches the buffers. In-order bytes are delivered at once (or on ACK,
//! `Delivery::OnAck`); bytes behind a hole wait in a bounded `Assembler`. When waiting can no
//! longer help (FIN exchange finished, RST, timeout, cap, end of input), the hole becomes a
//! `Gap` event and the bytes after it are delivered: never zero-filled, never dropped
//! silently.
//!
//! | state        | accepts                                                     |
//! |--------------|-------------------------------------------------------------|
//! | SynSent      | SYN retransmit, SYN/ACK (ack = ISN+1), server SYN (sim open) |
//! | SynReceived  | client ACK -> Established (emit Opened)                     |
//! | Established  | data, ACK, FIN (per half), RST in window                    |
//!
//! Exceptions: a new SYN on a tuple whose connection saw a FIN or RST closes it and starts a
//! new one (connection reuse); a SYN with another ISN on an open connection is an anomaly and
//! is ignored. Bytes at or after a direction's FIN are a `tcp_data_after_fin` anomaly and are
//! not delivered (the FIN's sequence slot is not a gap). A connection closed by FIN or RST
//! leaves a tombstone for TIME_WAIT_NS: late segments of it (final ACKs, retransmissions,
//! sequence numbers in what it used) are ignored instead of opening a midstream connection;
//! a new SYN clears it. What it does not know: the receiver's actual TCP stack (the overlap policy
//! stands in for it), PAWS/timestamps, urgent data (delivered inline).

use super::assembler::Assembler;
use super::seq;
use super::types::*;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

/// A small multiplicative hasher: the keys are addresses and ports, not attacker-chosen
/// strings of arbitrary length, and the table is capped.
#[derive(Default)]
pub struct FxHasher(u64);
impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..c.len()].copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(b));
        }
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.write_u64(i as u64)
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.write_u64(i as u64)
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}
pub type FxBuild = BuildHasherDefault<FxHasher>;

/// Direction-free key: the two endpoints in sorted order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct NormKey {
    lo: Endpoint,
    hi: Endpoint,
}

impl std::hash::Hash for NormKey {
    /// Five word-sized mixes instead of the derived byte-wise walk (hot: once per segment).
    #[inline]
    fn hash<H: Hasher>(&self, h: &mut H) {
        let w = |a: &[u8; 16], i: usize| u64::from_ne_bytes(a[i..i + 8].try_into().unwrap());
        h.write_u64(w(&self.lo.addr, 0));
        h.write_u64(w(&self.lo.addr, 8));
        h.write_u64(w(&self.hi.addr, 0));
        h.write_u64(w(&self.hi.addr, 8));
        h.write_u64(((self.lo.port as u64) << 16) | self.hi.port as u64);
    }
}

/// Connections: a slab of boxed connections and an index by address pair, so the per-segment
/// path costs one hash lookup (the connection is taken out of its slot while it is worked on
/// and put back by index).
#[derive(Default)]
struct ConnTable {
    index: HashMap<NormKey, u32, FxBuild>,
    slab: Vec<Option<Box<Conn>>>,
    free: Vec<u32>,
}

impl ConnTable {
    fn len(&self) -> usize {
        self.index.len()
    }
    #[inline]
    fn take(&mut self, k: &NormKey) -> Option<(u32, Box<Conn>)> {
        let idx = *self.index.get(k)?;
        self.slab[idx as usize].take().map(|c| (idx, c))
    }
    #[inline]
    fn put_back(&mut self, idx: u32, c: Box<Conn>) {
        self.slab[idx as usize] = Some(c);
    }
    /// Forgets the slot of a connection taken out with `take`.
    fn release_slot(&mut self, k: &NormKey, idx: u32) {
        self.index.remove(k);
        self.free.push(idx);
    }
    fn insert(&mut self, k: NormKey, c: Box<Conn>) {
        let idx = match self.free.pop() {
            Some(i) => {
                self.slab[i as usize] = Some(c);
                i
            }
            None => {
                self.slab.push(Some(c));
                (self.slab.len() - 1) as u32
            }
        };
        self.index.insert(k, idx);
    }
    fn remove(&mut self, k: &NormKey) -> Option<Box<Conn>> {
        let idx = self.index.remove(k)?;
        self.free.push(idx);
        self.slab[idx as usize].take()
    }
    fn get(&self, k: &NormKey) -> Option<&Conn> {
        self.slab[*self.index.get(k)? as usize].as_deref()
    }
    fn iter(&self) -> impl Iterator<Item = (&NormKey, &Conn)> {
        self.index.iter().filter_map(|(k, &i)| self.slab[i as usize].as_deref().map(|c| (k, c)))
    }
}

fn norm(a: Endpoint, b: Endpoint) -> NormKey {
    if a <= b {
        NormKey { lo: a, hi: b }
    } else {
        NormKey { lo: b, hi: a }
    }
}

/// How long a connection closed by FIN or RST keeps claiming its 4-tuple against midstream
/// pickup: Linux's TIME_WAIT length (2 * MSL there is 60 s, RFC 9293 section 3.6.1).
pub const TIME_WAIT_NS: i64 = 60_000_000_000;
/// Cap on remembered closed connections (oldest forgotten first).
const MAX_TOMBS: usize = 1 << 16;

/// What a closed connection leaves behind (TIME_WAIT-like): enough to recognise its late
/// segments (final ACKs, retransmissions) so they do not open a second, midstream connection.
#[derive(Debug, Clone, Copy)]
struct Tomb {
    client: Endpoint,
    /// Per half (client's, server's): ISN and highest sequence sent + 1.
    isn: [u32; 2],
    snd_max: [u32; 2],
    window: [u32; 2],
    closed_ts: i64,
}

impl Tomb {
    /// A segment from `src` whose sequence number lies in what its sender used, or just
    /// beyond it (within the peer's window): a late segment of the closed connection.
    fn claims(&self, now_ns: i64, src: Endpoint, seq_no: u32) -> bool {
        if now_ns - self.closed_ts > TIME_WAIT_NS {
            return false;
        }
        let i = if src == self.client { 0 } else { 1 };
        let win = self.window[1 - i].max(65535) as i64;
        seq::diff(self.isn[i], seq_no) >= 0 && seq::diff(self.snd_max[i], seq_no) <= win
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Collect {
    Undecided,
    Yes,
    No,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum State {
    SynSent,
    SynReceived,
    Established,
}

#[derive(Debug)]
struct Half {
    isn: u32,
    /// Sequence number of stream offset 0 is known.
    base_known: bool,
    base_seq: u32,
    /// Next stream offset to deliver (everything before was delivered or reported as gap).
    next_off: u64,
    /// Highest sequence number sent + 1 (for RST validity).
    snd_max: u32,
    /// Highest offset the peer acknowledged.
    acked_off: u64,
    ack_seen: bool,
    fin_seen: bool,
    fin_off: u64,
    fin_acked: bool,
    collect: Collect,
    /// How the receiver of this half resolves overlaps (by its address).
    policy: OverlapPolicy,
    wscale: Option<u8>,
    /// Window advertised by this side (scaled), bytes.
    window: u32,
    asm: Assembler,
    delivered: u64,
    gap_bytes: u64,
}

impl Half {
    fn new() -> Self {
        Half {
            isn: 0,
            base_known: false,
            base_seq: 0,
            next_off: 0,
            snd_max: 0,
            acked_off: 0,
            ack_seen: false,
            fin_seen: false,
            fin_off: 0,
            fin_acked: false,
            collect: Collect::Undecided,
            policy: OverlapPolicy::First,
            wscale: None,
            window: 0,
            asm: Assembler::default(),
            delivered: 0,
            gap_bytes: 0,
        }
    }

    fn set_isn(&mut self, isn: u32) {
        self.isn = isn;
        self.base_seq = isn.wrapping_add(1);
        self.base_known = true;
        self.snd_max = self.base_seq;
    }

    /// Stream offset of `s`, relative to the delivery point (negative when before offset 0).
    #[inline]
    fn offset_of(&self, s: u32) -> i64 {
        let at = self.base_seq.wrapping_add(self.next_off as u32);
        self.next_off as i64 + seq::diff(at, s)
    }

    /// Midstream: when this side's ISN was never seen, its first segment defines offset 0.
    /// Every offset computation needs a known base; an unknown one (base_seq 0) would turn a
    /// sequence number into a bogus multi-gigabyte gap.
    #[inline]
    fn learn_base(&mut self, s: u32) {
        if !self.base_known {
            self.base_seq = s;
            self.isn = s.wrapping_sub(1);
            self.snd_max = s;
            self.base_known = true;
        }
    }

    fn done(&self) -> bool {
        self.fin_seen && (self.collect == Collect::No || self.next_off >= self.fin_off)
    }
}

#[derive(Debug)]
struct Conn {
    id: u64,
    key: ConnKey,
    state: State,
    opened: bool,
    midstream: bool,
    /// halves[0]: bytes the client sends (TO_SERVER); halves[1]: bytes the server sends.
    halves: [Half; 2],
    first_ts: i64,
    last_ts: i64,
    wscale_ok: bool,
}

/// Counters for reports and benchmarks.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub segments: u64,
    pub conns_created: u64,
    pub conns_open: u64,
    pub bytes_delivered: u64,
    pub gap_bytes: u64,
    pub anomalies: u64,
    pub ignored_no_conn: u64,
    pub retransmitted: u64,
}

pub struct TcpReassembler {
    pub cfg: TcpConfig,
    /// Boxed: a connection is taken out and put back per segment, which then moves a pointer.
    conns: ConnTable,
    by_id: HashMap<u64, NormKey, FxBuild>,
    timers: BinaryHeap<Reverse<(i64, u64)>>,
    /// Recently closed connections by address pair, and their closing order (FIFO expiry).
    tombs: HashMap<NormKey, Tomb, FxBuild>,
    tomb_order: VecDeque<(i64, NormKey)>,
    next_id: u64,
    total_buffered: usize,
    pending_decisions: usize,
    events: Vec<Event>,
    data: Vec<u8>,
    pub stats: Stats,
}

impl TcpReassembler {
    pub fn new(cfg: TcpConfig) -> Self {
        TcpReassembler {
            cfg,
            conns: ConnTable::default(),
            by_id: HashMap::default(),
            timers: BinaryHeap::new(),
            tombs: HashMap::default(),
            tomb_order: VecDeque::new(),
            next_id: 1,
            total_buffered: 0,
            pending_decisions: 0,
            events: Vec::new(),
            data: Vec::new(),
            stats: Stats::default(),
        }
    }

    /// Events produced since the last `clear_events`.
    pub fn events(&self) -> &[Event] {
        &self.events
    }
    /// The bytes Data events point into.
    pub fn data(&self) -> &[u8] {
        &self.data
    }
    pub fn clear_events(&mut self) {
        self.events.clear();
        self.data.clear();
    }
    /// Connections in the table.
    pub fn conn_count(&self) -> usize {
        self.conns.len()
    }
    /// Bytes held in reassembly buffers.
    pub fn buffered_bytes(&self) -> usize {
        self.total_buffered
    }
    /// A connection opened with `defer_collect` is waiting for `set_collect`.
    pub fn needs_decision(&self) -> bool {
        self.pending_decisions > 0
    }

    /// When `advance` next has work: a lower bound (entries are refreshed lazily).
    pub fn next_deadline(&self) -> Option<i64> {
        self.timers.peek().map(|Reverse((t, _))| *t)
    }

    fn emit(&mut self, kind: EventKind, c: &Conn, dir: u8, ts_ns: i64) -> &mut Event {
        self.events.push(Event {
            kind,
            conn_id: c.id,
            key: c.key,
            dir,
            offset: 0,
            len: 0,
            data_start: 0,
            in_frame: false,
            ts_ns,
            flags: 0,
            anomaly: "",
        });
        self.events.last_mut().unwrap()
    }

    fn anomaly(&mut self, code: &'static str, c: Option<&Conn>, dir: u8, ts_ns: i64) {
        self.stats.anomalies += 1;
        self.events.push(Event {
            kind: EventKind::Anomaly,
            conn_id: c.map_or(0, |c| c.id),
            key: c.map_or(ConnKey::default(), |c| c.key),
            dir,
            offset: 0,
            len: 0,
            data_start: 0,
            in_frame: false,
            ts_ns,
            flags: 0,
            anomaly: code,
        });
    }

    fn timeout_of(&self, c: &Conn) -> i64 {
        if c.opened {
            self.cfg.idle_timeout_ns
        } else {
            self.cfg.handshake_timeout_ns
        }
    }

    /// Feeds one segment seen at `now_ns`.
    pub fn push(&mut self, now_ns: i64, s: &Segment) {
        self.stats.segments += 1;
        let src = Endpoint { addr: s.src, port: s.src_port };
        let dst = Endpoint { addr: s.dst, port: s.dst_port };
        let nk = norm(src, dst);
        let Some((idx, mut c)) = self.conns.take(&nk) else {
            self.new_conn(now_ns, nk, src, dst, s);
            return;
        };
        // The connection is taken out of its slot while it is worked on (no aliasing); put
        // back unless it ended.
        let keep = self.on_segment(now_ns, &mut c, src, s);
        match keep {
            Next::Keep => self.conns.put_back(idx, c),
            Next::Remove => {
                self.conns.release_slot(&nk, idx);
                self.by_id.remove(&c.id);
                self.bury(now_ns, nk, &c);
                self.release(&mut c);
            }
            Next::Reuse => {
                self.conns.release_slot(&nk, idx);
                self.by_id.remove(&c.id);
                self.release(&mut c);
                self.new_conn(now_ns, nk, src, dst, s);
            }
        }
    }

    fn release(&mut self, c: &mut Conn) {
        for h in c.halves.iter_mut() {
            self.total_buffered -= h.asm.bytes();
            h.asm.clear();
            if h.collect == Collect::Undecided && c.opened && self.cfg.defer_collect {
                self.pending_decisions = self.pending_decisions.saturating_sub(1);
                h.collect = Collect::No;
            }
        }
        if c.opened {
            self.stats.conns_open = self.stats.conns_open.saturating_sub(1);
        }
    }

    /// Remembers a connection closed by FIN or RST (only opened ones: a flood of never
    /// completed handshakes leaves nothing), capped at MAX_TOMBS, oldest forgotten first.
    fn bury(&mut self, now_ns: i64, nk: NormKey, c: &Conn) {
        if !c.opened {
            return;
        }
        while let Some(&(t, k)) = self.tomb_order.front() {
            if now_ns - t <= TIME_WAIT_NS && self.tomb_order.len() < MAX_TOMBS {
                break;
            }
            self.tomb_order.pop_front();
            if self.tombs.get(&k).is_some_and(|tb| tb.closed_ts == t) {
                self.tombs.remove(&k);
            }
        }
        let [a, b] = &c.halves;
        self.tombs.insert(nk, Tomb {
            client: c.key.client,
            isn: [a.isn, b.isn],
            snd_max: [a.snd_max, b.snd_max],
            window: [a.window, b.window],
            closed_ts: now_ns,
        });
        self.tomb_order.push_back((now_ns, nk));
    }

    fn new_conn(&mut self, now_ns: i64, nk: NormKey, src: Endpoint, dst: Endpoint, s: &Segment) {
        let syn_only = s.flags & (SYN | ACK | RST) == SYN;
        if let Some(t) = self.tombs.get(&nk) {
            if syn_only {
                // A new SYN reuses the tuple (RFC 9293 section 3.6.1 allows it in TIME_WAIT).
                self.tombs.remove(&nk);
            } else if t.claims(now_ns, src, s.seq) {
                // A late ACK, FIN or retransmission of the connection that just closed.
                self.stats.ignored_no_conn += 1;
                return;
            }
        }
        // Midstream pickup needs evidence of a live connection: a SYN/ACK or data (a bare
        // ACK or FIN is more often the tail of a connection that just closed).
        let midstream = !syn_only
            && self.cfg.midstream
            && s.flags & (RST | FIN) == 0
            && s.flags & ACK != 0
            && (s.flags & SYN != 0 || !s.payload.is_empty());
        if !syn_only && !midstream {
            self.stats.ignored_no_conn += 1;
            return;
        }
        if self.conns.len() >= self.cfg.max_conns {
            match self.cfg.conn_cap_policy {
                CapPolicy::EvictOldest => {
                    self.anomaly(anomaly::CONN_CAP, None, 0, now_ns);
                    self.evict_one(now_ns);
                }
                _ => {
                    self.anomaly(anomaly::CONN_CAP, None, 0, now_ns);
                    return;
                }
            }
        }
        let id = self.next_id;
        self.next_id += 1;
        self.stats.conns_created += 1;
        let (client, server, from) = if syn_only {
            (src, dst, 0usize)
        } else if s.flags & SYN != 0 {
            // SYN/ACK: its sender is the server.
            (dst, src, 1)
        } else {
            // Port heuristic: the lower port is the service (ties: the destination).
            if src.port < dst.port {
                (dst, src, 1)
            } else {
                (src, dst, 0)
            }
        };
        let mut c = Box::new(Conn {
            id,
            key: ConnKey { ip_version: s.ip_version, client, server },
            state: State::SynSent,
            opened: false,
            midstream,
            halves: [Half::new(), Half::new()],
            first_ts: now_ns,
            last_ts: now_ns,
            wscale_ok: false,
        });
        let (ps, pc) = match &self.cfg.policy_table {
            Some(t) => (t.lookup(s.ip_version, &server.addr), t.lookup(s.ip_version, &client.addr)),
            None => (self.cfg.policy, self.cfg.policy),
        };
        c.halves[0].policy = ps;
        c.halves[1].policy = pc;
        if syn_only {
            c.halves[0].set_isn(s.seq);
            c.halves[0].wscale = s.wscale;
            if !s.payload.is_empty() {
                // Data on the SYN (TCP Fast Open, RFC 7413): stream offset 0.
                self.on_data(now_ns, &mut c, 0, s.seq.wrapping_add(1), s.payload, s.frame_offset);
            }
        } else {
            self.anomaly(anomaly::MIDSTREAM, Some(&c), from as u8, now_ns);
            if s.flags & SYN != 0 {
                c.halves[1].set_isn(s.seq);
                c.halves[1].wscale = s.wscale;
                c.halves[0].set_isn(s.ack.wrapping_sub(1));
                c.state = State::SynReceived;
            } else {
                self.open(now_ns, &mut c);
                let _ = self.on_segment_body(now_ns, &mut c, from, s);
            }
        }
        self.timers.push(Reverse((now_ns + self.timeout_of(&c), id)));
        self.by_id.insert(id, nk);
        self.conns.insert(nk, c);
    }

    fn open(&mut self, now_ns: i64, c: &mut Conn) {
        c.state = State::Established;
        c.opened = true;
        self.stats.conns_open += 1;
        let col = if self.cfg.defer_collect {
            self.pending_decisions += 1;
            Collect::Undecided
        } else if self.cfg.collect_default {
            Collect::Yes
        } else {
            Collect::No
        };
        for h in c.halves.iter_mut() {
            h.collect = col;
        }
        if col == Collect::No {
            for h in c.halves.iter_mut() {
                self.total_buffered -= h.asm.bytes();
                h.asm.clear();
            }
        }
        // The idle timeout replaces the handshake timeout; the heap entry is a lower bound.
        self.timers.push(Reverse((now_ns + self.cfg.idle_timeout_ns, c.id)));
        let (mid, first) = (c.midstream, c.first_ts);
        let e = self.emit(EventKind::Opened, c, 0, now_ns);
        e.offset = first as u64;
        if mid {
            e.flags |= OPENED_MIDSTREAM;
        }
        // Bytes that arrived before the handshake completed (data on the SYN, RFC 7413).
        for i in 0..2 {
            self.deliver(now_ns, c, i, false);
        }
    }

    /// Decides which directions of connection `conn_id` are collected (libnids' `collect`).
    pub fn set_collect(&mut self, conn_id: u64, to_server: bool, to_client: bool, now_ns: i64) {
        let Some(nk) = self.by_id.get(&conn_id).copied() else { return };
        let Some(mut c) = self.conns.remove(&nk) else { return };
        let was_undecided = c.halves.iter().any(|h| h.collect == Collect::Undecided);
        for (i, want) in [to_server, to_client].into_iter().enumerate() {
            let h = &mut c.halves[i];
            if want {
                if h.collect == Collect::No && h.base_known {
                    // Collecting starts with the next byte the sender has not sent yet;
                    // offsets stay in stream coordinates.
                    let o = h.offset_of(h.snd_max).max(0) as u64;
                    h.next_off = h.next_off.max(o);
                }
                h.collect = Collect::Yes;
            } else {
                h.collect = Collect::No;
                self.total_buffered -= h.asm.bytes();
                h.asm.clear();
            }
        }
        if was_undecided && self.cfg.defer_collect {
            self.pending_decisions = self.pending_decisions.saturating_sub(1);
        }
        for i in 0..2 {
            self.deliver(now_ns, &mut c, i, false);
        }
        if self.closed_by_fin(&c) {
            self.finish_conn(now_ns, &mut c, EventKind::Closed, 0);
            self.by_id.remove(&c.id);
            self.bury(now_ns, nk, &c);
            self.release(&mut c);
        } else {
            self.conns.insert(nk, c);
        }
    }

    fn on_segment(&mut self, now_ns: i64, c: &mut Conn, src: Endpoint, s: &Segment) -> Next {
        c.last_ts = now_ns;
        let from = if src == c.key.client { 0usize } else { 1 };
        if s.bad_checksum {
            self.anomaly(anomaly::BAD_CHECKSUM, Some(c), from as u8, now_ns);
        }
        let f = s.flags;
        if f & RST != 0 {
            return self.on_rst(now_ns, c, from, s);
        }
        if f & SYN != 0 {
            if let Some(n) = self.on_syn(now_ns, c, from, s) {
                return n;
            }
        } else if c.state == State::SynReceived && from == 0 && f & ACK != 0 {
            self.open(now_ns, c);
        } else if c.state == State::SynSent && from == 0 && f & ACK != 0 && c.halves[1].base_known {
            self.open(now_ns, c);
        } else if self.cfg.midstream && !c.opened && f & ACK != 0 {
            // One-sided capture (asymmetric routing, a tap seeing one direction): with
            // midstream pickup on, the side we see completes the handshake alone. The
            // client's ACK names the server's ISN + 1; the server's ACK after its SYN/ACK
            // acknowledges the client's ISN + 1.
            if from == 0 && c.state == State::SynSent && !c.halves[1].base_known {
                c.halves[1].set_isn(s.ack.wrapping_sub(1));
                c.midstream = true;
                self.open(now_ns, c);
            } else if from == 1 && c.state == State::SynReceived && c.midstream {
                self.open(now_ns, c);
            }
        }
        self.on_segment_body(now_ns, c, from, s)
    }

    /// Returns Some when the segment is fully handled.
    fn on_syn(&mut self, now_ns: i64, c: &mut Conn, from: usize, s: &Segment) -> Option<Next> {
        let has_ack = s.flags & ACK != 0;
        if from == 0 && !has_ack {
            let h = &c.halves[0];
            if s.seq == h.isn {
                self.stats.retransmitted += 1;
                return Some(Next::Keep); // SYN retransmission
            }
            let closing = c.halves.iter().any(|h| h.fin_seen);
            if !c.opened || closing {
                // A new attempt, or reuse of a closing tuple: the old one ends here.
                if c.opened {
                    self.finish_conn(now_ns, c, EventKind::Closed, CLOSED_REUSED);
                }
                return Some(Next::Reuse);
            }
            self.anomaly(anomaly::SYN_ON_ESTABLISHED, Some(c), 0, now_ns);
            return Some(Next::Keep);
        }
        if from == 1 && !has_ack {
            // Simultaneous open (RFC 793 figure 8) or a split handshake: the server's SYN.
            if c.state == State::SynSent && !c.halves[1].base_known {
                c.halves[1].set_isn(s.seq);
                c.halves[1].wscale = s.wscale;
                c.state = State::SynReceived;
            }
            return Some(Next::Keep);
        }
        if from == 1 {
            // SYN/ACK.
            if c.opened || c.halves[1].base_known {
                if c.halves[1].isn != s.seq && !c.opened {
                    self.anomaly(anomaly::SYNACK_BAD_ACK, Some(c), 1, now_ns);
                }
                self.stats.retransmitted += 1;
                return Some(Next::Keep);
            }
            // The SYN/ACK acknowledges the SYN, and any data the SYN carried (RFC 7413).
            let h0 = &c.halves[0];
            if !(seq::le(h0.isn.wrapping_add(1), s.ack) && seq::le(s.ack, h0.snd_max)) {
                self.anomaly(anomaly::SYNACK_BAD_ACK, Some(c), 1, now_ns);
                return Some(Next::Keep);
            }
            c.halves[1].set_isn(s.seq);
            c.halves[1].wscale = s.wscale;
            c.state = State::SynReceived;
            self.set_wscale(now_ns, c);
            c.halves[1].window = s.window as u32;
            self.on_ack(now_ns, c, 0, s.ack);
            if !s.payload.is_empty() {
                self.on_data(now_ns, c, 1, s.seq.wrapping_add(1), s.payload, s.frame_offset);
            }
            return Some(Next::Keep);
        }
        // SYN/ACK from the client: simultaneous open; it acknowledges the server's SYN.
        if !c.opened && c.halves[1].base_known && s.ack == c.halves[1].isn.wrapping_add(1) {
            self.set_wscale(now_ns, c);
            self.open(now_ns, c);
            return Some(self.on_segment_body_syn(now_ns, c, s));
        }
        self.stats.retransmitted += 1;
        Some(Next::Keep)
    }

    fn on_segment_body_syn(&mut self, now_ns: i64, c: &mut Conn, s: &Segment) -> Next {
        // The client's SYN/ACK acknowledges the server's SYN (half 1).
        self.on_ack(now_ns, c, 1, s.ack);
        Next::Keep
    }

    fn set_wscale(&mut self, now_ns: i64, c: &mut Conn) {
        // RFC 7323 section 2.2: scaling is in effect only when both SYNs carried the option;
        // a shift above 14 is treated as 14.
        if let (Some(a), Some(b)) = (c.halves[0].wscale, c.halves[1].wscale) {
            c.wscale_ok = true;
            if a > 14 || b > 14 {
                self.anomaly(anomaly::WSCALE_TOO_LARGE, Some(c), 0, now_ns);
                c.halves[0].wscale = Some(a.min(14));
                c.halves[1].wscale = Some(b.min(14));
            }
        } else {
            c.halves[0].wscale = Some(0);
            c.halves[1].wscale = Some(0);
        }
    }

    fn on_segment_body(&mut self, now_ns: i64, c: &mut Conn, from: usize, s: &Segment) -> Next {
        {
            let h = &mut c.halves[from];
            let shift = if c.wscale_ok { h.wscale.unwrap_or(0) } else { 0 };
            h.window = (s.window as u32) << shift;
            h.learn_base(s.seq);
        }
        if s.flags & ACK != 0 {
            self.on_ack(now_ns, c, 1 - from, s.ack);
        }
        if !s.payload.is_empty() {
            let mut payload = s.payload;
            if c.halves[from].fin_seen {
                // Bytes at or beyond the FIN's sequence slot are not stream data: the FIN
                // occupies its slot (RFC 793 section 3.3) and a receiver in CLOSE-WAIT or later
                // discards anything after it (section 3.9). Like libnids and Suricata, they
                // are an anomaly, never delivered, and the FIN's slot is not a missing byte.
                let fo = c.halves[from].fin_off as i64;
                let off = c.halves[from].offset_of(s.seq);
                if off + payload.len() as i64 > fo {
                    self.anomaly(anomaly::DATA_AFTER_FIN, Some(c), from as u8, now_ns);
                    payload = &payload[..(fo - off).clamp(0, payload.len() as i64) as usize];
                }
            }
            if !payload.is_empty() {
                self.on_data(now_ns, c, from, s.seq, payload, s.frame_offset);
            }
        }
        if s.flags & FIN != 0 {
            let h = &mut c.halves[from];
            let end = s.seq.wrapping_add(s.payload.len() as u32);
            if !h.fin_seen {
                let off = h.offset_of(end);
                h.fin_seen = true;
                h.fin_off = off.max(0) as u64;
            }
            if seq::lt(h.snd_max, end.wrapping_add(1)) {
                h.snd_max = end.wrapping_add(1);
            }
            self.deliver(now_ns, c, from, false);
        }
        if self.closed_by_fin(c) {
            self.finish_conn(now_ns, c, EventKind::Closed, 0);
            return Next::Remove;
        }
        Next::Keep
    }

    fn closed_by_fin(&self, c: &Conn) -> bool {
        let [a, b] = &c.halves;
        if !(a.fin_seen && b.fin_seen) {
            return false;
        }
        if !c.opened {
            return true;
        }
        if c.halves.iter().any(|h| h.collect == Collect::Undecided) {
            return false;
        }
        // Everything delivered, or both FINs acknowledged: nothing more can fill a hole.
        (a.done() && b.done()) || (a.fin_acked && b.fin_acked)
    }

    fn on_ack(&mut self, now_ns: i64, c: &mut Conn, half: usize, ack: u32) {
        let h = &mut c.halves[half];
        if !h.base_known {
            return;
        }
        let off = h.offset_of(ack);
        if off <= 0 {
            return;
        }
        let mut off = off as u64;
        if h.fin_seen && off > h.fin_off {
            h.fin_acked = true;
            off = h.fin_off;
        }
        if !h.ack_seen || off > h.acked_off {
            h.acked_off = off;
            h.ack_seen = true;
            if self.cfg.delivery == Delivery::OnAck {
                self.deliver(now_ns, c, half, false);
            }
        }
    }

    fn on_rst(&mut self, now_ns: i64, c: &mut Conn, from: usize, s: &Segment) -> Next {
        let valid = if !c.opened {
            // RFC 793 section 3.4: in SYN-SENT a reset is acceptable if it acknowledges the
            // SYN; otherwise it must be in the window.
            (from == 1 && s.flags & ACK != 0 && s.ack == c.halves[0].isn.wrapping_add(1))
                || self.rst_in_window(c, from, s.seq)
        } else {
            self.rst_in_window(c, from, s.seq)
        };
        if !valid {
            self.anomaly(anomaly::RST_OUT_OF_WINDOW, Some(c), from as u8, now_ns);
            return Next::Keep;
        }
        if !s.payload.is_empty() && c.opened {
            // Data on a RST (RFC 1122 4.2.2.12 allows diagnostic text): delivered like data.
            // On a midstream connection this side may not have sent anything yet.
            c.halves[from].learn_base(s.seq);
            self.on_data(now_ns, c, from, s.seq, s.payload, s.frame_offset);
        }
        if c.opened {
            for i in 0..2 {
                self.deliver(now_ns, c, i, true);
            }
            let last = c.last_ts;
            self.emit(EventKind::Reset, c, from as u8, now_ns).offset = last as u64;
        }
        Next::Remove
    }

    /// RFC 793 section 3.4 / RFC 5961 section 3.2: a reset is valid when its sequence
    /// number lies in the receiver's window, [RCV.NXT, RCV.NXT + RCV.WND). A monitor knows
    /// RCV.NXT from the receiver's last ACK (else from what the sender sent).
    fn rst_in_window(&self, c: &Conn, from: usize, seq_no: u32) -> bool {
        let h = &c.halves[from];
        if !h.base_known {
            return true;
        }
        let rcv_nxt = if h.ack_seen { h.base_seq.wrapping_add(h.acked_off as u32) } else { h.snd_max };
        // Half-open [RCV.NXT, RCV.NXT + RCV.WND). A zero window still accepts SEG.SEQ =
        // RCV.NXT exactly (RFC 793 section 3.3, the RCV.WND = 0 rows of the acceptance table).
        let win = c.halves[1 - from].window.max(1) as i64;
        let d = seq::diff(rcv_nxt, seq_no);
        // Also accept the sender's own next sequence number (it may be ahead of the ACK).
        (0..win).contains(&d) || seq_no == h.snd_max
    }

    /// `frame_at`: where `payload` starts in the frame being pushed, when it lies there.
    fn on_data(&mut self, now_ns: i64, c: &mut Conn, from: usize, s: u32, payload: &[u8], frame_at: Option<usize>) {
        let h = &mut c.halves[from];
        let end_seq = s.wrapping_add(payload.len() as u32);
        if seq::lt(h.snd_max, end_seq) {
            h.snd_max = end_seq;
        }
        if h.collect == Collect::No {
            return;
        }
        let off = h.offset_of(s);
        let end = off + payload.len() as i64;
        if end <= h.next_off as i64 {
            self.stats.retransmitted += 1;
            return;
        }
        let (off, payload, frame_at) = if off < h.next_off as i64 {
            let skip = (h.next_off as i64 - off) as usize;
            (h.next_off, &payload[skip..], frame_at.map(|at| at + skip))
        } else {
            (off as u64, payload, frame_at)
        };
        if off - h.next_off > self.cfg.max_ahead_bytes {
            self.anomaly(anomaly::DATA_BEYOND_WINDOW, Some(c), from as u8, now_ns);
            return;
        }
        // Fast path: in order, nothing queued, delivered now.
        if h.collect == Collect::Yes
            && c.opened
            && off == h.next_off
            && h.asm.is_empty()
            && self.cfg.delivery == Delivery::Immediate
        {
            // With `borrow_frames`, bytes still in the caller's frame are not copied.
            let (start, in_frame) = match frame_at {
                Some(at) if self.cfg.borrow_frames => (at, true),
                _ => {
                    let start = self.data.len();
                    self.data.extend_from_slice(payload);
                    (start, false)
                }
            };
            let n = payload.len() as u64;
            h.next_off += n;
            h.delivered += n;
            self.stats.bytes_delivered += n;
            let e = self.emit(EventKind::Data, c, from as u8, now_ns);
            e.offset = off;
            e.len = n;
            e.data_start = start;
            e.in_frame = in_frame;
            return;
        }
        // Caps: per direction, then overall. EvictOldest makes room by forcing data out
        // (a gap event, then the bytes) after the segment is stored.
        let mut force = false;
        if h.asm.bytes() + payload.len() > self.cfg.max_buffer_per_stream {
            self.anomaly(anomaly::STREAM_BUFFER_CAP, Some(c), from as u8, now_ns);
            match self.cfg.buffer_cap_policy {
                CapPolicy::Drop => return,
                CapPolicy::StopCollecting => {
                    self.stop_collecting(c, from);
                    return;
                }
                CapPolicy::EvictOldest => force = true,
            }
        }
        if self.total_buffered + payload.len() > self.cfg.max_buffer_total {
            self.anomaly(anomaly::TOTAL_BUFFER_CAP, Some(c), from as u8, now_ns);
            match self.cfg.buffer_cap_policy {
                CapPolicy::Drop => return,
                CapPolicy::StopCollecting => {
                    self.stop_collecting(c, from);
                    return;
                }
                CapPolicy::EvictOldest => {
                    // Make room from other connections first; force this direction out only
                    // when that was not enough.
                    while self.total_buffered + payload.len() > self.cfg.max_buffer_total {
                        if !self.flush_largest(now_ns) {
                            force = true;
                            break;
                        }
                    }
                }
            }
        }
        if force && !(c.opened && c.halves[from].collect == Collect::Yes) {
            // Nothing can be forced out before the stream is open and collected: drop.
            return;
        }
        let h = &mut c.halves[from];
        // A forced flush above may have moved the delivery point past part of the segment.
        let (off, payload) = if off < h.next_off {
            let skip = (h.next_off - off) as usize;
            if skip >= payload.len() {
                return;
            }
            (h.next_off, &payload[skip..])
        } else {
            (off, payload)
        };
        let before = h.asm.bytes();
        let r = h.asm.insert(off, payload, h.policy);
        self.total_buffered = self.total_buffered + h.asm.bytes() - before;
        if r.conflicting {
            self.anomaly(anomaly::OVERLAP_CONFLICT, Some(c), from as u8, now_ns);
        }
        if r.overlapped {
            self.stats.retransmitted += 1;
        }
        self.deliver(now_ns, c, from, force);
    }

    fn stop_collecting(&mut self, c: &mut Conn, from: usize) {
        let h = &mut c.halves[from];
        self.total_buffered -= h.asm.bytes();
        h.asm.clear();
        h.collect = Collect::No;
    }

    /// Total-bytes cap: frees the halves holding the most buffered bytes, largest first,
    /// until a quarter of the cap is free (so the scan over the table is amortized over many
    /// segments). A half is forced out (gap, then data) when its connection is open and
    /// collected, dropped when not (bytes sent before a handshake completed). Returns false
    /// when nothing was buffered.
    fn flush_largest(&mut self, now_ns: i64) -> bool {
        let mut all: Vec<(usize, NormKey, usize)> = Vec::new();
        for (k, c) in self.conns.iter() {
            for (i, h) in c.halves.iter().enumerate() {
                if h.asm.bytes() > 0 {
                    all.push((h.asm.bytes(), *k, i));
                }
            }
        }
        if all.is_empty() {
            return false;
        }
        all.sort_unstable_by(|a, b| b.0.cmp(&a.0));
        let target = self.cfg.max_buffer_total - self.cfg.max_buffer_total / 4;
        for (_, k, i) in all {
            let mut c = self.conns.remove(&k).unwrap();
            if c.opened && c.halves[i].collect == Collect::Yes {
                self.deliver(now_ns, &mut c, i, true);
            }
            let h = &mut c.halves[i];
            self.total_buffered -= h.asm.bytes();
            h.asm.clear();
            self.conns.insert(k, c);
            if self.total_buffered <= target {
                break;
            }
        }
        true
    }

    /// Delivers what is in order. `force`: also skip holes (a Gap event each), and report
    /// bytes known to exist but never seen (up to the FIN or the peer's ACK) as a gap.
    fn deliver(&mut self, now_ns: i64, c: &mut Conn, i: usize, force: bool) {
        // Directions no longer collected produce nothing (no data, no gap), and neither does
        // one whose sequence base is unknown (nothing was placed in it).
        if !c.opened || c.halves[i].collect != Collect::Yes || !c.halves[i].base_known {
            return;
        }
        let limit = if self.cfg.delivery == Delivery::OnAck && !force {
            c.halves[i].acked_off
        } else {
            u64::MAX
        };
        loop {
            let h = &mut c.halves[i];
            let Some(first) = h.asm.first_start() else { break };
            if first > h.next_off {
                if !force {
                    break;
                }
                let (gap_off, gap_len) = (h.next_off, first - h.next_off);
                h.next_off = first;
                h.gap_bytes += gap_len;
                self.stats.gap_bytes += gap_len;
                let e = self.emit(EventKind::Gap, c, i as u8, now_ns);
                e.offset = gap_off;
                e.len = gap_len;
                continue;
            }
            if h.next_off >= limit {
                break;
            }
            let (start, mut d) = h.asm.pop_first().unwrap();
            self.total_buffered -= d.len();
            let mut end = start + d.len() as u64;
            if end > limit {
                let rest = d.split_off((limit - start) as usize);
                self.total_buffered += rest.len();
                h.asm.insert(limit, &rest, OverlapPolicy::First);
                end = limit;
            }
            let ds = self.data.len();
            self.data.extend_from_slice(&d);
            let n = end - start;
            h.next_off = end;
            h.delivered += n;
            self.stats.bytes_delivered += n;
            let e = self.emit(EventKind::Data, c, i as u8, now_ns);
            e.offset = start;
            e.len = n;
            e.data_start = ds;
        }
        if force {
            let h = &mut c.halves[i];
            let mut known_end = h.acked_off;
            if h.fin_seen {
                known_end = known_end.max(h.fin_off);
            }
            if known_end > h.next_off {
                let (gap_off, gap_len) = (h.next_off, known_end - h.next_off);
                h.next_off = known_end;
                h.gap_bytes += gap_len;
                self.stats.gap_bytes += gap_len;
                let e = self.emit(EventKind::Gap, c, i as u8, now_ns);
                e.offset = gap_off;
                e.len = gap_len;
            }
        }
    }

    /// Forces out both halves and emits the closing event.
    fn finish_conn(&mut self, now_ns: i64, c: &mut Conn, kind: EventKind, flags: u32) {
        if !c.opened {
            return;
        }
        for i in 0..2 {
            self.deliver(now_ns, c, i, true);
        }
        let mut f = flags;
        if c.halves[0].fin_seen {
            f |= STATE_FIN_FROM_CLIENT;
        }
        if c.halves[1].fin_seen {
            f |= STATE_FIN_FROM_SERVER;
        }
        let last = c.last_ts;
        let e = self.emit(kind, c, 0, now_ns);
        e.flags = f;
        e.offset = last as u64;
    }

    fn evict_one(&mut self, now_ns: i64) {
        while let Some(Reverse((_, id))) = self.timers.pop() {
            let Some(nk) = self.by_id.get(&id).copied() else { continue };
            let Some(mut c) = self.conns.remove(&nk) else { continue };
            self.finish_conn(now_ns, &mut c, EventKind::Closed, CLOSED_EVICTED);
            self.by_id.remove(&id);
            self.release(&mut c);
            return;
        }
    }

    /// Runs the idle timers up to `now_ns`.
    pub fn advance(&mut self, now_ns: i64) {
        while let Some(&Reverse((t, id))) = self.timers.peek() {
            if t > now_ns {
                break;
            }
            self.timers.pop();
            let Some(nk) = self.by_id.get(&id).copied() else { continue };
            let Some(c) = self.conns.get(&nk) else { continue };
            let due = c.last_ts + self.timeout_of(c);
            if due > now_ns {
                self.timers.push(Reverse((due, id)));
                continue;
            }
            let mut c = self.conns.remove(&nk).unwrap();
            self.finish_conn(now_ns, &mut c, EventKind::TimedOut, 0);
            self.by_id.remove(&id);
            self.release(&mut c);
        }
    }

    /// End of input: every open connection is forced out and reported (`EndOfInput`), in
    /// the order they were created. The table is empty afterwards.
    pub fn finish(&mut self, now_ns: i64) {
        let mut all: Vec<(u64, NormKey)> = self.conns.iter().map(|(k, c)| (c.id, *k)).collect();
        all.sort_unstable();
        for (_, k) in all {
            let mut c = self.conns.remove(&k).unwrap();
            self.finish_conn(now_ns, &mut c, EventKind::EndOfInput, 0);
            self.by_id.remove(&c.id);
            self.release(&mut c);
        }
        self.timers.clear();
    }

    /// Appends an event produced outside the TCP layer (UDP datagram, IP packet, decode
    /// anomaly), with its bytes, so every event of a batch stays in one ordered list.
    pub fn push_external(&mut self, mut ev: Event, bytes: &[u8]) {
        ev.data_start = self.data.len();
        ev.len = bytes.len() as u64;
        self.data.extend_from_slice(bytes);
        if ev.kind == EventKind::Anomaly {
            self.stats.anomalies += 1;
        }
        self.events.push(ev);
    }

    /// Per-direction (delivered, gap) byte counts of an open connection.
    pub fn counts(&self, conn_id: u64) -> Option<[(u64, u64); 2]> {
        let c = self.conns.get(self.by_id.get(&conn_id)?)?;
        Some([(c.halves[0].delivered, c.halves[0].gap_bytes), (c.halves[1].delivered, c.halves[1].gap_bytes)])
    }

    /// Sequence numbers a RST must carry to be accepted by each end now (for `kill`):
    /// (client's next seq, server's next seq, client's ack, server's ack).
    pub fn kill_seqs(&self, conn_id: u64) -> Option<(ConnKey, u32, u32)> {
        let c = self.conns.get(self.by_id.get(&conn_id)?)?;
        Some((c.key, c.halves[0].snd_max, c.halves[1].snd_max))
    }
}

enum Next {
    Keep,
    Remove,
    Reuse,
}
