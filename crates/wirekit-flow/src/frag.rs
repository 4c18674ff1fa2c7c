//! Ports of fragmented datagrams: (src, dst, proto, IP id) -> (src_port, dst_port).
//!
//! Only the first fragment of a datagram carries the transport header; later fragments take
//! their ports from here. The map is capped: when full, the oldest entry goes first and the
//! caller counts `frag_map_full`. An entry leaves when its last fragment (MF clear) is seen,
//! or when it is older than the timeout.

use std::collections::{HashMap, VecDeque};

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct FragId {
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub proto: u8,
    pub ip_id: u32,
}

pub struct PortMap {
    cap: usize,
    timeout_ns: i64,
    map: HashMap<FragId, (u16, u16, i64, u64)>,
    // Insertion order: (id, serial). A stale serial means the entry was replaced or removed.
    order: VecDeque<(FragId, u64)>,
    serial: u64,
}

impl PortMap {
    pub fn new(cap: usize, timeout_ns: i64) -> Self {
        PortMap { cap: cap.max(1), timeout_ns, map: HashMap::new(), order: VecDeque::new(), serial: 0 }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Remembers the ports of a first fragment. Returns true when the map was full and the
    /// oldest entry had to go.
    pub fn insert(&mut self, id: FragId, src_port: u16, dst_port: u16, ts_ns: i64) -> bool {
        self.expire(ts_ns);
        let mut evicted = false;
        if !self.map.contains_key(&id) && self.map.len() >= self.cap {
            while let Some((old, serial)) = self.order.pop_front() {
                if self.map.get(&old).map(|e| e.3) == Some(serial) {
                    self.map.remove(&old);
                    evicted = true;
                    break;
                }
            }
        }
        self.serial += 1;
        self.map.insert(id, (src_port, dst_port, ts_ns, self.serial));
        self.order.push_back((id, self.serial));
        // Stale order entries (replaced ids) are dropped lazily; keep the queue bounded.
        if self.order.len() > 2 * self.cap + 16 {
            let map = &self.map;
            self.order.retain(|(k, s)| map.get(k).map(|e| e.3) == Some(*s));
        }
        evicted
    }

    /// Ports for a later fragment; `last` (MF clear) removes the entry.
    pub fn lookup(&mut self, id: &FragId, last: bool) -> Option<(u16, u16)> {
        let v = self.map.get(id).map(|e| (e.0, e.1));
        if last && v.is_some() {
            self.map.remove(id);
        }
        v
    }

    fn expire(&mut self, now_ns: i64) {
        while let Some((old, serial)) = self.order.front().copied() {
            match self.map.get(&old) {
                Some(e) if e.3 == serial => {
                    if e.2.saturating_add(self.timeout_ns) > now_ns {
                        break;
                    }
                    self.map.remove(&old);
                }
                _ => {}
            }
            self.order.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u32) -> FragId {
        FragId { src: [1; 16], dst: [2; 16], proto: 17, ip_id: n }
    }

    #[test]
    fn cap_evicts_oldest() {
        let mut m = PortMap::new(2, 1_000);
        assert!(!m.insert(id(1), 10, 11, 0));
        assert!(!m.insert(id(2), 20, 21, 1));
        assert!(m.insert(id(3), 30, 31, 2));
        assert_eq!(m.lookup(&id(1), false), None);
        assert_eq!(m.lookup(&id(2), false), Some((20, 21)));
        assert_eq!(m.lookup(&id(3), true), Some((30, 31)));
        assert_eq!(m.lookup(&id(3), false), None);
    }

    #[test]
    fn timeout_expires() {
        let mut m = PortMap::new(8, 1_000);
        m.insert(id(1), 10, 11, 0);
        m.insert(id(2), 20, 21, 2_000);
        assert_eq!(m.lookup(&id(1), false), None);
        assert_eq!(m.len(), 1);
    }
}
