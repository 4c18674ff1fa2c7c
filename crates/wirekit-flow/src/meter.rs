//! The flow table: keys, per-direction counters, expiry. See the crate docs for the rules.

use std::hash::{BuildHasher, Hash, Hasher};

use crate::frag::{FragId, PortMap};
use crate::index::{prefetch_ptr, FlowIndex};
use crate::timers::TimerHeap;

pub const PROTO_TCP: u8 = 6;
pub const PROTO_ICMP: u8 = 1;
pub const PROTO_ICMPV6: u8 = 58;

const TCP_FIN: u8 = 0x01;
const TCP_RST: u8 = 0x04;


/// What identifies a flow. IPv4 addresses sit in the first 4 bytes of `src`/`dst`.
/// For ICMP/ICMPv6, `src_port` is 0 and `dst_port` is type*256+code (as NetFlow v5 does).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct FlowKey {
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub src_port: u16,
    pub dst_port: u16,
    pub proto: u8,
    pub ip_version: u8,
    /// Outermost VLAN id, 0 when untagged.
    pub vlan: u16,
    /// Input interface (pcapng interface number, live ifindex; 0 for classic pcap).
    pub ifindex: u32,
}

impl Hash for FlowKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(u64::from_ne_bytes(self.src[0..8].try_into().unwrap()));
        state.write_u64(u64::from_ne_bytes(self.src[8..16].try_into().unwrap()));
        state.write_u64(u64::from_ne_bytes(self.dst[0..8].try_into().unwrap()));
        state.write_u64(u64::from_ne_bytes(self.dst[8..16].try_into().unwrap()));
        state.write_u64(
            (self.src_port as u64)
                | (self.dst_port as u64) << 16
                | (self.proto as u64) << 32
                | (self.ip_version as u64) << 40
                | (self.vlan as u64) << 48,
        );
        state.write_u32(self.ifindex);
    }
}

impl FlowKey {
    /// The key of the opposite direction. ICMP echo-style queries map to their replies so
    /// that a biflow pairs request and answer.
    pub fn reversed(&self) -> FlowKey {
        let mut k = *self;
        k.src = self.dst;
        k.dst = self.src;
        if self.proto == PROTO_ICMP || self.proto == PROTO_ICMPV6 {
            let (t, c) = ((self.dst_port >> 8) as u8, self.dst_port as u8);
            k.src_port = 0;
            k.dst_port = (icmp_counterpart(self.proto, t) as u16) << 8 | c as u16;
        } else {
            k.src_port = self.dst_port;
            k.dst_port = self.src_port;
        }
        k
    }
}

/// The ICMP type answering `t` (echo request <-> reply and friends); `t` itself otherwise.
fn icmp_counterpart(proto: u8, t: u8) -> u8 {
    if proto == PROTO_ICMP {
        match t {
            8 => 0,
            0 => 8,
            13 => 14,
            14 => 13,
            15 => 16,
            16 => 15,
            17 => 18,
            18 => 17,
            10 => 9,
            9 => 10,
            _ => t,
        }
    } else {
        match t {
            128 => 129,
            129 => 128,
            133 => 134,
            134 => 133,
            135 => 136,
            136 => 135,
            _ => t,
        }
    }
}

/// One decoded packet, as much of it as the meter needs.
#[derive(Clone, Copy, Debug, Default)]
pub struct PacketInfo {
    pub ts_ns: i64,
    /// 4 or 6 (anything else is counted as non-IP and ignored).
    pub ip_version: u8,
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub proto: u8,
    /// Transport ports, or for ICMP the type (src_port) and code (dst_port) as decoded.
    pub src_port: u16,
    pub dst_port: u16,
    /// True when the transport header was decoded (ports valid).
    pub has_l4: bool,
    pub vlan: u16,
    pub ifindex: u32,
    /// IP datagram length in bytes, header included.
    pub ip_len: u32,
    pub tcp_flags: u8,
    pub tos: u8,
    pub ttl: u8,
    pub is_fragment: bool,
    /// Fragment offset in bytes.
    pub frag_offset: u32,
    pub more_fragments: bool,
    pub ip_id: u32,
}

/// Counters of one direction of a flow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub packets: u64,
    /// IP-level bytes (sum of IP total lengths).
    pub octets: u64,
    pub first_ns: i64,
    pub last_ns: i64,
    /// TCP flags OR-ed over every packet.
    pub tcp_flags: u8,
    /// ToS of the first packet.
    pub tos: u8,
    pub ttl_min: u8,
    pub ttl_max: u8,
}

impl Counters {
    #[inline]
    fn add(&mut self, p: &PacketInfo) {
        if self.packets == 0 {
            self.first_ns = p.ts_ns;
            self.last_ns = p.ts_ns;
            self.tos = p.tos;
            self.ttl_min = p.ttl;
            self.ttl_max = p.ttl;
        } else {
            // Out-of-order timestamps must never make a negative duration.
            self.first_ns = self.first_ns.min(p.ts_ns);
            self.last_ns = self.last_ns.max(p.ts_ns);
            self.ttl_min = self.ttl_min.min(p.ttl);
            self.ttl_max = self.ttl_max.max(p.ttl);
        }
        self.packets += 1;
        self.octets += p.ip_len as u64;
        self.tcp_flags |= p.tcp_flags;
    }
}

/// RFC 5102 flowEndReason values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum EndReason {
    IdleTimeout = 1,
    ActiveTimeout = 2,
    EndOfFlow = 3,
    ForcedEnd = 4,
    LackOfResources = 5,
}

/// An expired flow. `rev` is all zero for unidirectional records.
#[derive(Clone, Copy, Debug)]
pub struct FlowRecord {
    pub key: FlowKey,
    pub fwd: Counters,
    pub rev: Counters,
    pub end_reason: EndReason,
}

#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub idle_timeout_ns: i64,
    pub active_timeout_ns: i64,
    pub fin_linger_ns: i64,
    pub max_flows: usize,
    pub bidirectional: bool,
    pub frag_map_cap: usize,
    pub frag_timeout_ns: i64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            idle_timeout_ns: 15_000_000_000,
            active_timeout_ns: 1_800_000_000_000,
            fin_linger_ns: 2_000_000_000,
            max_flows: 1 << 20,
            bidirectional: false,
            frag_map_cap: 4096,
            frag_timeout_ns: 30_000_000_000,
        }
    }
}

/// Meter counters (reported as anomalies/statistics by the caller).
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    pub packets: u64,
    pub non_ip: u64,
    pub flows_created: u64,
    pub expired_idle: u64,
    pub expired_active: u64,
    pub expired_end_of_flow: u64,
    pub expired_forced: u64,
    pub evicted_cache_full: u64,
    pub frag_ports_unknown: u64,
    pub frag_map_full: u64,
    pub ts_backwards: u64,
}

// repr(C): the fields a lookup and a packet touch first (key, hash, last_seen) share the
// first cache line.
#[repr(C)]
struct Entry {
    key: FlowKey,
    hash: u64,
    fwd: Counters,
    rev: Counters,
    last_seen_ns: i64,
    /// TCP FIN/RST linger end (i64::MAX when not closing).
    closing_at: i64,
    gen: u32,
    live: bool,
    closing: bool,
    fin_fwd: bool,
    fin_rev: bool,
}

/// Keyed multiply-rotate hasher (FxHash shape) seeded per table: fast for the fixed-size
/// keys, and the seed keeps crafted keys from colliding on purpose across runs. Output
/// order never depends on it.
#[derive(Clone, Copy)]
pub struct SeededFx(u64);

pub struct FxHasher(u64);

const FX_K: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(*b as u64);
        }
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(FX_K);
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.write_u64(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        // Final avalanche so that the high bits (hashbrown's control bytes) depend on all input.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h
    }
}

impl BuildHasher for SeededFx {
    type Hasher = FxHasher;
    #[inline]
    fn build_hasher(&self) -> FxHasher {
        FxHasher(self.0)
    }
}

impl SeededFx {
    pub fn random() -> Self {
        let s = std::collections::hash_map::RandomState::new();
        let mut h = s.build_hasher();
        h.write_u64(0x77_69_72_65_6b_69_74);
        SeededFx(h.finish())
    }
}

/// Heap entries from here on are flows without a deadline (idle and active timeouts both 0),
/// ordered by creation: NEVER + flow number. 2^62 ns after the epoch is the year 2116, so
/// packet time never reaches them (if it did, they would only lose their order).
const NEVER: i64 = 1 << 62;

pub struct Meter {
    cfg: Config,
    hasher: SeededFx,
    index: FlowIndex,
    slab: Vec<Entry>,
    hashes: Vec<u64>,
    free: Vec<u32>,
    // Every open flow has at least one entry (deadline_ns, slot, gen). A deadline is never
    // later than the flow's real one (min of idle, active and linger ends), because packets
    // only push the real one later; a popped entry whose flow is not due yet is pushed again
    // with the real deadline. Expiry is therefore exact on packet time, and a packet costs
    // no timer work at all: only flow creation and each idle period touch the heap.
    timers: TimerHeap,
    frags: PortMap,
    now_ns: i64,
    started: bool,
    pub stats: Stats,
}

impl Meter {
    pub fn new(cfg: Config) -> Self {
        Meter {
            frags: PortMap::new(cfg.frag_map_cap, cfg.frag_timeout_ns),
            cfg,
            hasher: SeededFx::random(),
            index: FlowIndex::new(),
            slab: Vec::new(),
            hashes: Vec::new(),
            free: Vec::new(),
            timers: TimerHeap::new(),
            now_ns: i64::MIN,
            started: false,
            stats: Stats::default(),
        }
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Open flows.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    #[inline]
    fn hash_key(&self, k: &FlowKey) -> u64 {
        self.hasher.hash_one(k)
    }

    #[inline]
    fn lookup(&self, k: &FlowKey, hash: u64) -> Option<u32> {
        let slab = &self.slab;
        self.index.find(hash, |s| slab[s as usize].key == *k)
    }

    /// The key of `p` before the fragment map is consulted (ports as decoded).
    #[inline]
    fn base_key(p: &PacketInfo) -> FlowKey {
        let (mut src_port, mut dst_port) = (0u16, 0u16);
        if p.has_l4 && !(p.is_fragment && p.frag_offset > 0) {
            if p.proto == PROTO_ICMP || p.proto == PROTO_ICMPV6 {
                // NetFlow convention: type*256+code in the destination port.
                dst_port = (p.src_port & 0xff) << 8 | (p.dst_port & 0xff);
            } else {
                src_port = p.src_port;
                dst_port = p.dst_port;
            }
        }
        FlowKey {
            src: p.src,
            dst: p.dst,
            src_port,
            dst_port,
            proto: p.proto,
            ip_version: p.ip_version,
            vlan: p.vlan,
            ifindex: p.ifindex,
        }
    }

    /// Accounts a run of packets, in order. Same result as `feed` on each, but the flow
    /// table's buckets and entries of the packets a few places ahead are prefetched, so the
    /// cache misses of a large table overlap instead of adding up.
    pub fn feed_many(&mut self, ps: &[PacketInfo], out: &mut Vec<FlowRecord>) {
        const AHEAD: usize = 8;
        let mut hashes = std::mem::take(&mut self.hashes);
        hashes.clear();
        hashes.extend(ps.iter().map(|p| self.hash_key(&Self::base_key(p))));
        for &h in hashes.iter().take(AHEAD) {
            self.index.prefetch(h);
        }
        for (i, p) in ps.iter().enumerate() {
            if let Some(&h) = hashes.get(i + AHEAD) {
                self.index.prefetch(h);
            }
            if let Some(&h) = hashes.get(i + AHEAD / 2) {
                if let Some(s) = self.index.peek(h) {
                    if let Some(e) = self.slab.get(s as usize) {
                        let ptr = e as *const Entry as *const u8;
                        prefetch_ptr(ptr);
                        prefetch_ptr(ptr.wrapping_add(64));
                        prefetch_ptr(ptr.wrapping_add(128));
                    }
                }
            }
            // The base key is the final key unless the fragment map supplies the ports.
            let pre = if p.is_fragment && p.frag_offset > 0 { None } else { Some(hashes[i]) };
            self.feed_inner(p, pre, out);
        }
        self.hashes = hashes;
    }

    /// Packet time as the meter sees it (largest timestamp so far).
    pub fn now_ns(&self) -> i64 {
        self.now_ns
    }

    /// The flow's real deadline and the reason it would end then.
    #[inline]
    fn deadline(&self, e: &Entry) -> (i64, EndReason) {
        let mut d = (i64::MAX, EndReason::IdleTimeout);
        if self.cfg.idle_timeout_ns > 0 {
            d = (e.last_seen_ns.saturating_add(self.cfg.idle_timeout_ns), EndReason::IdleTimeout);
        }
        if self.cfg.active_timeout_ns > 0 {
            let first = if e.rev.packets > 0 { e.fwd.first_ns.min(e.rev.first_ns) } else { e.fwd.first_ns };
            let a = first.saturating_add(self.cfg.active_timeout_ns);
            if a < d.0 {
                d = (a, EndReason::ActiveTimeout);
            }
        }
        if e.closing_at < d.0 {
            d = (e.closing_at, EndReason::EndOfFlow);
        }
        d
    }

    fn remove(&mut self, i: u32, reason: EndReason, out: &mut Vec<FlowRecord>) {
        let e = &mut self.slab[i as usize];
        e.gen = e.gen.wrapping_add(1);
        e.live = false;
        self.index.remove(e.hash, i);
        out.push(FlowRecord { key: e.key, fwd: e.fwd, rev: e.rev, end_reason: reason });
        self.free.push(i);
        match reason {
            EndReason::IdleTimeout => self.stats.expired_idle += 1,
            EndReason::ActiveTimeout => self.stats.expired_active += 1,
            EndReason::EndOfFlow => self.stats.expired_end_of_flow += 1,
            EndReason::ForcedEnd => self.stats.expired_forced += 1,
            EndReason::LackOfResources => self.stats.evicted_cache_full += 1,
        }
    }

    /// Earliest time at which `advance` would expire something (None: nothing open).
    /// May be early (the flow saw packets since), never late.
    pub fn next_deadline(&self) -> Option<i64> {
        // Entries from NEVER on are flows that never expire (both timeouts 0): no deadline.
        self.timers.peek().map(|(t, _, _)| t).filter(|&t| t < NEVER)
    }

    /// Moves packet time to `now_ns` (never backwards) and expires what is due.
    pub fn advance(&mut self, now_ns: i64, out: &mut Vec<FlowRecord>) {
        if !self.started || now_ns > self.now_ns {
            self.now_ns = now_ns;
            self.started = true;
        }
        self.expire(out);
    }

    fn expire(&mut self, out: &mut Vec<FlowRecord>) {
        let now = self.now_ns;
        // Entries of never-expiring flows that packet time reached (only past 2^62 ns): put
        // back after the loop, unchanged, or it would pop them forever. No allocation unless.
        let mut parked = Vec::new();
        while let Some((t, slot, gen)) = self.timers.peek() {
            if t > now {
                break;
            }
            self.timers.pop();
            let e = &self.slab[slot as usize];
            if e.gen != gen || !e.live {
                continue; // the flow already left
            }
            let (d, reason) = self.deadline(e);
            if d == i64::MAX {
                parked.push((t.max(NEVER), slot, gen));
            } else if d <= now {
                self.remove(slot, reason, out);
            } else {
                self.timers.push((d, slot, gen));
            }
        }
        for p in parked {
            self.timers.push(p);
        }
    }

    /// Expires every open flow (end of input), least recently seen first.
    pub fn flush(&mut self, out: &mut Vec<FlowRecord>) {
        let mut open: Vec<(i64, i64, u32)> = self
            .slab
            .iter()
            .enumerate()
            .filter(|(_, e)| e.live)
            .map(|(i, e)| (e.last_seen_ns, e.fwd.first_ns, i as u32))
            .collect();
        open.sort_unstable();
        for (_, _, i) in open {
            self.remove(i, EndReason::ForcedEnd, out);
        }
        self.timers.clear();
    }

    /// Accounts one packet; expired records are appended to `out`.
    pub fn feed(&mut self, p: &PacketInfo, out: &mut Vec<FlowRecord>) {
        self.feed_inner(p, None, out)
    }

    #[inline]
    fn feed_inner(&mut self, p: &PacketInfo, pre_hash: Option<u64>, out: &mut Vec<FlowRecord>) {
        self.stats.packets += 1;
        if p.ip_version != 4 && p.ip_version != 6 {
            self.stats.non_ip += 1;
            return;
        }
        if !self.started || p.ts_ns >= self.now_ns {
            self.now_ns = p.ts_ns;
            self.started = true;
        } else {
            self.stats.ts_backwards += 1;
        }
        if let Some((t, _, _)) = self.timers.peek() {
            if t <= self.now_ns {
                self.expire(out);
            }
        }

        let mut key = Self::base_key(p);
        if p.is_fragment && p.frag_offset > 0 {
            // A later fragment carries no ports: the first fragment left them in the map.
            let id = FragId { src: p.src, dst: p.dst, proto: p.proto, ip_id: p.ip_id };
            match self.frags.lookup(&id, !p.more_fragments) {
                Some((s, d)) => {
                    key.src_port = s;
                    key.dst_port = d;
                }
                None => self.stats.frag_ports_unknown += 1,
            }
        } else if p.has_l4 && p.is_fragment && p.more_fragments {
            let id = FragId { src: p.src, dst: p.dst, proto: p.proto, ip_id: p.ip_id };
            if self.frags.insert(id, key.src_port, key.dst_port, p.ts_ns) {
                self.stats.frag_map_full += 1;
            }
        }

        let mut reverse = false;
        let hash = match pre_hash {
            Some(h) => h,
            None => self.hash_key(&key),
        };
        let mut slot = self.lookup(&key, hash);
        if slot.is_none() && self.cfg.bidirectional {
            let rk = key.reversed();
            if let Some(s) = self.lookup(&rk, self.hash_key(&rk)) {
                slot = Some(s);
                reverse = true;
            }
        }
        let i = match slot {
            Some(i) => i,
            None => self.create(key, hash, out),
        };
        let cfg_bi = self.cfg.bidirectional;
        let linger = self.cfg.fin_linger_ns;
        let now = self.now_ns;
        let e = &mut self.slab[i as usize];
        e.last_seen_ns = now;
        if reverse {
            e.rev.add(p);
        } else {
            e.fwd.add(p);
        }
        if p.proto == PROTO_TCP && !e.closing && p.tcp_flags & (TCP_FIN | TCP_RST) != 0 {
            if p.tcp_flags & TCP_FIN != 0 {
                if reverse {
                    e.fin_rev = true;
                } else {
                    e.fin_fwd = true;
                }
            }
            let done = p.tcp_flags & TCP_RST != 0 || !cfg_bi || (e.fin_fwd && e.fin_rev);
            if done {
                e.closing = true;
                e.closing_at = now.saturating_add(linger);
                let gen = e.gen;
                self.timers.push((e.closing_at, i, gen));
            }
        }
    }

    /// The open flow with the earliest real deadline (min of idle, active and linger ends;
    /// ties: lowest slot), found by settling stale timer entries at the top of the heap.
    /// This is the cache-full victim: not LRU, since a lingering or active-timeout-bound flow
    /// can be due before an older idle one. Flows that never expire (both timeouts 0) come
    /// after every other one, oldest created first. None only when the table is empty.
    fn oldest(&mut self) -> Option<u32> {
        while let Some((t, slot, gen)) = self.timers.peek() {
            let e = &self.slab[slot as usize];
            if e.gen != gen || !e.live {
                self.timers.pop();
                continue;
            }
            let (d, _) = self.deadline(e);
            if d == t || (d == i64::MAX && t >= NEVER) {
                return Some(slot);
            }
            self.timers.pop();
            self.timers.push((if d == i64::MAX { NEVER } else { d }, slot, gen));
        }
        None
    }

    fn create(&mut self, key: FlowKey, hash: u64, out: &mut Vec<FlowRecord>) -> u32 {
        if self.index.len() >= self.cfg.max_flows.max(1) {
            if let Some(h) = self.oldest() {
                self.remove(h, EndReason::LackOfResources, out);
            }
        }
        self.stats.flows_created += 1;
        let e = Entry {
            key,
            hash,
            fwd: Counters::default(),
            rev: Counters::default(),
            last_seen_ns: self.now_ns,
            closing_at: i64::MAX,
            gen: 0,
            live: true,
            closing: false,
            fin_fwd: false,
            fin_rev: false,
        };
        let i = match self.free.pop() {
            Some(i) => {
                let gen = self.slab[i as usize].gen;
                self.slab[i as usize] = Entry { gen, ..e };
                i
            }
            None => {
                self.slab.push(e);
                (self.slab.len() - 1) as u32
            }
        };
        self.index.insert(hash, i);
        let gen = self.slab[i as usize].gen;
        // A flow that can never expire (idle and active timeouts both 0) still gets an entry,
        // so a full table finds a victim in the heap (max_flows holds): at NEVER + creation
        // number, so those flows leave oldest first.
        let (d, _) = self.deadline(&self.slab[i as usize]);
        let t = if d == i64::MAX { NEVER.saturating_add(self.stats.flows_created as i64) } else { d };
        self.timers.push((t, i, gen));
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    fn v4(a: [u8; 4]) -> [u8; 16] {
        let mut x = [0u8; 16];
        x[..4].copy_from_slice(&a);
        x
    }

    fn pkt(ts_ns: i64, sp: u16, dp: u16, flags: u8, len: u32) -> PacketInfo {
        PacketInfo {
            ts_ns,
            ip_version: 4,
            src: v4([10, 0, 0, 1]),
            dst: v4([10, 0, 0, 2]),
            proto: PROTO_TCP,
            src_port: sp,
            dst_port: dp,
            has_l4: true,
            ip_len: len,
            tcp_flags: flags,
            tos: 0,
            ttl: 64,
            ..Default::default()
        }
    }

    fn rev(mut p: PacketInfo) -> PacketInfo {
        std::mem::swap(&mut p.src, &mut p.dst);
        std::mem::swap(&mut p.src_port, &mut p.dst_port);
        p
    }

    fn cfg() -> Config {
        Config { idle_timeout_ns: 10 * S, active_timeout_ns: 60 * S, fin_linger_ns: S, ..Default::default() }
    }

    #[test]
    fn unidirectional_counts_and_flush() {
        let mut m = Meter::new(cfg());
        let mut out = vec![];
        m.feed(&pkt(0, 1000, 80, 0x02, 60), &mut out);
        m.feed(&rev(pkt(S / 10, 1000, 80, 0x12, 60)), &mut out);
        m.feed(&pkt(S / 5, 1000, 80, 0x10, 52), &mut out);
        assert!(out.is_empty());
        m.flush(&mut out);
        // Least recently seen first: the answer flow, then the client flow.
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].key.src_port, 80);
        assert_eq!(out[0].end_reason, EndReason::ForcedEnd);
        assert_eq!(out[1].key.src_port, 1000);
        assert_eq!(out[1].fwd.packets, 2);
        assert_eq!(out[1].fwd.octets, 112);
        assert_eq!(out[1].fwd.tcp_flags, 0x12);
        assert_eq!(out[1].fwd.first_ns, 0);
        assert_eq!(out[1].fwd.last_ns, S / 5);
    }

    #[test]
    fn biflow_pairs_directions() {
        let mut m = Meter::new(Config { bidirectional: true, ..cfg() });
        let mut out = vec![];
        m.feed(&pkt(0, 1000, 80, 0x02, 60), &mut out);
        m.feed(&rev(pkt(1, 1000, 80, 0x12, 64)), &mut out);
        m.flush(&mut out);
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].fwd.packets, out[0].fwd.octets), (1, 60));
        assert_eq!((out[0].rev.packets, out[0].rev.octets), (1, 64));
        assert_eq!(out[0].rev.tcp_flags, 0x12);
    }

    #[test]
    fn idle_timeout_on_packet_time() {
        let mut m = Meter::new(cfg());
        let mut out = vec![];
        m.feed(&pkt(0, 1, 2, 0, 40), &mut out);
        m.feed(&pkt(9 * S, 3, 4, 0, 40), &mut out);
        assert!(out.is_empty());
        assert_eq!(m.next_deadline(), Some(10 * S));
        m.feed(&pkt(10 * S, 3, 4, 0, 40), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].key.src_port, 1);
        assert_eq!(out[0].end_reason, EndReason::IdleTimeout);
        out.clear();
        m.advance(19 * S, &mut out);
        assert!(out.is_empty());
        m.advance(20 * S, &mut out);
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn active_timeout_splits_long_flow() {
        let mut m = Meter::new(cfg());
        let mut out = vec![];
        for t in 0..=70 {
            m.feed(&pkt(t * S, 1, 2, 0, 40), &mut out);
        }
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].end_reason, EndReason::ActiveTimeout);
        assert_eq!(out[0].fwd.packets, 60);
        m.flush(&mut out);
        assert_eq!(out[1].fwd.packets, 11);
        assert_eq!(out[1].fwd.first_ns, 60 * S);
    }

    #[test]
    fn fin_linger_then_expire() {
        let mut m = Meter::new(cfg());
        let mut out = vec![];
        m.feed(&pkt(0, 1, 2, 0x11, 40), &mut out);
        m.feed(&pkt(S / 2, 1, 2, 0x10, 40), &mut out); // final ACK inside the linger
        m.advance(S - 1, &mut out);
        assert!(out.is_empty());
        m.advance(S, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].end_reason, EndReason::EndOfFlow);
        assert_eq!(out[0].fwd.packets, 2);
    }

    #[test]
    fn biflow_fin_needs_both_sides() {
        let mut m = Meter::new(Config { bidirectional: true, ..cfg() });
        let mut out = vec![];
        m.feed(&pkt(0, 1, 2, 0x11, 40), &mut out);
        m.advance(5 * S, &mut out);
        assert!(out.is_empty());
        m.feed(&rev(pkt(5 * S, 1, 2, 0x11, 40)), &mut out);
        m.advance(6 * S, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].end_reason, EndReason::EndOfFlow);
    }

    #[test]
    fn cache_full_evicts_earliest_deadline() {
        let mut m = Meter::new(Config { max_flows: 2, ..cfg() });
        let mut out = vec![];
        m.feed(&pkt(0, 1, 2, 0, 40), &mut out);
        m.feed(&pkt(1, 3, 4, 0, 40), &mut out);
        m.feed(&pkt(2, 1, 2, 0, 40), &mut out);
        m.feed(&pkt(3, 5, 6, 0, 40), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].key.src_port, 3);
        assert_eq!(out[0].end_reason, EndReason::LackOfResources);
        assert_eq!(m.stats.evicted_cache_full, 1);
    }

    #[test]
    fn cache_full_evicts_lingering_flow_before_older_idle_one() {
        // Not LRU: flow 1->2 saw a FIN (linger ends at 1 s) and a later ACK; flow 3->4 was
        // seen less recently but is due only at its idle end (10 s). 1->2 is due first.
        let mut m = Meter::new(Config { max_flows: 2, ..cfg() });
        let mut out = vec![];
        m.feed(&pkt(0, 1, 2, 0x01, 40), &mut out);
        m.feed(&pkt(S / 10, 3, 4, 0, 40), &mut out);
        m.feed(&pkt(S / 5, 1, 2, 0x10, 40), &mut out);
        m.feed(&pkt(S / 4, 5, 6, 0, 40), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].key.src_port, 1);
        assert_eq!(out[0].fwd.packets, 2);
        assert_eq!(out[0].end_reason, EndReason::LackOfResources);
    }

    #[test]
    fn cache_full_holds_with_timeouts_disabled() {
        // Idle and active timeouts 0: flows never expire, but max_flows still holds; the
        // oldest flow goes first (not the freed slot's newcomer).
        let mut m = Meter::new(Config { max_flows: 2, idle_timeout_ns: 0, active_timeout_ns: 0, ..cfg() });
        let mut out = vec![];
        for i in 0..5u16 {
            m.feed(&pkt(i64::from(i), 100 + i, 9, 0, 40), &mut out);
        }
        assert_eq!(m.len(), 2);
        assert_eq!(m.stats.evicted_cache_full, 3);
        assert_eq!(out.iter().map(|r| r.key.src_port).collect::<Vec<_>>(), vec![100, 101, 102]);
        assert_eq!(m.next_deadline(), None);
        m.advance(i64::MAX - 1, &mut out);
        assert_eq!(out.len(), 3);
    }

    #[test]
    fn fragments_follow_first() {
        let mut m = Meter::new(cfg());
        let mut out = vec![];
        let mut f1 = pkt(0, 5000, 53, 0, 1500);
        f1.proto = 17;
        f1.is_fragment = true;
        f1.more_fragments = true;
        f1.ip_id = 7;
        let mut f2 = f1;
        f2.has_l4 = false;
        f2.src_port = 0;
        f2.dst_port = 0;
        f2.frag_offset = 1480;
        f2.more_fragments = false;
        f2.ip_len = 100;
        // A trailing fragment of another datagram whose first fragment never came.
        let mut f3 = f2;
        f3.ip_id = 8;
        m.feed(&f1, &mut out);
        m.feed(&f2, &mut out);
        m.feed(&f3, &mut out);
        m.flush(&mut out);
        assert_eq!(out.len(), 2);
        assert_eq!((out[0].key.src_port, out[0].key.dst_port, out[0].fwd.packets, out[0].fwd.octets), (5000, 53, 2, 1600));
        assert_eq!((out[1].key.src_port, out[1].fwd.packets), (0, 1));
        assert_eq!(m.stats.frag_ports_unknown, 1);
    }

    #[test]
    fn icmp_type_code_in_dst_port_and_biflow_pairing() {
        let mut m = Meter::new(Config { bidirectional: true, ..cfg() });
        let mut out = vec![];
        let mut req = pkt(0, 8, 0, 0, 84);
        req.proto = PROTO_ICMP;
        let mut rep = rev(req);
        rep.src_port = 0; // type 0 (echo reply), code 0
        rep.dst_port = 0;
        m.feed(&req, &mut out);
        m.feed(&rep, &mut out);
        m.flush(&mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].key.dst_port, 8 * 256);
        assert_eq!(out[0].key.src_port, 0);
        assert_eq!((out[0].fwd.packets, out[0].rev.packets), (1, 1));
    }

    #[test]
    fn feed_many_equals_feed_under_churn() {
        // Many flows, a small table (evictions), timeouts, fragments: the prefetching batch
        // path must give exactly the records of packet-by-packet feeding.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut pkts = vec![];
        for i in 0..20_000i64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut p = pkt(i * (S / 1000), (x % 300) as u16, 80, [0x02, 0x10, 0x11, 0x04][(x >> 20) as usize % 4], 40 + (x % 1000) as u32);
            p.src[3] = (x >> 32) as u8 % 7;
            if x % 17 == 0 {
                p.proto = 17;
                p.is_fragment = true;
                p.more_fragments = x % 2 == 0;
                p.frag_offset = if x % 3 == 0 { 0 } else { 1480 };
                p.has_l4 = p.frag_offset == 0;
                p.ip_id = (x % 5) as u32;
            }
            pkts.push(p);
        }
        let c = Config { max_flows: 500, idle_timeout_ns: 2 * S, active_timeout_ns: 10 * S, fin_linger_ns: S / 2, ..cfg() };
        let (mut a, mut b) = (Meter::new(c), Meter::new(c));
        let (mut oa, mut ob) = (vec![], vec![]);
        for p in &pkts {
            a.feed(p, &mut oa);
        }
        for chunk in pkts.chunks(256) {
            b.feed_many(chunk, &mut ob);
        }
        a.flush(&mut oa);
        b.flush(&mut ob);
        assert!(oa.len() > 1000);
        assert_eq!(oa.len(), ob.len());
        for (ra, rb) in oa.iter().zip(&ob) {
            assert_eq!((ra.key, ra.fwd, ra.rev, ra.end_reason), (rb.key, rb.fwd, rb.rev, rb.end_reason));
        }
        assert_eq!(a.stats.evicted_cache_full, b.stats.evicted_cache_full);
        assert!(a.stats.evicted_cache_full > 0);
    }

    #[test]
    fn backwards_timestamp_no_negative_duration() {
        let mut m = Meter::new(cfg());
        let mut out = vec![];
        m.feed(&pkt(5 * S, 1, 2, 0, 40), &mut out);
        m.feed(&pkt(4 * S, 1, 2, 0, 40), &mut out);
        m.flush(&mut out);
        assert_eq!((out[0].fwd.first_ns, out[0].fwd.last_ns), (4 * S, 5 * S));
        assert_eq!(m.stats.ts_backwards, 1);
    }
}
