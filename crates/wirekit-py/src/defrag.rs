//! Bindings for the defragmenter (wirekit_reasm::defrag): one call per batch of frames,
//! returning reassembled packets and events as plain tuples (the Python layer,
//! `wirekit.reasm.defrag`, turns them into frozen dataclasses).

use crate::capture::{Batch, Packet};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};
use wirekit_core::decode::decode_record;
use wirekit_reasm::defrag::{
    CapPolicy, DefragAnomaly, DefragConfig, DefragEvent, Defragmenter as Engine, Outcome,
    OverlapDiscard,
};
use wirekit_reasm::policy::{OverlapPolicy, PolicyTable};

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Defragmenter>()?;
    Ok(())
}

/// IPv4/IPv6 defragmenter over whole batches. Private: use `wirekit.reasm.Defragmenter`.
#[pyclass(module = "wirekit._core", unsendable)]
pub struct Defragmenter {
    inner: Engine,
}

/// Outcome codes of `push` (mirrored in python/wirekit/reasm/defrag.py).
const NOT_FRAGMENT: u8 = 0;
const HELD: u8 = 1;
const DROPPED: u8 = 2;
const COMPLETED: u8 = 3;

fn event_tuple<'py>(py: Python<'py>, e: &DefragEvent) -> PyResult<Bound<'py, PyTuple>> {
    let addr_len = if e.key.ip_version == 4 { 4 } else { 16 };
    PyTuple::new(
        py,
        [
            e.ts_ns.into_pyobject(py)?.into_any(),
            e.anomaly.code().into_pyobject(py)?.into_any(),
            e.cap.map(|c| c.name()).into_pyobject(py)?.into_any(),
            e.key.ip_version.into_pyobject(py)?.into_any(),
            PyBytes::new(py, &e.key.src[..addr_len]).into_any(),
            PyBytes::new(py, &e.key.dst[..addr_len]).into_any(),
            e.key.ip_id.into_pyobject(py)?.into_any(),
            e.key.proto.into_pyobject(py)?.into_any(),
            e.frag_offset.into_pyobject(py)?.into_any(),
            e.byte_count.into_pyobject(py)?.into_any(),
            e.count.into_pyobject(py)?.into_any(),
        ],
    )
}

fn events_list<'py>(py: Python<'py>, events: &[DefragEvent]) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for e in events {
        list.append(event_tuple(py, e)?)?;
    }
    Ok(list)
}

fn packet(py: Python<'_>, frame: &[u8], ts_ns: i64, linktype: u32, interface_id: u32) -> PyResult<Py<Packet>> {
    Py::new(
        py,
        Packet {
            ts_ns,
            data: PyBytes::new(py, frame).unbind(),
            wire_len: frame.len() as u32,
            linktype,
            interface_id,
            flags: 0,
        },
    )
}

#[pymethods]
impl Defragmenter {
    /// `policy`: default overlap policy name; `policy_by_cidr`: list of (cidr, policy name);
    /// `cap_policy`: "evict_oldest" or "drop_new".
    #[new]
    #[pyo3(signature = (
        policy="bsd", policy_by_cidr=None, timeout_ns=30_000_000_000,
        max_fragments_per_datagram=256, max_datagrams=8192, max_bytes=33_554_432,
        max_datagram_len=65_535, cap_policy="evict_oldest", cap_event_interval_ns=1_000_000_000,
        discard_overlaps="never"
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        policy: &str,
        policy_by_cidr: Option<Vec<(String, String)>>,
        timeout_ns: i64,
        max_fragments_per_datagram: u32,
        max_datagrams: u32,
        max_bytes: u64,
        max_datagram_len: u32,
        cap_policy: &str,
        cap_event_interval_ns: i64,
        discard_overlaps: &str,
    ) -> PyResult<Self> {
        let discard_overlaps = match discard_overlaps {
            "never" => OverlapDiscard::Never,
            "ipv6" => OverlapDiscard::Ipv6,
            "always" => OverlapDiscard::Always,
            _ => {
                return Err(PyValueError::new_err(format!(
                    "unknown discard_overlaps {discard_overlaps:?} (expected never, ipv6 or always)"
                )))
            }
        };
        let default: OverlapPolicy =
            policy.parse().map_err(|e| PyValueError::new_err(format!("{e}")))?;
        let mut table = PolicyTable::new(default);
        for (cidr, p) in policy_by_cidr.unwrap_or_default() {
            table.insert_str(&cidr, &p).map_err(|e| PyValueError::new_err(format!("{e}")))?;
        }
        let cap_policy = match cap_policy {
            "evict_oldest" => CapPolicy::EvictOldest,
            "drop_new" => CapPolicy::DropNew,
            _ => {
                return Err(PyValueError::new_err(format!(
                    "unknown cap policy {cap_policy:?} (expected evict_oldest or drop_new)"
                )))
            }
        };
        if timeout_ns <= 0 {
            return Err(PyValueError::new_err("timeout_ns must be positive"));
        }
        let cfg = DefragConfig {
            max_fragments_per_datagram,
            max_datagrams,
            max_bytes,
            max_datagram_len: max_datagram_len.min(65_535),
            timeout_ns,
            cap_policy,
            policies: table,
            cap_event_interval_ns,
            discard_overlaps,
        };
        Ok(Defragmenter { inner: Engine::new(cfg) })
    }

    /// Push every frame of a batch. Returns `(reassembled, events)`: the packets completed by
    /// this batch (each with the completing fragment's ts_ns, linktype and interface), and
    /// the anomaly/expiry events as tuples `(ts_ns, code, cap, ip_version, src, dst, ip_id,
    /// proto, frag_offset, byte_count, count)`. Datagrams past their deadline (by the frames'
    /// timestamps) are expired on the way.
    fn push_batch<'py>(
        &mut self,
        py: Python<'py>,
        batch: &Batch,
    ) -> PyResult<(Bound<'py, PyList>, Bound<'py, PyList>)> {
        let buf = batch.buf.bind(py).as_bytes();
        let out = PyList::empty(py);
        for r in &batch.records {
            let data = batch.record_data(buf, r);
            let summary = decode_record(r.linktype, data, r.wire_len);
            if let Outcome::Completed(done) = self.inner.push(r.ts_ns, r.linktype, data, &summary) {
                out.append(packet(py, &done.frame, r.ts_ns, r.linktype, r.interface_id)?)?;
            }
        }
        let events = self.inner.take_events();
        Ok((out, events_list(py, &events)?))
    }

    /// Push one packet. Returns `(outcome, reassembled_or_None, events)` with outcome 0 = not
    /// a fragment (use the packet as is), 1 = held, 2 = dropped, 3 = completed.
    fn push<'py>(
        &mut self,
        py: Python<'py>,
        pkt: &Packet,
    ) -> PyResult<(u8, Option<Py<Packet>>, Bound<'py, PyList>)> {
        let data = pkt.data.bind(py).as_bytes();
        let summary = decode_record(pkt.linktype, data, pkt.wire_len);
        let (code, done) = match self.inner.push(pkt.ts_ns, pkt.linktype, data, &summary) {
            Outcome::NotFragment => (NOT_FRAGMENT, None),
            Outcome::Held => (HELD, None),
            Outcome::Dropped => (DROPPED, None),
            Outcome::Completed(r) => (
                COMPLETED,
                Some(packet(py, &r.frame, pkt.ts_ns, pkt.linktype, pkt.interface_id)?),
            ),
        };
        let events = self.inner.take_events();
        Ok((code, done, events_list(py, &events)?))
    }

    /// Expire datagrams whose deadline is <= now_ns; returns their event tuples.
    fn advance<'py>(&mut self, py: Python<'py>, now_ns: i64) -> PyResult<Bound<'py, PyList>> {
        let mut events = self.inner.take_events();
        events.extend(self.inner.advance(now_ns));
        events_list(py, &events)
    }

    /// When `advance` next has work (ns), or None.
    fn next_deadline(&self) -> Option<i64> {
        self.inner.next_deadline()
    }

    /// Counters as a dict (see DefragStats); anomalies under "anomaly:<code>".
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.inner.stats();
        let d = PyDict::new(py);
        d.set_item("fragments", s.fragments)?;
        d.set_item("datagrams_completed", s.datagrams_completed)?;
        d.set_item("datagrams_timed_out", s.datagrams_timed_out)?;
        d.set_item("datagrams_evicted", s.datagrams_evicted)?;
        d.set_item("fragments_dropped", s.fragments_dropped)?;
        d.set_item("datagrams_in_progress", s.datagrams_in_progress)?;
        d.set_item("bytes_buffered", s.bytes_buffered)?;
        d.set_item("peak_bytes_buffered", s.peak_bytes_buffered)?;
        for (i, a) in DefragAnomaly::ALL.iter().enumerate() {
            d.set_item(format!("anomaly:{}", a.code()), s.anomalies[i])?;
        }
        Ok(d)
    }
}
