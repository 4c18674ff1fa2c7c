//! The flow index: key hash -> slab slot, open addressing with linear probing.
//!
//! Why not `std::collections::HashMap`: a flow table far larger than the CPU caches makes
//! every lookup a cache miss, and the meter hides those misses by prefetching the bucket of
//! a packet a few packets ahead (`prefetch`), which needs the bucket's address. Buckets are
//! one `u64` each: the low 32 bits of the key's hash (`tag`, whose low bits are also the
//! home bucket) and slot+1 (0 = empty). Keys live in the slab; a tag match is confirmed by
//! comparing the slab's key. Load stays at most 1/2 (the table doubles); deletion shifts the
//! following run back (no tombstones), so probe runs stay short after heavy churn.

pub struct FlowIndex {
    buckets: Vec<u64>,
    mask: usize,
    len: usize,
}

#[inline]
fn tag_of(hash: u64) -> u32 {
    hash as u32
}

impl FlowIndex {
    pub fn new() -> Self {
        FlowIndex { buckets: vec![0; 1024], mask: 1023, len: 0 }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Hints the CPU to fetch the home bucket of `hash`.
    #[inline]
    pub fn prefetch(&self, hash: u64) {
        let i = tag_of(hash) as usize & self.mask;
        prefetch_ptr(self.buckets.as_ptr().wrapping_add(i) as *const u8);
    }

    /// The first candidate slot of `hash` (a hint for prefetching the slab entry).
    #[inline]
    pub fn peek(&self, hash: u64) -> Option<u32> {
        self.find(hash, |_| true)
    }

    /// The slot whose key satisfies `is_key`, among those with this hash.
    #[inline]
    pub fn find(&self, hash: u64, mut is_key: impl FnMut(u32) -> bool) -> Option<u32> {
        let tag = tag_of(hash);
        let mut i = tag as usize & self.mask;
        loop {
            let b = self.buckets[i];
            if b == 0 {
                return None;
            }
            if (b >> 32) as u32 == tag {
                let slot = (b as u32) - 1;
                if is_key(slot) {
                    return Some(slot);
                }
            }
            i = (i + 1) & self.mask;
        }
    }

    pub fn insert(&mut self, hash: u64, slot: u32) {
        if (self.len + 1) * 2 > self.buckets.len() {
            self.grow();
        }
        self.place(((tag_of(hash) as u64) << 32) | (slot as u64 + 1));
        self.len += 1;
    }

    fn place(&mut self, v: u64) {
        let mut i = (v >> 32) as usize & self.mask;
        while self.buckets[i] != 0 {
            i = (i + 1) & self.mask;
        }
        self.buckets[i] = v;
    }

    fn grow(&mut self) {
        let old = std::mem::take(&mut self.buckets);
        self.buckets = vec![0; old.len() * 2];
        self.mask = self.buckets.len() - 1;
        for v in old {
            if v != 0 {
                self.place(v);
            }
        }
    }

    /// Removes the bucket of (`hash`, `slot`). Returns false when it was not there.
    pub fn remove(&mut self, hash: u64, slot: u32) -> bool {
        let v = ((tag_of(hash) as u64) << 32) | (slot as u64 + 1);
        let mut i = tag_of(hash) as usize & self.mask;
        loop {
            let b = self.buckets[i];
            if b == 0 {
                return false;
            }
            if b == v {
                break;
            }
            i = (i + 1) & self.mask;
        }
        // Backward-shift deletion: move later members of the run into the hole when their
        // home bucket is not between the hole and their position (cyclically).
        let mut hole = i;
        let mut j = i;
        loop {
            j = (j + 1) & self.mask;
            let b = self.buckets[j];
            if b == 0 {
                break;
            }
            let home = (b >> 32) as usize & self.mask;
            let movable = if hole <= j { home <= hole || home > j } else { home <= hole && home > j };
            if movable {
                self.buckets[hole] = b;
                hole = j;
            }
        }
        self.buckets[hole] = 0;
        self.len -= 1;
        true
    }
}

impl Default for FlowIndex {
    fn default() -> Self {
        Self::new()
    }
}

#[inline(always)]
pub fn prefetch_ptr(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    unsafe {
        // SAFETY: prefetch never faults, whatever the address.
        core::arch::x86_64::_mm_prefetch(p as *const i8, core::arch::x86_64::_MM_HINT_T0);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_find_remove_with_collisions_and_growth() {
        let mut ix = FlowIndex::new();
        let mut model = std::collections::HashMap::new();
        // Hashes crafted to collide on the home bucket (same low 10 bits) and wrap around.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for round in 0..20_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let hash = if round % 3 == 0 { (x & !0x3ff) | 0x3fe } else { x };
            let slot = round;
            if x % 5 < 3 || model.is_empty() {
                ix.insert(hash, slot);
                model.insert(slot, hash);
            } else {
                let (&s, &h) = model.iter().next().unwrap();
                assert!(ix.remove(h, s));
                model.remove(&s);
            }
        }
        assert_eq!(ix.len(), model.len());
        for (&s, &h) in &model {
            assert_eq!(ix.find(h, |c| c == s), Some(s));
        }
        for (&s, &h) in model.clone().iter() {
            assert!(ix.remove(h, s));
            assert_eq!(ix.find(h, |c| c == s), None);
        }
        assert!(ix.is_empty());
    }
}
