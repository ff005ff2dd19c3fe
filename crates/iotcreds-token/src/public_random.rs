//! Random bytes for values that are public once issued: token nonces, the random part of
//! temporary access key ids, request ids.
//!
//! Every call to `aws_lc_rs::rand::fill` runs aws-lc's CTR-DRBG with prediction resistance, which
//! reads the CPU's RDRAND afresh: about a microsecond on this class of machine whatever the
//! length, and three calls per issuance measured 9% of the credentials endpoint's CPU time on
//! keep-alive connections. This module asks aws-lc for 1 KiB at a time per thread and hands it
//! out in slices, so the DRBG (and its entropy source) still produces every byte, and each byte
//! is handed out once: a slice is wiped from the pool as it is taken.
//!
//! Only for values that stop being secret the moment they are used (a nonce travels in the
//! token, an access key id in every request). Key material and secrets come straight from
//! `aws_lc_rs::rand::fill` (see [`crate::KeyRing::generate_material`]).
//!
//! The server never forks; a forked child would inherit the parent's unused pool. With
//! AES-256-GCM-SIV even a repeated nonce reveals no more than whether two tokens are equal.

use std::cell::RefCell;

use aws_lc_rs::error::Unspecified;
use aws_lc_rs::rand;

const POOL_LEN: usize = 1024;

/// Requests larger than this bypass the pool.
const MAX_FROM_POOL: usize = 64;

struct Pool {
    bytes: [u8; POOL_LEN],
    /// Bytes before `taken` have been handed out (and wiped).
    taken: usize,
}

thread_local! {
    static POOL: RefCell<Pool> = const {
        RefCell::new(Pool { bytes: [0; POOL_LEN], taken: POOL_LEN })
    };
}

/// Fill `out` with random bytes from the system CSPRNG, for a value that will be public.
pub fn fill_public(out: &mut [u8]) -> Result<(), Unspecified> {
    if out.len() > MAX_FROM_POOL {
        return rand::fill(out);
    }
    POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        if POOL_LEN - pool.taken < out.len() {
            rand::fill(&mut pool.bytes)?;
            pool.taken = 0;
        }
        let range = pool.taken..pool.taken + out.len();
        out.copy_from_slice(&pool.bytes[range.clone()]);
        pool.bytes[range].fill(0);
        pool.taken += out.len();
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn slices_are_never_handed_out_twice() {
        // 16-byte draws across several refills: all distinct (a repeat of 128 random bits
        // would mean the pool handed out the same bytes again).
        let mut seen = HashSet::new();
        for _ in 0..(3 * POOL_LEN / 16 + 5) {
            let mut b = [0u8; 16];
            fill_public(&mut b).unwrap();
            assert!(seen.insert(b), "a 16-byte draw repeated");
        }
    }

    #[test]
    fn odd_sizes_and_large_requests_fill_everything() {
        for len in [1, 7, 12, 63, 64, 65, 500] {
            // The chance that a random byte is 0 at all 64 positions of 64 draws is nil;
            // check each position was written at least once across draws.
            let mut ored = vec![0u8; len];
            for _ in 0..64 {
                let mut b = vec![0u8; len];
                fill_public(&mut b).unwrap();
                for (o, x) in ored.iter_mut().zip(&b) {
                    *o |= x;
                }
            }
            assert!(
                ored.iter().all(|&x| x != 0),
                "length {len}: a byte never written"
            );
        }
    }

    #[test]
    fn taken_bytes_are_wiped() {
        let mut b = [0u8; 32];
        fill_public(&mut b).unwrap();
        POOL.with(|p| {
            let p = p.borrow();
            assert!(p.taken >= 32);
            assert!(p.bytes[..p.taken].iter().all(|&x| x == 0));
        });
    }
}
