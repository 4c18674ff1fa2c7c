//! Batch decode of arbitrary bytes under every link type (and an unknown one): never panics,
//! offsets stay inside the data, checksum verification never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    wirekit_fuzz::check_decode(data);
});
