//! The Internet checksum (RFC 1071) and the IPv4/IPv6 pseudo-header sums that TCP, UDP and
//! ICMPv6 cover.
//!
//! The running sum is kept unfolded in a `u64` so that long buffers can be summed without a
//! carry per word; `fold` reduces it to 16 bits at the end. A 16-bit word sum is independent
//! of byte order as long as it is read and written back in the same order (RFC 1071 section
//! 2(B)), so words are read big-endian and the result is a big-endian `u16`.

/// Adds `data` to the running ones' complement sum `acc` as big-endian 16-bit words. An odd
/// trailing byte is padded with a zero byte on the right (RFC 1071 section 4.1).
///
/// `data` must start on an even offset of the checksummed region (pseudo-header and header
/// pieces are always even-sized).
#[inline]
pub fn sum(data: &[u8], acc: u64) -> u64 {
    let mut acc = acc;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        // Four words at a time: the u64 accumulator cannot overflow before 2^48 words.
        acc += u16::from_be_bytes([c[0], c[1]]) as u64
            + u16::from_be_bytes([c[2], c[3]]) as u64
            + u16::from_be_bytes([c[4], c[5]]) as u64
            + u16::from_be_bytes([c[6], c[7]]) as u64;
    }
    let rest = chunks.remainder();
    let mut words = rest.chunks_exact(2);
    for w in &mut words {
        acc += u16::from_be_bytes([w[0], w[1]]) as u64;
    }
    if let [last] = words.remainder() {
        acc += (*last as u64) << 8;
    }
    acc
}

/// Folds a running sum to 16 bits (end-around carry), without complementing.
#[inline]
pub fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The Internet checksum of `data`: the ones' complement of the folded sum. A region that
/// already contains its correct checksum yields 0.
#[inline]
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum(data, 0))
}

/// Finishes a running sum into the value to store in a checksum field.
#[inline]
pub fn finish(acc: u64) -> u16 {
    !fold(acc)
}

/// True when an IPv4 header (`header`, IHL*4 bytes, checksum field included) verifies.
pub fn ipv4_header_ok(header: &[u8]) -> bool {
    header.len() >= 20 && checksum(header) == 0
}

/// Running sum of the IPv4 pseudo-header (RFC 793 section 3.1, RFC 768): source, destination,
/// zero, protocol, and the L4 length (header plus data) in bytes.
#[inline]
pub fn pseudo_header_v4(src: &[u8; 4], dst: &[u8; 4], proto: u8, l4_len: u32) -> u64 {
    let mut acc = sum(src, 0);
    acc = sum(dst, acc);
    acc + proto as u64 + (l4_len & 0xffff) as u64
}

/// Running sum of the IPv6 pseudo-header (RFC 8200 section 8.1): source, final destination,
/// 32-bit upper-layer packet length, three zero bytes and the next-header value.
#[inline]
pub fn pseudo_header_v6(src: &[u8; 16], dst: &[u8; 16], proto: u8, l4_len: u32) -> u64 {
    let mut acc = sum(src, 0);
    acc = sum(dst, acc);
    acc + (l4_len >> 16) as u64 + (l4_len & 0xffff) as u64 + proto as u64
}

/// Checksum of an L4 segment (`segment` = L4 header with its checksum field + data) over
/// IPv4. For a segment whose checksum field is filled in, a correct one gives 0; with the
/// field zeroed, the result is the value to store.
pub fn l4_checksum_v4(src: &[u8; 4], dst: &[u8; 4], proto: u8, segment: &[u8]) -> u16 {
    finish(sum(segment, pseudo_header_v4(src, dst, proto, segment.len() as u32)))
}

/// As `l4_checksum_v4`, over IPv6 (TCP, UDP, ICMPv6). `dst` is the final destination: with a
/// routing header, the last address of its list (RFC 8200 section 8.1).
pub fn l4_checksum_v6(src: &[u8; 16], dst: &[u8; 16], proto: u8, segment: &[u8]) -> u16 {
    finish(sum(segment, pseudo_header_v6(src, dst, proto, segment.len() as u32)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 1071 section 3 worked example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2.
    #[test]
    fn rfc1071_example() {
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(&data, 0)), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn odd_length_pads_right() {
        assert_eq!(fold(sum(&[0xab], 0)), 0xab00);
        assert_eq!(fold(sum(&[0x01, 0x02, 0x03], 0)), 0x0102 + 0x0300);
    }

    #[test]
    fn chunked_equals_wordwise() {
        let data: Vec<u8> = (0..1001u32).map(|i| (i * 7 + 3) as u8).collect();
        let mut acc = 0u64;
        for w in data.chunks(2) {
            acc += if w.len() == 2 { u16::from_be_bytes([w[0], w[1]]) as u64 } else { (w[0] as u64) << 8 };
        }
        assert_eq!(fold(sum(&data, 0)), fold(acc));
    }

    /// A captured IPv4 header (Wikipedia's IPv4 header checksum example): checksum b861.
    #[test]
    fn ipv4_header() {
        let mut h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00,
            0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert!(ipv4_header_ok(&h));
        h[10] = 0;
        h[11] = 0;
        assert_eq!(checksum(&h), 0xb861);
        h[11] = 1;
        assert!(!ipv4_header_ok(&h));
    }

    /// UDP over IPv4: 192.0.2.1:1234 -> 192.0.2.2:53, payload "abc". By hand: pseudo-header
    /// c000+0201+c000+0202+0011+000b = 0x1841f; header 04d2+0035+000b = 0x0512; data
    /// 6162+6300 = 0xc462; total 0x24d93 folds to 0x4d95; complement 0xb26a.
    #[test]
    fn udp_v4_pseudo_header() {
        let src = [192, 0, 2, 1];
        let dst = [192, 0, 2, 2];
        let mut seg = [0x04, 0xd2, 0x00, 0x35, 0x00, 0x0b, 0x00, 0x00, b'a', b'b', b'c'];
        let c = l4_checksum_v4(&src, &dst, 17, &seg);
        assert_eq!(c, 0xb26a);
        seg[6..8].copy_from_slice(&c.to_be_bytes());
        assert_eq!(l4_checksum_v4(&src, &dst, 17, &seg), 0);
    }

    #[test]
    fn v6_pseudo_header_large_length_carries() {
        let src = [0u8; 16];
        let dst = [0u8; 16];
        // 0x1_0002 bytes: length high word 1 + low word 2 + proto 6.
        assert_eq!(fold(pseudo_header_v6(&src, &dst, 6, 0x1_0002)), 1 + 2 + 6);
    }
}
