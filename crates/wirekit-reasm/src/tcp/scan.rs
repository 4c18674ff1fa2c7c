//! Port-scan detection (libnids' scan.c model): a source that sends connection attempts
//! (SYN without ACK) to more than `num_ports` distinct (host, port) pairs within `delay_ns`
//! is reported once, then its record starts afresh.
//!
//! Bounded: at most `num_hosts` sources are tracked (the oldest is forgotten beyond that,
//! as libnids' fixed hash table forgets), and each source keeps at most `num_ports + 1`
//! recent probes.

use std::collections::{HashMap, VecDeque};

#[derive(Debug, Clone, Copy)]
pub struct ScanConfig {
    /// Sources tracked at once; 0 disables detection (libnids' scan_num_hosts).
    pub num_hosts: usize,
    /// Distinct (host, port) probes that make a scan (libnids' scan_num_ports).
    pub num_ports: usize,
    /// Window in which the probes must fall (libnids' scan_delay, in ms there).
    pub delay_ns: i64,
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig { num_hosts: 256, num_ports: 10, delay_ns: 3_000_000_000 }
    }
}

type Src = (u8, [u8; 16]);

#[derive(Default)]
struct Host {
    probes: VecDeque<(i64, [u8; 16], u16)>,
}

/// A detected scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scan {
    pub ip_version: u8,
    pub src: [u8; 16],
    /// The last probe's target.
    pub dst: [u8; 16],
    pub dst_port: u16,
    /// Distinct (host, port) pairs probed within the window.
    pub probes: u32,
}

pub struct ScanDetector {
    pub cfg: ScanConfig,
    hosts: HashMap<Src, Host>,
    order: VecDeque<Src>,
}

impl ScanDetector {
    pub fn new(cfg: ScanConfig) -> Self {
        ScanDetector { cfg, hosts: HashMap::new(), order: VecDeque::new() }
    }

    /// A SYN (without ACK) from `src` to `dst:dst_port` at `now_ns`.
    pub fn on_syn(&mut self, now_ns: i64, ip_version: u8, src: [u8; 16], dst: [u8; 16], dst_port: u16) -> Option<Scan> {
        if self.cfg.num_hosts == 0 {
            return None;
        }
        let k = (ip_version, src);
        if !self.hosts.contains_key(&k) {
            while self.hosts.len() >= self.cfg.num_hosts {
                let Some(old) = self.order.pop_front() else { break };
                self.hosts.remove(&old);
            }
            self.hosts.insert(k, Host::default());
            self.order.push_back(k);
        }
        let h = self.hosts.get_mut(&k).unwrap();
        while h.probes.front().is_some_and(|p| now_ns - p.0 > self.cfg.delay_ns) {
            h.probes.pop_front();
        }
        if let Some(p) = h.probes.iter_mut().find(|p| p.1 == dst && p.2 == dst_port) {
            p.0 = now_ns; // a retransmitted SYN is not a new probe
            return None;
        }
        h.probes.push_back((now_ns, dst, dst_port));
        if h.probes.len() > self.cfg.num_ports {
            let n = h.probes.len() as u32;
            h.probes.clear();
            return Some(Scan { ip_version, src, dst, dst_port, probes: n });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(x: u8) -> [u8; 16] {
        let mut v = [0u8; 16];
        v[0] = 10;
        v[3] = x;
        v
    }

    #[test]
    fn reports_after_num_ports_distinct_probes_within_delay() {
        let mut d = ScanDetector::new(ScanConfig { num_hosts: 4, num_ports: 3, delay_ns: 1000 });
        assert_eq!(d.on_syn(0, 4, a(1), a(2), 1), None);
        assert_eq!(d.on_syn(1, 4, a(1), a(2), 1), None); // retransmission
        assert_eq!(d.on_syn(2, 4, a(1), a(2), 2), None);
        assert_eq!(d.on_syn(3, 4, a(1), a(3), 2), None);
        let s = d.on_syn(4, 4, a(1), a(2), 3).unwrap();
        assert_eq!((s.probes, s.dst_port), (4, 3));
        // Slow probes never add up.
        let mut d = ScanDetector::new(ScanConfig { num_hosts: 4, num_ports: 2, delay_ns: 10 });
        for i in 0..10 {
            assert_eq!(d.on_syn(i * 100, 4, a(1), a(2), i as u16), None);
        }
    }

    #[test]
    fn host_table_is_bounded() {
        let mut d = ScanDetector::new(ScanConfig { num_hosts: 2, num_ports: 3, delay_ns: 1000 });
        for h in 0..100 {
            d.on_syn(0, 4, a(h), a(200), 80);
        }
        assert_eq!(d.hosts.len(), 2);
        assert_eq!(d.order.len(), 2);
    }
}
