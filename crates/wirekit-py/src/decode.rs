//! Bindings for batch decode (wirekit_core::decode).
//!
//! Decoding is lazy: a Batch or Packet is decoded only when one of these methods is called,
//! and each call decodes the whole batch in one Rust loop. Results leave Rust in bulk:
//! `Batch.flow_keys()` as one list of tuples, `Batch.summaries()` as one `array.array` per
//! field (zero-copy for numpy via the buffer protocol), `Batch.summary(i)` / `Packet.summary()`
//! as a frozen object for one packet.

use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};
use wirekit_core::decode::{self as core, Summary};

use crate::capture::{Batch, Packet};

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<DecodedSummary>()?;
    let codes = PyDict::new(m.py());
    for (bit, code) in core::ANOMALY_CODES {
        codes.set_item(*bit, *code)?;
    }
    // bit -> stable anomaly code (python/wirekit/anomalies.py).
    m.add("DECODE_ANOMALY_CODES", codes)?;
    m.add("MAX_VLAN_TAGS", core::MAX_VLAN_TAGS)?;
    Ok(())
}

#[inline]
fn decode_record(r: &wirekit_core::framer::Record, data: &[u8]) -> Summary {
    core::decode_record(r.linktype, data, r.wire_len)
}

/// Anomaly codes for a bitmask, as a tuple of str, in bit order.
fn anomaly_tuple<'py>(py: Python<'py>, bits: u32) -> PyResult<Bound<'py, PyTuple>> {
    PyTuple::new(py, core::anomaly_codes(bits).collect::<Vec<_>>())
}

fn addr<'py>(py: Python<'py>, s: &Summary, a: &[u8; 16]) -> Bound<'py, PyBytes> {
    PyBytes::new(py, &a[..s.addr_len()])
}

/// The 5-tuple of one summary, or None when not IP.
#[inline]
fn flow_key<'py>(py: Python<'py>, s: &Summary) -> PyResult<Bound<'py, PyAny>> {
    if s.ip_version == 0 {
        return Ok(py.None().into_bound(py));
    }
    let t = (addr(py, s, &s.src), addr(py, s, &s.dst), s.src_port, s.dst_port, s.proto);
    Ok(t.into_pyobject(py)?.into_any())
}

/// The 5-tuple as one bytes object: src, dst (4 or 16 bytes each), src_port, dst_port (2
/// bytes each, big-endian), proto (1 byte): 13 bytes for IPv4, 37 for IPv6.
#[inline]
fn packed_key<'py>(py: Python<'py>, s: &Summary) -> Bound<'py, PyBytes> {
    let n = s.addr_len();
    let mut k = [0u8; 37];
    k[..n].copy_from_slice(&s.src[..n]);
    k[n..2 * n].copy_from_slice(&s.dst[..n]);
    k[2 * n..2 * n + 2].copy_from_slice(&s.src_port.to_be_bytes());
    k[2 * n + 2..2 * n + 4].copy_from_slice(&s.dst_port.to_be_bytes());
    k[2 * n + 4] = s.proto;
    PyBytes::new(py, &k[..2 * n + 5])
}

/// One decoded packet (wirekit_core::decode::Summary) as a frozen Python object.
///
/// Offsets and lengths are in bytes from the start of the packet's data; `l4_offset` is 0
/// when no L4 header was decoded. `src`/`dst` are 4 or 16 bytes (b"" when not IP).
#[pyclass(name = "Summary", module = "wirekit._core", frozen)]
pub struct DecodedSummary {
    pub inner: Summary,
}

macro_rules! getters {
    ($($name:ident: $ty:ty),* $(,)?) => {
        #[pymethods]
        impl DecodedSummary {
            $(
                #[getter]
                fn $name(&self) -> $ty {
                    self.inner.$name
                }
            )*
        }
    };
}

getters!(
    l3_offset: u32, ethertype: u16, vlan_count: u8, vlan_outer: u16, vlan_inner: u16,
    ip_version: u8, proto: u8, ttl: u8, tos: u8, ip_len: u32, ip_header_len: u32, ip_id: u32,
    frag_offset: u32, more_fragments: bool, dont_fragment: bool, is_fragment: bool,
    frag_header_offset: u32, l4_offset: u32, src_port: u16, dst_port: u16, tcp_seq: u32,
    tcp_ack: u32, tcp_flags: u16, tcp_window: u16, l4_header_len: u32, payload_offset: u32,
    payload_len: u32,
);

#[pymethods]
impl DecodedSummary {
    #[getter]
    fn src<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        addr(py, &self.inner, &self.inner.src)
    }

    #[getter]
    fn dst<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        addr(py, &self.inner, &self.inner.dst)
    }

    /// Anomaly bitmask (see `_core.DECODE_ANOMALY_CODES`).
    #[getter]
    fn anomaly_bits(&self) -> u32 {
        self.inner.anomalies
    }

    /// Anomaly codes, as a tuple of stable snake_case strings.
    #[getter]
    fn anomalies<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        anomaly_tuple(py, self.inner.anomalies)
    }

    /// (src, dst, src_port, dst_port, proto), or None when not IP.
    fn flow_key<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        flow_key(py, &self.inner)
    }

    fn __repr__(&self) -> String {
        let s = &self.inner;
        format!(
            "<Summary ip_version={} proto={} src_port={} dst_port={} ip_len={} payload_len={} anomalies={:#x}>",
            s.ip_version, s.proto, s.src_port, s.dst_port, s.ip_len, s.payload_len, s.anomalies
        )
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.downcast::<DecodedSummary>().map(|o| o.get().inner == self.inner).unwrap_or(false)
    }
}

/// Per-call cache of address bytes objects: a small open-addressing table keyed by the
/// address bytes. Bounded: when full it stops caching (new objects are made instead).
struct AddrInterner<'py> {
    slots: Vec<Option<([u8; 16], u8, Bound<'py, PyBytes>)>>,
    used: usize,
}

impl<'py> AddrInterner<'py> {
    const SLOTS: usize = 1024;

    fn new() -> Self {
        AddrInterner { slots: vec![None; Self::SLOTS], used: 0 }
    }

    #[inline]
    fn get(&mut self, py: Python<'py>, a: &[u8]) -> Bound<'py, PyBytes> {
        let mut key = [0u8; 16];
        key[..a.len()].copy_from_slice(a);
        let len = a.len() as u8;
        // FNV-1a over the address: cheap, and addresses are not attacker-chosen keys of a
        // long-lived table (the table lives for one call and is capped).
        let mut h: u32 = 0x811c9dc5;
        for &b in a {
            h = (h ^ b as u32).wrapping_mul(0x0100_0193);
        }
        let mut i = (h as usize) & (Self::SLOTS - 1);
        for _ in 0..8 {
            match &self.slots[i] {
                Some((k, l, obj)) if *l == len && *k == key => return obj.clone(),
                Some(_) => i = (i + 1) & (Self::SLOTS - 1),
                None => {
                    let obj = PyBytes::new(py, a);
                    if self.used < Self::SLOTS / 2 {
                        self.slots[i] = Some((key, len, obj.clone()));
                        self.used += 1;
                    }
                    return obj;
                }
            }
        }
        PyBytes::new(py, a)
    }
}

static ARRAY: GILOnceCell<PyObject> = GILOnceCell::new();

/// `array.array(typecode, bytes)` over the native-endian bytes of a column.
fn column<'py, T: Copy>(
    py: Python<'py>,
    typecode: &str,
    values: impl Iterator<Item = T>,
    n: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let size = std::mem::size_of::<T>();
    let mut raw: Vec<u8> = Vec::with_capacity(n * size);
    for v in values {
        // SAFETY: T is a plain integer type (u8/u16/u32/i64 below); its bytes are initialised.
        let bytes = unsafe { std::slice::from_raw_parts(&v as *const T as *const u8, size) };
        raw.extend_from_slice(bytes);
    }
    let array = ARRAY.get_or_try_init(py, || -> PyResult<PyObject> {
        Ok(py.import("array")?.getattr("array")?.unbind())
    })?;
    array.bind(py).call1((typecode, PyBytes::new(py, &raw)))
}

/// Batch decode: summaries computed on request, one Rust loop per call.
#[pymethods]
impl Batch {
    /// The 5-tuple of every packet: a list with (src, dst, src_port, dst_port, proto) or None
    /// (not IP). Addresses are bytes (4 or 16); ports are 0 when no L4 header was decoded
    /// (ICMP: type and code).
    ///
    /// Equal addresses within a batch share one bytes object (its hash is computed once), so
    /// counting keys in a dict costs less.
    ///
    /// With `packed=True` each key is one bytes object instead (see `Packet.flow_key`): cheaper
    /// to hash and compare, for counting flows in a dict.
    #[pyo3(signature = (packed=false))]
    fn flow_keys<'py>(&self, py: Python<'py>, packed: bool) -> PyResult<Bound<'py, PyList>> {
        let buf = self.buf.bind(py).as_bytes();
        let mut items: Vec<Bound<'py, PyAny>> = Vec::with_capacity(self.records.len());
        let mut interner = AddrInterner::new();
        for r in &self.records {
            let s = decode_record(r, self.record_data(buf, r));
            if s.ip_version == 0 {
                items.push(py.None().into_bound(py));
                continue;
            }
            if packed {
                items.push(packed_key(py, &s).into_any());
                continue;
            }
            let n = s.addr_len();
            let src = interner.get(py, &s.src[..n]);
            let dst = interner.get(py, &s.dst[..n]);
            items.push((src, dst, s.src_port, s.dst_port, s.proto).into_pyobject(py)?.into_any());
        }
        PyList::new(py, items)
    }

    /// Every decoded field as a column: a dict of name -> `array.array` (one value per
    /// packet), plus `src`/`dst` as one bytes object of 16 bytes per packet (IPv4 in the first
    /// 4) and `ts_ns`, `wire_len`, `caplen`, `linktype`. `anomalies` holds bitmasks (see
    /// `_core.DECODE_ANOMALY_CODES`). With `verify_checksums`, checksum anomalies are added.
    #[pyo3(signature = (verify_checksums=false))]
    fn summaries<'py>(&self, py: Python<'py>, verify_checksums: bool) -> PyResult<Bound<'py, PyDict>> {
        let buf = self.buf.bind(py).as_bytes();
        let n = self.records.len();
        let sums: Vec<Summary> = self
            .records
            .iter()
            .map(|r| {
                let data = self.record_data(buf, r);
                let mut s = decode_record(r, data);
                if verify_checksums {
                    s.anomalies |= core::verify_checksums(data, &s);
                }
                s
            })
            .collect();
        let d = PyDict::new(py);
        macro_rules! col {
            ($tc:literal, $($f:ident),*) => {
                $( d.set_item(stringify!($f), column(py, $tc, sums.iter().map(|s| s.$f), n)?)?; )*
            };
        }
        col!("B", ip_version, proto, ttl, tos, vlan_count);
        col!("H", ethertype, vlan_outer, vlan_inner, src_port, dst_port, tcp_flags, tcp_window);
        col!(
            "I", l3_offset, ip_len, ip_header_len, ip_id, frag_offset, frag_header_offset, l4_offset,
            tcp_seq, tcp_ack, l4_header_len, payload_offset, payload_len, anomalies
        );
        d.set_item("more_fragments", column(py, "B", sums.iter().map(|s| s.more_fragments as u8), n)?)?;
        d.set_item("dont_fragment", column(py, "B", sums.iter().map(|s| s.dont_fragment as u8), n)?)?;
        d.set_item("is_fragment", column(py, "B", sums.iter().map(|s| s.is_fragment as u8), n)?)?;
        let mut src = Vec::with_capacity(16 * n);
        let mut dst = Vec::with_capacity(16 * n);
        for s in &sums {
            src.extend_from_slice(&s.src);
            dst.extend_from_slice(&s.dst);
        }
        d.set_item("src", PyBytes::new(py, &src))?;
        d.set_item("dst", PyBytes::new(py, &dst))?;
        d.set_item("ts_ns", column(py, "q", self.records.iter().map(|r| r.ts_ns), n)?)?;
        d.set_item("wire_len", column(py, "I", self.records.iter().map(|r| r.wire_len), n)?)?;
        d.set_item("caplen", column(py, "I", self.records.iter().map(|r| r.caplen), n)?)?;
        d.set_item("linktype", column(py, "I", self.records.iter().map(|r| r.linktype), n)?)?;
        Ok(d)
    }

    /// The decoded summary of packet `i`.
    #[pyo3(signature = (i, verify_checksums=false))]
    fn summary(&self, py: Python<'_>, i: usize, verify_checksums: bool) -> PyResult<DecodedSummary> {
        let r = self
            .records
            .get(i)
            .ok_or_else(|| pyo3::exceptions::PyIndexError::new_err("batch index out of range"))?;
        let data = self.record_data(self.buf.bind(py).as_bytes(), r);
        let mut s = decode_record(r, data);
        if verify_checksums {
            s.anomalies |= core::verify_checksums(data, &s);
        }
        Ok(DecodedSummary { inner: s })
    }
}

/// Per-packet fast paths: one Rust call decodes the whole packet.
#[pymethods]
impl Packet {
    /// (src, dst, src_port, dst_port, proto) with addresses as bytes (4 or 16), or None
    /// when the packet is not IP.
    ///
    /// With `packed=True`: one bytes object, src + dst + src_port (2 bytes, big-endian) +
    /// dst_port (2) + proto (1), 13 bytes for IPv4 and 37 for IPv6; None when not IP.
    #[pyo3(signature = (packed=false))]
    fn flow_key<'py>(&self, py: Python<'py>, packed: bool) -> PyResult<Bound<'py, PyAny>> {
        let s = core::decode_record(self.linktype, self.data.bind(py).as_bytes(), self.wire_len);
        if packed && s.ip_version != 0 {
            return Ok(packed_key(py, &s).into_any());
        }
        flow_key(py, &s)
    }

    /// The Rust decode summary of this packet (offsets, addresses, ports, lengths, anomalies).
    #[pyo3(signature = (verify_checksums=false))]
    fn summary(&self, py: Python<'_>, verify_checksums: bool) -> DecodedSummary {
        let data = self.data.bind(py).as_bytes();
        let mut s = core::decode_record(self.linktype, data, self.wire_len);
        if verify_checksums {
            s.anomalies |= core::verify_checksums(data, &s);
        }
        DecodedSummary { inner: s }
    }
}
