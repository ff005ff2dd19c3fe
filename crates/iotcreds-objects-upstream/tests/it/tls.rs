//! An `https://` upstream with a CA of its own and mutual TLS: a TLS front (tokio-rustls,
//! client certificate required) relays to moto. The PKI (two CAs, server and client
//! certificates) is generated at test time with rcgen.
//!
//! * with `ca_bundle` and `client_cert`/`client_key`, every path works (the hand-written hot
//!   operations and the SDK's operations share the TLS client);
//! * without the client certificate, or trusting the system's CAs instead of the bundle, the
//!   handshake fails and the device gets `ServiceUnavailable` (the cause is logged);
//! * unusable TLS files are refused at start-up, naming the setting.

use std::path::Path;
use std::sync::Arc;

use iotcreds_objects_upstream::{UpstreamBackend, UpstreamConfig};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::common::{Gateway, upstream_config};
use crate::moto::Moto;

struct Pki {
    ca_pem: String,
    server_cert_pem: String,
    server_key_pem: String,
    client_ca_pem: String,
    client_cert_pem: String,
    client_key_pem: String,
}

fn ca(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let key = KeyPair::generate().expect("key");
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    let cert = p.self_signed(&key).expect("self-signed");
    (cert.pem(), Issuer::new(p, key))
}

fn pki() -> Pki {
    let (ca_pem, issuer) = ca("upstream test CA");
    let key = KeyPair::generate().expect("key");
    let p = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .expect("params");
    let server = p.signed_by(&key, &issuer).expect("server cert");
    let (client_ca_pem, client_issuer) = ca("gateway client CA");
    let ckey = KeyPair::generate().expect("key");
    let mut cp = CertificateParams::new(Vec::<String>::new()).expect("params");
    cp.distinguished_name
        .push(DnType::CommonName, "iotcreds-gateway");
    cp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client = cp.signed_by(&ckey, &client_issuer).expect("client cert");
    Pki {
        ca_pem,
        server_cert_pem: server.pem(),
        server_key_pem: key.serialize_pem(),
        client_ca_pem,
        client_cert_pem: client.pem(),
        client_key_pem: ckey.serialize_pem(),
    }
}

/// A TLS front requiring a client certificate from `client_ca`, relaying to `backend`.
async fn tls_front(pki: &Pki, backend: u16) -> (u16, tokio::task::JoinHandle<()>) {
    let certs = CertificateDer::pem_slice_iter(pki.server_cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .expect("server cert");
    let key = PrivateKeyDer::from_pem_slice(pki.server_key_pem.as_bytes()).expect("server key");
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(pki.client_ca_pem.as_bytes()) {
        roots.add(c.expect("client CA")).expect("add");
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        Arc::clone(&provider),
    )
    .build()
    .expect("verifier");
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let task = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut up) = tokio::net::TcpStream::connect(("127.0.0.1", backend)).await
                else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
            });
        }
    });
    (port, task)
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

fn tmpdir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "iotcreds-upstream-tls-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    ));
    std::fs::create_dir_all(&d).expect("tmp dir");
    d
}

#[tokio::test]
async fn https_upstream_with_ca_bundle_and_client_certificate() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let moto = Moto::start();
    let pki = pki();
    let (port, front) = tls_front(&pki, moto.port).await;
    let dir = tmpdir("ok");
    let ca = write(&dir, "ca.pem", &pki.ca_pem);
    let cert = write(&dir, "client.pem", &pki.client_cert_pem);
    let key = write(&dir, "client.key", &pki.client_key_pem);
    let tls_config = |ca_bundle: Option<&Path>, client: bool| {
        let mut c = upstream_config(&moto);
        c.endpoint = format!("https://127.0.0.1:{port}");
        c.ca_bundle = ca_bundle.map(Path::to_path_buf);
        if client {
            c.client_cert = Some(cert.clone());
            c.client_key = Some(key.clone());
        }
        c.max_attempts = 1;
        c.connect_timeout_secs = 2;
        c.first_byte_timeout_secs = 5;
        c.operation_timeout_secs = 5;
        c
    };

    let gw = Gateway::start(tls_config(Some(&ca), true)).await;
    let c = gw.client();
    c.create_bucket("tls").await.ok();
    c.put("tls", "over/tls", "secret bytes").await.ok();
    assert_eq!(c.get("tls", "over/tls").await.ok().body, "secret bytes");
    assert_eq!(c.head("tls", "over/tls").await.status, 200);
    assert_eq!(c.list("tls", &[]).await.ok().all("Key"), ["over/tls"]);
    // moto holds it (read over plain HTTP behind the front)
    let env_up = crate::common::Client::new(
        std::net::SocketAddr::from(([127, 0, 0, 1], moto.port)),
        &moto.gateway.0,
        &moto.gateway.1,
    );
    assert_eq!(
        env_up.get("gw-tls", "over/tls").await.ok().body,
        "secret bytes"
    );

    // no client certificate: the front refuses the handshake
    let gw = Gateway::start(tls_config(Some(&ca), false)).await;
    gw.client()
        .get("tls", "over/tls")
        .await
        .err(503, "ServiceUnavailable");
    gw.client()
        .list("tls", &[])
        .await
        .err(503, "ServiceUnavailable");
    // the system's trust store does not know the upstream's CA
    let gw = Gateway::start(tls_config(None, true)).await;
    gw.client()
        .get("tls", "over/tls")
        .await
        .err(503, "ServiceUnavailable");
    gw.client()
        .put("tls", "x", "y")
        .await
        .err(503, "ServiceUnavailable");
    front.abort();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unusable_tls_files_are_refused_at_start() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let pki = pki();
    let dir = tmpdir("bad");
    let ca = write(&dir, "ca.pem", &pki.ca_pem);
    let cert = write(&dir, "client.pem", &pki.client_cert_pem);
    let key = write(&dir, "client.key", &pki.client_key_pem);
    let other_key = write(
        &dir,
        "other.key",
        &KeyPair::generate().expect("key").serialize_pem(),
    );
    let garbage = write(&dir, "garbage.pem", "not pem at all");
    let base = || {
        let mut c = UpstreamConfig::new("https://127.0.0.1:9", "AKID", "SECRET");
        c.allow_unmapped = true;
        c
    };
    let err = |c: UpstreamConfig| UpstreamBackend::new(c).expect_err("refused").to_string();

    let mut c = base();
    c.ca_bundle = Some(dir.join("missing.pem"));
    assert!(err(c).contains("ca_bundle"));
    let mut c = base();
    c.ca_bundle = Some(garbage.clone());
    assert!(err(c).contains("ca_bundle"));
    let mut c = base();
    c.client_cert = Some(cert.clone());
    assert!(err(c).contains("client_key"));
    let mut c = base();
    (c.client_cert, c.client_key) = (Some(cert.clone()), Some(garbage.clone()));
    let msg = err(c);
    assert!(
        msg.contains("client_key") && !msg.contains("not pem at all"),
        "{msg}"
    );
    let mut c = base();
    (c.client_cert, c.client_key) = (Some(cert.clone()), Some(other_key));
    assert!(err(c).contains("does not fit"));
    let mut c = base();
    c.endpoint = "http://127.0.0.1:9".to_owned();
    c.ca_bundle = Some(ca.clone());
    assert!(err(c).contains("https"));
    // and the good set is accepted
    let mut c = base();
    (c.ca_bundle, c.client_cert, c.client_key) = (Some(ca), Some(cert), Some(key));
    UpstreamBackend::new(c).expect("valid TLS files");
    let _ = std::fs::remove_dir_all(&dir);
}
