//! Bindings for wirekit-live: the AF_PACKET ring (`LiveRing`) and classic BPF (`BpfProgram`).

use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use wirekit_core::framer::Record;
use wirekit_live::bpf::{Insn, Program};
use wirekit_live::ring::{Ring, RingConfig, RingError, RxRecord};

use crate::capture::Batch;

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<LiveRing>()?;
    m.add_class::<BpfProgram>()?;
    Ok(())
}

fn os_error(e: std::io::Error) -> PyErr {
    match RingError::errno_of(&e) {
        // OSError(errno, msg) picks the subclass (PermissionError for EPERM, ...).
        Some(n) if n != 0 => PyOSError::new_err((n, e.to_string())),
        _ => PyOSError::new_err(e.to_string()),
    }
}

fn to_insns(insns: Vec<(u16, u8, u8, u32)>) -> Vec<Insn> {
    insns.into_iter().map(|(c, jt, jf, k)| Insn::new(c, jt, jf, k)).collect()
}

/// One AF_PACKET TPACKET_V3 ring on one interface (or all: ifindex 0). Yields Batches.
#[pyclass(module = "wirekit._core")]
pub struct LiveRing {
    ring: Option<Ring>,
    buf: Vec<u8>,
    recs: Vec<RxRecord>,
    /// Stop copying blocks into a batch past this many bytes.
    max_batch_bytes: usize,
}

impl LiveRing {
    fn ring(&mut self) -> PyResult<&mut Ring> {
        self.ring.as_mut().ok_or_else(|| PyValueError::new_err("capture is closed"))
    }

    fn take_batch(&mut self, py: Python<'_>) -> PyResult<Batch> {
        let linktype = self.ring()?.config().linktype;
        let buf = PyBytes::new(py, &self.buf).unbind();
        let records = self
            .recs
            .iter()
            .map(|r| Record {
                ts_ns: r.ts_ns,
                wire_len: r.wire_len,
                caplen: r.caplen,
                linktype,
                interface_id: r.ifindex,
                data_start: r.data_start,
                file_offset: 0,
                flags: 0,
            })
            .collect();
        self.buf.clear();
        self.recs.clear();
        Ok(Batch { buf, records })
    }
}

#[pymethods]
impl LiveRing {
    #[new]
    #[pyo3(signature = (ifindex, *, cooked, linktype, snaplen, promisc, buffer_size, block_timeout_ms,
                        fanout=None, filter=None, lo_ifindex=1, max_batch_bytes=4<<20))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        ifindex: i32,
        cooked: bool,
        linktype: u32,
        snaplen: u32,
        promisc: bool,
        buffer_size: usize,
        block_timeout_ms: u32,
        fanout: Option<(u16, u16)>,
        filter: Option<Vec<(u16, u8, u8, u32)>>,
        lo_ifindex: i32,
        max_batch_bytes: usize,
    ) -> PyResult<Self> {
        let filter = filter.map(to_insns);
        if let Some(f) = &filter {
            Program::new(f.clone()).map_err(|e| PyValueError::new_err(e.to_string()))?;
        }
        let cfg = RingConfig {
            ifindex,
            cooked,
            linktype,
            snaplen,
            promisc,
            buffer_size,
            block_timeout_ms,
            fanout,
            filter,
            lo_ifindex,
        };
        let ring = py.allow_threads(|| Ring::open(cfg)).map_err(os_error)?;
        Ok(LiveRing { ring: Some(ring), buf: Vec::new(), recs: Vec::new(), max_batch_bytes })
    }

    fn fileno(&mut self) -> PyResult<i32> {
        Ok(self.ring()?.fd())
    }

    /// Number of blocks in the ring.
    #[getter]
    fn block_count(&mut self) -> PyResult<usize> {
        Ok(self.ring()?.block_count())
    }

    /// Waits up to `timeout_ms` (-1: forever) for packets, with the GIL released, and returns
    /// a Batch of every packet ready (possibly empty on timeout or signal). Python signal
    /// handlers run before it returns (Ctrl-C raises KeyboardInterrupt here).
    #[pyo3(signature = (timeout_ms=-1))]
    fn next_batch(&mut self, py: Python<'_>, timeout_ms: i32) -> PyResult<Batch> {
        let ring = self.ring()?;
        // Wait in slices so that a signal reaches Python promptly even with timeout -1.
        let slice_ms = 200;
        let mut left = timeout_ms;
        loop {
            let t = if left < 0 { slice_ms } else { left.min(slice_ms) };
            let ready = py.allow_threads(|| ring.wait(t)).map_err(os_error)?;
            py.check_signals()?;
            if ready {
                break;
            }
            if left >= 0 {
                left -= t;
                if left <= 0 {
                    break;
                }
            }
        }
        self.read_ready(py)
    }

    /// Returns a Batch of every packet ready now, without waiting (maybe empty).
    fn read_ready(&mut self, py: Python<'_>) -> PyResult<Batch> {
        let max = self.max_batch_bytes;
        let mut buf = std::mem::take(&mut self.buf);
        let mut recs = std::mem::take(&mut self.recs);
        self.ring()?.read_ready(&mut buf, &mut recs, max);
        self.buf = buf;
        self.recs = recs;
        self.take_batch(py)
    }

    /// (received, dropped_by_kernel), cumulative since open.
    fn stats(&mut self) -> PyResult<(u64, u64)> {
        let s = self.ring()?.stats().map_err(os_error)?;
        Ok((s.received, s.dropped))
    }

    /// Replaces (or with None removes) the kernel filter; drops what the ring held.
    #[pyo3(signature = (filter))]
    fn set_filter(&mut self, filter: Option<Vec<(u16, u8, u8, u32)>>) -> PyResult<()> {
        let f = filter.map(to_insns);
        if let Some(f) = &f {
            Program::new(f.clone()).map_err(|e| PyValueError::new_err(e.to_string()))?;
        }
        self.ring()?.set_filter(f.as_deref()).map_err(os_error)
    }

    fn close(&mut self) {
        self.ring = None;
    }

    #[getter]
    fn closed(&self) -> bool {
        self.ring.is_none()
    }
}

/// A validated classic BPF program that runs here (userland) or attaches to a socket.
#[pyclass(module = "wirekit._core", frozen)]
pub struct BpfProgram {
    prog: Program,
}

#[pymethods]
impl BpfProgram {
    /// `insns`: (code, jt, jf, k) tuples as libpcap's compiler produced them.
    #[new]
    fn new(insns: Vec<(u16, u8, u8, u32)>) -> PyResult<Self> {
        let prog = Program::new(to_insns(insns)).map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(BpfProgram { prog })
    }

    /// The instructions as (code, jt, jf, k) tuples.
    #[getter]
    fn instructions(&self) -> Vec<(u16, u8, u8, u32)> {
        self.prog.insns().iter().map(|i| (i.code, i.jt, i.jf, i.k)).collect()
    }

    /// Runs the program over one packet's bytes; returns the snapshot length (0 = reject).
    #[pyo3(signature = (data, wire_len=None))]
    fn run(&self, data: &[u8], wire_len: Option<u32>) -> u32 {
        self.prog.run(data, wire_len.unwrap_or(data.len() as u32))
    }

    /// One byte per record of `batch`: 1 when the program accepts it.
    fn match_batch<'py>(&self, py: Python<'py>, batch: &Batch) -> Bound<'py, PyBytes> {
        let buf = batch.buf.bind(py).as_bytes();
        let mask: Vec<u8> = batch
            .records
            .iter()
            .map(|r| (self.prog.run(batch.record_data(buf, r), r.wire_len) != 0) as u8)
            .collect();
        PyBytes::new(py, &mask)
    }

    /// A new Batch (sharing the buffer) with only the records the program accepts.
    fn filter_batch(&self, py: Python<'_>, batch: &Batch) -> Batch {
        let buf = batch.buf.bind(py).as_bytes();
        let records =
            batch.records.iter().filter(|r| self.prog.run(batch.record_data(buf, r), r.wire_len) != 0).cloned().collect();
        Batch { buf: batch.buf.clone_ref(py), records }
    }

    /// Attaches the program to socket `fd` in the kernel (SO_ATTACH_FILTER).
    fn attach(&self, fd: i32) -> PyResult<()> {
        wirekit_live::ring::attach_filter(fd, self.prog.insns()).map_err(os_error)
    }

    fn __len__(&self) -> usize {
        self.prog.insns().len()
    }
}
