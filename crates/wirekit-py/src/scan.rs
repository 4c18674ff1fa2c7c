//! The SYN scanner's send path and keyed hash, for `wirekit.scan.engine`.
//!
//! Python keeps the scanner's logic (pacing, retries, matching); this file only does the
//! per-probe loop it cannot afford: walk the keyed permutation, build the SYN, and hand a
//! whole batch to the kernel with one sendmmsg(2) call. The permutation and the keyed
//! sequence-number hash are the same functions as in Python (`Permutation`, `probe_seq`),
//! which call back here for the hash so both ends always agree.

use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<SynBlaster>()?;
    m.add_function(wrap_pyfunction!(scan_probe_seq, m)?)?;
    Ok(())
}

/// SipHash-2-4 (Aumasson & Bernstein), 64-bit output.
fn siphash24(k0: u64, k1: u64, msg: &[u8]) -> u64 {
    let mut v0 = 0x736f6d6570736575u64 ^ k0;
    let mut v1 = 0x646f72616e646f6du64 ^ k1;
    let mut v2 = 0x6c7967656e657261u64 ^ k0;
    let mut v3 = 0x7465646279746573u64 ^ k1;
    macro_rules! round {
        () => {
            v0 = v0.wrapping_add(v1); v1 = v1.rotate_left(13); v1 ^= v0; v0 = v0.rotate_left(32);
            v2 = v2.wrapping_add(v3); v3 = v3.rotate_left(16); v3 ^= v2;
            v0 = v0.wrapping_add(v3); v3 = v3.rotate_left(21); v3 ^= v0;
            v2 = v2.wrapping_add(v1); v1 = v1.rotate_left(17); v1 ^= v2; v2 = v2.rotate_left(32);
        };
    }
    let len = msg.len();
    let mut chunks = msg.chunks_exact(8);
    for c in &mut chunks {
        let m = u64::from_le_bytes(c.try_into().unwrap());
        v3 ^= m;
        round!();
        round!();
        v0 ^= m;
    }
    let rest = chunks.remainder();
    let mut last = [0u8; 8];
    last[..rest.len()].copy_from_slice(rest);
    let b = u64::from_le_bytes(last) | ((len as u64 & 0xff) << 56);
    v3 ^= b;
    round!();
    round!();
    v0 ^= b;
    v2 ^= 0xff;
    for _ in 0..4 {
        round!();
    }
    v0 ^ v1 ^ v2 ^ v3
}

fn keys(secret: &[u8]) -> (u64, u64) {
    let mut k = [0u8; 16];
    let n = secret.len().min(16);
    k[..n].copy_from_slice(&secret[..n]);
    // secrets longer than 16 bytes are folded in, so every byte matters
    for (i, b) in secret.iter().enumerate().skip(16) {
        k[i % 16] ^= b.rotate_left((i / 16) as u32);
    }
    (u64::from_le_bytes(k[..8].try_into().unwrap()), u64::from_le_bytes(k[8..].try_into().unwrap()))
}

/// seq = low 32 bits of SipHash-2-4(secret, version | addr(16, big endian) | port | src_port).
fn probe_seq(k: (u64, u64), version: u8, addr: u128, port: u16, sport: u16) -> u32 {
    let mut msg = [0u8; 21];
    msg[0] = version;
    msg[1..17].copy_from_slice(&addr.to_be_bytes());
    msg[17..19].copy_from_slice(&port.to_be_bytes());
    msg[19..21].copy_from_slice(&sport.to_be_bytes());
    siphash24(k.0, k.1, &msg) as u32
}

/// The keyed sequence number of a probe (see `wirekit.scan.engine.probe_seq`).
#[pyfunction]
fn scan_probe_seq(secret: &[u8], version: u8, addr: &[u8], port: u16, src_port: u16) -> PyResult<u32> {
    let a = addr_u128(addr)?;
    Ok(probe_seq(keys(secret), version, a, port, src_port))
}

fn addr_u128(b: &[u8]) -> PyResult<u128> {
    match b.len() {
        4 => Ok(u32::from_be_bytes(b.try_into().unwrap()) as u128),
        16 => Ok(u128::from_be_bytes(b.try_into().unwrap())),
        _ => Err(PyValueError::new_err("an address is 4 or 16 bytes")),
    }
}

fn sum16(data: &[u8], mut acc: u32) -> u32 {
    let mut it = data.chunks_exact(2);
    for c in &mut it {
        acc += u16::from_be_bytes([c[0], c[1]]) as u32;
    }
    if let [b] = it.remainder() {
        acc += (*b as u32) << 8;
    }
    acc
}

fn fold(mut s: u32) -> u16 {
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// Builds and sends SYN probes in permutation order (see the module comment).
#[pyclass(module = "wirekit._core")]
pub struct SynBlaster {
    key: (u64, u64),
    /// (version, first, last), in TargetSet order
    intervals: Vec<(u8, u128, u128)>,
    starts: Vec<u128>,
    ports: Vec<u16>,
    total: u128,
    perm_keys: Vec<u64>,
    half: u32,
    src4: Option<[u8; 4]>,
    src6: Option<[u8; 16]>,
    ttl: u8,
    window: u16,
    ip_id: u16,
}

impl SynBlaster {
    fn encrypt(&self, x: u128) -> u128 {
        let h = self.half;
        let m: u128 = (1u128 << h) - 1;
        let (mut left, mut right) = (x >> h, x & m);
        for &k in &self.perm_keys {
            let f = ((right as u64) ^ k).wrapping_mul(0x9E3779B97F4A7C15);
            let g = (((f ^ (f >> 29)) >> 7) as u128) & m;
            let nl = right;
            right = left ^ g;
            left = nl;
        }
        (left << h) | right
    }

    fn perm(&self, i: u128) -> u128 {
        let mut x = self.encrypt(i);
        while x >= self.total {
            x = self.encrypt(x);
        }
        x
    }

    fn probe(&self, index: u128) -> (u8, u128, u16) {
        let n = self.ports.len() as u128;
        let (t, p) = (index / n, (index % n) as usize);
        let k = self.starts.partition_point(|&s| s <= t) - 1;
        let (v, lo, _) = self.intervals[k];
        (v, lo + (t - self.starts[k]), self.ports[p])
    }

    /// Writes the probe for `index` into `out` (cleared first); returns the IP version.
    fn build(&mut self, index: u128, sport: u16, out: &mut Vec<u8>) -> u8 {
        let (v, addr, port) = self.probe(index);
        let seq = probe_seq(self.key, v, addr, port, sport);
        out.clear();
        let tcp_len: u16 = 24;
        let mut tcp = [0u8; 24];
        tcp[0..2].copy_from_slice(&sport.to_be_bytes());
        tcp[2..4].copy_from_slice(&port.to_be_bytes());
        tcp[4..8].copy_from_slice(&seq.to_be_bytes());
        tcp[12] = 6 << 4;
        tcp[13] = 0x02;
        tcp[14..16].copy_from_slice(&self.window.to_be_bytes());
        tcp[20..24].copy_from_slice(&[2, 4, 0x05, 0xb4]); // MSS 1460
        if v == 4 {
            let src = self.src4.unwrap_or([0; 4]);
            let dst = (addr as u32).to_be_bytes();
            let mut ps = sum16(&src, 0);
            ps = sum16(&dst, ps) + 6 + tcp_len as u32;
            let c = fold(sum16(&tcp, ps));
            tcp[16..18].copy_from_slice(&c.to_be_bytes());
            self.ip_id = self.ip_id.wrapping_add(1);
            let mut ip = [0u8; 20];
            ip[0] = 0x45;
            ip[2..4].copy_from_slice(&(20 + tcp_len).to_be_bytes());
            ip[4..6].copy_from_slice(&self.ip_id.to_be_bytes());
            ip[8] = self.ttl;
            ip[9] = 6;
            ip[12..16].copy_from_slice(&src);
            ip[16..20].copy_from_slice(&dst);
            let c = fold(sum16(&ip, 0));
            ip[10..12].copy_from_slice(&c.to_be_bytes());
            out.extend_from_slice(&ip);
        } else {
            let src = self.src6.unwrap_or([0; 16]);
            let dst = addr.to_be_bytes();
            let ps = sum16(&dst, sum16(&src, 0)) + 6 + tcp_len as u32;
            let c = fold(sum16(&tcp, ps));
            tcp[16..18].copy_from_slice(&c.to_be_bytes());
            let mut ip = [0u8; 40];
            ip[0] = 0x60;
            ip[4..6].copy_from_slice(&tcp_len.to_be_bytes());
            ip[6] = 6;
            ip[7] = self.ttl;
            ip[8..24].copy_from_slice(&src);
            ip[24..40].copy_from_slice(&dst);
            out.extend_from_slice(&ip);
        }
        out.extend_from_slice(&tcp);
        v
    }
}

#[pymethods]
impl SynBlaster {
    /// intervals: [(version, first, last)] with addresses as 16-byte big-endian bytes;
    /// perm_keys / perm_half: the `Permutation`'s round keys and half width in bits.
    #[new]
    #[pyo3(signature = (secret, intervals, ports, perm_keys, perm_half, src4=None, src6=None, ttl=64, window=1024, ip_id=0))]
    #[allow(clippy::too_many_arguments)]
    fn new(secret: &[u8], intervals: Vec<(u8, Vec<u8>, Vec<u8>)>, ports: Vec<u16>, perm_keys: Vec<u64>,
           perm_half: u32, src4: Option<Vec<u8>>, src6: Option<Vec<u8>>, ttl: u8, window: u16, ip_id: u16)
           -> PyResult<Self> {
        if ports.is_empty() || perm_half == 0 || perm_half > 63 {
            return Err(PyValueError::new_err("no ports, or a bad permutation width"));
        }
        let mut ivs = Vec::with_capacity(intervals.len());
        let mut starts = Vec::with_capacity(intervals.len());
        let mut total_t: u128 = 0;
        for (v, lo, hi) in intervals {
            let (lo, hi) = (addr_u128(&lo)?, addr_u128(&hi)?);
            if hi < lo {
                return Err(PyValueError::new_err("interval ends before it starts"));
            }
            starts.push(total_t);
            total_t += hi - lo + 1;
            ivs.push((v, lo, hi));
        }
        let s4 = match src4 {
            Some(b) => Some(<[u8; 4]>::try_from(b.as_slice()).map_err(|_| PyValueError::new_err("src4 is 4 bytes"))?),
            None => None,
        };
        let s6 = match src6 {
            Some(b) => Some(<[u8; 16]>::try_from(b.as_slice()).map_err(|_| PyValueError::new_err("src6 is 16 bytes"))?),
            None => None,
        };
        Ok(SynBlaster {
            key: keys(secret), intervals: ivs, starts, total: total_t * ports.len() as u128,
            ports, perm_keys, half: perm_half, src4: s4, src6: s6, ttl, window, ip_id,
        })
    }

    /// Probe number `index` (not a permutation position) as an IP datagram.
    fn build_one<'py>(&mut self, py: Python<'py>, index: u64, src_port: u16) -> Bound<'py, PyBytes> {
        let mut out = Vec::with_capacity(64);
        self.build(index as u128, src_port, &mut out);
        PyBytes::new(py, &out)
    }

    /// The probe index at permutation position `cursor`.
    fn permuted(&self, cursor: u64) -> PyResult<u64> {
        if (cursor as u128) >= self.total {
            return Err(PyValueError::new_err("cursor out of range"));
        }
        Ok(self.perm(cursor as u128) as u64)
    }

    /// Sends the probes at permutation positions cursor .. cursor+count (clipped at the end)
    /// through raw IP_HDRINCL sockets fd4 / fd6 (-1: none) with sendmmsg(2), in chunks of
    /// 512. Returns (probes sent, next cursor). Stops early, returning what was sent, when
    /// the kernel refuses (ENOBUFS, EAGAIN); other errors raise OSError.
    fn send(&mut self, py: Python<'_>, fd4: i32, fd6: i32, cursor: u64, count: u64, src_port: u16)
            -> PyResult<(u64, u64)> {
        let end = (cursor as u128 + count as u128).min(self.total);
        let mut pos = cursor as u128;
        let mut sent: u64 = 0;
        const CHUNK: usize = 512;
        let mut bufs: Vec<Vec<u8>> = (0..CHUNK).map(|_| Vec::with_capacity(64)).collect();
        let mut vers: Vec<u8> = vec![0; CHUNK];
        let result = py.allow_threads(|| -> Result<(), std::io::Error> {
            while pos < end {
                let n = ((end - pos) as usize).min(CHUNK);
                for j in 0..n {
                    let idx = self.perm(pos + j as u128);
                    vers[j] = self.build(idx, src_port, &mut bufs[j]);
                }
                // one sendmmsg per family run, keeping permutation order
                let mut j = 0;
                while j < n {
                    let v = vers[j];
                    let mut k = j;
                    while k < n && vers[k] == v {
                        k += 1;
                    }
                    let fd = if v == 4 { fd4 } else { fd6 };
                    let done = send_run(fd, v, &bufs[j..k])?;
                    sent += done as u64;
                    if done < k - j {
                        pos += (j + done) as u128;
                        return Ok(());
                    }
                    j = k;
                }
                pos += n as u128;
            }
            Ok(())
        });
        match result {
            Ok(()) => Ok((sent, pos as u64)),
            Err(e) => Err(PyOSError::new_err((e.raw_os_error().unwrap_or(0), e.to_string()))),
        }
    }

    #[getter]
    fn total(&self) -> u64 {
        self.total as u64
    }
}

/// sendmmsg a run of same-family packets; returns how many the kernel took.
fn send_run(fd: i32, v: u8, pkts: &[Vec<u8>]) -> Result<usize, std::io::Error> {
    if fd < 0 {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "no socket for this address family"));
    }
    let n = pkts.len();
    let mut addrs4: Vec<libc::sockaddr_in> = Vec::with_capacity(if v == 4 { n } else { 0 });
    let mut addrs6: Vec<libc::sockaddr_in6> = Vec::with_capacity(if v == 6 { n } else { 0 });
    let mut iovs: Vec<libc::iovec> = Vec::with_capacity(n);
    for p in pkts {
        if v == 4 {
            // SAFETY: sockaddr_in is plain old data; zeroed is a valid value.
            let mut a: libc::sockaddr_in = unsafe { std::mem::zeroed() };
            a.sin_family = libc::AF_INET as libc::sa_family_t;
            a.sin_addr.s_addr = u32::from_ne_bytes(p[16..20].try_into().unwrap());
            addrs4.push(a);
        } else {
            // SAFETY: as above.
            let mut a: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
            a.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            a.sin6_addr.s6_addr.copy_from_slice(&p[24..40]);
            addrs6.push(a);
        }
        iovs.push(libc::iovec { iov_base: p.as_ptr() as *mut libc::c_void, iov_len: p.len() });
    }
    let mut msgs: Vec<libc::mmsghdr> = Vec::with_capacity(n);
    for i in 0..n {
        // SAFETY: mmsghdr is plain old data; the pointers set below outlive the call.
        let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
        if v == 4 {
            m.msg_hdr.msg_name = &mut addrs4[i] as *mut _ as *mut libc::c_void;
            m.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as u32;
        } else {
            m.msg_hdr.msg_name = &mut addrs6[i] as *mut _ as *mut libc::c_void;
            m.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_in6>() as u32;
        }
        m.msg_hdr.msg_iov = &mut iovs[i] as *mut libc::iovec;
        m.msg_hdr.msg_iovlen = 1;
        msgs.push(m);
    }
    let mut off = 0usize;
    while off < n {
        // SAFETY: msgs[off..] are valid mmsghdr entries pointing at live buffers.
        let r = unsafe { libc::sendmmsg(fd, msgs[off..].as_mut_ptr(), (n - off) as u32, 0) };
        if r < 0 {
            let e = std::io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::ENOBUFS) | Some(libc::EAGAIN) => return Ok(off),
                _ => return Err(e),
            }
        }
        off += r as usize;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn siphash_reference_vector() {
        // SipHash-2-4 paper, appendix A: key 00..0f, message 00..0e -> a129ca6149be45e5
        let k0 = u64::from_le_bytes([0, 1, 2, 3, 4, 5, 6, 7]);
        let k1 = u64::from_le_bytes([8, 9, 10, 11, 12, 13, 14, 15]);
        let msg: Vec<u8> = (0u8..15).collect();
        assert_eq!(siphash24(k0, k1, &msg), 0xa129ca6149be45e5);
    }
}
