//! Bindings for TCP reassembly (wirekit_reasm::pipeline): one call per batch of frames,
//! returning the batch's events as a list of plain tuples (the Python layer turns them into
//! frozen dataclasses).

use crate::capture::{Batch, Packet};
use crate::file_reader::read_file;
use crate::error_text;
use crate::stream_files::{Frame, IndexLine, StreamFiles};
use pyo3::exceptions::{PyOSError, PyValueError};
use std::path::PathBuf;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};
use wirekit_reasm::pipeline::{Pipeline, PipelineConfig};
use wirekit_reasm::policy::{Cidr, OverlapPolicy, PolicyTable};
use wirekit_reasm::tcp::{CapPolicy, Delivery, EventKind};

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<TcpPipeline>()?;
    Ok(())
}

fn policy(s: &str) -> PyResult<OverlapPolicy> {
    s.parse::<OverlapPolicy>().map_err(|e| PyValueError::new_err(format!("{e:?}")))
}

fn cap_policy(s: &str) -> PyResult<CapPolicy> {
    match s {
        "stop_collecting" => Ok(CapPolicy::StopCollecting),
        "evict_oldest" => Ok(CapPolicy::EvictOldest),
        "drop" => Ok(CapPolicy::Drop),
        _ => Err(PyValueError::new_err(format!(
            "unknown cap policy {s:?} (expected stop_collecting, evict_oldest or drop)"
        ))),
    }
}

fn cidr(s: &str) -> PyResult<Cidr> {
    s.parse::<Cidr>().map_err(|e| PyValueError::new_err(format!("bad CIDR {s:?}: {e:?}")))
}

/// The frame -> events pipeline (decode, TCP reassembly, UDP/IP events). Private: use
/// `wirekit.reasm.Reassembler`.
#[pyclass(module = "wirekit._core", unsendable)]
pub struct TcpPipeline {
    p: Pipeline,
    sink: Option<StreamFiles>,
}

const KIND_CODES: [(EventKind, u8); 10] = [
    (EventKind::Opened, 0),
    (EventKind::Data, 1),
    (EventKind::Gap, 2),
    (EventKind::Closed, 3),
    (EventKind::Reset, 4),
    (EventKind::TimedOut, 5),
    (EventKind::EndOfInput, 6),
    (EventKind::Anomaly, 7),
    (EventKind::Udp, 8),
    (EventKind::Ip, 9),
];

fn kind_code(k: EventKind) -> u8 {
    KIND_CODES.iter().find(|(e, _)| *e == k).map(|(_, c)| *c).unwrap_or(255)
}

impl TcpPipeline {
    /// Hands the pending events to the file sink; the index lines of the connections that
    /// ended, once their files are written.
    fn sink_events(&mut self) -> PyResult<Vec<IndexLine>> {
        let mut out = Vec::new();
        let sink = self.sink.as_mut().ok_or_else(|| PyValueError::new_err("open_file_sink() first"))?;
        let res = sink.handle(self.p.tcp.events(), self.p.tcp.data(), &Frame { bytes: &[], map: None });
        self.p.tcp.clear_events();
        res.and_then(|()| sink.drain(&mut out)).map_err(PyOSError::new_err)?;
        Ok(out)
    }

    fn take_events<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        let data = self.p.tcp.data();
        for e in self.p.tcp.events() {
            let alen = if e.key.ip_version == 6 { 16 } else { 4 };
            let payload: PyObject = match e.kind {
                EventKind::Data | EventKind::Udp | EventKind::Ip => {
                    PyBytes::new(py, &data[e.data_start..e.data_start + e.len as usize]).into_any().unbind()
                }
                _ => py.None(),
            };
            let anomaly: PyObject = if e.anomaly.is_empty() {
                py.None()
            } else {
                e.anomaly.into_pyobject(py)?.into_any().unbind()
            };
            let t = PyTuple::new(
                py,
                [
                    kind_code(e.kind).into_pyobject(py)?.into_any().unbind(),
                    e.conn_id.into_pyobject(py)?.into_any().unbind(),
                    e.dir.into_pyobject(py)?.into_any().unbind(),
                    e.offset.into_pyobject(py)?.into_any().unbind(),
                    e.len.into_pyobject(py)?.into_any().unbind(),
                    payload,
                    e.ts_ns.into_pyobject(py)?.into_any().unbind(),
                    e.flags.into_pyobject(py)?.into_any().unbind(),
                    anomaly,
                    e.key.ip_version.into_pyobject(py)?.into_any().unbind(),
                    PyBytes::new(py, &e.key.client.addr[..alen]).into_any().unbind(),
                    e.key.client.port.into_pyobject(py)?.into_any().unbind(),
                    PyBytes::new(py, &e.key.server.addr[..alen]).into_any().unbind(),
                    e.key.server.port.into_pyobject(py)?.into_any().unbind(),
                ],
            )?;
            out.append(t)?;
        }
        self.p.tcp.clear_events();
        Ok(out)
    }
}

#[pymethods]
impl TcpPipeline {
    #[new]
    #[pyo3(signature = (*, policy="first", policy_table=None, delivery="immediate", midstream=false,
        collect_default=true, defer_collect=false, max_conns=1<<20, max_buffer_per_stream=16<<20,
        max_buffer_total=1<<30, conn_cap_policy="evict_oldest", buffer_cap_policy="evict_oldest",
        idle_timeout_ns=600_000_000_000, handshake_timeout_ns=60_000_000_000, verify_checksums=true,
        checksum_drop=None, emit_udp=false, emit_ip=false, scan_num_hosts=0, scan_num_ports=10,
        scan_delay_ns=3_000_000_000))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        policy: &str,
        policy_table: Option<Vec<(String, String)>>,
        delivery: &str,
        midstream: bool,
        collect_default: bool,
        defer_collect: bool,
        max_conns: usize,
        max_buffer_per_stream: usize,
        max_buffer_total: usize,
        conn_cap_policy: &str,
        buffer_cap_policy: &str,
        idle_timeout_ns: i64,
        handshake_timeout_ns: i64,
        verify_checksums: bool,
        checksum_drop: Option<Vec<String>>,
        emit_udp: bool,
        emit_ip: bool,
        scan_num_hosts: usize,
        scan_num_ports: usize,
        scan_delay_ns: i64,
    ) -> PyResult<Self> {
        let mut cfg = PipelineConfig::default();
        let t = &mut cfg.tcp;
        t.policy = self::policy(policy)?;
        if let Some(entries) = policy_table {
            let mut table = PolicyTable::new(t.policy);
            for (c, p) in entries {
                table.insert(cidr(&c)?, self::policy(&p)?).map_err(|e| PyValueError::new_err(format!("{e:?}")))?;
            }
            t.policy_table = Some(table);
        }
        t.delivery = match delivery {
            "immediate" => Delivery::Immediate,
            "on_ack" => Delivery::OnAck,
            _ => return Err(PyValueError::new_err(format!("unknown delivery {delivery:?} (immediate, on_ack)"))),
        };
        t.midstream = midstream;
        t.collect_default = collect_default;
        t.defer_collect = defer_collect;
        t.max_conns = max_conns.max(1);
        t.max_buffer_per_stream = max_buffer_per_stream;
        t.max_buffer_total = max_buffer_total;
        t.conn_cap_policy = cap_policy(conn_cap_policy)?;
        t.buffer_cap_policy = cap_policy(buffer_cap_policy)?;
        t.idle_timeout_ns = idle_timeout_ns;
        t.handshake_timeout_ns = handshake_timeout_ns;
        cfg.verify_checksums = verify_checksums;
        cfg.checksum_drop = checksum_drop.unwrap_or_default().iter().map(|s| cidr(s)).collect::<PyResult<_>>()?;
        cfg.emit_udp = emit_udp;
        cfg.emit_ip = emit_ip;
        cfg.scan.num_hosts = scan_num_hosts;
        cfg.scan.num_ports = scan_num_ports;
        cfg.scan.delay_ns = scan_delay_ns;
        Ok(TcpPipeline { p: Pipeline::new(cfg), sink: None })
    }

    /// Feeds records `start..` of a capture batch. Returns (events, next_index): with
    /// `defer_collect`, it stops right after a frame that opened a connection, so the caller
    /// can decide `set_collect` before the connection's data flows on.
    #[pyo3(signature = (batch, start=0))]
    fn feed_batch<'py>(&mut self, py: Python<'py>, batch: &Bound<'py, Batch>, start: usize) -> PyResult<(Bound<'py, PyList>, usize)> {
        let b = batch.get();
        let buf = b.buf.bind(py).as_bytes();
        let n = b.records.len();
        let mut i = start;
        while i < n {
            let r = &b.records[i];
            i += 1;
            self.p.push_frame(r.ts_ns, r.linktype, b.record_data(buf, r), r.wire_len);
            if self.p.tcp.needs_decision() {
                break;
            }
        }
        Ok((self.take_events(py)?, i))
    }

    /// Feeds a whole batch collecting data but returning only the number of events (the
    /// engine's own cost, for benchmarks and byte counting).
    fn feed_batch_count(&mut self, py: Python<'_>, batch: &Bound<'_, Batch>) -> usize {
        let b = batch.get();
        let buf = b.buf.bind(py).as_bytes();
        let mut count = 0;
        for r in &b.records {
            self.p.push_frame(r.ts_ns, r.linktype, b.record_data(buf, r), r.wire_len);
            count += self.p.tcp.events().len();
            self.p.tcp.clear_events();
        }
        count
    }

    /// Sends every connection's bytes to files in `dir` (see `feed_batch_files`); a
    /// direction goes to the writer once `flush_bytes` are buffered, or when it ends. Bytes
    /// copied for open connections (all of them when fed from Python batches) are all
    /// written out whenever more than `max_copied_bytes` are held.
    /// The sink writes `dir/streams.jsonl` itself; the feed methods return its lines too
    /// when `echo` (else empty lists).
    #[pyo3(signature = (dir, flush_bytes=1<<18, max_copied_bytes=1<<27, echo=true))]
    fn open_file_sink(&mut self, dir: PathBuf, flush_bytes: usize, max_copied_bytes: usize, echo: bool) -> PyResult<()> {
        let sink = StreamFiles::open(&dir, flush_bytes, max_copied_bytes, echo)
            .map_err(|e| PyOSError::new_err(format!("{}: {}", dir.display(), error_text(&e))))?;
        self.sink = Some(sink);
        Ok(())
    }

    /// The file sink's counters: `copies_cap_hits`, times the cap on copied bytes made the
    /// writers write every open connection's copies out early.
    fn sink_stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let sink = self.sink.as_ref().ok_or_else(|| PyValueError::new_err("open_file_sink() first"))?;
        let d = PyDict::new(py);
        d.set_item("copies_cap_hits", sink.copies_cap_hits())?;
        Ok(d)
    }

    /// Feeds a batch with the file sink on: data goes to the files; returns one index line
    /// per connection that ended (its files are written by then).
    fn feed_batch_files(&mut self, py: Python<'_>, batch: &Bound<'_, Batch>) -> PyResult<Vec<IndexLine>> {
        let b = batch.get();
        let buf = b.buf.bind(py).as_bytes();
        let mut out = Vec::new();
        let sink = self.sink.as_mut().ok_or_else(|| PyValueError::new_err("open_file_sink() first"))?;
        // In-order bytes are taken from the frame while it is at hand (see `StreamFiles`).
        self.p.tcp.cfg.borrow_frames = true;
        let mut res = Ok(());
        for r in &b.records {
            let bytes = b.record_data(buf, r);
            self.p.push_frame(r.ts_ns, r.linktype, bytes, r.wire_len);
            if !self.p.tcp.events().is_empty() {
                res = sink.handle(self.p.tcp.events(), self.p.tcp.data(), &Frame { bytes, map: None });
                self.p.tcp.clear_events();
                if res.is_err() {
                    break;
                }
            }
        }
        self.p.tcp.cfg.borrow_frames = false;
        res.and_then(|()| sink.drain(&mut out)).map_err(PyOSError::new_err)?;
        Ok(out)
    }

    /// `advance` with the file sink on (live capture: idle connections time out even when
    /// no packet comes): the index lines of the connections that ended.
    fn advance_files(&mut self, now_ns: i64) -> PyResult<Vec<IndexLine>> {
        self.p.advance(now_ns);
        self.sink_events()
    }

    /// `finish` with the file sink on: the index lines of the connections still open.
    #[pyo3(signature = (now_ns=None))]
    fn finish_files(&mut self, now_ns: Option<i64>) -> PyResult<Vec<IndexLine>> {
        let now = now_ns.unwrap_or(self.p.last_ts_ns);
        self.p.finish(now);
        self.sink_events()
    }

    /// Reads a whole pcap/pcapng file in Rust (a reused 1 MiB buffer, the sans-IO framer)
    /// and feeds every frame, collecting data but returning only (frames, events): the
    /// engine's own cost without per-batch Python objects, for benchmarks and byte counts.
    fn feed_file_count(&mut self, path: PathBuf) -> PyResult<(u64, u64)> {
        let mut events = 0u64;
        let p = &mut self.p;
        let (frames, error) = read_file(&path, None, |ts, lt, data, wl, _| {
            p.push_frame(ts, lt, data, wl);
            events += p.tcp.events().len() as u64;
            p.tcp.clear_events();
            Ok::<(), String>(())
        })?;
        if let Some(e) = error {
            return Err(PyValueError::new_err(e));
        }
        Ok((frames, events))
    }

    /// `feed_batch_files` over a whole file read in Rust (no Python per batch). `progress`,
    /// when given, is called with (bytes read, frames) about every 16 MiB. Returns (index
    /// lines, frames, error): a damaged or truncated file, or a failed write, stops the
    /// reading with `error` set, after the frames before it were used and their lines kept.
    #[pyo3(signature = (path, progress=None))]
    fn feed_file_files(&mut self, path: PathBuf, progress: Option<PyObject>) -> PyResult<(Vec<IndexLine>, u64, Option<String>)> {
        let mut out = Vec::new();
        let sink = self.sink.as_mut().ok_or_else(|| PyValueError::new_err("open_file_sink() first"))?;
        let p = &mut self.p;
        p.tcp.cfg.borrow_frames = true;
        let read = read_file(&path, progress, |ts, lt, bytes, wl, map| {
            p.push_frame(ts, lt, bytes, wl);
            if !p.tcp.events().is_empty() {
                let res = sink.handle(p.tcp.events(), p.tcp.data(), &Frame { bytes, map });
                p.tcp.clear_events();
                res?;
            }
            Ok(())
        });
        p.tcp.cfg.borrow_frames = false;
        let (frames, mut error) = read?;
        if let Err(e) = sink.drain(&mut out) {
            error.get_or_insert(e);
        }
        Ok((out, frames, error))
    }

    /// Feeds Packet objects `start..` (any packet source). Same return as `feed_batch`.
    #[pyo3(signature = (packets, start=0))]
    fn feed_packets<'py>(&mut self, py: Python<'py>, packets: &Bound<'py, PyAny>, start: usize) -> PyResult<(Bound<'py, PyList>, usize)> {
        let seq = packets.downcast::<PyList>()?;
        let n = seq.len();
        let mut i = start;
        while i < n {
            let item = seq.get_item(i)?;
            i += 1;
            let p = item.downcast::<Packet>()?.get();
            let data = p.data.bind(py).as_bytes();
            self.p.push_frame(p.ts_ns, p.linktype, data, p.wire_len);
            if self.p.tcp.needs_decision() {
                break;
            }
        }
        Ok((self.take_events(py)?, i))
    }

    /// Feeds one frame.
    #[pyo3(signature = (data, ts_ns, linktype=1, wire_len=None))]
    fn feed_frame<'py>(&mut self, py: Python<'py>, data: &[u8], ts_ns: i64, linktype: u32, wire_len: Option<u32>) -> PyResult<Bound<'py, PyList>> {
        self.p.push_frame(ts_ns, linktype, data, wire_len.unwrap_or(data.len() as u32));
        self.take_events(py)
    }

    fn set_collect<'py>(&mut self, py: Python<'py>, conn_id: u64, to_server: bool, to_client: bool, now_ns: i64) -> PyResult<Bound<'py, PyList>> {
        self.p.tcp.set_collect(conn_id, to_server, to_client, now_ns);
        self.take_events(py)
    }

    fn needs_decision(&self) -> bool {
        self.p.tcp.needs_decision()
    }

    fn advance<'py>(&mut self, py: Python<'py>, now_ns: i64) -> PyResult<Bound<'py, PyList>> {
        self.p.advance(now_ns);
        self.take_events(py)
    }

    fn next_deadline(&self) -> Option<i64> {
        self.p.next_deadline()
    }

    /// Largest frame time fed so far (ns; 0 before any frame): the default `finish` time.
    #[getter]
    fn last_ts_ns(&self) -> i64 {
        self.p.last_ts_ns
    }

    fn finish<'py>(&mut self, py: Python<'py>, now_ns: i64) -> PyResult<Bound<'py, PyList>> {
        self.p.finish(now_ns);
        self.take_events(py)
    }

    /// ((delivered, gap) to server, (delivered, gap) to client) of an open connection.
    fn counts(&self, conn_id: u64) -> Option<((u64, u64), (u64, u64))> {
        self.p.tcp.counts(conn_id).map(|[a, b]| (a, b))
    }

    /// (client next seq, server next seq) of an open connection (for `kill`).
    fn next_seqs(&self, conn_id: u64) -> Option<(u32, u32)> {
        self.p.tcp.kill_seqs(conn_id).map(|(_, a, b)| (a, b))
    }

    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        let s = &self.p.tcp.stats;
        d.set_item("frames", self.p.frames)?;
        d.set_item("non_ip", self.p.non_ip)?;
        d.set_item("checksum_dropped", self.p.checksum_dropped)?;
        d.set_item("segments", s.segments)?;
        d.set_item("conns_created", s.conns_created)?;
        d.set_item("conns_in_table", self.p.tcp.conn_count())?;
        d.set_item("bytes_delivered", s.bytes_delivered)?;
        d.set_item("gap_bytes", s.gap_bytes)?;
        d.set_item("anomalies", s.anomalies)?;
        d.set_item("ignored_no_conn", s.ignored_no_conn)?;
        d.set_item("retransmitted", s.retransmitted)?;
        d.set_item("buffered_bytes", self.p.tcp.buffered_bytes())?;
        Ok(d)
    }
}
