//! Concurrent connections per client address, so that one host cannot hold a listener's every
//! connection slot. IPv4 addresses (and IPv4-mapped IPv6 ones) count one by one; IPv6 addresses
//! count per /64 network, the smallest block a single site is usually given.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

/// What connections are counted under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// One IPv4 address.
    V4([u8; 4]),
    /// One IPv6 /64 network.
    V6([u8; 8]),
}

impl Source {
    /// The source `ip` counts under.
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Source::V4(v4.octets()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Source::V4(v4.octets()),
                None => {
                    let mut net = [0u8; 8];
                    net.copy_from_slice(&v6.octets()[..8]);
                    Source::V6(net)
                }
            },
        }
    }
}

/// The connection counts of one listener.
#[derive(Debug)]
pub struct PerIp {
    /// Most connections per source; 0: unlimited.
    limit: usize,
    counts: Mutex<HashMap<Source, usize>>,
}

impl PerIp {
    /// Allow `limit` connections per source (0: no limit).
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            limit,
            counts: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for a connection from `ip`, or `None` when its source holds `limit` already.
    pub fn acquire(self: &Arc<Self>, ip: IpAddr) -> Option<IpSlot> {
        if self.limit == 0 {
            return Some(IpSlot { owner: None });
        }
        let source = Source::of(ip);
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let n = counts.entry(source).or_insert(0);
        if *n >= self.limit {
            return None;
        }
        *n += 1;
        Some(IpSlot {
            owner: Some((Arc::clone(self), source)),
        })
    }

    /// Connections held by `ip`'s source.
    pub fn held(&self, ip: IpAddr) -> usize {
        let counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.get(&Source::of(ip)).copied().unwrap_or(0)
    }

    fn release(&self, source: Source) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = counts.get_mut(&source) {
            *n -= 1;
            if *n == 0 {
                // The map holds only sources with open connections: bounded by the listener's
                // connection limit.
                counts.remove(&source);
            }
        }
    }
}

/// A connection's slot; dropping it frees the slot.
#[derive(Debug)]
pub struct IpSlot {
    owner: Option<(Arc<PerIp>, Source)>,
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        if let Some((per_ip, source)) = self.owner.take() {
            per_ip.release(source);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn each_source_gets_its_limit_and_slots_come_back() {
        let p = PerIp::new(2);
        let a1 = p.acquire(ip("192.0.2.1")).unwrap();
        let _a2 = p.acquire(ip("192.0.2.1")).unwrap();
        assert!(p.acquire(ip("192.0.2.1")).is_none());
        // Another address is not affected; an IPv4-mapped IPv6 address is the same IPv4 one.
        let _b = p.acquire(ip("192.0.2.2")).unwrap();
        assert!(p.acquire(ip("::ffff:192.0.2.1")).is_none());
        drop(a1);
        assert_eq!(p.held(ip("192.0.2.1")), 1);
        let _a3 = p.acquire(ip("::ffff:192.0.2.1")).unwrap();
        assert!(p.acquire(ip("192.0.2.1")).is_none());
    }

    #[test]
    fn ipv6_counts_per_64_network() {
        let p = PerIp::new(1);
        let _a = p.acquire(ip("2001:db8:1:2::1")).unwrap();
        assert!(p.acquire(ip("2001:db8:1:2:ffff::9")).is_none());
        assert!(p.acquire(ip("2001:db8:1:3::1")).is_some());
    }

    #[test]
    fn zero_is_unlimited_and_the_map_forgets_closed_sources() {
        let p = PerIp::new(0);
        let slots: Vec<_> = (0..1000)
            .map(|_| p.acquire(ip("192.0.2.1")).unwrap())
            .collect();
        assert_eq!(p.held(ip("192.0.2.1")), 0, "not counted at all");
        drop(slots);
        let p = PerIp::new(3);
        let slots: Vec<_> = (0..50)
            .map(|i| p.acquire(ip(&format!("192.0.2.{i}"))).unwrap())
            .collect();
        assert_eq!(p.counts.lock().unwrap().len(), 50);
        drop(slots);
        assert!(p.counts.lock().unwrap().is_empty());
    }
}
