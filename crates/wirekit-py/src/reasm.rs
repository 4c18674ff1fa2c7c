//! Bindings for TCP reassembly (wirekit_reasm::pipeline): one call per batch of frames,
//! returning the batch's events as a list of plain tuples (the Python layer turns them into
//! frozen dataclasses).

use crate::capture::{Batch, Packet};
use pyo3::exceptions::{PyOSError, PyValueError};
use std::collections::HashMap;
use std::io::Write;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};
use wirekit_reasm::pipeline::{Pipeline, PipelineConfig};
use wirekit_reasm::policy::{Cidr, OverlapPolicy, PolicyTable};
use wirekit_reasm::tcp::engine::FxBuild;
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
    sink: Option<FileSink>,
}

/// Writes each connection's two directions to files (the `wirekit streams` edge): data
/// events never cross into Python, only one record per finished connection does.
struct FileSink {
    dir: PathBuf,
    flush_bytes: usize,
    conns: HashMap<u64, SinkConn, FxBuild>,
}

struct SinkConn {
    base: String,
    key: (String, u16, String, u16),
    bufs: [Vec<u8>; 2],
    sizes: [u64; 2],
    gaps: [u64; 2],
    started: [bool; 2],
    first_ts: i64,
}

/// One finished connection: the `streams.jsonl` fields in order.
/// One finished connection: its `streams.jsonl` line (a JSON object, no newline). The
/// strings in it (addresses in text form, file names made of them) need no JSON escaping.
type SinkRecord = String;

const SUFFIX: [&str; 2] = [".c2s", ".s2c"];

/// A read-only private mapping of a whole regular file (unmapped on drop).
struct Mapped {
    ptr: *mut libc::c_void,
    len: usize,
}

impl Mapped {
    fn new(f: &std::fs::File) -> Option<Mapped> {
        use std::os::unix::io::AsRawFd;
        let meta = f.metadata().ok()?;
        let len = meta.len() as usize;
        if !meta.is_file() || len == 0 {
            return None;
        }
        // SAFETY: a fresh PROT_READ/MAP_PRIVATE mapping of `len` bytes of an open file; the
        // slice handed out below never outlives `self`.
        let ptr = unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_PRIVATE, f.as_raw_fd(), 0) };
        if ptr == libc::MAP_FAILED {
            return None;
        }
        unsafe { libc::madvise(ptr, len, libc::MADV_SEQUENTIAL) };
        Some(Mapped { ptr, len })
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: ptr/len describe the live mapping created in `new`.
        unsafe { std::slice::from_raw_parts(self.ptr as *const u8, self.len) }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        unsafe { libc::munmap(self.ptr, self.len) };
    }
}

/// Reads a capture file through the framer, calling `each(ts_ns, linktype, data, wire_len)`
/// per record: a regular file is mapped (the page cache is read in place, no copy), anything
/// else is read through one reused buffer. Returns (records, error): a damaged or truncated
/// file stops the reading with the error, after the records before the damage were used.
fn read_file(
    path: &std::path::Path,
    progress: Option<PyObject>,
    mut each: impl FnMut(i64, u32, &[u8], u32) -> std::io::Result<()>,
) -> PyResult<(u64, Option<String>)> {
    use std::io::Read;
    use wirekit_core::framer::Framer;
    let err = |e: std::io::Error| PyOSError::new_err(format!("{}: {e}", path.display()));
    let mut f = std::fs::File::open(path).map_err(err)?;
    let mut framer = Framer::new();
    let mut records = Vec::with_capacity(8192);
    let mut frames = 0u64;
    let mut next_report = 16u64 << 20;
    let report = |done: u64, frames: u64, next_report: &mut u64| -> PyResult<()> {
        if let Some(cb) = &progress {
            if done >= *next_report {
                *next_report = done + (16 << 20);
                Python::with_gil(|py| cb.call1(py, (done, frames)))?;
            }
        }
        Ok(())
    };
    if let Some(map) = Mapped::new(&f) {
        let data = map.bytes();
        let mut pos = 0usize;
        loop {
            records.clear();
            let framed = framer.frame(&data[pos..], &mut records, 8192);
            for r in &records {
                let at = pos + r.data_start;
                each(r.ts_ns, r.linktype, &data[at..at + r.caplen as usize], r.wire_len).map_err(err)?;
            }
            frames += records.len() as u64;
            pos += framed.consumed;
            if let Some(e) = framed.error {
                return Ok((frames, Some(format!("{}: {e}", path.display()))));
            }
            report(pos as u64, frames, &mut next_report)?;
            if records.is_empty() && framed.consumed == 0 {
                if let Err(e) = framer.finish(&data[pos..]) {
                    return Ok((frames, Some(format!("{}: {e}", path.display()))));
                }
                return Ok((frames, None));
            }
        }
    }
    let mut buf: Vec<u8> = vec![0; 1 << 20];
    let (mut have, mut read_total) = (0usize, 0u64);
    loop {
        if have == buf.len() {
            let n = buf.len();
            buf.resize(n * 2, 0); // a record larger than the buffer
        }
        let n = f.read(&mut buf[have..]).map_err(err)?;
        have += n;
        read_total += n as u64;
        records.clear();
        let framed = framer.frame(&buf[..have], &mut records, usize::MAX);
        for r in &records {
            each(r.ts_ns, r.linktype, &buf[r.data_start..r.data_start + r.caplen as usize], r.wire_len).map_err(err)?;
        }
        frames += records.len() as u64;
        if let Some(e) = framed.error {
            return Ok((frames, Some(format!("{}: {e}", path.display()))));
        }
        buf.copy_within(framed.consumed..have, 0);
        have -= framed.consumed;
        report(read_total, frames, &mut next_report)?;
        if n == 0 {
            if let Err(e) = framer.finish(&buf[..have]) {
                return Ok((frames, Some(format!("{}: {e}", path.display()))));
            }
            break;
        }
    }
    Ok((frames, None))
}

fn addr_text(v: u8, a: &[u8; 16]) -> String {
    if v == 6 {
        Ipv6Addr::from(*a).to_string()
    } else {
        Ipv4Addr::new(a[0], a[1], a[2], a[3]).to_string()
    }
}

fn flush_to(dir: &std::path::Path, c: &mut SinkConn, d: usize) -> std::io::Result<()> {
    let path = dir.join(format!("{}{}", c.base, SUFFIX[d]));
    let mut f = if c.started[d] {
        std::fs::OpenOptions::new().append(true).open(&path)?
    } else {
        std::fs::File::create(&path)?
    };
    f.write_all(&c.bufs[d])?;
    c.started[d] = true;
    c.bufs[d].clear();
    Ok(())
}

impl FileSink {
    fn handle(&mut self, events: &[wirekit_reasm::tcp::Event], data: &[u8], out: &mut Vec<SinkRecord>) -> std::io::Result<()> {
        for e in events {
            match e.kind {
                EventKind::Data => {
                    if let Some(c) = self.conns.get_mut(&e.conn_id) {
                        let d = e.dir as usize;
                        c.bufs[d].extend_from_slice(&data[e.data_start..e.data_start + e.len as usize]);
                        c.sizes[d] += e.len;
                        if c.bufs[d].len() >= self.flush_bytes {
                            flush_to(&self.dir, c, d)?;
                        }
                    }
                }
                EventKind::Opened => {
                    let k = &e.key;
                    let key = (addr_text(k.ip_version, &k.client.addr), k.client.port, addr_text(k.ip_version, &k.server.addr), k.server.port);
                    let base = format!("{:06}_{}.{}-{}.{}", e.conn_id, key.0, key.1, key.2, key.3);
                    self.conns.insert(
                        e.conn_id,
                        SinkConn { base, key, bufs: [Vec::with_capacity(8192), Vec::with_capacity(8192)], sizes: [0; 2], gaps: [0; 2], started: [false; 2], first_ts: e.offset as i64 },
                    );
                }
                EventKind::Gap => {
                    if let Some(c) = self.conns.get_mut(&e.conn_id) {
                        c.gaps[e.dir as usize] += e.len;
                    }
                }
                EventKind::Closed | EventKind::Reset | EventKind::TimedOut | EventKind::EndOfInput => {
                    if let Some(mut c) = self.conns.remove(&e.conn_id) {
                        flush_to(&self.dir, &mut c, 0)?;
                        flush_to(&self.dir, &mut c, 1)?;
                        let state = match e.kind {
                            EventKind::Closed => "closed",
                            EventKind::Reset => "reset",
                            EventKind::TimedOut => "timed_out",
                            _ => "open",
                        };
                        out.push(format!(
                            concat!(
                                "{{\"client\":\"{}\",\"client_port\":{},\"server\":\"{}\",\"server_port\":{},",
                                "\"client_file\":\"{}{}\",\"server_file\":\"{}{}\",\"client_bytes\":{},\"server_bytes\":{},",
                                "\"state\":\"{}\",\"client_gap_bytes\":{},\"server_gap_bytes\":{},",
                                "\"first_ts_ns\":{},\"last_ts_ns\":{}}}"
                            ),
                            c.key.0, c.key.1, c.key.2, c.key.3,
                            c.base, SUFFIX[0], c.base, SUFFIX[1],
                            c.sizes[0], c.sizes[1], state, c.gaps[0], c.gaps[1], c.first_ts, e.offset as i64,
                        ));
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
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

    /// Sends every connection's bytes to files in `dir` (see `feed_batch_files`).
    #[pyo3(signature = (dir, flush_bytes=1<<18))]
    fn open_file_sink(&mut self, dir: PathBuf, flush_bytes: usize) {
        self.sink = Some(FileSink { dir, flush_bytes, conns: HashMap::default() });
    }

    /// Feeds a batch with the file sink on: data goes to the files; returns one record per
    /// connection that ended (the streams.jsonl fields, in order).
    fn feed_batch_files(&mut self, py: Python<'_>, batch: &Bound<'_, Batch>) -> PyResult<Vec<SinkRecord>> {
        let b = batch.get();
        let buf = b.buf.bind(py).as_bytes();
        let mut out = Vec::new();
        let sink = self.sink.as_mut().ok_or_else(|| PyValueError::new_err("open_file_sink() first"))?;
        for r in &b.records {
            self.p.push_frame(r.ts_ns, r.linktype, b.record_data(buf, r), r.wire_len);
            if !self.p.tcp.events().is_empty() {
                let res = sink.handle(self.p.tcp.events(), self.p.tcp.data(), &mut out);
                self.p.tcp.clear_events();
                res.map_err(|e| PyOSError::new_err(e.to_string()))?;
            }
        }
        Ok(out)
    }

    /// `advance` with the file sink on (live capture: idle connections time out even when
    /// no packet comes): the records of the connections that ended.
    fn advance_files(&mut self, now_ns: i64) -> PyResult<Vec<SinkRecord>> {
        self.p.advance(now_ns);
        let mut out = Vec::new();
        let sink = self.sink.as_mut().ok_or_else(|| PyValueError::new_err("open_file_sink() first"))?;
        let res = sink.handle(self.p.tcp.events(), self.p.tcp.data(), &mut out);
        self.p.tcp.clear_events();
        res.map_err(|e| PyOSError::new_err(e.to_string()))?;
        Ok(out)
    }

    /// `finish` with the file sink on: the records of the connections still open.
    #[pyo3(signature = (now_ns=None))]
    fn finish_files(&mut self, now_ns: Option<i64>) -> PyResult<Vec<SinkRecord>> {
        let now = now_ns.unwrap_or(self.p.last_ts_ns);
        self.p.finish(now);
        let mut out = Vec::new();
        let sink = self.sink.as_mut().ok_or_else(|| PyValueError::new_err("open_file_sink() first"))?;
        let res = sink.handle(self.p.tcp.events(), self.p.tcp.data(), &mut out);
        self.p.tcp.clear_events();
        res.map_err(|e| PyOSError::new_err(e.to_string()))?;
        Ok(out)
    }

    /// Reads a whole pcap/pcapng file in Rust (a reused 1 MiB buffer, the sans-IO framer)
    /// and feeds every frame, collecting data but returning only (frames, events): the
    /// engine's own cost without per-batch Python objects, for benchmarks and byte counts.
    fn feed_file_count(&mut self, path: PathBuf) -> PyResult<(u64, u64)> {
        let mut events = 0u64;
        let p = &mut self.p;
        let (frames, error) = read_file(&path, None, |ts, lt, data, wl| {
            p.push_frame(ts, lt, data, wl);
            events += p.tcp.events().len() as u64;
            p.tcp.clear_events();
            Ok(())
        })?;
        if let Some(e) = error {
            return Err(PyValueError::new_err(e));
        }
        Ok((frames, events))
    }

    /// `feed_batch_files` over a whole file read in Rust (no Python per batch). `progress`,
    /// when given, is called with (bytes read, frames) about every 16 MiB. Returns (records,
    /// frames, error): a damaged or truncated file stops the reading with `error` set, after
    /// the frames before the damage were used.
    #[pyo3(signature = (path, progress=None))]
    fn feed_file_files(&mut self, path: PathBuf, progress: Option<PyObject>) -> PyResult<(Vec<SinkRecord>, u64, Option<String>)> {
        let mut out = Vec::new();
        let sink = self.sink.as_mut().ok_or_else(|| PyValueError::new_err("open_file_sink() first"))?;
        let p = &mut self.p;
        let (frames, error) = read_file(&path, progress, |ts, lt, data, wl| {
            p.push_frame(ts, lt, data, wl);
            if !p.tcp.events().is_empty() {
                let res = sink.handle(p.tcp.events(), p.tcp.data(), &mut out);
                p.tcp.clear_events();
                res?;
            }
            Ok(())
        })?;
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
