//! TCP sequence-number arithmetic.
//!
//! RFC 793 section 3.3: "the sequence number space is finite, though very large ... ranging
//! from 0 to 2**32 - 1. Since the space is finite, all arithmetic dealing with sequence
//! numbers must be performed modulo 2**32." Comparisons follow RFC 1982 serial-number
//! arithmetic: `a` is before `b` when `(b - a) mod 2^32` lies in (0, 2^31).

/// Signed distance from `a` to `b` (`b - a`), in bytes, valid while the true distance is
/// below 2^31.
#[inline(always)]
pub fn diff(a: u32, b: u32) -> i64 {
    b.wrapping_sub(a) as i32 as i64
}

/// `a` strictly before `b` (RFC 1982).
#[inline(always)]
pub fn lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// `a` before or equal to `b`.
#[inline(always)]
pub fn le(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) <= 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_around_2_32() {
        assert_eq!(diff(0xffff_fff0, 0x10), 0x20);
        assert_eq!(diff(0x10, 0xffff_fff0), -0x20);
        assert!(lt(0xffff_ffff, 0));
        assert!(!lt(0, 0xffff_ffff));
        assert!(le(5, 5));
        assert!(lt(1, 2));
    }
}
