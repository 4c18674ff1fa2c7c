//! Overlap policies: which bytes win when two IP fragments (or two TCP segments) cover the
//! same range with possibly different data, and a table choosing a policy per destination.
//!
//! # Theory of operation
//!
//! An endpoint's stack resolves overlaps in its own way; an observer that wants to see what
//! the *target* saw must resolve them the same way (Ptacek & Newsham 1998; Novak,
//! "Target-Based Fragmentation Reassembly", 2005; Suricata's host-os-policy). Every policy
//! here is a pure rule over one pair: an `existing` range `[a_start, a_end)` already held
//! and a `new` range `[b_start, b_end)` arriving later. The rule names the one side that
//! owns the whole overlap `[max(a_start, b_start), min(a_end, b_end))`. An engine applies
//! the rule against every held range the new one touches (see [`resolve`]).
//!
//! | policy     | new wins the overlap when                           | targets (Novak)               |
//! |------------|-----------------------------------------------------|-------------------------------|
//! | `first`    | never                                               | HP-UX 11, MacOS, old Solaris  |
//! | `last`     | always                                              | Cisco IOS                     |
//! | `bsd`      | `b_start < a_start`                                 | *BSD, AIX, HP-UX 10, IRIX     |
//! | `linux`    | `b_start <= a_start`                                | Linux 2.x and later           |
//! | `bsd-right`| `b_end > a_end`, or `b_end == a_end && b_start <= a_start` | HP JetDirect           |
//! | `windows`  | `b_start < a_start && b_end > a_end`                | Windows 95 .. XP, 2003, Vista |
//! | `solaris`  | `b_start < a_start && b_end >= a_end`               | Solaris 9, 10                 |
//!
//! `bsd` favours the fragment that starts furthest left (the original on a tie); `linux`
//! is the same but the newcomer wins a tie. `bsd-right` is its mirror: the fragment that
//! reaches furthest right wins. `windows` and `solaris` keep the original unless the
//! newcomer swallows it whole (strictly for windows). These rules reproduce the
//! Sturges/Novak test pattern results Suricata's defrag unit tests expect (checked in the
//! tests below, byte for byte, for every policy).
//!
//! What this module does not know: data, time, addresses of a particular packet. The
//! engines (defrag, tcp) own buffers and anomalies (`overlap_different_data`).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// A target-based overlap policy (Novak 2005; Suricata's host-os-policy names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum OverlapPolicy {
    /// The first copy of a byte wins (the data already held is never replaced).
    First,
    /// The last copy of a byte wins.
    Last,
    /// Linux: the newcomer wins when it starts at or before the held range.
    Linux,
    /// BSD: the newcomer wins only when it starts strictly before the held range.
    /// Suricata's default for defragmentation.
    #[default]
    Bsd,
    /// BSD-right (HP JetDirect): the range reaching furthest right wins.
    BsdRight,
    /// Windows: the held range wins unless the newcomer strictly contains it.
    Windows,
    /// Solaris: the held range wins unless the newcomer starts before it and covers its end.
    Solaris,
}

/// Which side owns the overlapping bytes of a pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Winner {
    /// The range already held keeps its bytes.
    Existing,
    /// The arriving range's bytes replace the held ones.
    New,
}

impl OverlapPolicy {
    /// Every policy, in a stable order (for tests and CLI help).
    pub const ALL: [OverlapPolicy; 7] = [
        OverlapPolicy::First,
        OverlapPolicy::Last,
        OverlapPolicy::Linux,
        OverlapPolicy::Bsd,
        OverlapPolicy::BsdRight,
        OverlapPolicy::Windows,
        OverlapPolicy::Solaris,
    ];

    /// The canonical name (`"first"`, `"bsd-right"`, ...), accepted back by `FromStr`.
    pub fn name(self) -> &'static str {
        match self {
            OverlapPolicy::First => "first",
            OverlapPolicy::Last => "last",
            OverlapPolicy::Linux => "linux",
            OverlapPolicy::Bsd => "bsd",
            OverlapPolicy::BsdRight => "bsd-right",
            OverlapPolicy::Windows => "windows",
            OverlapPolicy::Solaris => "solaris",
        }
    }

    /// Who owns the overlap of an `existing` range `[a_start, a_end)` and a `new` range
    /// `[b_start, b_end)`. Offsets are plain integers (fragment byte offsets, or TCP
    /// sequence numbers already unwrapped to a monotonic space by the caller). The answer
    /// is meaningful only when the ranges overlap; callers check that first.
    pub fn winner(self, a_start: u64, a_end: u64, b_start: u64, b_end: u64) -> Winner {
        let new_wins = match self {
            OverlapPolicy::First => false,
            OverlapPolicy::Last => true,
            OverlapPolicy::Bsd => b_start < a_start,
            OverlapPolicy::Linux => b_start <= a_start,
            OverlapPolicy::BsdRight => b_end > a_end || (b_end == a_end && b_start <= a_start),
            OverlapPolicy::Windows => b_start < a_start && b_end > a_end,
            OverlapPolicy::Solaris => b_start < a_start && b_end >= a_end,
        };
        if new_wins {
            Winner::New
        } else {
            Winner::Existing
        }
    }
}

impl fmt::Display for OverlapPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error for an unknown policy name or a malformed CIDR.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyParseError(pub String);

impl fmt::Display for PolicyParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PolicyParseError {}

impl FromStr for OverlapPolicy {
    type Err = PolicyParseError;

    /// Canonical names plus Suricata's host-os-policy OS names, mapped as its defrag does
    /// (`hpux10`/`irix` -> bsd, `old-linux` -> linux, `macos`/`hpux11`/`old-solaris` ->
    /// first, `vista`/`windows2k3` -> windows). Case-insensitive; `_` equals `-`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.trim().to_ascii_lowercase().replace('_', "-");
        Ok(match norm.as_str() {
            "first" | "macos" | "hpux11" | "old-solaris" => OverlapPolicy::First,
            "last" => OverlapPolicy::Last,
            "linux" | "old-linux" => OverlapPolicy::Linux,
            "bsd" | "hpux10" | "irix" => OverlapPolicy::Bsd,
            "bsd-right" | "bsdright" => OverlapPolicy::BsdRight,
            "windows" | "vista" | "windows2k3" => OverlapPolicy::Windows,
            "solaris" => OverlapPolicy::Solaris,
            _ => {
                return Err(PolicyParseError(format!(
                    "unknown overlap policy {s:?} (expected one of first, last, linux, bsd, \
                     bsd-right, windows, solaris)"
                )))
            }
        })
    }
}

/// One piece of a new range after resolving it against held ranges: `[start, end)` are
/// bytes the new range contributes; `replaces` is true when those bytes overwrite bytes
/// already held (the new side won an overlap), false when they fill a hole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Piece {
    pub start: u64,
    pub end: u64,
    pub replaces: bool,
}

/// Resolve a new range `[b_start, b_end)` against held ranges (`held`, any order, each
/// `[start, end)`, possibly overlapping one another) under `policy`. Returns the pieces of
/// the new range whose bytes must be written (holes, and overlaps the new side wins), in
/// increasing order. Bytes of the new range not covered by any returned piece lose to held
/// data. A byte covered by several held ranges goes to the new range only if it wins
/// against every one of them (each held byte has, in effect, already won).
pub fn resolve(policy: OverlapPolicy, held: &[(u64, u64)], b_start: u64, b_end: u64) -> Vec<Piece> {
    // Boundaries: the new range split at every held edge inside it; each elementary
    // interval is then covered by a fixed set of held ranges.
    let mut cuts: Vec<u64> = Vec::with_capacity(2 + 2 * held.len());
    cuts.push(b_start);
    cuts.push(b_end);
    for &(s, e) in held {
        if s > b_start && s < b_end {
            cuts.push(s);
        }
        if e > b_start && e < b_end {
            cuts.push(e);
        }
    }
    cuts.sort_unstable();
    cuts.dedup();
    let mut out: Vec<Piece> = Vec::new();
    for w in cuts.windows(2) {
        let (s, e) = (w[0], w[1]);
        let mut covered = false;
        let mut wins = true;
        for &(hs, he) in held {
            if hs < e && he > s {
                covered = true;
                if policy.winner(hs, he, b_start, b_end) == Winner::Existing {
                    wins = false;
                    break;
                }
            }
        }
        if !wins {
            continue;
        }
        match out.last_mut() {
            Some(last) if last.end == s && last.replaces == covered => last.end = e,
            _ => out.push(Piece { start: s, end: e, replaces: covered }),
        }
    }
    out
}

/// A CIDR prefix: an address family, the network bits and the prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    /// 4 or 6.
    pub ip_version: u8,
    /// Network address, IPv4 in the first 4 bytes; bits past `prefix_len` are zero.
    pub network: [u8; 16],
    /// Prefix length in bits (0..=32 for IPv4, 0..=128 for IPv6).
    pub prefix_len: u8,
}

impl Cidr {
    fn masked(addr: &[u8; 16], prefix_len: u8) -> [u8; 16] {
        let mut out = [0u8; 16];
        for (i, byte) in addr.iter().enumerate() {
            let bit = (i as u32) * 8;
            let keep = (prefix_len as u32).saturating_sub(bit).min(8);
            out[i] = if keep == 0 { 0 } else { byte & (0xffu8 << (8 - keep)) };
        }
        out
    }

    /// True when `addr` (IPv4 in the first 4 bytes) of family `ip_version` is inside.
    pub fn contains(&self, ip_version: u8, addr: &[u8; 16]) -> bool {
        ip_version == self.ip_version && Self::masked(addr, self.prefix_len) == self.network
    }
}

impl FromStr for Cidr {
    type Err = PolicyParseError;

    /// `"10.0.0.0/8"`, `"2001:db8::/32"`, or a bare address (a host route).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || PolicyParseError(format!("bad CIDR {s:?}"));
        let (addr_s, len_s) = match s.trim().split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = addr_s.parse().map_err(|_| bad())?;
        let (ip_version, bytes, max_len) = match addr {
            IpAddr::V4(v4) => {
                let mut b = [0u8; 16];
                b[..4].copy_from_slice(&v4.octets());
                (4u8, b, 32u8)
            }
            IpAddr::V6(v6) => (6u8, v6.octets(), 128u8),
        };
        let prefix_len = match len_s {
            Some(l) => l.parse::<u8>().map_err(|_| bad())?,
            None => max_len,
        };
        if prefix_len > max_len {
            return Err(bad());
        }
        Ok(Cidr { ip_version, network: Cidr::masked(&bytes, prefix_len), prefix_len })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ip_version == 4 {
            let o = &self.network;
            write!(f, "{}/{}", Ipv4Addr::new(o[0], o[1], o[2], o[3]), self.prefix_len)
        } else {
            write!(f, "{}/{}", Ipv6Addr::from(self.network), self.prefix_len)
        }
    }
}

/// Destination CIDR -> policy, longest prefix wins, with a global default (Suricata's
/// host-os-policy). Looked up once per new reassembly context, not per packet, so a
/// linear scan over entries kept sorted by descending prefix length is enough; the table
/// size is capped at [`PolicyTable::MAX_ENTRIES`].
#[derive(Clone, Debug, Default)]
pub struct PolicyTable {
    default: OverlapPolicy,
    entries: Vec<(Cidr, OverlapPolicy)>,
}

impl PolicyTable {
    /// Cap on entries: host-os-policy tables are hand-written and small.
    pub const MAX_ENTRIES: usize = 65_536;

    /// A table with no entries: every destination gets `default`.
    pub fn new(default: OverlapPolicy) -> Self {
        PolicyTable { default, entries: Vec::new() }
    }

    /// The policy for destinations no entry matches.
    pub fn default_policy(&self) -> OverlapPolicy {
        self.default
    }

    /// Add (or replace) the policy for a prefix.
    pub fn insert(&mut self, cidr: Cidr, policy: OverlapPolicy) -> Result<(), PolicyParseError> {
        if let Some(slot) = self.entries.iter_mut().find(|(c, _)| *c == cidr) {
            slot.1 = policy;
            return Ok(());
        }
        if self.entries.len() >= Self::MAX_ENTRIES {
            return Err(PolicyParseError(format!(
                "policy table full ({} entries)",
                Self::MAX_ENTRIES
            )));
        }
        self.entries.push((cidr, policy));
        // Longest prefix first, so the first match is the most specific one.
        self.entries.sort_by(|x, y| y.0.prefix_len.cmp(&x.0.prefix_len));
        Ok(())
    }

    /// Parse and add `"10.0.0.0/8"` -> `"windows"`.
    pub fn insert_str(&mut self, cidr: &str, policy: &str) -> Result<(), PolicyParseError> {
        self.insert(cidr.parse()?, policy.parse()?)
    }

    /// Number of entries (the default is not counted).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when only the default applies.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The policy for destination `dst` (IPv4 in the first 4 bytes) of family `ip_version`.
    pub fn lookup(&self, ip_version: u8, dst: &[u8; 16]) -> OverlapPolicy {
        self.entries
            .iter()
            .find(|(c, _)| c.contains(ip_version, dst))
            .map(|(_, p)| *p)
            .unwrap_or(self.default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in OverlapPolicy::ALL {
            assert_eq!(p.name().parse::<OverlapPolicy>().unwrap(), p);
        }
        assert_eq!("BSD_RIGHT".parse::<OverlapPolicy>().unwrap(), OverlapPolicy::BsdRight);
        assert_eq!("old-linux".parse::<OverlapPolicy>().unwrap(), OverlapPolicy::Linux);
        assert_eq!("vista".parse::<OverlapPolicy>().unwrap(), OverlapPolicy::Windows);
        assert!("nope".parse::<OverlapPolicy>().is_err());
    }

    /// Apply fragments (offset, byte, len) in order to a buffer under `policy`, the way an
    /// engine would: write the pieces `resolve` returns.
    fn apply(policy: OverlapPolicy, frags: &[(u64, u8, u64)]) -> Vec<u8> {
        let end = frags.iter().map(|f| f.0 + f.2).max().unwrap() as usize;
        let mut buf = vec![b'.'; end];
        let mut held: Vec<(u64, u64)> = Vec::new();
        for &(off, byte, len) in frags {
            for piece in resolve(policy, &held, off, off + len) {
                for b in &mut buf[piece.start as usize..piece.end as usize] {
                    *b = byte;
                }
            }
            held.push((off, off + len));
        }
        buf
    }

    /// The Sturges/Novak test pattern (as in Suricata's defrag unit tests): nine original
    /// fragments, then eight overlapping ones; expected bytes per policy, 8-byte units.
    fn novak(policy: OverlapPolicy) -> String {
        let frags: [(u64, u8, u64); 17] = [
            (0, b'A', 24),
            (32, b'B', 16),
            (48, b'C', 24),
            (80, b'D', 8),
            (104, b'E', 16),
            (120, b'F', 24),
            (144, b'G', 16),
            (160, b'H', 16),
            (176, b'I', 8),
            (8, b'J', 32),
            (48, b'K', 24),
            (72, b'L', 24),
            (96, b'M', 24),
            (128, b'N', 8),
            (152, b'O', 8),
            (160, b'P', 8),
            (176, b'Q', 16),
        ];
        let buf = apply(policy, &frags);
        buf.chunks(8).map(|c| c[0] as char).collect()
    }

    #[test]
    fn sturges_novak_pattern_every_policy() {
        // One letter per 8-byte unit, offsets 0..192.
        assert_eq!(novak(OverlapPolicy::Bsd), "AAAJJBCCCLLLMMMFFFGGHHIQ");
        assert_eq!(novak(OverlapPolicy::Linux), "AAAJJBKKKLLLMMMFFFGGPHQQ");
        assert_eq!(novak(OverlapPolicy::Windows), "AAAJBBCCCLLLMEEFFFGGHHIQ");
        assert_eq!(novak(OverlapPolicy::Solaris), "AAAJBBCCCLLLMMMFFFGGHHIQ");
        assert_eq!(novak(OverlapPolicy::First), "AAAJBBCCCLDLMEEFFFGGHHIQ");
        assert_eq!(novak(OverlapPolicy::Last), "AJJJJBKKKLLLMMMFNFGOPHQQ");
        // bsd-right has no Suricata vector (its defrag lists it as a todo); these are the
        // rule's consequences, checked by hand: J beats A (reaches further right) but loses
        // to B, K beats C (equal range, newcomer), L beats D, M beats E (equal end, starts
        // earlier), F beats N, G beats O (equal end, G starts earlier), H beats P, Q beats I.
        assert_eq!(novak(OverlapPolicy::BsdRight), "AJJJBBKKKLLLMMMFFFGGHHQQ");
    }

    #[test]
    fn resolve_pieces_mark_replacement() {
        // held [10,20); new [5,25) under last: hole, replace, hole merged separately.
        let p = resolve(OverlapPolicy::Last, &[(10, 20)], 5, 25);
        assert_eq!(
            p,
            vec![
                Piece { start: 5, end: 10, replaces: false },
                Piece { start: 10, end: 20, replaces: true },
                Piece { start: 20, end: 25, replaces: false },
            ]
        );
        let p = resolve(OverlapPolicy::First, &[(10, 20)], 5, 25);
        assert_eq!(
            p,
            vec![
                Piece { start: 5, end: 10, replaces: false },
                Piece { start: 20, end: 25, replaces: false },
            ]
        );
    }

    #[test]
    fn policy_table_longest_prefix() {
        let mut t = PolicyTable::new(OverlapPolicy::Bsd);
        t.insert_str("10.0.0.0/8", "windows").unwrap();
        t.insert_str("10.1.0.0/16", "linux").unwrap();
        t.insert_str("2001:db8::/32", "solaris").unwrap();
        let v4 = |a: [u8; 4]| {
            let mut b = [0u8; 16];
            b[..4].copy_from_slice(&a);
            b
        };
        assert_eq!(t.lookup(4, &v4([10, 1, 2, 3])), OverlapPolicy::Linux);
        assert_eq!(t.lookup(4, &v4([10, 2, 2, 3])), OverlapPolicy::Windows);
        assert_eq!(t.lookup(4, &v4([11, 2, 2, 3])), OverlapPolicy::Bsd);
        let v6: Ipv6Addr = "2001:db8::1".parse().unwrap();
        assert_eq!(t.lookup(6, &v6.octets()), OverlapPolicy::Solaris);
        // An IPv4 address whose bytes equal an IPv6 prefix does not match it.
        assert_eq!(t.lookup(4, &v6.octets()), OverlapPolicy::Bsd);
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert_eq!("10.1.2.3/8".parse::<Cidr>().unwrap().to_string(), "10.0.0.0/8");
    }
}
