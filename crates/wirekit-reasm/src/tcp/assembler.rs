//! A bounded store of not-yet-delivered bytes of one direction, with overlaps resolved by an
//! explicit policy.
//!
//! Invariants (checked by the tests): stored runs never overlap; each run is non-empty;
//! `bytes` is the sum of the runs' lengths. Offsets are 64-bit stream offsets (byte 0 = the
//! first byte after the SYN), so sequence wrap-around never reaches this module.
//!
//! Overlap resolution follows the target-based model of Novak & Sturges ("Target-Based TCP
//! Stream Reassembly", 2007), as in Snort's stream5 and Suricata's `stream-tcp-list.c`: for
//! each stored run a new segment overlaps, the policy says whether the new bytes or the old
//! bytes are kept for the overlapped range, from the two runs' start and end offsets only.

use crate::policy::{OverlapPolicy, Winner};
use std::collections::BTreeMap;

/// What `insert` did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Insert {
    /// The new segment overlapped stored bytes.
    pub overlapped: bool,
    /// ... and some overlapped bytes differed (the policy picked a winner).
    pub conflicting: bool,
}

/// Whether new bytes replace old bytes over their overlap, for runs [ns, ne) (new) and
/// [os, oe) (old): the shared policy rules (`crate::policy`).
#[inline]
pub fn new_wins(policy: OverlapPolicy, ns: u64, ne: u64, os: u64, oe: u64) -> bool {
    policy.winner(os, oe, ns, ne) == Winner::New
}

#[derive(Debug, Default)]
pub struct Assembler {
    runs: BTreeMap<u64, Vec<u8>>,
    bytes: usize,
}

impl Assembler {
    /// Bytes stored.
    #[inline]
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// Offset of the first stored byte.
    #[inline]
    pub fn first_start(&self) -> Option<u64> {
        self.runs.keys().next().copied()
    }

    /// One past the last stored byte.
    pub fn last_end(&self) -> Option<u64> {
        self.runs.iter().next_back().map(|(s, d)| s + d.len() as u64)
    }

    pub fn pop_first(&mut self) -> Option<(u64, Vec<u8>)> {
        let (s, d) = self.runs.pop_first()?;
        self.bytes -= d.len();
        Some((s, d))
    }

    pub fn clear(&mut self) {
        self.runs.clear();
        self.bytes = 0;
    }

    /// Drops everything before `off` (bytes already delivered or skipped).
    pub fn trim_before(&mut self, off: u64) {
        while let Some((&s, d)) = self.runs.iter().next() {
            let e = s + d.len() as u64;
            if s >= off {
                break;
            }
            let d = self.runs.remove(&s).unwrap();
            self.bytes -= d.len();
            if e > off {
                let rest = d[(off - s) as usize..].to_vec();
                self.bytes += rest.len();
                self.runs.insert(off, rest);
                break;
            }
        }
    }

    /// Stores `data` at `start`, resolving overlaps with stored runs by `policy`.
    pub fn insert(&mut self, start: u64, data: &[u8], policy: OverlapPolicy) -> Insert {
        let mut res = Insert::default();
        if data.is_empty() {
            return res;
        }
        let (ns, ne) = (start, start + data.len() as u64);
        // Stored runs overlapping [ns, ne): those starting before ne and ending after ns.
        let mut olds: Vec<u64> = Vec::new();
        for (&s, d) in self.runs.range(..ne).rev() {
            if s + d.len() as u64 <= ns {
                break;
            }
            olds.push(s);
        }
        if olds.is_empty() {
            self.bytes += data.len();
            self.runs.insert(ns, data.to_vec());
            return res;
        }
        res.overlapped = true;
        olds.reverse();
        // Ranges of [ns, ne) the new segment keeps (not covered by a winning old run).
        let mut keep_new: Vec<(u64, u64)> = vec![(ns, ne)];
        for os in olds {
            let od = self.runs.remove(&os).unwrap();
            self.bytes -= od.len();
            let oe = os + od.len() as u64;
            let (is, ie) = (ns.max(os), ne.min(oe));
            if od[(is - os) as usize..(ie - os) as usize] != data[(is - ns) as usize..(ie - ns) as usize] {
                res.conflicting = true;
            }
            if new_wins(policy, ns, ne, os, oe) {
                // Keep the old run's parts outside the new segment.
                if os < ns {
                    self.put(os, od[..(ns - os) as usize].to_vec());
                }
                if oe > ne {
                    self.put(ne, od[(ne - os) as usize..].to_vec());
                }
            } else {
                // The old run stays whole; the new segment loses [os, oe).
                let mut next = Vec::with_capacity(keep_new.len() + 1);
                for (a, b) in keep_new {
                    if b <= os || a >= oe {
                        next.push((a, b));
                        continue;
                    }
                    if a < os {
                        next.push((a, os));
                    }
                    if b > oe {
                        next.push((oe, b));
                    }
                }
                keep_new = next;
                self.put(os, od);
            }
        }
        for (a, b) in keep_new {
            self.put(a, data[(a - ns) as usize..(b - ns) as usize].to_vec());
        }
        res
    }

    #[inline]
    fn put(&mut self, at: u64, d: Vec<u8>) {
        if !d.is_empty() {
            self.bytes += d.len();
            self.runs.insert(at, d);
        }
    }

    /// Concatenation of the runs with their offsets (tests and debugging).
    pub fn runs(&self) -> impl Iterator<Item = (u64, &[u8])> {
        self.runs.iter().map(|(s, d)| (*s, d.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(a: &Assembler) -> Vec<(u64, Vec<u8>)> {
        let v: Vec<_> = a.runs().map(|(s, d)| (s, d.to_vec())).collect();
        // invariants
        let mut sum = 0;
        for w in v.windows(2) {
            assert!(w[0].0 + w[0].1.len() as u64 <= w[1].0);
        }
        for (_, d) in &v {
            assert!(!d.is_empty());
            sum += d.len();
        }
        assert_eq!(sum, a.bytes());
        v
    }

    fn merged(a: &Assembler) -> Vec<u8> {
        flat(a).into_iter().flat_map(|(_, d)| d).collect()
    }

    #[test]
    fn disjoint_runs() {
        let mut a = Assembler::default();
        a.insert(10, b"bb", OverlapPolicy::First);
        a.insert(0, b"aa", OverlapPolicy::First);
        assert_eq!(flat(&a), vec![(0, b"aa".to_vec()), (10, b"bb".to_vec())]);
    }

    // Old "AAAA" at 2..6; new "bbbbbbbb" at 0..8 covers it and starts before.
    #[test]
    fn covering_new_segment_under_each_policy() {
        let expect = [
            (OverlapPolicy::First, &b"bbAAAAbb"[..]),
            (OverlapPolicy::Last, b"bbbbbbbb"),
            (OverlapPolicy::Bsd, b"bbbbbbbb"),
            (OverlapPolicy::BsdRight, b"bbbbbbbb"),
            (OverlapPolicy::Linux, b"bbbbbbbb"),
            (OverlapPolicy::Windows, b"bbbbbbbb"),
            (OverlapPolicy::Solaris, b"bbbbbbbb"),
        ];
        for (p, want) in expect {
            let mut a = Assembler::default();
            a.insert(2, b"AAAA", p);
            let r = a.insert(0, b"bbbbbbbb", p);
            assert!(r.overlapped && r.conflicting);
            assert_eq!(merged(&a), want, "{p:?}");
        }
    }

    // Same start, same length: only last and linux take the new bytes.
    #[test]
    fn same_range_under_each_policy() {
        for p in OverlapPolicy::ALL {
            let mut a = Assembler::default();
            a.insert(0, b"GOOD", p);
            a.insert(0, b"EVIL", p);
            let want: &[u8] = if matches!(p, OverlapPolicy::Last | OverlapPolicy::Linux | OverlapPolicy::BsdRight) {
                b"EVIL"
            } else {
                b"GOOD"
            };
            assert_eq!(merged(&a), want, "{p:?}");
        }
    }

    #[test]
    fn identical_retransmission_is_not_a_conflict() {
        let mut a = Assembler::default();
        a.insert(0, b"abcd", OverlapPolicy::First);
        let r = a.insert(2, b"cdef", OverlapPolicy::First);
        assert_eq!(r, Insert { overlapped: true, conflicting: false });
        assert_eq!(merged(&a), b"abcdef");
    }

    #[test]
    fn trim_before_splits_a_run() {
        let mut a = Assembler::default();
        a.insert(0, b"abcdef", OverlapPolicy::First);
        a.trim_before(4);
        assert_eq!(flat(&a), vec![(4, b"ef".to_vec())]);
    }
}
