//! IPv4 and IPv6 defragmentation, sans-IO.
//!
//! # Theory of operation
//!
//! A [`Defragmenter`] takes captured frames one at a time with their decode [`Summary`] and
//! an explicit `now_ns`, and answers with an [`Outcome`]:
//!
//! * [`Outcome::NotFragment`]: pass the frame on unchanged (not IP, not a fragment, or an
//!   IPv6 atomic fragment, RFC 6946 section 4: "A host that receives an IPv6 packet that
//!   includes a Fragment Header with the "Fragment Offset" equal to 0 and the "M" flag equal
//!   to 0 MUST process such packet in isolation from any other packets/fragments").
//! * [`Outcome::Held`]: the fragment was buffered; nothing to emit yet.
//! * [`Outcome::Dropped`]: the fragment was rejected (malformed, oversized, cap); an
//!   anomaly event says why.
//! * [`Outcome::Completed`]: this fragment completed a datagram. The [`Reassembled`] frame
//!   is a whole packet as if it had come unfragmented: the link-layer header and IP header
//!   of the offset-0 fragment, then the payload. IPv4: total length fixed, flags and
//!   offset cleared, header checksum recomputed. IPv6: the
//!   unfragmentable part of the offset-0 fragment (RFC 8200 section 4.5), the Fragment
//!   header removed, the preceding Next Header set to the fragment header's Next Header,
//!   Payload Length fixed. Feed it to `decode()` again and on to TCP/UDP.
//!
//! Side results (anomalies, expiries) queue up as [`DefragEvent`]s: take them with
//! [`Defragmenter::take_events`] after each push. [`Defragmenter::advance`] expires
//! datagrams whose deadline passed and returns their `fragment_timeout` events directly;
//! `push` performs the same expiry first, queueing those events. [`Defragmenter::next_deadline`]
//! tells an event loop when to call `advance`. No clock is ever read.
//!
//! ```ignore
//! let mut defrag = Defragmenter::new(DefragConfig::default());
//! for (ts_ns, linktype, frame) in frames {          // ts_ns: i64, as framer::Record
//!     let summary = wirekit_core::decode::decode(linktype, frame);
//!     match defrag.push(ts_ns, linktype, frame, &summary) {
//!         Outcome::NotFragment => on_packet(ts_ns, frame, &summary),
//!         Outcome::Completed(r) => {
//!             let s = wirekit_core::decode::decode(linktype, &r.frame);
//!             on_packet(ts_ns, &r.frame, &s)
//!         }
//!         Outcome::Held | Outcome::Dropped => {}
//!     }
//!     for event in defrag.take_events() { on_anomaly(event) }
//! }
//! // Idle timer: when now >= defrag.next_deadline(), defrag.advance(now) -> timeouts.
//! ```
//!
//! `frag_cap_hit` events are rate-limited per cap kind (`cap_event_interval_ns`, default
//! one per second of capture time, each with the `count` of hits it stands for) so a flood
//! costs no event per packet; `DefragStats` counts every hit.
//!
//! ## Keys
//!
//! IPv4: (src, dst, identification, protocol), RFC 791 section 3.2 ("the combination of
//! source, destination, protocol, and identifier"). IPv6: (src, dst, identification), RFC
//! 8200 section 4.5. Both also carry the outer and inner VLAN IDs, as Suricata does, so two
//! VLANs reusing one address space are not mixed.
//!
//! ## Storage and overlaps
//!
//! Each datagram keeps the byte ranges of every fragment as it arrived (`held`, used for
//! the overlap policy, see [`crate::policy`]) and the current content as sorted,
//! non-overlapping segments (`segs`) whose union equals the union of `held`. A new
//! fragment is split by [`crate::policy::resolve`] into the holes it fills and the
//! overlaps it wins; overlaps with different bytes raise `overlap_different_data`
//! whichever side wins, exact repeats raise `duplicate_fragment`. Memory is proportional to
//! bytes received (a lone fragment at offset 65000 costs its own bytes, not 65 KB).
//!
//! ## Bounds (every one with an anomaly when hit)
//!
//! * fragments per datagram (`max_fragments_per_datagram`): the new fragment is dropped,
//!   `frag_cap_hit` with cap `fragments_per_datagram`.
//! * datagrams in progress (`max_datagrams`) and total buffered bytes (`max_bytes`): by
//!   default the oldest datagram is evicted to make room (Linux's `ip_evictor` behaviour),
//!   or with [`CapPolicy::DropNew`] the new fragment is dropped; `frag_cap_hit` either way.
//! * datagram size: IPv4 header + payload above 65535 bytes (RFC 791 total length is 16
//!   bits), IPv6 payload above 65535 (RFC 8200 section 4.5: such a fragment "must be
//!   discarded"): `oversized_datagram`, fragment dropped. Jumbograms are not reassembled.
//! * time: a datagram expires `timeout_ns` after its first fragment (default 30 s, Linux
//!   `ipfrag_time`), `fragment_timeout`.
//!
//! ## What it does not do
//!
//! No ICMP "time exceeded" / "parameter problem" replies (it is an observer), no
//! jumbograms, no tunnels (the outermost IP header is the one reassembled). RFC 5722
//! "discard the whole datagram on any overlap" is opt-in (`discard_overlaps`,
//! [`OverlapDiscard`]): by default an overlap is resolved by the overlap policy and an
//! anomaly is raised, so the traffic a target host would see stays visible.

use std::collections::{HashMap, VecDeque};
use std::fmt;

use wirekit_core::checksum;
use wirekit_core::decode::Summary;

use crate::policy::{resolve, OverlapPolicy, PolicyTable};

/// Largest IPv4 datagram (header + payload) or IPv6 payload, in bytes.
pub const MAX_DATAGRAM_LEN: u32 = 65_535;

/// What to do when a datagram-count or byte cap would be exceeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapPolicy {
    /// Evict the oldest datagram(s) in progress to make room (default; Linux does the same).
    EvictOldest,
    /// Keep what is held; drop the new fragment.
    DropNew,
}

/// Whether an overlap discards the whole datagram instead of being resolved by policy.
///
/// RFC 5722 section 4: "When reassembling an IPv6 datagram, if one or more of its
/// constituent fragments is determined to be an overlapping fragment, the entire datagram
/// (and any constituent fragments, including those not yet received) MUST be silently
/// discarded." Linux does so for IPv6, and since 4.19 for IPv4 too. Exact duplicates are
/// not overlaps here (they change nothing). A discarded datagram stays as a data-less
/// tombstone until its timeout so its late fragments are dropped too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverlapDiscard {
    /// Resolve every overlap by the policy (Novak's model; Suricata's behaviour).
    Never,
    /// Discard IPv6 datagrams with overlaps (RFC 5722); resolve IPv4 ones by policy.
    Ipv6,
    /// Discard any datagram with overlaps (modern Linux targets).
    Always,
}

/// Which bound was hit (the `cap` of a `frag_cap_hit` event).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CapKind {
    FragmentsPerDatagram,
    Datagrams,
    Bytes,
}

impl CapKind {
    pub fn name(self) -> &'static str {
        match self {
            CapKind::FragmentsPerDatagram => "fragments_per_datagram",
            CapKind::Datagrams => "datagrams",
            CapKind::Bytes => "bytes",
        }
    }
}

/// Configuration; every bound has a default sized for a busy link.
#[derive(Clone, Debug)]
pub struct DefragConfig {
    /// Fragments kept per datagram (64 KB in 1280-byte IPv6 fragments is 52; 256 is ample).
    pub max_fragments_per_datagram: u32,
    /// Datagrams being reassembled at once.
    pub max_datagrams: u32,
    /// Bytes buffered across all datagrams (payload + headers + a per-fragment overhead).
    pub max_bytes: u64,
    /// Largest datagram accepted (IPv4 header + payload, IPv6 payload), at most 65535.
    pub max_datagram_len: u32,
    /// A datagram is dropped this long after its first fragment (Linux ipfrag_time: 30 s).
    pub timeout_ns: i64,
    /// Discard whole datagrams with overlapping fragments (RFC 5722 for IPv6; modern Linux
    /// for both) instead of resolving the overlap by policy. Default: never.
    pub discard_overlaps: OverlapDiscard,
    /// What a datagram or byte cap does.
    pub cap_policy: CapPolicy,
    /// Overlap policy per destination, with a default.
    pub policies: PolicyTable,
    /// `frag_cap_hit` events are rate-limited per cap kind to one per this interval of
    /// capture time (a flood would otherwise cost an event per packet); the event's `count`
    /// says how many hits it stands for, and `DefragStats` counts every hit. 0 = no limit.
    pub cap_event_interval_ns: i64,
}

impl Default for DefragConfig {
    fn default() -> Self {
        DefragConfig {
            max_fragments_per_datagram: 256,
            max_datagrams: 8192,
            // Linux's ipfrag_high_thresh is 4 MB; an observer sees many hosts.
            max_bytes: 32 << 20,
            max_datagram_len: MAX_DATAGRAM_LEN,
            timeout_ns: 30_000_000_000,
            cap_policy: CapPolicy::EvictOldest,
            discard_overlaps: OverlapDiscard::Never,
            policies: PolicyTable::new(OverlapPolicy::Bsd),
            cap_event_interval_ns: 1_000_000_000,
        }
    }
}

/// Anomalies the defragmenter reports (stable codes, see `code()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DefragAnomaly {
    /// Two fragments overlap with different bytes (an evasion attempt or a broken stack).
    OverlapDifferentData,
    /// The offset-0 fragment is too short to hold the L4 header (RFC 1858, RFC 7112).
    TinyFirstFragment,
    /// The datagram would exceed 65535 bytes (ping of death); fragment dropped.
    OversizedDatagram,
    /// A datagram expired incomplete; its fragments were dropped.
    FragmentTimeout,
    /// A cap was hit (see `cap`).
    FragCapHit,
    /// IPv6 fragment header with offset 0 and M=0 (RFC 6946): passed through whole.
    Ipv6AtomicFragment,
    /// A fragment repeating exactly the range and bytes of one already held.
    DuplicateFragment,
    /// A non-last fragment whose length is not a multiple of 8, or an empty fragment.
    /// IPv6: dropped (RFC 8200 section 4.5: "must be discarded"); IPv4: the tail past the
    /// last 8-byte boundary is cut off, as Linux does, and the rest kept.
    FragmentBadLength,
    /// Fewer bytes captured than the IP length claims (snaplen); fragment dropped.
    FragmentTruncated,
    /// A fragment reaching past the end set by the last fragment, or a second last fragment
    /// with a different end; dropped.
    FragmentEndInconsistent,
    /// An IPv4 fragment with DF set (contradictory; Zeek's fragment_with_DF).
    FragmentWithDf,
    /// A datagram was discarded because of an overlap (`discard_overlaps`, RFC 5722); its
    /// later fragments are dropped until it times out.
    OverlapDatagramDiscarded,
}

impl DefragAnomaly {
    /// The stable snake_case code (as in `python/wirekit/anomalies.py`).
    pub fn code(self) -> &'static str {
        match self {
            DefragAnomaly::OverlapDifferentData => "overlap_different_data",
            DefragAnomaly::TinyFirstFragment => "tiny_first_fragment",
            DefragAnomaly::OversizedDatagram => "oversized_datagram",
            DefragAnomaly::FragmentTimeout => "fragment_timeout",
            DefragAnomaly::FragCapHit => "frag_cap_hit",
            DefragAnomaly::Ipv6AtomicFragment => "ipv6_atomic_fragment",
            DefragAnomaly::DuplicateFragment => "duplicate_fragment",
            DefragAnomaly::FragmentBadLength => "fragment_bad_length",
            DefragAnomaly::FragmentTruncated => "fragment_truncated",
            DefragAnomaly::FragmentEndInconsistent => "fragment_end_inconsistent",
            DefragAnomaly::FragmentWithDf => "fragment_with_df",
            DefragAnomaly::OverlapDatagramDiscarded => "overlap_datagram_discarded",
        }
    }

    /// Every anomaly, in a stable order (index = bit in `Reassembled::anomalies`).
    pub const ALL: [DefragAnomaly; 12] = [
        DefragAnomaly::OverlapDifferentData,
        DefragAnomaly::TinyFirstFragment,
        DefragAnomaly::OversizedDatagram,
        DefragAnomaly::FragmentTimeout,
        DefragAnomaly::FragCapHit,
        DefragAnomaly::Ipv6AtomicFragment,
        DefragAnomaly::DuplicateFragment,
        DefragAnomaly::FragmentBadLength,
        DefragAnomaly::FragmentTruncated,
        DefragAnomaly::FragmentEndInconsistent,
        DefragAnomaly::FragmentWithDf,
        DefragAnomaly::OverlapDatagramDiscarded,
    ];

    /// Bit of this anomaly in a mask.
    pub fn bit(self) -> u32 {
        1 << (DefragAnomaly::ALL.iter().position(|a| *a == self).unwrap_or(31) as u32)
    }
}

impl fmt::Display for DefragAnomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The identity of a datagram being reassembled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct DatagramKey {
    /// 4 or 6.
    pub ip_version: u8,
    /// IPv4 in the first 4 bytes.
    pub src: [u8; 16],
    pub dst: [u8; 16],
    /// IPv4 identification (16 bits) or IPv6 fragment identification (32 bits).
    pub ip_id: u32,
    /// IPv4 protocol; 0 for IPv6 (not part of its key).
    pub proto: u8,
    pub vlan_outer: u16,
    pub vlan_inner: u16,
}

/// An anomaly or expiry, with the datagram it concerns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DefragEvent {
    /// `now_ns` of the push/advance that raised it.
    pub ts_ns: i64,
    pub anomaly: DefragAnomaly,
    /// Set for `frag_cap_hit`.
    pub cap: Option<CapKind>,
    pub key: DatagramKey,
    /// Byte offset of the fragment concerned (0 for datagram-level events).
    pub frag_offset: u32,
    /// Bytes concerned: the fragment's payload length, or for timeouts/evictions/discards
    /// the payload bytes the datagram held (union of its fragments' ranges; headers and
    /// the bookkeeping overhead charged to `max_bytes` excluded).
    pub byte_count: u32,
    /// Occurrences this event stands for: 1, except for rate-limited `frag_cap_hit` events
    /// (this hit plus those suppressed since the previous event of the same cap kind).
    pub count: u32,
}

/// A datagram reassembled by the fragment that completed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reassembled {
    /// The whole frame: link-layer header of the offset-0 fragment, fixed IP header, payload.
    pub frame: Vec<u8>,
    /// Offset of the IP header in `frame`.
    pub l3_offset: u32,
    pub key: DatagramKey,
    /// Fragments pushed into this datagram (duplicates and overlaps included).
    pub fragment_count: u32,
    /// `now_ns` of the first fragment.
    pub first_ts_ns: i64,
    /// Bitmask of `DefragAnomaly::bit()` seen on this datagram.
    pub anomalies: u32,
}

/// The answer to one [`Defragmenter::push`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Not a fragment (or an IPv6 atomic fragment): use the frame as it is.
    NotFragment,
    /// Buffered; nothing to emit yet.
    Held,
    /// Rejected; see the queued events.
    Dropped,
    /// This fragment completed a datagram.
    Completed(Reassembled),
}

/// Running totals.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DefragStats {
    /// Fragments pushed (atomic fragments excluded).
    pub fragments: u64,
    pub datagrams_completed: u64,
    pub datagrams_timed_out: u64,
    pub datagrams_evicted: u64,
    pub fragments_dropped: u64,
    /// Datagrams in progress now.
    pub datagrams_in_progress: u64,
    /// Bytes buffered now, and the peak.
    pub bytes_buffered: u64,
    pub peak_bytes_buffered: u64,
    /// Events raised per anomaly, indexed like `DefragAnomaly::ALL`.
    pub anomalies: [u64; 12],
}

/// Bytes charged per fragment on top of its payload: its `Seg` and `held` entries and the
/// allocator's per-block overhead. With `DATAGRAM_OVERHEAD` this makes `max_bytes` a bound
/// on heap use, not just on payload (measured: RSS growth under a flood stays near the cap).
const FRAGMENT_OVERHEAD: u64 = 96;
/// Bytes charged per datagram on top of its fragments: its hash-table slot (key and state,
/// ~200 bytes, times the table's slack), its `order` entry and vector headers.
const DATAGRAM_OVERHEAD: u64 = 512;

struct Seg {
    start: u32,
    data: Vec<u8>,
}

impl Seg {
    fn end(&self) -> u32 {
        self.start + self.data.len() as u32
    }
}

struct Datagram {
    generation: u64,
    first_ts_ns: i64,
    policy: OverlapPolicy,
    /// Ranges of every fragment accepted, in arrival order.
    held: Vec<(u64, u64)>,
    /// Current content: sorted, non-overlapping; union equals union of `held`.
    segs: Vec<Seg>,
    /// Fragmentable length, once the last fragment (MF=0) was seen.
    end: Option<u32>,
    /// Link header + IP header (IPv4) or unfragmentable part (IPv6) of the offset-0
    /// fragment; empty until it arrives.
    header: Vec<u8>,
    l3_offset: u32,
    /// IPv6: index in `header` of the Next Header byte to set, and its value.
    v6_next_header_pos: usize,
    v6_next_header: u8,
    fragment_count: u32,
    bytes: u64,
    anomalies: u32,
    /// Overlap-discarded tombstone (see `OverlapDiscard`): holds no data, drops fragments.
    discarded: bool,
}

impl Datagram {
    /// Fragmentable payload bytes held (the union of the fragments' ranges): what event
    /// `byte_count`s report. Headers and the per-fragment/per-datagram overhead charged to
    /// `max_bytes` are not included.
    fn payload_held(&self) -> u64 {
        self.segs.iter().map(|s| s.data.len() as u64).sum()
    }
}

/// Parsed fragment facts, independent of the IP version.
struct Frag<'a> {
    /// IPv4: the payload was cut to a multiple of 8 bytes (fragment_bad_length raised).
    trimmed: bool,
    key: DatagramKey,
    offset: u32,
    more: bool,
    payload: &'a [u8],
    /// Offset-0 fragment: bytes before the fragmentable part (link + IP header, or link +
    /// IPv6 unfragmentable part), the next header to put back (IPv6) and where.
    head: &'a [u8],
    l3_offset: u32,
    v6_next_header_pos: usize,
    v6_next_header: u8,
    /// IPv4 header length (for the 65535 check), IPv6 unfragmentable extension bytes.
    fixed_len: u32,
    /// L4 protocol of the fragmentable part (for the tiny-fragment check).
    l4_proto: u8,
}

/// The defragmenter. See the module documentation.
pub struct Defragmenter {
    cfg: DefragConfig,
    table: HashMap<DatagramKey, Datagram>,
    /// (deadline, key, generation) in creation order: deadlines are monotonic because the
    /// timeout is fixed. Entries of datagrams already gone are stale and skipped.
    order: VecDeque<(i64, DatagramKey, u64)>,
    next_generation: u64,
    events: Vec<DefragEvent>,
    stats: DefragStats,
    /// Per cap kind: time of the last frag_cap_hit event, hits suppressed since.
    cap_last_event_ns: [Option<i64>; 3],
    cap_suppressed: [u32; 3],
}

enum Parsed<'a> {
    NotFragment,
    Atomic(DatagramKey),
    Bad(DatagramKey, DefragAnomaly, u32, u32),
    Frag(Frag<'a>),
}

impl Defragmenter {
    pub fn new(cfg: DefragConfig) -> Self {
        Defragmenter {
            cfg,
            table: HashMap::new(),
            order: VecDeque::new(),
            next_generation: 1,
            events: Vec::new(),
            stats: DefragStats::default(),
            cap_last_event_ns: [None; 3],
            cap_suppressed: [0; 3],
        }
    }

    pub fn config(&self) -> &DefragConfig {
        &self.cfg
    }

    pub fn stats(&self) -> &DefragStats {
        &self.stats
    }

    /// Events queued by `push` (anomalies, expiries), oldest first; the queue is emptied.
    pub fn take_events(&mut self) -> Vec<DefragEvent> {
        std::mem::take(&mut self.events)
    }

    /// Number of events waiting in the queue.
    pub fn pending_events(&self) -> usize {
        self.events.len()
    }

    /// When `advance` next has work (`now_ns` units): never later than the expiry of the
    /// oldest datagram in progress; possibly earlier (that entry's datagram completed or was
    /// evicted meanwhile; `advance` then just drops it). `None` when nothing is held.
    pub fn next_deadline(&self) -> Option<i64> {
        self.order.front().map(|e| e.0)
    }

    /// Expire every datagram whose deadline is `<= now_ns`; returns their events.
    pub fn advance(&mut self, now_ns: i64) -> Vec<DefragEvent> {
        let mark = self.events.len();
        self.expire(now_ns);
        self.events.split_off(mark)
    }

    /// Push one captured frame. `summary` is `wirekit_core::decode::decode(linktype, data)`.
    /// Datagrams past their deadline are expired first (events queued).
    pub fn push(&mut self, now_ns: i64, _linktype: u32, data: &[u8], summary: &Summary) -> Outcome {
        if summary.ip_version != 4 && summary.ip_version != 6 {
            return Outcome::NotFragment;
        }
        // Cheap exit for the common case before any bookkeeping.
        if summary.ip_version == 4 && !summary.is_fragment {
            return Outcome::NotFragment;
        }
        if summary.ip_version == 6 && summary.frag_header_offset == 0 {
            return Outcome::NotFragment;
        }
        if self.next_deadline().is_some_and(|d| d <= now_ns) {
            self.expire(now_ns);
        }
        match parse(data, summary) {
            Parsed::NotFragment => Outcome::NotFragment,
            Parsed::Atomic(key) => {
                self.event(now_ns, DefragAnomaly::Ipv6AtomicFragment, None, key, 0, 0);
                Outcome::NotFragment
            }
            Parsed::Bad(key, anomaly, off, len) => {
                self.stats.fragments += 1;
                self.stats.fragments_dropped += 1;
                self.event(now_ns, anomaly, None, key, off, len);
                Outcome::Dropped
            }
            Parsed::Frag(frag) => {
                self.stats.fragments += 1;
                if summary.ip_version == 4 && summary.dont_fragment {
                    self.event(
                        now_ns,
                        DefragAnomaly::FragmentWithDf,
                        None,
                        frag.key,
                        frag.offset,
                        frag.payload.len() as u32,
                    );
                }
                if frag.trimmed {
                    self.event(
                        now_ns,
                        DefragAnomaly::FragmentBadLength,
                        None,
                        frag.key,
                        frag.offset,
                        frag.payload.len() as u32,
                    );
                }
                let out = self.insert(now_ns, frag);
                if out == Outcome::Dropped {
                    self.stats.fragments_dropped += 1;
                }
                out
            }
        }
    }

    fn event(
        &mut self,
        ts_ns: i64,
        anomaly: DefragAnomaly,
        cap: Option<CapKind>,
        key: DatagramKey,
        frag_offset: u32,
        byte_count: u32,
    ) {
        let i = DefragAnomaly::ALL.iter().position(|a| *a == anomaly).unwrap_or(0);
        self.stats.anomalies[i] += 1;
        // Datagram-level anomalies go into the datagram's mask (a hash lookup: skipped for
        // cap hits and expiries, whose datagram is gone or not the point).
        if !matches!(anomaly, DefragAnomaly::FragCapHit | DefragAnomaly::FragmentTimeout) {
            if let Some(d) = self.table.get_mut(&key) {
                d.anomalies |= anomaly.bit();
            }
        }
        let mut count = 1;
        if let Some(kind) = cap {
            let k = kind as usize;
            let interval = self.cfg.cap_event_interval_ns;
            if let Some(last) = self.cap_last_event_ns[k] {
                if interval > 0 && ts_ns.saturating_sub(last) < interval {
                    self.cap_suppressed[k] = self.cap_suppressed[k].saturating_add(1);
                    return;
                }
            }
            self.cap_last_event_ns[k] = Some(ts_ns);
            count += std::mem::take(&mut self.cap_suppressed[k]);
        }
        self.events.push(DefragEvent { ts_ns, anomaly, cap, key, frag_offset, byte_count, count });
    }

    fn expire(&mut self, now_ns: i64) {
        while let Some(&(deadline, key, generation)) = self.order.front() {
            if deadline > now_ns {
                break;
            }
            self.order.pop_front();
            let (live, discarded) = match self.table.get(&key) {
                Some(d) if d.generation == generation => (true, d.discarded),
                _ => (false, false),
            };
            if live {
                let bytes = self.remove(&key);
                // A tombstone's end was already reported (overlap_datagram_discarded).
                if !discarded {
                    self.stats.datagrams_timed_out += 1;
                    self.event(now_ns, DefragAnomaly::FragmentTimeout, None, key, 0, bytes as u32);
                }
            }
        }
        self.prune_order();
    }

    /// Compact `order` when stale entries (of datagrams completed or evicted) dominate, so
    /// it stays O(datagrams in progress). Amortised O(1); no hashing unless compacting.
    /// Stale entries left at the front make `next_deadline` early, never late: `advance`
    /// then just drops them.
    fn prune_order(&mut self) {
        if self.order.len() > 64 && self.order.len() > 2 * self.table.len() {
            let table = &self.table;
            self.order.retain(|(_, k, g)| table.get(k).is_some_and(|d| d.generation == *g));
        }
    }

    /// Remove a datagram; returns the payload bytes it held (see `Datagram::payload_held`).
    fn remove(&mut self, key: &DatagramKey) -> u64 {
        match self.table.remove(key) {
            Some(d) => {
                // The byte cap charges `d.bytes` (with bookkeeping overhead); the event
                // reports only what the datagram held.
                self.stats.bytes_buffered -= d.bytes;
                self.stats.datagrams_in_progress -= 1;
                d.payload_held()
            }
            None => 0,
        }
    }

    /// Evict the oldest datagram other than `keep`; false if there is none.
    fn evict_oldest(&mut self, now_ns: i64, cap: CapKind, keep: &DatagramKey) -> bool {
        let mut idx = 0;
        while idx < self.order.len() {
            let (_, key, generation) = self.order[idx];
            let live = self.table.get(&key).is_some_and(|d| d.generation == generation);
            if live && key != *keep {
                self.order.remove(idx);
                let bytes = self.remove(&key);
                self.stats.datagrams_evicted += 1;
                self.event(now_ns, DefragAnomaly::FragCapHit, Some(cap), key, 0, bytes as u32);
                return true;
            }
            if !live {
                self.order.remove(idx);
            } else {
                idx += 1;
            }
        }
        false
    }

    fn insert(&mut self, now_ns: i64, frag: Frag<'_>) -> Outcome {
        let key = frag.key;
        let start = frag.offset;
        let len = frag.payload.len() as u32;
        let end = start + len;

        // RFC 791 / RFC 8200 section 4.5: the datagram may not exceed 65535 bytes.
        if frag.fixed_len as u64 + end as u64 > self.cfg.max_datagram_len.min(MAX_DATAGRAM_LEN) as u64 {
            self.event(now_ns, DefragAnomaly::OversizedDatagram, None, key, start, len);
            return Outcome::Dropped;
        }

        let charge = len as u64
            + FRAGMENT_OVERHEAD
            + if start == 0 { frag.head.len() as u64 } else { 0 };

        // Admission: datagram count cap for a new key, byte cap for everyone.
        let exists = self.table.contains_key(&key);
        if !exists {
            while self.table.len() as u64 >= self.cfg.max_datagrams as u64 {
                if self.cfg.cap_policy == CapPolicy::DropNew
                    || !self.evict_oldest(now_ns, CapKind::Datagrams, &key)
                {
                    self.event(now_ns, DefragAnomaly::FragCapHit, Some(CapKind::Datagrams), key, start, len);
                    return Outcome::Dropped;
                }
            }
        }
        let new_charge = charge + if exists { 0 } else { DATAGRAM_OVERHEAD };
        while self.stats.bytes_buffered + new_charge > self.cfg.max_bytes {
            if self.cfg.cap_policy == CapPolicy::DropNew
                || !self.evict_oldest(now_ns, CapKind::Bytes, &key)
            {
                self.event(now_ns, DefragAnomaly::FragCapHit, Some(CapKind::Bytes), key, start, len);
                return Outcome::Dropped;
            }
        }

        let max_frags = self.cfg.max_fragments_per_datagram;
        let deadline = now_ns.saturating_add(self.cfg.timeout_ns);
        let (policies, stats, order, next_generation) =
            (&self.cfg.policies, &mut self.stats, &mut self.order, &mut self.next_generation);
        let d = self.table.entry(key).or_insert_with(|| {
            let generation = *next_generation;
            *next_generation += 1;
            order.push_back((deadline, key, generation));
            stats.datagrams_in_progress += 1;
            stats.bytes_buffered += DATAGRAM_OVERHEAD;
            Datagram {
                generation,
                first_ts_ns: now_ns,
                policy: policies.lookup(key.ip_version, &key.dst),
                // Most datagrams in a flood hold one fragment: no spare capacity.
                held: Vec::with_capacity(1),
                segs: Vec::with_capacity(1),
                end: None,
                header: Vec::new(),
                l3_offset: 0,
                v6_next_header_pos: 0,
                v6_next_header: 0,
                fragment_count: 0,
                bytes: DATAGRAM_OVERHEAD,
                anomalies: 0,
                discarded: false,
            }
        });

        if d.discarded {
            return Outcome::Dropped;
        }
        if d.fragment_count >= max_frags {
            self.event(
                now_ns,
                DefragAnomaly::FragCapHit,
                Some(CapKind::FragmentsPerDatagram),
                key,
                start,
                len,
            );
            return Outcome::Dropped;
        }

        // The end of the datagram: set by the last fragment, then binding.
        let held_max = d.segs.last().map(|s| s.end()).unwrap_or(0);
        let inconsistent = match (d.end, frag.more) {
            (Some(e), true) => end > e,
            (Some(e), false) => end != e,
            (None, false) => end < held_max,
            (None, true) => false,
        };
        if inconsistent {
            self.event(now_ns, DefragAnomaly::FragmentEndInconsistent, None, key, start, len);
            return Outcome::Dropped;
        }
        if !frag.more {
            d.end = Some(end);
        }

        // Overlap bookkeeping: compare with the bytes currently held.
        let mut overlapped = false;
        let mut differs = false;
        for s in &d.segs {
            if s.start >= end {
                break;
            }
            if s.end() <= start {
                continue;
            }
            overlapped = true;
            let lo = s.start.max(start);
            let hi = s.end().min(end);
            let held_bytes = &s.data[(lo - s.start) as usize..(hi - s.start) as usize];
            let new_bytes = &frag.payload[(lo - start) as usize..(hi - start) as usize];
            if held_bytes != new_bytes {
                differs = true;
            }
        }
        let exact_repeat = overlapped && !differs && d.held.contains(&(start as u64, end as u64));

        let discard = match self.cfg.discard_overlaps {
            OverlapDiscard::Never => false,
            OverlapDiscard::Ipv6 => key.ip_version == 6,
            OverlapDiscard::Always => true,
        };
        if discard && overlapped && !exact_repeat {
            // RFC 5722: drop everything held, keep a tombstone until the timeout.
            let freed = d.bytes - DATAGRAM_OVERHEAD;
            let held_payload = d.payload_held();
            d.held = Vec::new();
            d.segs = Vec::new();
            d.header = Vec::new();
            d.bytes = DATAGRAM_OVERHEAD;
            d.discarded = true;
            self.stats.bytes_buffered -= freed;
            if differs {
                self.event(now_ns, DefragAnomaly::OverlapDifferentData, None, key, start, len);
            }
            self.event(now_ns, DefragAnomaly::OverlapDatagramDiscarded, None, key, start, held_payload as u32);
            return Outcome::Dropped;
        }

        // Write the pieces the policy gives the new fragment. Without any overlap (the
        // common case) it is one hole: skip the resolver and its allocations.
        let pieces = if overlapped {
            resolve(d.policy, &d.held, start as u64, end as u64)
        } else {
            let at = d.segs.partition_point(|s| s.start < start);
            d.segs.insert(at, Seg { start, data: frag.payload.to_vec() });
            Vec::new()
        };
        for p in &pieces {
            let (ps, pe) = (p.start as u32, p.end as u32);
            let bytes = &frag.payload[(ps - start) as usize..(pe - start) as usize];
            if p.replaces {
                overwrite(&mut d.segs, ps, bytes);
            } else {
                let at = d.segs.partition_point(|s| s.start < ps);
                d.segs.insert(at, Seg { start: ps, data: bytes.to_vec() });
            }
        }
        d.held.push((start as u64, end as u64));
        d.fragment_count += 1;

        // The offset-0 fragment brings the headers (first copy kept, as Linux does).
        let mut tiny = false;
        if start == 0 && d.header.is_empty() {
            d.header = frag.head.to_vec();
            d.l3_offset = frag.l3_offset;
            d.v6_next_header_pos = frag.v6_next_header_pos;
            d.v6_next_header = frag.v6_next_header;
            let need = min_l4_header_len(frag.l4_proto);
            tiny = need > 0 && len < need;
        }
        let actual_charge = len as u64
            + FRAGMENT_OVERHEAD
            + if start == 0 { frag.head.len() as u64 } else { 0 };
        d.bytes += actual_charge;
        self.stats.bytes_buffered += actual_charge;
        self.stats.peak_bytes_buffered = self.stats.peak_bytes_buffered.max(self.stats.bytes_buffered);
        let complete = is_complete(d);

        if differs {
            self.event(now_ns, DefragAnomaly::OverlapDifferentData, None, key, start, len);
        } else if exact_repeat {
            self.event(now_ns, DefragAnomaly::DuplicateFragment, None, key, start, len);
        }
        if tiny {
            self.event(now_ns, DefragAnomaly::TinyFirstFragment, None, key, start, len);
        }

        if !complete {
            return Outcome::Held;
        }
        match self.finish(now_ns, &key) {
            Some(r) => Outcome::Completed(r),
            None => Outcome::Dropped,
        }
    }

    /// Take a complete datagram out of the table and build its frame.
    fn finish(&mut self, now_ns: i64, key: &DatagramKey) -> Option<Reassembled> {
        let d = self.table.remove(key)?;
        let end = d.end?;
        self.stats.bytes_buffered -= d.bytes;
        self.stats.datagrams_in_progress -= 1;
        self.prune_order();
        let ihl_first = (d.header[d.l3_offset as usize] & 0x0f) as u32 * 4;
        if key.ip_version == 4 && ihl_first + end > MAX_DATAGRAM_LEN {
            // Possible only when the offset-0 fragment has a longer header than the one the
            // size check used: still a ping of death.
            self.stats.fragments_dropped += 1;
            self.event(now_ns, DefragAnomaly::OversizedDatagram, None, *key, 0, d.payload_held() as u32);
            return None;
        }
        self.stats.datagrams_completed += 1;

        let mut frame = Vec::with_capacity(d.header.len() + end as usize);
        frame.extend_from_slice(&d.header);
        for s in &d.segs {
            frame.extend_from_slice(&s.data);
        }
        let l3 = d.l3_offset as usize;
        if key.ip_version == 4 {
            let ihl = (frame[l3] & 0x0f) as usize * 4;
            let total = (ihl as u32 + end) as u16;
            frame[l3 + 2..l3 + 4].copy_from_slice(&total.to_be_bytes());
            // A whole datagram: no flags, offset 0 (DF on a fragment is meaningless and
            // flagged as fragment_with_df; PcapPlusPlus and Linux also clear it).
            frame[l3 + 6] = 0;
            frame[l3 + 7] = 0;
            frame[l3 + 10] = 0;
            frame[l3 + 11] = 0;
            let csum = checksum::checksum(&frame[l3..l3 + ihl]);
            frame[l3 + 10..l3 + 12].copy_from_slice(&csum.to_be_bytes());
        } else {
            let unfrag_ext = d.header.len() - l3 - 40;
            let plen = (unfrag_ext as u32 + end) as u16;
            frame[l3 + 4..l3 + 6].copy_from_slice(&plen.to_be_bytes());
            frame[d.v6_next_header_pos] = d.v6_next_header;
        }
        Some(Reassembled {
            frame,
            l3_offset: d.l3_offset,
            key: *key,
            fragment_count: d.fragment_count,
            first_ts_ns: d.first_ts_ns,
            anomalies: d.anomalies,
        })
    }
}

/// The last fragment was seen, the offset-0 fragment brought the headers, and the held
/// segments cover `[0, end)` without a hole.
fn is_complete(d: &Datagram) -> bool {
    let Some(end) = d.end else { return false };
    if d.header.is_empty() {
        return false;
    }
    let mut covered = 0u32;
    for s in &d.segs {
        if s.start > covered {
            return false;
        }
        covered = covered.max(s.end());
    }
    covered >= end
}

/// Overwrite held bytes starting at `at` (the range is known to be fully held).
fn overwrite(segs: &mut [Seg], at: u32, bytes: &[u8]) {
    let end = at + bytes.len() as u32;
    let first = segs.partition_point(|s| s.end() <= at);
    for s in &mut segs[first..] {
        if s.start >= end {
            break;
        }
        let lo = s.start.max(at);
        let hi = s.end().min(end);
        s.data[(lo - s.start) as usize..(hi - s.start) as usize]
            .copy_from_slice(&bytes[(lo - at) as usize..(hi - at) as usize]);
    }
}

/// Smallest L4 header a first fragment must carry (0 = unknown protocol, no check).
fn min_l4_header_len(proto: u8) -> u32 {
    match proto {
        6 => 20,       // TCP
        17 | 1 | 58 => 8, // UDP, ICMP, ICMPv6
        132 => 12,     // SCTP
        _ => 0,
    }
}

fn parse<'a>(data: &'a [u8], s: &Summary) -> Parsed<'a> {
    let l3 = s.l3_offset as usize;
    let mut key = DatagramKey {
        ip_version: s.ip_version,
        src: s.src,
        dst: s.dst,
        ip_id: s.ip_id,
        proto: 0,
        vlan_outer: s.vlan_outer,
        vlan_inner: s.vlan_inner,
    };
    if s.ip_version == 4 {
        if data.len() < l3 + 20 {
            return Parsed::NotFragment;
        }
        let h = &data[l3..];
        let ihl = (h[0] & 0x0f) as usize * 4;
        let total = u16::from_be_bytes([h[2], h[3]]) as usize;
        let flags_off = u16::from_be_bytes([h[6], h[7]]);
        let more = flags_off & 0x2000 != 0;
        let offset = (flags_off & 0x1fff) as u32 * 8;
        if !more && offset == 0 {
            return Parsed::NotFragment;
        }
        key.ip_id = u16::from_be_bytes([h[4], h[5]]) as u32;
        key.proto = h[9];
        if ihl < 20 || total < ihl {
            return Parsed::Bad(key, DefragAnomaly::FragmentBadLength, offset, 0);
        }
        if data.len() < l3 + total {
            return Parsed::Bad(key, DefragAnomaly::FragmentTruncated, offset, (total - ihl) as u32);
        }
        let mut payload = &data[l3 + ihl..l3 + total];
        // A non-last fragment must end on an 8-byte boundary (RFC 791: "the fragmentation
        // must occur on 8 octet boundaries"). Linux trims the tail rather than dropping the
        // fragment; do the same, and flag it.
        let mut trimmed = false;
        if more && payload.len() % 8 != 0 {
            payload = &payload[..payload.len() & !7];
            trimmed = true;
        }
        if payload.is_empty() {
            return Parsed::Bad(key, DefragAnomaly::FragmentBadLength, offset, 0);
        }
        Parsed::Frag(Frag {
            trimmed,
            key,
            offset,
            more,
            payload,
            head: &data[..l3 + ihl],
            l3_offset: l3 as u32,
            v6_next_header_pos: 0,
            v6_next_header: 0,
            fixed_len: ihl as u32,
            l4_proto: key.proto,
        })
    } else {
        let fho = s.frag_header_offset as usize;
        if data.len() < l3 + 40 || fho < l3 + 40 || data.len() < fho + 8 {
            return Parsed::NotFragment;
        }
        let h = &data[l3..];
        let plen = u16::from_be_bytes([h[4], h[5]]) as usize;
        let fh = &data[fho..fho + 8];
        let next_header = fh[0];
        let off_flags = u16::from_be_bytes([fh[2], fh[3]]);
        let offset = (off_flags & 0xfff8) as u32;
        let more = off_flags & 1 != 0;
        key.ip_id = u32::from_be_bytes([fh[4], fh[5], fh[6], fh[7]]);
        if offset == 0 && !more {
            return Parsed::Atomic(key);
        }
        // Find the Next Header field that names the fragment header (44): walk the
        // unfragmentable extension headers (RFC 8200 section 4.1 order).
        let mut nh_pos = l3 + 6;
        let mut pos = l3 + 40;
        while pos < fho {
            if pos + 2 > data.len() {
                return Parsed::NotFragment;
            }
            let len = match data[nh_pos] {
                51 => (data[pos + 1] as usize + 2) * 4, // AH
                _ => (data[pos + 1] as usize + 1) * 8,
            };
            nh_pos = pos;
            pos += len;
        }
        if pos != fho || data[nh_pos] != 44 {
            return Parsed::NotFragment;
        }
        let datagram_end = l3 + 40 + plen;
        if plen == 0 || datagram_end < fho + 8 {
            return Parsed::Bad(key, DefragAnomaly::FragmentBadLength, offset, 0);
        }
        if data.len() < datagram_end {
            return Parsed::Bad(key, DefragAnomaly::FragmentTruncated, offset, (datagram_end - fho - 8) as u32);
        }
        let payload = &data[fho + 8..datagram_end];
        // RFC 8200 section 4.5: "If the length of a fragment ... is not a multiple of 8
        // octets and the M flag of that fragment is 1, then that fragment must be
        // discarded".
        if payload.is_empty() || (more && payload.len() % 8 != 0) {
            return Parsed::Bad(key, DefragAnomaly::FragmentBadLength, offset, payload.len() as u32);
        }
        Parsed::Frag(Frag {
            trimmed: false,
            key,
            offset,
            more,
            payload,
            head: &data[..fho],
            l3_offset: l3 as u32,
            v6_next_header_pos: nh_pos,
            v6_next_header: next_header,
            fixed_len: (fho - l3 - 40) as u32,
            l4_proto: next_header,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wirekit_core::decode::{decode, LINKTYPE_RAW};

    /// A raw IPv4 fragment: 1.1.1.1 -> 2.2.2.2, ICMP, `id`, payload `fill` x `len`.
    fn v4(id: u16, offset: u32, more: bool, fill: u8, len: usize) -> Vec<u8> {
        let total = 20 + len;
        let mut p = vec![0x45, 0, (total >> 8) as u8, total as u8];
        p.extend_from_slice(&id.to_be_bytes());
        let fo = (offset / 8) as u16 | if more { 0x2000 } else { 0 };
        p.extend_from_slice(&fo.to_be_bytes());
        p.extend_from_slice(&[64, 1, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
        let c = checksum::checksum(&p);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        p.extend(std::iter::repeat(fill).take(len));
        p
    }

    /// A raw IPv6 fragment (fragment header right after the fixed header, next header 17).
    fn v6(id: u32, offset: u32, more: bool, fill: u8, len: usize) -> Vec<u8> {
        let plen = 8 + len;
        let mut p = vec![0x60, 0, 0, 0, (plen >> 8) as u8, plen as u8, 44, 64];
        p.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        p.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        let of = (offset as u16) | more as u16;
        p.extend_from_slice(&[17, 0]);
        p.extend_from_slice(&of.to_be_bytes());
        p.extend_from_slice(&id.to_be_bytes());
        p.extend(std::iter::repeat(fill).take(len));
        p
    }

    fn push(d: &mut Defragmenter, now: i64, pkt: &[u8]) -> Outcome {
        let s = decode(LINKTYPE_RAW, pkt);
        d.push(now, LINKTYPE_RAW, pkt, &s)
    }

    fn with_policy(p: OverlapPolicy) -> Defragmenter {
        Defragmenter::new(DefragConfig { policies: PolicyTable::new(p), ..Default::default() })
    }

    fn novak(policy: OverlapPolicy, build: fn(u32, u32, bool, u8, usize) -> Vec<u8>) -> String {
        let frags: [(u32, u8, usize, bool); 17] = [
            (0, b'A', 24, true),
            (32, b'B', 16, true),
            (48, b'C', 24, true),
            (80, b'D', 8, true),
            (104, b'E', 16, true),
            (120, b'F', 24, true),
            (144, b'G', 16, true),
            (160, b'H', 16, true),
            (176, b'I', 8, true),
            (8, b'J', 32, true),
            (48, b'K', 24, true),
            (72, b'L', 24, true),
            (96, b'M', 24, true),
            (128, b'N', 8, true),
            (152, b'O', 8, true),
            (160, b'P', 8, true),
            (176, b'Q', 16, false),
        ];
        let mut d = with_policy(policy);
        let mut out = None;
        for (i, &(off, fill, len, more)) in frags.iter().enumerate() {
            match push(&mut d, i as i64, &build(7, off, more, fill, len)) {
                Outcome::Completed(r) => out = Some(r),
                Outcome::Held => {}
                other => panic!("fragment {i}: {other:?}"),
            }
        }
        let r = out.expect("completed");
        assert_eq!(d.stats().datagrams_in_progress, 0);
        assert_eq!(d.stats().bytes_buffered, 0);
        let events = d.take_events();
        assert!(events.iter().any(|e| e.anomaly == DefragAnomaly::OverlapDifferentData));
        let hdr = if r.key.ip_version == 4 { 20 } else { 40 };
        let payload = &r.frame[hdr..];
        assert_eq!(payload.len(), 192);
        payload.chunks(8).map(|c| c[0] as char).collect()
    }

    fn v4_id(id: u32, off: u32, more: bool, fill: u8, len: usize) -> Vec<u8> {
        v4(id as u16, off, more, fill, len)
    }

    #[test]
    fn sturges_novak_end_to_end_v4_and_v6() {
        let expected = [
            (OverlapPolicy::Bsd, "AAAJJBCCCLLLMMMFFFGGHHIQ"),
            (OverlapPolicy::Linux, "AAAJJBKKKLLLMMMFFFGGPHQQ"),
            (OverlapPolicy::Windows, "AAAJBBCCCLLLMEEFFFGGHHIQ"),
            (OverlapPolicy::Solaris, "AAAJBBCCCLLLMMMFFFGGHHIQ"),
            (OverlapPolicy::First, "AAAJBBCCCLDLMEEFFFGGHHIQ"),
            (OverlapPolicy::Last, "AJJJJBKKKLLLMMMFNFGOPHQQ"),
            (OverlapPolicy::BsdRight, "AJJJBBKKKLLLMMMFFFGGHHQQ"),
        ];
        for (policy, want) in expected {
            assert_eq!(novak(policy, v4_id), want, "v4 {policy}");
            assert_eq!(novak(policy, v6), want, "v6 {policy}");
        }
    }

    #[test]
    fn reassembled_v4_header_is_fixed() {
        let mut d = with_policy(OverlapPolicy::Bsd);
        assert_eq!(push(&mut d, 1, &v4(9, 16, false, b'c', 5)), Outcome::Held);
        assert_eq!(push(&mut d, 2, &v4(9, 8, true, b'b', 8)), Outcome::Held);
        let Outcome::Completed(r) = push(&mut d, 3, &v4(9, 0, true, b'a', 8)) else { panic!() };
        assert_eq!(&r.frame[20..], b"aaaaaaaabbbbbbbbccccc");
        assert_eq!(u16::from_be_bytes([r.frame[2], r.frame[3]]), 41);
        assert_eq!(&r.frame[6..8], &[0, 0]);
        assert!(checksum::ipv4_header_ok(&r.frame[..20]));
        assert_eq!(r.fragment_count, 3);
        assert_eq!(r.first_ts_ns, 1);
        // It decodes as a whole datagram.
        let s = decode(LINKTYPE_RAW, &r.frame);
        assert!(!s.is_fragment);
        assert_eq!(s.ip_len, 41);
    }

    #[test]
    fn reassembled_v6_drops_fragment_header() {
        let mut d = with_policy(OverlapPolicy::Bsd);
        assert_eq!(push(&mut d, 1, &v6(5, 0, true, b'x', 16)), Outcome::Held);
        let Outcome::Completed(r) = push(&mut d, 2, &v6(5, 16, false, b'y', 3)) else { panic!() };
        assert_eq!(r.frame.len(), 40 + 19);
        assert_eq!(r.frame[6], 17);
        assert_eq!(u16::from_be_bytes([r.frame[4], r.frame[5]]), 19);
        assert_eq!(&r.frame[40..], b"xxxxxxxxxxxxxxxxyyy");
    }

    #[test]
    fn atomic_fragment_passes_through() {
        let mut d = with_policy(OverlapPolicy::Bsd);
        assert_eq!(push(&mut d, 1, &v6(5, 0, false, b'x', 16)), Outcome::NotFragment);
        let ev = d.take_events();
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].anomaly, DefragAnomaly::Ipv6AtomicFragment);
        assert_eq!(d.stats().datagrams_in_progress, 0);
    }

    #[test]
    fn timeout_and_deadline() {
        let mut d = Defragmenter::new(DefragConfig { timeout_ns: 100, ..Default::default() });
        assert_eq!(push(&mut d, 10, &v4(1, 0, true, b'a', 8)), Outcome::Held);
        assert_eq!(d.next_deadline(), Some(110));
        assert!(d.advance(109).is_empty());
        let ev = d.advance(110);
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].anomaly, DefragAnomaly::FragmentTimeout);
        assert_eq!(d.next_deadline(), None);
        assert_eq!(d.stats().bytes_buffered, 0);
    }

    #[test]
    fn timeout_and_eviction_report_payload_bytes_held() {
        // Two fragments overlapping by 8 bytes hold the union, 16 + 16 - 8 = 24 payload
        // bytes; the byte cap is charged more (header + overhead), the event says 24.
        let mut d = Defragmenter::new(DefragConfig { timeout_ns: 100, ..Default::default() });
        assert_eq!(push(&mut d, 10, &v4(1, 0, true, b'a', 16)), Outcome::Held);
        assert_eq!(push(&mut d, 11, &v4(1, 8, true, b'a', 16)), Outcome::Held);
        assert!(d.stats().bytes_buffered > 24);
        let ev = d.advance(110);
        assert_eq!((ev[0].anomaly, ev[0].byte_count), (DefragAnomaly::FragmentTimeout, 24));
        // Eviction by the datagram cap reports the evicted datagram's payload the same way.
        let mut d = Defragmenter::new(DefragConfig { max_datagrams: 1, ..Default::default() });
        assert_eq!(push(&mut d, 10, &v4(1, 16, true, b'a', 16)), Outcome::Held);
        assert_eq!(push(&mut d, 11, &v4(2, 0, true, b'b', 8)), Outcome::Held);
        let ev = d.take_events();
        assert_eq!(
            (ev[0].anomaly, ev[0].cap, ev[0].key.ip_id, ev[0].byte_count),
            (DefragAnomaly::FragCapHit, Some(CapKind::Datagrams), 1, 16)
        );
    }

    #[test]
    fn caps_hold_under_flood() {
        let cfg = DefragConfig { max_datagrams: 10, max_bytes: 4000, ..Default::default() };
        let mut d = Defragmenter::new(cfg);
        for id in 0..1000u16 {
            assert_eq!(push(&mut d, id as i64, &v4(id, 0, true, b'a', 96)), Outcome::Held);
            assert!(d.stats().bytes_buffered <= 4000);
            assert!(d.stats().datagrams_in_progress <= 10);
        }
        let ev = d.take_events();
        // One event per cap kind per second of capture time (all within 1 µs here), each
        // hit counted in the stats.
        let caps: Vec<_> = ev.iter().filter(|e| e.anomaly == DefragAnomaly::FragCapHit).collect();
        assert!(caps.len() <= 3 && !caps.is_empty());
        assert!(d.stats().anomalies[4] >= 990);
        assert!(d.order.len() <= 2 * 10 + 64);
    }

    #[test]
    fn oversized_and_bad_length_dropped() {
        let mut d = with_policy(OverlapPolicy::Bsd);
        assert_eq!(push(&mut d, 1, &v4(1, 65528, false, b'a', 16)), Outcome::Dropped);
        assert_eq!(push(&mut d, 1, &v6(2, 0, true, b'a', 12)), Outcome::Dropped);
        // IPv4: trimmed to 8 bytes and kept.
        assert_eq!(push(&mut d, 1, &v4(3, 0, true, b'a', 12)), Outcome::Held);
        let codes: Vec<_> = d.take_events().iter().map(|e| e.anomaly).collect();
        assert_eq!(
            codes,
            vec![
                DefragAnomaly::OversizedDatagram,
                DefragAnomaly::FragmentBadLength,
                DefragAnomaly::FragmentBadLength
            ]
        );
        let Outcome::Completed(r) = push(&mut d, 2, &v4(3, 8, false, b'b', 2)) else { panic!() };
        assert_eq!(&r.frame[20..], b"aaaaaaaabb");
    }

    #[test]
    fn rfc5722_discard_keeps_a_tombstone() {
        let mut d = Defragmenter::new(DefragConfig {
            discard_overlaps: OverlapDiscard::Ipv6,
            timeout_ns: 100,
            ..Default::default()
        });
        assert_eq!(push(&mut d, 1, &v6(9, 0, true, b'a', 16)), Outcome::Held);
        // An exact duplicate is not an overlap.
        assert_eq!(push(&mut d, 2, &v6(9, 0, true, b'a', 16)), Outcome::Held);
        assert_eq!(push(&mut d, 3, &v6(9, 8, true, b'b', 16)), Outcome::Dropped);
        // Later fragments, even ones that would complete it, are dropped.
        assert_eq!(push(&mut d, 4, &v6(9, 24, false, b'c', 4)), Outcome::Dropped);
        let events = d.take_events();
        let codes: Vec<_> = events.iter().map(|e| e.anomaly).collect();
        assert_eq!(
            codes,
            vec![
                DefragAnomaly::DuplicateFragment,
                DefragAnomaly::OverlapDifferentData,
                DefragAnomaly::OverlapDatagramDiscarded
            ]
        );
        // The discarded datagram held the first fragment's 16 payload bytes.
        assert_eq!(events[2].byte_count, 16);
        assert_eq!(d.stats().bytes_buffered, DATAGRAM_OVERHEAD);
        assert!(d.advance(101).is_empty());
        assert_eq!(d.stats().datagrams_in_progress, 0);
        assert_eq!(d.stats().bytes_buffered, 0);
        // IPv4 overlaps are still resolved by policy in this mode.
        assert_eq!(push(&mut d, 200, &v4(9, 0, true, b'a', 16)), Outcome::Held);
        assert_eq!(push(&mut d, 201, &v4(9, 8, true, b'b', 16)), Outcome::Held);
    }

    #[test]
    fn tiny_first_fragment_flagged() {
        // TCP in 8-byte fragments: the first holds less than the 20-byte TCP header.
        let mut p = v4(3, 0, true, b't', 8);
        p[9] = 6;
        let mut d = with_policy(OverlapPolicy::Bsd);
        assert_eq!(push(&mut d, 1, &p), Outcome::Held);
        assert_eq!(d.take_events()[0].anomaly, DefragAnomaly::TinyFirstFragment);
    }
    /// Randomised trains (a deterministic stand-in for the cargo-fuzz target, which runs
    /// the same invariants on arbitrary bytes): overlapping, duplicated, out-of-order,
    /// oversized and unaligned fragments over 4 ids, both IP versions, every policy, tiny caps.
    #[test]
    fn randomised_trains_keep_invariants() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..400 {
            let policy = OverlapPolicy::ALL[round % 7];
            let cap_policy = if round % 2 == 0 { CapPolicy::EvictOldest } else { CapPolicy::DropNew };
            let mut d = Defragmenter::new(DefragConfig {
                max_fragments_per_datagram: 12,
                max_datagrams: 3,
                max_bytes: 6000,
                timeout_ns: 1000,
                cap_policy,
                policies: PolicyTable::new(policy),
                discard_overlaps: [OverlapDiscard::Never, OverlapDiscard::Ipv6, OverlapDiscard::Always]
                    [round % 3],
                ..Default::default()
            });
            let mut now = 0i64;
            for _ in 0..60 {
                let r = rnd();
                let id = (r & 3) as u32;
                let units = ((r >> 8) % 12) as u32;
                let len = if (r >> 16) % 5 == 0 { ((r >> 20) % 40) as usize } else { 8 * (1 + (r >> 24) as usize % 4) };
                let more = (r >> 30) % 4 != 0;
                let offset = if (r >> 32) % 50 == 0 { 65528 } else { units * 8 };
                let fill = b'a' + ((r >> 40) % 26) as u8;
                let pkt = if (r >> 48) & 1 == 0 {
                    v4(id as u16, offset, more, fill, len)
                } else {
                    v6(id, offset & 0xfff8, more, fill, len)
                };
                now += ((r >> 52) % 60) as i64;
                if let Outcome::Completed(done) = push(&mut d, now, &pkt) {
                    let again = decode(LINKTYPE_RAW, &done.frame);
                    assert!(!again.is_fragment);
                    assert_eq!(again.ip_len as usize, done.frame.len());
                }
                assert!(d.stats().bytes_buffered <= 6000);
                assert!(d.stats().datagrams_in_progress <= 3);
                let live: u64 = d.table.values().map(|g| g.bytes).sum();
                assert_eq!(live, d.stats().bytes_buffered);
                d.take_events();
            }
            d.advance(now + 1000);
            assert_eq!(d.stats().datagrams_in_progress, 0);
            assert_eq!(d.stats().bytes_buffered, 0);
            assert_eq!(d.next_deadline(), None);
        }
    }
}
