//! The PROXY protocol (HAProxy's v1 text and v2 binary headers) on connections from configured
//! L4 load balancers (`proxy_protocol_from`): the balancer writes the client's address before
//! the connection's first byte, and that address becomes the connection's remote address
//! (audit lines, `aws:SourceIp`, the per-address limits of later stages).
//!
//! Only connections from the configured addresses are read this way, and from them a header is
//! required: a connection without one is closed. Anyone else who sends a header is just a
//! client sending garbage (its TLS handshake fails). The header is read with exact reads (the
//! TLS handshake that follows must not be consumed), within the handshake time-out, at most
//! 16 + 216 bytes (v2 with IPv6 addresses and some TLVs; longer headers are refused) or 107
//! (v1). Parsing is the `ppp` crate's.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncReadExt};

/// The v2 signature.
const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// Most bytes after the fixed v2 part that are accepted (addresses and TLVs).
const V2_MAX_REST: usize = 216;
/// The longest v1 line, CRLF included (the protocol's own limit).
const V1_MAX: usize = 107;

fn invalid(why: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why)
}

/// Read one PROXY header from `io`: the client's address, or `None` for a header that carries
/// none (v2 `LOCAL`, the balancer's own health checks; v1 `UNKNOWN`).
pub async fn read_header<R: AsyncRead + Unpin>(io: &mut R) -> io::Result<Option<SocketAddr>> {
    let mut head = [0u8; 16];
    io.read_exact(&mut head[..6]).await?;
    if &head[..6] == b"PROXY " {
        let mut line = head[..6].to_vec();
        while !line.ends_with(b"\r\n") {
            if line.len() >= V1_MAX {
                return Err(invalid("PROXY v1 header longer than 107 bytes"));
            }
            line.push(io.read_u8().await?);
        }
        let text = std::str::from_utf8(&line).map_err(|_| invalid("PROXY v1 header not ASCII"))?;
        let header =
            ppp::v1::Header::try_from(text).map_err(|_| invalid("malformed PROXY v1 header"))?;
        return Ok(match header.addresses {
            ppp::v1::Addresses::Tcp4(a) => {
                Some(SocketAddr::from((a.source_address, a.source_port)))
            }
            ppp::v1::Addresses::Tcp6(a) => {
                Some(SocketAddr::from((a.source_address, a.source_port)))
            }
            ppp::v1::Addresses::Unknown => None,
        });
    }
    io.read_exact(&mut head[6..]).await?;
    if head[..12] != V2_SIGNATURE {
        return Err(invalid("no PROXY header"));
    }
    let rest = usize::from(u16::from_be_bytes([head[14], head[15]]));
    if rest > V2_MAX_REST {
        return Err(invalid("PROXY v2 header too long"));
    }
    let mut all = head.to_vec();
    all.resize(16 + rest, 0);
    io.read_exact(&mut all[16..]).await?;
    let header =
        ppp::v2::Header::try_from(&all[..]).map_err(|_| invalid("malformed PROXY v2 header"))?;
    if header.command == ppp::v2::Command::Local {
        return Ok(None);
    }
    Ok(match header.addresses {
        ppp::v2::Addresses::IPv4(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
        ppp::v2::Addresses::IPv6(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
        ppp::v2::Addresses::Unspecified | ppp::v2::Addresses::Unix(_) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read(bytes: &[u8]) -> (io::Result<Option<SocketAddr>>, Vec<u8>) {
        let mut cursor = std::io::Cursor::new(bytes.to_vec());
        let got = read_header(&mut cursor).await;
        let pos = cursor.position() as usize;
        (got, bytes[pos..].to_vec())
    }

    fn v2(command: u8, family: u8, addresses: &[u8]) -> Vec<u8> {
        let mut h = V2_SIGNATURE.to_vec();
        h.push(0x20 | command);
        h.push(family);
        h.extend_from_slice(&(addresses.len() as u16).to_be_bytes());
        h.extend_from_slice(addresses);
        h
    }

    /// Both versions give the client's address and leave the TLS handshake that follows
    /// unread.
    #[tokio::test]
    async fn headers_give_the_client_address_and_nothing_more_is_read() {
        let hello = b"\x16\x03\x01rest-of-client-hello";
        let mut bytes = b"PROXY TCP4 203.0.113.7 10.0.0.2 5555 8443\r\n".to_vec();
        bytes.extend_from_slice(hello);
        let (got, left) = read(&bytes).await;
        assert_eq!(got.unwrap(), Some("203.0.113.7:5555".parse().unwrap()));
        assert_eq!(left, hello);

        let mut addrs = vec![203, 0, 113, 7, 10, 0, 0, 2];
        addrs.extend_from_slice(&5555u16.to_be_bytes());
        addrs.extend_from_slice(&8443u16.to_be_bytes());
        let mut bytes = v2(1, 0x11, &addrs);
        bytes.extend_from_slice(hello);
        let (got, left) = read(&bytes).await;
        assert_eq!(got.unwrap(), Some("203.0.113.7:5555".parse().unwrap()));
        assert_eq!(left, hello);

        // LOCAL (the balancer's health check) and UNKNOWN carry no address.
        assert_eq!(read(&v2(0, 0x00, &[])).await.0.unwrap(), None);
        assert_eq!(read(b"PROXY UNKNOWN\r\n").await.0.unwrap(), None);
    }

    #[tokio::test]
    async fn what_is_not_a_header_is_refused() {
        for bad in [
            &b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"[..], // a TLS handshake
            b"GET / HTTP/1.1\r\n",
            b"PROXY TCP4 not-an-address 10.0.0.2 1 2\r\n",
            b"PROXY", // cut short
            b"PROXY T",
        ] {
            assert!(read(bad).await.0.is_err(), "{bad:?}");
        }
        let mut long = b"PROXY TCP4 ".to_vec();
        long.extend_from_slice(&[b'1'; 200]);
        assert!(read(&long).await.0.is_err());
        // A v2 header announcing more than the bound is refused before it is read.
        let mut huge = V2_SIGNATURE.to_vec();
        huge.extend_from_slice(&[0x21, 0x11, 0xff, 0xff]);
        assert!(read(&huge).await.0.is_err());
    }
}
