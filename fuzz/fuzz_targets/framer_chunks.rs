//! Framer fed arbitrary bytes in arbitrary chunk splits: never panics, and the records and
//! error equal those of one-shot framing. The first 8 input bytes choose the splits.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    wirekit_fuzz::check_framer(data);
});
