//! The private module `wirekit._core`: thin PyO3 wrappers over wirekit-core, one file per
//! area. No protocol logic lives here; every call works on a whole batch.

use pyo3::prelude::*;

mod capture;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    capture::register(m)?;
    Ok(())
}
