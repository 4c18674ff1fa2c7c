//! Bindings for the defragmenter (wirekit_reasm::defrag).

use pyo3::prelude::*;

pub fn register(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
