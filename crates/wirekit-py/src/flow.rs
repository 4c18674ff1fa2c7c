//! Bindings for wirekit-flow: the flow meter, one call per batch.
//!
//! Expired flows come back as a list of plain tuples (see `RECORD_FIELDS` in
//! `wirekit.flow.record`), which Python turns into frozen `FlowRecord` objects.

use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyList, PyTuple};
use wirekit_core::decode;
use wirekit_core::framer::{self, ErrorKind, Record};
use wirekit_flow::pack::{self, Field, Layout};
use wirekit_flow::{Config, FlowRecord, Meter, PacketInfo};

use crate::capture::{Batch, Packet};

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<FlowMeter>()?;
    m.add_class::<CaptureFeeder>()?;
    Ok(())
}

#[inline]
fn packet_info(linktype: u32, data: &[u8], wire_len: u32, ts_ns: i64, ifindex: u32) -> PacketInfo {
    let s = decode::decode_record(linktype, data, wire_len);
    PacketInfo {
        ts_ns,
        ip_version: s.ip_version,
        src: s.src,
        dst: s.dst,
        proto: s.proto,
        src_port: s.src_port,
        dst_port: s.dst_port,
        has_l4: s.l4_offset != 0,
        vlan: s.vlan_outer,
        ifindex,
        ip_len: s.ip_len,
        tcp_flags: s.tcp_flags as u8,
        tos: s.tos,
        ttl: s.ttl,
        is_fragment: s.is_fragment,
        frag_offset: s.frag_offset,
        more_fragments: s.more_fragments,
        ip_id: s.ip_id,
    }
}

/// Decodes and meters framed records, a chunk at a time (Meter::feed_many prefetches the
/// flow table for the packets ahead).
fn meter_records(meter: &mut Meter, buf: &[u8], records: &[Record], out: &mut Vec<FlowRecord>) {
    let mut infos: Vec<PacketInfo> = Vec::with_capacity(256);
    for chunk in records.chunks(256) {
        infos.clear();
        infos.extend(chunk.iter().map(|r| {
            let d = &buf[r.data_start..r.data_start + r.caplen as usize];
            packet_info(r.linktype, d, r.wire_len, r.ts_ns, r.interface_id)
        }));
        meter.feed_many(&infos, out);
    }
}

fn records_to_py<'py>(py: Python<'py>, recs: &[FlowRecord]) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for r in recs {
        let k = &r.key;
        let alen = if k.ip_version == 4 { 4 } else { 16 };
        let items: [PyObject; 24] = [
            k.ip_version.into_pyobject(py)?.into_any().unbind(),
            PyBytes::new(py, &k.src[..alen]).into_any().unbind(),
            PyBytes::new(py, &k.dst[..alen]).into_any().unbind(),
            k.src_port.into_pyobject(py)?.into_any().unbind(),
            k.dst_port.into_pyobject(py)?.into_any().unbind(),
            k.proto.into_pyobject(py)?.into_any().unbind(),
            k.vlan.into_pyobject(py)?.into_any().unbind(),
            k.ifindex.into_pyobject(py)?.into_any().unbind(),
            r.fwd.packets.into_pyobject(py)?.into_any().unbind(),
            r.fwd.octets.into_pyobject(py)?.into_any().unbind(),
            r.fwd.first_ns.into_pyobject(py)?.into_any().unbind(),
            r.fwd.last_ns.into_pyobject(py)?.into_any().unbind(),
            r.fwd.tcp_flags.into_pyobject(py)?.into_any().unbind(),
            r.fwd.tos.into_pyobject(py)?.into_any().unbind(),
            r.fwd.ttl_min.into_pyobject(py)?.into_any().unbind(),
            r.fwd.ttl_max.into_pyobject(py)?.into_any().unbind(),
            r.rev.packets.into_pyobject(py)?.into_any().unbind(),
            r.rev.octets.into_pyobject(py)?.into_any().unbind(),
            r.rev.first_ns.into_pyobject(py)?.into_any().unbind(),
            r.rev.last_ns.into_pyobject(py)?.into_any().unbind(),
            r.rev.tcp_flags.into_pyobject(py)?.into_any().unbind(),
            r.rev.tos.into_pyobject(py)?.into_any().unbind(),
            r.rev.ttl_min.into_pyobject(py)?.into_any().unbind(),
            (r.end_reason as u8).into_pyobject(py)?.into_any().unbind(),
        ];
        list.append(PyTuple::new(py, items)?)?;
    }
    Ok(list)
}

fn frame_error(py: Python<'_>, e: &framer::FrameError) -> PyResult<PyObject> {
    let kind = match e.kind {
        ErrorKind::BadMagic => "bad_magic",
        ErrorKind::Corrupt => "corrupt",
        ErrorKind::Truncated => "truncated",
    };
    Ok((kind, e.offset, e.record, e.message.clone()).into_pyobject(py)?.into_any().unbind())
}

/// Framing state for `FlowMeter.feed_buffer`: the pcap/pcapng framer of wirekit-core, fed
/// raw file bytes by the caller (which owns the file; see wirekit.flow.meter.meter_file).
///
/// Why a second path next to `feed_batch`: metering a file needs no Packet or Batch object,
/// and reading into one reused buffer avoids allocating (and page-faulting) a fresh bytes
/// object per chunk, which is most of the cost of a large replay.
#[pyclass(module = "wirekit._core")]
pub struct CaptureFeeder {
    framer: framer::Framer,
    records: Vec<Record>,
}

#[pymethods]
impl CaptureFeeder {
    #[new]
    fn new() -> Self {
        CaptureFeeder { framer: framer::Framer::new(), records: Vec::new() }
    }

    /// End of input: None when the file ended cleanly, else (kind, offset, record, message).
    fn finish(&self, py: Python<'_>, leftover: &[u8]) -> PyResult<PyObject> {
        let data = leftover;
        match self.framer.finish(data) {
            Ok(()) => Ok(py.None()),
            Err(e) => frame_error(py, &e),
        }
    }

    /// Packet records framed so far.
    #[getter]
    fn records(&self) -> u64 {
        self.framer.records()
    }

    /// Link type of the first interface (pcap: the header's), None before the header.
    #[getter]
    fn linktype(&self) -> Option<u32> {
        if let Some(h) = self.framer.pcap_header() {
            return Some(h.linktype_field & 0xFFFF);
        }
        self.framer.interfaces().first().map(|i| i.linktype)
    }
}

/// The flow table (wirekit-flow `Meter`). Times are integer nanoseconds of packet time.
#[pyclass(module = "wirekit._core")]
pub struct FlowMeter {
    inner: Meter,
    out: Vec<FlowRecord>,
    // Packed export (see wirekit_flow::pack): layouts per IP version, the exporter's boot.
    layout4: Layout,
    layout6: Layout,
    export_start_ns: Option<i64>,
    biflow_times: bool,
}

fn parse_layout(fields: Vec<(String, usize)>) -> PyResult<Layout> {
    let mut l = Layout::default();
    for (name, n) in fields {
        let f = Field::from_name(&name)
            .ok_or_else(|| pyo3::exceptions::PyValueError::new_err(format!("unknown export field {name:?}")))?;
        if n == 0 || n > 16 {
            return Err(pyo3::exceptions::PyValueError::new_err(format!("bad length {n} for {name:?}")));
        }
        l.fields.push((f, n));
    }
    Ok(l)
}

impl FlowMeter {
    /// Boot of the exporter for a replay: one second before the first packet, whole ms
    /// (wirekit.flow.export.clock explains why).
    fn note_first(&mut self, first: Option<i64>) {
        if self.export_start_ns.is_none() {
            if let Some(t) = first {
                self.export_start_ns = Some((t - 1_000_000_000).div_euclid(1_000_000) * 1_000_000);
            }
        }
    }

    /// (n4, bytes4, n6, bytes6, min first_ns, max last_ns) of `self.out`.
    fn packed<'py>(&self, py: Python<'py>) -> PyResult<PyObject> {
        let start = self.export_start_ns.unwrap_or(0);
        let (mut b4, mut b6) = (Vec::new(), Vec::new());
        let (mut n4, mut n6) = (0usize, 0usize);
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        for r in &self.out {
            let (f, l) = if r.rev.packets > 0 {
                (r.fwd.first_ns.min(r.rev.first_ns), r.fwd.last_ns.max(r.rev.last_ns))
            } else {
                (r.fwd.first_ns, r.fwd.last_ns)
            };
            lo = lo.min(f);
            hi = hi.max(l);
            if r.key.ip_version == 4 {
                pack::pack(r, &self.layout4, start, self.biflow_times, &mut b4);
                n4 += 1;
            } else {
                pack::pack(r, &self.layout6, start, self.biflow_times, &mut b6);
                n6 += 1;
            }
        }
        let lo = if lo == i64::MAX { None } else { Some(lo) };
        let hi = if hi == i64::MIN { None } else { Some(hi) };
        Ok((n4, PyBytes::new(py, &b4), n6, PyBytes::new(py, &b6), lo, hi).into_pyobject(py)?.into_any().unbind())
    }

    fn output<'py>(&self, py: Python<'py>, packed: bool) -> PyResult<PyObject> {
        if packed {
            self.packed(py)
        } else {
            Ok(records_to_py(py, &self.out)?.into_any().unbind())
        }
    }
}

#[pymethods]
impl FlowMeter {
    #[new]
    #[pyo3(signature = (*, idle_timeout_ns, active_timeout_ns, fin_linger_ns, max_flows, bidirectional=false, frag_map_cap=4096, frag_timeout_ns=30_000_000_000))]
    fn new(
        idle_timeout_ns: i64,
        active_timeout_ns: i64,
        fin_linger_ns: i64,
        max_flows: usize,
        bidirectional: bool,
        frag_map_cap: usize,
        frag_timeout_ns: i64,
    ) -> Self {
        let cfg = Config {
            idle_timeout_ns,
            active_timeout_ns,
            fin_linger_ns,
            max_flows,
            bidirectional,
            frag_map_cap,
            frag_timeout_ns,
        };
        FlowMeter {
            inner: Meter::new(cfg),
            out: Vec::new(),
            layout4: Layout::default(),
            layout6: Layout::default(),
            export_start_ns: None,
            biflow_times: bidirectional,
        }
    }

    /// Sets the record layouts of packed output (`packed=True` in the feed/advance/flush
    /// calls): lists of (field name, length in bytes) for IPv4 and IPv6 flows, the
    /// exporter's boot time (None: one second before the first packet fed), and whether
    /// first/last times span both directions of a biflow.
    #[pyo3(signature = (v4, v6, start_ns=None, biflow_times=false))]
    fn set_export_layout(
        &mut self,
        v4: Vec<(String, usize)>,
        v6: Vec<(String, usize)>,
        start_ns: Option<i64>,
        biflow_times: bool,
    ) -> PyResult<()> {
        self.layout4 = parse_layout(v4)?;
        self.layout6 = parse_layout(v6)?;
        if start_ns.is_some() {
            self.export_start_ns = start_ns;
        }
        self.biflow_times = biflow_times;
        Ok(())
    }

    /// The exporter boot time the packed output uses (None before the first packet).
    #[getter]
    fn export_start_ns(&self) -> Option<i64> {
        self.export_start_ns
    }

    /// Accounts every record of a Batch; returns the flows that expired meanwhile.
    #[pyo3(signature = (batch, packed=false))]
    fn feed_batch<'py>(&mut self, py: Python<'py>, batch: &Batch, packed: bool) -> PyResult<PyObject> {
        let buf = batch.buf.bind(py).as_bytes();
        let meter = &mut self.inner;
        let out = &mut self.out;
        out.clear();
        let records = &batch.records;
        py.allow_threads(|| meter_records(meter, buf, records, out));
        self.note_first(batch.records.first().map(|r| r.ts_ns));
        self.output(py, packed)
    }

    /// Frames, decodes and meters the complete records at the start of `buf[:length]` (raw
    /// capture file bytes continuing where the previous call stopped). Returns (consumed
    /// bytes, expired flows, error or None, packets, timestamp of the first packet or None).
    #[pyo3(signature = (feeder, buf, length, packed=false))]
    fn feed_buffer<'py>(
        &mut self,
        py: Python<'py>,
        feeder: &mut CaptureFeeder,
        buf: &Bound<'py, PyByteArray>,
        length: usize,
        packed: bool,
    ) -> PyResult<(usize, PyObject, PyObject, usize, Option<i64>)> {
        // SAFETY: the bytearray is neither resized nor written while this call runs: the
        // caller (wirekit.flow.meter.meter_file) owns it privately and waits for the call.
        let all = unsafe { buf.as_bytes() };
        let data = &all[..length.min(all.len())];
        let meter = &mut self.inner;
        let out = &mut self.out;
        out.clear();
        let recs = &mut feeder.records;
        let fr = &mut feeder.framer;
        let framed = py.allow_threads(|| {
            recs.clear();
            let framed = fr.frame(data, recs, usize::MAX);
            meter_records(meter, data, recs, out);
            framed
        });
        let err = match &framed.error {
            Some(e) => frame_error(py, e)?,
            None => py.None(),
        };
        let first = feeder.records.first().map(|r| r.ts_ns);
        self.note_first(first);
        Ok((framed.consumed, self.output(py, packed)?, err, feeder.records.len(), first))
    }

    /// Accounts a list of Packet objects (live capture, tests).
    fn feed_packets<'py>(&mut self, py: Python<'py>, packets: Vec<PyRef<'py, Packet>>) -> PyResult<Bound<'py, PyList>> {
        self.out.clear();
        for pk in &packets {
            let data = pk.data.bind(py).as_bytes();
            let p = packet_info(pk.linktype, data, pk.wire_len, pk.ts_ns, pk.interface_id);
            self.inner.feed(&p, &mut self.out);
        }
        records_to_py(py, &self.out)
    }

    /// Moves packet time forward to `now_ns`; returns the flows that expired.
    #[pyo3(signature = (now_ns, packed=false))]
    fn advance<'py>(&mut self, py: Python<'py>, now_ns: i64, packed: bool) -> PyResult<PyObject> {
        self.out.clear();
        self.inner.advance(now_ns, &mut self.out);
        self.output(py, packed)
    }

    /// Expires every open flow (end of input, shutdown).
    #[pyo3(signature = (packed=false))]
    fn flush<'py>(&mut self, py: Python<'py>, packed: bool) -> PyResult<PyObject> {
        self.out.clear();
        self.inner.flush(&mut self.out);
        self.output(py, packed)
    }

    /// When `advance` should next be called (ns), None when no flow is open.
    fn next_deadline(&self) -> Option<i64> {
        self.inner.next_deadline()
    }

    /// Packet time as the meter sees it (largest timestamp so far), None before any packet.
    #[getter]
    fn now_ns(&self) -> Option<i64> {
        if self.inner.stats.packets == 0 && self.inner.is_empty() {
            None
        } else {
            Some(self.inner.now_ns())
        }
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    /// Counters: packets, non_ip, flows_created, expired_* by reason, evicted_cache_full,
    /// frag_ports_unknown, frag_map_full, ts_backwards.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = &self.inner.stats;
        let d = PyDict::new(py);
        d.set_item("packets", s.packets)?;
        d.set_item("non_ip", s.non_ip)?;
        d.set_item("flows_created", s.flows_created)?;
        d.set_item("expired_idle", s.expired_idle)?;
        d.set_item("expired_active", s.expired_active)?;
        d.set_item("expired_end_of_flow", s.expired_end_of_flow)?;
        d.set_item("expired_forced", s.expired_forced)?;
        d.set_item("evicted_cache_full", s.evicted_cache_full)?;
        d.set_item("frag_ports_unknown", s.frag_ports_unknown)?;
        d.set_item("frag_map_full", s.frag_map_full)?;
        d.set_item("ts_backwards", s.ts_backwards)?;
        d.set_item("open_flows", self.inner.len())?;
        Ok(d)
    }
}
