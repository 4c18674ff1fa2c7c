//! Capture-file framing and the packet/batch objects every source yields.

use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::{PyBytes, PyDict, PyList};
use wirekit_core::framer::{self, ErrorKind, Format, Record};

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Framer>()?;
    m.add_class::<Batch>()?;
    m.add_class::<Packet>()?;
    Ok(())
}

/// One captured packet: timestamp, bytes, wire length, link type, interface.
///
/// Decoding is lazy: `decode()` builds the layer objects on demand (in Python, from
/// `wirekit.wire.decode`), nothing is parsed before that.
#[pyclass(module = "wirekit", frozen, weakref)]
pub struct Packet {
    /// Capture time, integer nanoseconds since the Unix epoch.
    #[pyo3(get)]
    pub ts_ns: i64,
    /// The captured bytes (`caplen` of them), starting at the link-layer header.
    #[pyo3(get)]
    pub data: Py<PyBytes>,
    /// Length of the packet on the wire, in bytes (>= caplen).
    #[pyo3(get)]
    pub wire_len: u32,
    /// LINKTYPE_* value of `data`'s first header.
    #[pyo3(get)]
    pub linktype: u32,
    /// Interface index: pcapng interface number, live capture ifindex, 0 for classic pcap.
    #[pyo3(get)]
    pub interface_id: u32,
    /// Record flags from the framer (see wirekit.capture.RecordFlags).
    #[pyo3(get)]
    pub flags: u32,
}

static DECODE: GILOnceCell<PyObject> = GILOnceCell::new();

#[pymethods]
impl Packet {
    #[new]
    #[pyo3(signature = (data, ts_ns=0, linktype=1, wire_len=None, interface_id=0, flags=0))]
    fn new(
        data: Py<PyBytes>,
        ts_ns: i64,
        linktype: u32,
        wire_len: Option<u32>,
        interface_id: u32,
        flags: u32,
        py: Python<'_>,
    ) -> Self {
        let caplen = data.bind(py).as_bytes().len() as u32;
        Packet { ts_ns, data, wire_len: wire_len.unwrap_or(caplen), linktype, interface_id, flags }
    }

    /// Number of captured bytes (len(data)).
    #[getter]
    fn caplen(&self, py: Python<'_>) -> usize {
        self.data.bind(py).as_bytes().len()
    }

    /// Decodes the packet into layer objects (lazy, per layer).
    fn decode(slf: &Bound<'_, Self>) -> PyResult<PyObject> {
        let py = slf.py();
        let f = DECODE.get_or_try_init(py, || -> PyResult<PyObject> {
            Ok(py.import("wirekit.wire.decode")?.getattr("decode_packet")?.unbind())
        })?;
        f.call1(py, (slf,))
    }

    fn __len__(&self, py: Python<'_>) -> usize {
        self.caplen(py)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "<Packet ts_ns={} caplen={} wire_len={} linktype={} interface_id={}>",
            self.ts_ns,
            self.caplen(py),
            self.wire_len,
            self.linktype,
            self.interface_id
        )
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>, py: Python<'_>) -> bool {
        let Ok(o) = other.downcast::<Packet>() else { return false };
        let o = o.get();
        self.ts_ns == o.ts_ns
            && self.wire_len == o.wire_len
            && self.linktype == o.linktype
            && self.interface_id == o.interface_id
            && self.data.bind(py).as_bytes() == o.data.bind(py).as_bytes()
    }
}

/// A batch of framed records sharing one buffer. Packet bytes are copied out only when asked.
#[pyclass(module = "wirekit._core", frozen)]
pub struct Batch {
    pub buf: Py<PyBytes>,
    pub records: Vec<Record>,
}

impl Batch {
    #[inline]
    pub fn record_data<'a>(&self, buf: &'a [u8], r: &Record) -> &'a [u8] {
        &buf[r.data_start..r.data_start + r.caplen as usize]
    }
}

#[pymethods]
impl Batch {
    fn __len__(&self) -> usize {
        self.records.len()
    }

    /// The batch as a list of Packet objects.
    fn packets<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let buf = self.buf.bind(py).as_bytes();
        let list = PyList::empty(py);
        for r in &self.records {
            let p = Packet {
                ts_ns: r.ts_ns,
                data: PyBytes::new(py, self.record_data(buf, r)).unbind(),
                wire_len: r.wire_len,
                linktype: r.linktype,
                interface_id: r.interface_id,
                flags: r.flags,
            };
            list.append(Bound::new(py, p)?)?;
        }
        Ok(list)
    }

    /// Timestamps (ns) of every record, in order.
    fn ts_ns(&self) -> Vec<i64> {
        self.records.iter().map(|r| r.ts_ns).collect()
    }

    /// Wire lengths of every record.
    fn wire_lens(&self) -> Vec<u32> {
        self.records.iter().map(|r| r.wire_len).collect()
    }

    /// Link types of every record.
    fn linktypes(&self) -> Vec<u32> {
        self.records.iter().map(|r| r.linktype).collect()
    }

    /// Absolute file offsets of every record header.
    fn file_offsets(&self) -> Vec<u64> {
        self.records.iter().map(|r| r.file_offset).collect()
    }

    /// The bytes of record `i`.
    fn data<'py>(&self, py: Python<'py>, i: usize) -> PyResult<Bound<'py, PyBytes>> {
        let r = self
            .records
            .get(i)
            .ok_or_else(|| pyo3::exceptions::PyIndexError::new_err("batch index out of range"))?;
        Ok(PyBytes::new(py, self.record_data(self.buf.bind(py).as_bytes(), r)))
    }
}

/// CPython's PyBUF_WRITE (memoryobject.h), which pyo3's limited-API ffi does not export.
const PYBUF_WRITE: std::os::raw::c_int = 0x200;

/// Sans-IO pcap/pcapng framer: feed it buffers, get batches of records.
#[pyclass(module = "wirekit._core")]
pub struct Framer {
    inner: framer::Framer,
    /// `read_frame`: bytes read but not framed yet (a record cut by the chunk's end).
    pending: Vec<u8>,
}

fn error_tuple(py: Python<'_>, e: &framer::FrameError) -> PyResult<PyObject> {
    let kind = match e.kind {
        ErrorKind::BadMagic => "bad_magic",
        ErrorKind::Corrupt => "corrupt",
        ErrorKind::Truncated => "truncated",
    };
    Ok((kind, e.offset, e.record, e.message.clone()).into_pyobject(py)?.into_any().unbind())
}

#[pymethods]
impl Framer {
    #[new]
    fn new() -> Self {
        Framer { inner: framer::Framer::new(), pending: Vec::new() }
    }

    /// Frames up to `max_records` records from `buf`. Returns (consumed, batch, error) where
    /// error is None or (kind, offset, record, message); the batch holds every good record
    /// before the error.
    #[pyo3(signature = (buf, max_records=usize::MAX))]
    fn frame(&mut self, py: Python<'_>, buf: Py<PyBytes>, max_records: usize) -> PyResult<(usize, Batch, PyObject)> {
        let mut records = Vec::new();
        let framed = {
            let b = buf.bind(py).as_bytes();
            self.inner.frame(b, &mut records, max_records)
        };
        let err = match &framed.error {
            Some(e) => error_tuple(py, e)?,
            None => py.None(),
        };
        Ok((framed.consumed, Batch { buf, records }, err))
    }

    /// Reads up to `chunk_size` bytes from `file` (anything with `readinto`) straight into
    /// a new batch buffer that starts with the bytes left unframed by the previous call, and
    /// frames it: the file's bytes are copied once, by the read itself. Returns (batch, bytes
    /// read, error) as `frame` does; 0 bytes read is the end of input (then
    /// `finish_pending()`).
    #[pyo3(signature = (file, chunk_size, max_records=usize::MAX))]
    fn read_frame(&mut self, py: Python<'_>, file: &Bound<'_, PyAny>, chunk_size: usize, max_records: usize) -> PyResult<(Batch, usize, PyObject)> {
        use pyo3::ffi;
        let lead = self.pending.len();
        let total = lead + chunk_size.max(1);
        // SAFETY: a new bytes object with `total` uninitialised bytes, nobody else holds
        // it; every byte the batch will use is written below before the batch exists.
        let buf: Bound<'_, PyBytes> = unsafe {
            let raw = ffi::PyBytes_FromStringAndSize(std::ptr::null(), total as ffi::Py_ssize_t);
            Bound::from_owned_ptr_or_err(py, raw)?.downcast_into_unchecked()
        };
        // SAFETY: the object's own storage, `total` bytes long.
        let base = unsafe { ffi::PyBytes_AsString(buf.as_ptr()) as *mut u8 };
        unsafe { std::ptr::copy_nonoverlapping(self.pending.as_ptr(), base, lead) };
        // One readinto call, as one read() was: a pipe or FIFO gives what it has now (a
        // live `tcpdump -w - |` must not wait for a whole chunk); a regular file fills it.
        // The writable view is released right after the call, so it cannot outlive the
        // filling of this still-private object.
        // SAFETY: the range lies inside the object's storage.
        let view = unsafe {
            let raw = ffi::PyMemoryView_FromMemory(
                base.add(lead) as *mut std::os::raw::c_char,
                (total - lead) as ffi::Py_ssize_t,
                PYBUF_WRITE,
            );
            Bound::from_owned_ptr_or_err(py, raw)?
        };
        let n = file.call_method1("readinto", (&view,));
        view.call_method0("release")?;
        // None: nothing now on a non-blocking file; like 0, no bytes this time.
        let got = n?.extract::<Option<usize>>()?.unwrap_or(0).min(total - lead);
        let valid = lead + got;
        // A short read (a pipe gives 64 KiB at a time) would leave most of the buffer
        // unused for as long as the batch lives: keep an exact copy instead.
        let buf = if valid < total / 2 { PyBytes::new(py, &buf.as_bytes()[..valid]) } else { buf };
        let mut records = Vec::new();
        let framed = {
            let b = &buf.as_bytes()[..valid];
            let framed = self.inner.frame(b, &mut records, max_records);
            self.pending.clear();
            self.pending.extend_from_slice(&b[framed.consumed.min(valid)..]);
            framed
        };
        let err = match &framed.error {
            Some(e) => error_tuple(py, e)?,
            None => py.None(),
        };
        Ok((Batch { buf: buf.unbind(), records }, got, err))
    }

    /// `finish` for `read_frame`: the end of input, with the bytes it left unframed.
    fn finish_pending(&mut self, py: Python<'_>) -> PyResult<PyObject> {
        let pending = std::mem::take(&mut self.pending);
        self.finish(py, &pending)
    }

    /// End of input: None when the file ended cleanly, else the error tuple.
    fn finish(&self, py: Python<'_>, leftover: &[u8]) -> PyResult<PyObject> {
        match self.inner.finish(leftover) {
            Ok(()) => Ok(py.None()),
            Err(e) => error_tuple(py, &e),
        }
    }

    /// Absolute offset of the next unconsumed byte.
    #[getter]
    fn offset(&self) -> u64 {
        self.inner.offset()
    }

    /// Packet records framed so far.
    #[getter]
    fn records(&self) -> u64 {
        self.inner.records()
    }

    /// What the file said about itself so far: format, pcap header, pcapng interfaces.
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item(
            "format",
            match self.inner.format() {
                Some(Format::Pcap) => Some("pcap"),
                Some(Format::Pcapng) => Some("pcapng"),
                None => None,
            },
        )?;
        if let Some(h) = self.inner.pcap_header() {
            let hd = PyDict::new(py);
            hd.set_item("big_endian", h.big_endian)?;
            hd.set_item("nanosecond", h.nanosecond)?;
            hd.set_item("version_major", h.version_major)?;
            hd.set_item("version_minor", h.version_minor)?;
            hd.set_item("thiszone", h.thiszone)?;
            hd.set_item("sigfigs", h.sigfigs)?;
            hd.set_item("snaplen", h.snaplen)?;
            hd.set_item("linktype_field", h.linktype_field)?;
            d.set_item("pcap_header", hd)?;
        }
        let ifs = PyList::empty(py);
        for i in self.inner.interfaces() {
            let id = PyDict::new(py);
            id.set_item("linktype", i.linktype)?;
            id.set_item("snaplen", i.snaplen)?;
            id.set_item("tsresol", i.tsresol)?;
            id.set_item("tsoffset_s", i.tsoffset_s)?;
            id.set_item("name", i.name.clone())?;
            id.set_item("section", i.section)?;
            ifs.append(id)?;
        }
        d.set_item("interfaces", ifs)?;
        d.set_item("sections", self.inner.sections())?;
        Ok(d)
    }
}
