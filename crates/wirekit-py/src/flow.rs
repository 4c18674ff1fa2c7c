//! Bindings for wirekit-flow: the flow meter, one call per batch.
//!
//! Expired flows come back as a list of plain tuples (see `RECORD_FIELDS` in
//! `wirekit.flow.record`), which Python turns into frozen `FlowRecord` objects.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};
use wirekit_core::decode;
use wirekit_flow::{Config, FlowRecord, Meter, PacketInfo};

use crate::capture::{Batch, Packet};

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<FlowMeter>()?;
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

/// The flow table (wirekit-flow `Meter`). Times are integer nanoseconds of packet time.
#[pyclass(module = "wirekit._core")]
pub struct FlowMeter {
    inner: Meter,
    out: Vec<FlowRecord>,
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
        FlowMeter { inner: Meter::new(cfg), out: Vec::new() }
    }

    /// Accounts every record of a Batch; returns the flows that expired meanwhile.
    fn feed_batch<'py>(&mut self, py: Python<'py>, batch: &Batch) -> PyResult<Bound<'py, PyList>> {
        let buf = batch.buf.bind(py).as_bytes();
        let meter = &mut self.inner;
        let out = &mut self.out;
        out.clear();
        let records = &batch.records;
        py.allow_threads(|| {
            for r in records {
                let data = &buf[r.data_start..r.data_start + r.caplen as usize];
                let p = packet_info(r.linktype, data, r.wire_len, r.ts_ns, r.interface_id);
                meter.feed(&p, out);
            }
        });
        records_to_py(py, &self.out)
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
    fn advance<'py>(&mut self, py: Python<'py>, now_ns: i64) -> PyResult<Bound<'py, PyList>> {
        self.out.clear();
        self.inner.advance(now_ns, &mut self.out);
        records_to_py(py, &self.out)
    }

    /// Expires every open flow (end of input, shutdown).
    fn flush<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        self.out.clear();
        self.inner.flush(&mut self.out);
        records_to_py(py, &self.out)
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
