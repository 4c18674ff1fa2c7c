//! The `wirekit streams` edge: each TCP connection's two directions go to files, and one
//! JSON index line per finished connection comes back. Data events never cross into Python.
//!
//! The engine's thread only sorts events into parcels, one per writer thread ("lane"); each
//! lane owns its connections (by connection id), keeps their pending bytes and writes their
//! files. Writing ~10^5 small files costs about as much kernel time as reassembling them
//! costs user time, and following ~10^5 connections' buffers costs cache misses, so on two
//! cores both move off the engine's thread and the work overlaps instead of adding up.
//!
//! In-order bytes of a mapped capture file are not copied at all: the engine delivers them
//! in place (`borrow_frames`), a lane keeps where they are in the mapping, and writev(2)
//! copies them once, from the page cache into the file.
//!
//! Parcels in flight are bounded (`IN_FLIGHT_CAP` bytes); `drain()` waits for every lane,
//! so a caller that gets an index line back can read that connection's files.

use crate::error_text;
use crate::file_reader::Mapped;
use std::collections::HashMap;
use std::ffi::CString;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use wirekit_reasm::tcp::engine::FxBuild;
use wirekit_reasm::tcp::{ConnKey, Event, EventKind};

/// One finished connection: its `streams.jsonl` line (a JSON object, no newline). The
/// strings in it (addresses in text form, file names made of them) need no JSON escaping.
pub type IndexLine = String;

const SUFFIX: [&str; 2] = [".c2s", ".s2c"];

/// Parcel bytes handed to the lanes and not yet taken in: the engine waits beyond this.
const IN_FLIGHT_CAP: usize = 32 << 20;
/// A parcel goes to its lane at this many operations or copied bytes (one wake-up each).
const PARCEL_OPS: usize = 4096;
const PARCEL_BYTES: usize = 1 << 20;
/// Writer threads. Two: the kernel copies into two files at once while the engine runs.
const LANES: usize = 2;

/// The frame whose events are being handled: its bytes, and the mapping they lie in when
/// they come from a mapped capture file.
pub struct Frame<'a> {
    pub bytes: &'a [u8],
    pub map: Option<&'a Arc<Mapped>>,
}

pub struct StreamFiles {
    lanes: Vec<LaneHandle>,
    shared: Arc<Shared>,
    dir_text: String,
    /// Connections ended so far: orders the index lines coming back from different lanes.
    ended: u64,
    index: Index,
    /// Lines written since the last drain, for `echo`.
    echoed: Vec<IndexLine>,
}

/// DIR/streams.jsonl, written by the engine's thread as lines come back from the lanes,
/// in the order the connections ended.
struct Index {
    file: std::io::BufWriter<std::fs::File>,
    /// Lines that came back ahead of an earlier one: (order -> line).
    early: std::collections::BTreeMap<u64, IndexLine>,
    next: u64,
    /// Also hand the lines to the caller (`wirekit streams --json`).
    echo: bool,
}

impl Index {
    /// Takes lines in any order; writes (and echoes into `out`) those now in sequence, or
    /// every one when `all` (after a failure some never come).
    fn put(&mut self, lines: Vec<(u64, IndexLine)>, all: bool, out: &mut Vec<IndexLine>) -> std::io::Result<()> {
        use std::io::Write;
        for (order, line) in lines {
            self.early.insert(order, line);
        }
        while let Some(entry) = self.early.first_entry() {
            if !all && *entry.key() != self.next {
                break;
            }
            self.next = *entry.key() + 1;
            let line = entry.remove();
            self.file.write_all(line.as_bytes())?;
            self.file.write_all(b"\n")?;
            if self.echo {
                out.push(line);
            }
        }
        Ok(())
    }
}

impl StreamFiles {
    /// `flush_bytes`: a direction's pending bytes are written once this many are held
    /// (and when its connection ends). `max_copied`: copied bytes held for open connections,
    /// over all lanes, before they are all written out (bytes of a mapped capture are not
    /// copies). `echo`: `drain` also hands over the index lines it wrote.
    pub fn open(dir: &Path, flush_bytes: usize, max_copied: usize, echo: bool) -> std::io::Result<StreamFiles> {
        let dir_c = CString::new(dir.as_os_str().as_encoded_bytes())
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
        // SAFETY: a plain open(2) of a NUL-terminated path; the fd is owned below.
        let fd = unsafe { libc::open(dir_c.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: fd was just opened and is owned by nobody else.
        let dir_fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let shared = Arc::new(Shared { state: Mutex::new(Flight::default()), changed: Condvar::new() });
        let dir_text = dir.display().to_string();
        let flush_bytes = flush_bytes.max(1);
        let mut lanes = Vec::new();
        for i in 0..LANES {
            let (tx, rx) = mpsc::channel::<Parcel>();
            let (back_tx, returned) = mpsc::channel::<Parcel>();
            let lane = Lane {
                dir: dir_fd.try_clone()?,
                dir_text: dir_text.clone(),
                flush_bytes,
                copied: 0,
                max_copied: (max_copied / LANES).max(1),
                cap_hits: 0,
                conns: HashMap::default(),
            };
            let sh = shared.clone();
            let thread =
                std::thread::Builder::new().name(format!("wirekit-writer{i}")).spawn(move || lane.run(rx, back_tx, sh))?;
            lanes.push(LaneHandle { tx: Some(tx), returned, parcel: Parcel::default(), thread: Some(thread) });
        }
        let file = std::io::BufWriter::with_capacity(1 << 16, std::fs::File::create(dir.join("streams.jsonl"))?);
        let index = Index { file, early: Default::default(), next: 1, echo };
        Ok(StreamFiles { lanes, shared, dir_text, ended: 0, index, echoed: Vec::new() })
    }

    /// Takes the events of one frame (`data`: the engine's data buffer; `frame`: the frame
    /// that `in_frame` Data events point into) and sorts them into the lanes' parcels.
    pub fn handle(&mut self, events: &[Event], data: &[u8], frame: &Frame) -> Result<(), String> {
        for e in events {
            let lane = (e.conn_id % LANES as u64) as usize;
            let op = match e.kind {
                EventKind::Opened => Op::Open { id: e.conn_id, key: e.key, first_ts_ns: e.offset as i64 },
                EventKind::Data => {
                    let (start, n) = (e.data_start, e.len as usize);
                    let parcel = &mut self.lanes[lane].parcel;
                    let piece = match (e.in_frame, frame.map) {
                        (true, Some(map)) => {
                            if parcel.map.as_ref().is_some_and(|m| !Arc::ptr_eq(m, map)) {
                                self.send(lane)?; // a parcel refers to one mapping
                            }
                            let parcel = &mut self.lanes[lane].parcel;
                            parcel.map.get_or_insert_with(|| map.clone());
                            let at = frame.bytes.as_ptr() as usize - map.bytes().as_ptr() as usize + start;
                            Piece::Mapped { at, len: n }
                        }
                        (true, None) => parcel.copy(&frame.bytes[start..start + n]),
                        (false, _) => parcel.copy(&data[start..start + n]),
                    };
                    Op::Data { id: e.conn_id, dir: e.dir, piece }
                }
                EventKind::Gap => Op::Gap { id: e.conn_id, dir: e.dir, len: e.len },
                EventKind::Closed | EventKind::Reset | EventKind::TimedOut | EventKind::EndOfInput => {
                    let state = match e.kind {
                        EventKind::Closed => "closed",
                        EventKind::Reset => "reset",
                        EventKind::TimedOut => "timed_out",
                        _ => "open",
                    };
                    self.ended += 1;
                    Op::End { id: e.conn_id, state, last_ts_ns: e.offset as i64, order: self.ended }
                }
                _ => continue,
            };
            let parcel = &mut self.lanes[lane].parcel;
            parcel.ops.push(op);
            if parcel.ops.len() >= PARCEL_OPS || parcel.bytes.len() >= PARCEL_BYTES {
                self.send(lane)?;
            }
        }
        Ok(())
    }

    fn send(&mut self, lane: usize) -> Result<(), String> {
        let l = &mut self.lanes[lane];
        if l.parcel.ops.is_empty() {
            return Ok(());
        }
        let weight = l.parcel.weight();
        let lines;
        {
            let mut f = self.shared.state.lock().unwrap_or_else(PoisonError::into_inner);
            while f.error.is_none() && f.bytes > 0 && f.bytes + weight > IN_FLIGHT_CAP {
                f = self.shared.changed.wait(f).unwrap_or_else(PoisonError::into_inner);
            }
            if let Some(e) = &f.error {
                return Err(e.clone());
            }
            f.bytes += weight;
            f.parcels += 1;
            lines = std::mem::take(&mut f.lines);
        }
        // Index lines are written as they come back, while the lanes work, and echoed at
        // the next drain.
        if !lines.is_empty() {
            self.index.put(lines, false, &mut self.echoed).map_err(|e| self.index_error(&e))?;
        }
        let l = &mut self.lanes[lane];
        let next = l.returned.try_recv().unwrap_or_default();
        let parcel = std::mem::replace(&mut l.parcel, next);
        let sent = l.tx.as_ref().map(|tx| tx.send(parcel).is_ok()).unwrap_or(false);
        if !sent {
            return Err(format!("{}: a file writer stopped", self.dir_text));
        }
        Ok(())
    }

    /// Waits until every lane has taken in and written what it was given (connections
    /// still open keep up to `flush_bytes` a direction pending), writes the index lines of
    /// the connections that ended, in the order they ended, and (with `echo`) appends them
    /// to `out`. The first write error, if any.
    pub fn drain(&mut self, out: &mut Vec<IndexLine>) -> Result<(), String> {
        for lane in 0..self.lanes.len() {
            self.send(lane)?;
        }
        let mut f = self.shared.state.lock().unwrap_or_else(PoisonError::into_inner);
        while f.parcels > 0 {
            f = self.shared.changed.wait(f).unwrap_or_else(PoisonError::into_inner);
        }
        let lines = std::mem::take(&mut f.lines);
        let error = f.error.clone();
        drop(f);
        out.append(&mut self.echoed);
        // After a failure, lines of connections after it may never come: write what came.
        let put = self.index.put(lines, error.is_some(), out).and_then(|()| {
            use std::io::Write;
            self.index.file.flush()
        });
        if let Err(e) = put {
            return Err(error.unwrap_or_else(|| self.index_error(&e)));
        }
        match error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Times the cap on copied bytes (`max_copied`) was hit, as of the last `drain`.
    pub fn copies_cap_hits(&self) -> u64 {
        self.shared.state.lock().unwrap_or_else(PoisonError::into_inner).copies_cap_hits
    }

    fn index_error(&self, e: &std::io::Error) -> String {
        format!("{}/streams.jsonl: {}", self.dir_text, error_text(e))
    }
}


impl Drop for StreamFiles {
    fn drop(&mut self) {
        for l in &mut self.lanes {
            l.tx = None; // a lane's loop ends when its channel closes
        }
        for l in &mut self.lanes {
            if let Some(t) = l.thread.take() {
                let _ = t.join();
            }
        }
    }
}

struct LaneHandle {
    tx: Option<mpsc::Sender<Parcel>>,
    /// Emptied parcels coming back (their buffers keep their capacity): the engine's
    /// thread reuses them instead of allocating what another thread frees.
    returned: mpsc::Receiver<Parcel>,
    parcel: Parcel,
    thread: Option<JoinHandle<()>>,
}

/// What the engine's thread sends a lane: operations in event order, the bytes it had to
/// copy (not in a mapping) and the mapping the others are in.
#[derive(Default)]
struct Parcel {
    ops: Vec<Op>,
    bytes: Vec<u8>,
    map: Option<Arc<Mapped>>,
}

impl Parcel {
    fn copy(&mut self, bytes: &[u8]) -> Piece {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(bytes);
        Piece::Owned { start, len: bytes.len() }
    }

    /// What counts against the in-flight cap: copied bytes, plus a little per operation.
    fn weight(&self) -> usize {
        self.bytes.len() + self.ops.len() * std::mem::size_of::<Op>()
    }
}

enum Op {
    Open { id: u64, key: ConnKey, first_ts_ns: i64 },
    Data { id: u64, dir: u8, piece: Piece },
    Gap { id: u64, dir: u8, len: u64 },
    End { id: u64, state: &'static str, last_ts_ns: i64, order: u64 },
}

#[derive(Clone, Copy)]
enum Piece {
    /// `owned[start..start + len]` (of the parcel, then of the direction)
    Owned { start: usize, len: usize },
    /// `map[at..at + len]`
    Mapped { at: usize, len: usize },
}

#[derive(Default)]
struct Flight {
    bytes: usize,
    parcels: usize,
    error: Option<String>,
    /// (order, line) of connections ended, from every lane.
    lines: Vec<(u64, IndexLine)>,
    /// Times a lane hit `max_copied` and wrote every connection's copies out.
    copies_cap_hits: u64,
}

struct Shared {
    state: Mutex<Flight>,
    changed: Condvar,
}

/// A writer thread and the connections it owns.
struct Lane {
    dir: OwnedFd,
    dir_text: String,
    flush_bytes: usize,
    /// Copied bytes held for this lane's connections (bytes of a mapping are not copies).
    copied: usize,
    /// Beyond this, every connection's copied bytes are written out at once: a live capture
    /// of 10^4 long connections would otherwise hold `flush_bytes` for each. Nothing is
    /// lost, files are only written sooner, so it is no anomaly.
    max_copied: usize,
    cap_hits: u64,
    conns: HashMap<u64, Conn, FxBuild>,
}

struct Conn {
    key: ConnKey,
    first_ts_ns: i64,
    dirs: [Dir; 2],
}

/// One direction's bytes not yet written, in order: copied bytes in `owned`, bytes of a
/// mapped capture in `map`, `pieces` then `last` saying which come when.
#[derive(Default)]
struct Dir {
    owned: Vec<u8>,
    pieces: Vec<Piece>,
    /// The newest piece, kept here rather than at the end of `pieces`: whether the next
    /// bytes extend it is then decided without reading `pieces` (a cache miss per segment,
    /// half the writers' own time).
    last: Option<Piece>,
    map: Option<Arc<Mapped>>,
    pending: usize,
    size: u64,
    gaps: u64,
    started: bool,
}

impl Lane {
    fn run(mut self, rx: mpsc::Receiver<Parcel>, back: mpsc::Sender<Parcel>, shared: Arc<Shared>) {
        let mut failed = false;
        for mut parcel in rx {
            let weight = parcel.weight();
            let mut lines = Vec::new();
            let hits_before = self.cap_hits;
            // A bug here must not leave the engine's thread waiting for this parcel forever:
            // a panic becomes the run's error, and the parcel is accounted for as always.
            let result = if failed {
                Ok(())
            } else {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.take(&parcel, &mut lines)))
                    .unwrap_or_else(|_| Err(format!("{}: internal error in a file writer", self.dir_text)))
            };
            parcel.ops.clear();
            parcel.bytes.clear();
            parcel.map = None;
            let _ = back.send(parcel);
            let mut f = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
            if let Err(e) = result {
                failed = true;
                f.error.get_or_insert(e);
            }
            f.lines.append(&mut lines);
            f.copies_cap_hits += self.cap_hits - hits_before;
            f.bytes -= weight;
            f.parcels -= 1;
            drop(f);
            shared.changed.notify_all();
        }
    }

    fn take(&mut self, parcel: &Parcel, lines: &mut Vec<(u64, IndexLine)>) -> Result<(), String> {
        for op in &parcel.ops {
            match *op {
                Op::Open { id, key, first_ts_ns } => {
                    // Buffers grow on first data: a flood of handshakes allocates little.
                    self.conns.insert(id, Conn { key, first_ts_ns, dirs: Default::default() });
                }
                Op::Data { id, dir, piece } => {
                    let Some(c) = self.conns.get_mut(&id) else { continue };
                    let d = &mut c.dirs[dir as usize];
                    self.copied += match piece {
                        Piece::Owned { start, len } => d.push_owned(&parcel.bytes[start..start + len]),
                        Piece::Mapped { at, len } => {
                            d.push_mapped(parcel.map.as_ref().expect("a mapped piece comes with its mapping"), at, len)
                        }
                    };
                    if d.pending >= self.flush_bytes {
                        let names = Names::of(id, &c.key);
                        self.copied -= write_dir(&self.dir, &self.dir_text, &names.file(dir as usize), d)?;
                    }
                    if self.copied > self.max_copied {
                        self.write_copies()?;
                    }
                }
                Op::Gap { id, dir, len } => {
                    if let Some(c) = self.conns.get_mut(&id) {
                        c.dirs[dir as usize].gaps += len;
                    }
                }
                Op::End { id, state, last_ts_ns, order } => {
                    let Some(mut c) = self.conns.remove(&id) else { continue };
                    let names = Names::of(id, &c.key);
                    // Both files exist even when a direction carried nothing: every name
                    // in the index opens.
                    self.copied -= write_dir(&self.dir, &self.dir_text, &names.file(0), &mut c.dirs[0])?;
                    self.copied -= write_dir(&self.dir, &self.dir_text, &names.file(1), &mut c.dirs[1])?;
                    lines.push((order, index_line(&names, &c, state, last_ts_ns)));
                }
            }
        }
        Ok(())
    }

    /// Writes out every direction holding copied bytes.
    fn write_copies(&mut self) -> Result<(), String> {
        self.cap_hits += 1;
        for (id, c) in self.conns.iter_mut() {
            for d in 0..2 {
                if !c.dirs[d].owned.is_empty() {
                    let names = Names::of(*id, &c.key);
                    self.copied -= write_dir(&self.dir, &self.dir_text, &names.file(d), &mut c.dirs[d])?;
                }
            }
        }
        Ok(())
    }
}

impl Dir {
    /// Returns the bytes copied (all of them).
    fn push_owned(&mut self, bytes: &[u8]) -> usize {
        let start = self.owned.len();
        self.owned.extend_from_slice(bytes);
        match &mut self.last {
            Some(Piece::Owned { len, .. }) => *len += bytes.len(),
            _ => self.start_piece(Piece::Owned { start, len: bytes.len() }),
        }
        self.pending += bytes.len();
        self.size += bytes.len() as u64;
        bytes.len()
    }

    /// Returns the bytes copied: none, unless the bytes are in another mapping.
    fn push_mapped(&mut self, map: &Arc<Mapped>, at: usize, n: usize) -> usize {
        match &self.map {
            Some(m) if Arc::ptr_eq(m, map) => {}
            // Another mapping (another file): copy rather than keep two alive.
            Some(_) => return self.push_owned(&map.bytes()[at..at + n]),
            None => self.map = Some(map.clone()),
        }
        match &mut self.last {
            Some(Piece::Mapped { at: a, len }) if *a + *len == at => *len += n,
            _ => self.start_piece(Piece::Mapped { at, len: n }),
        }
        self.pending += n;
        self.size += n as u64;
        0
    }

    fn start_piece(&mut self, piece: Piece) {
        if let Some(done) = self.last.replace(piece) {
            if self.pieces.capacity() == 0 {
                self.pieces.reserve(16); // most streams here are a few segments
            }
            self.pieces.push(done);
        }
    }
}

fn addr_text(v: u8, a: &[u8; 16]) -> String {
    if v == 6 {
        Ipv6Addr::from(*a).to_string()
    } else {
        Ipv4Addr::new(a[0], a[1], a[2], a[3]).to_string()
    }
}

/// A connection's addresses in text and its files' common name,
/// `NNNNNN_CLIENT.CPORT-SERVER.SPORT` (the suffix says the direction).
struct Names {
    client: String,
    server: String,
    base: String,
}

impl Names {
    fn of(id: u64, k: &ConnKey) -> Names {
        let (client, server) = (addr_text(k.ip_version, &k.client.addr), addr_text(k.ip_version, &k.server.addr));
        let base = format!("{id:06}_{client}.{}-{server}.{}", k.client.port, k.server.port);
        Names { client, server, base }
    }

    fn file(&self, d: usize) -> String {
        let mut name = String::with_capacity(self.base.len() + 5);
        name.push_str(&self.base);
        name.push_str(SUFFIX[d]);
        name
    }
}

fn index_line(n: &Names, c: &Conn, state: &str, last_ts_ns: i64) -> IndexLine {
    let k = &c.key;
    format!(
        concat!(
            "{{\"client\":\"{}\",\"client_port\":{},\"server\":\"{}\",\"server_port\":{},",
            "\"client_file\":\"{}{}\",\"server_file\":\"{}{}\",\"client_bytes\":{},\"server_bytes\":{},",
            "\"state\":\"{}\",\"client_gap_bytes\":{},\"server_gap_bytes\":{},",
            "\"first_ts_ns\":{},\"last_ts_ns\":{}}}"
        ),
        n.client, k.client.port, n.server, k.server.port,
        n.base, SUFFIX[0], n.base, SUFFIX[1],
        c.dirs[0].size, c.dirs[1].size, state, c.dirs[0].gaps, c.dirs[1].gaps, c.first_ts_ns, last_ts_ns,
    )
}


/// Writes a direction's pending bytes to its file: created (truncated) the first time,
/// appended to after. Returns the copied bytes it released.
fn write_dir(dir_fd: &OwnedFd, dir_text: &str, name: &str, dir: &mut Dir) -> Result<usize, String> {
    use std::io::{IoSlice, Write};
    let fail = |e: std::io::Error| format!("{dir_text}/{name}: {}", error_text(&e));
    let name_c = CString::new(name.as_bytes()).expect("file names hold no NUL");
    let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_CLOEXEC | if dir.started { libc::O_APPEND } else { libc::O_TRUNC };
    // SAFETY: openat(2) relative to a directory fd we own, with a NUL-terminated name.
    let fd = unsafe { libc::openat(dir_fd.as_raw_fd(), name_c.as_ptr(), flags, 0o644 as libc::c_uint) };
    if fd < 0 {
        return Err(fail(std::io::Error::last_os_error()));
    }
    dir.started = true;
    // SAFETY: fd was just opened and is owned by nobody else.
    let mut file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    {
        let mapped = dir.map.as_ref().map_or(&[][..], |m| m.bytes());
        let mut slices: Vec<IoSlice> = dir
            .pieces
            .iter()
            .chain(dir.last.iter())
            .map(|p| match *p {
                Piece::Owned { start, len } => IoSlice::new(&dir.owned[start..start + len]),
                Piece::Mapped { at, len } => IoSlice::new(&mapped[at..at + len]),
            })
            .collect();
        // writev(2) takes at most IOV_MAX (1024) slices and may write less than asked.
        let mut rest = &mut slices[..];
        while !rest.is_empty() {
            let n = rest.len().min(1024);
            let written = match file.write_vectored(&rest[..n]) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                r => r.map_err(fail)?,
            };
            if written == 0 {
                return Err(fail(std::io::ErrorKind::WriteZero.into()));
            }
            IoSlice::advance_slices(&mut rest, written);
        }
    }
    let released = dir.owned.len();
    dir.owned = Vec::new(); // its memory goes now, not when the connection ends
    dir.pieces.clear();
    dir.last = None;
    dir.map = None;
    dir.pending = 0;
    Ok(released)
}
