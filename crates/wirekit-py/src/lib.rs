//! The private module `wirekit._core`: thin PyO3 wrappers over the wirekit crates, one file
//! per area. No protocol logic lives here; every call works on a whole batch.

use pyo3::prelude::*;

mod capture;
mod decode;
mod defrag;
mod file_reader;
mod flow;
mod live;
mod reasm;
mod scan;
mod stream_files;

/// An I/O error as the C tools print it: "No space left on device", without Rust's
/// " (os error 28)".
pub(crate) fn error_text(e: &std::io::Error) -> String {
    let text = e.to_string();
    match (e.raw_os_error(), text.rfind(" (os error ")) {
        (Some(_), Some(at)) => text[..at].to_string(),
        _ => text,
    }
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    capture::register(m)?;
    decode::register(m)?;
    defrag::register(m)?;
    reasm::register(m)?;
    flow::register(m)?;
    live::register(m)?;
    scan::register(m)?;
    Ok(())
}
