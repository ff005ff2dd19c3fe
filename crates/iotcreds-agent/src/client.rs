//! Talking to a running agent from the command line (`device credentials`, `agent status`):
//! one plain HTTP/1.1 GET on loopback with the token.

use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper_util::rt::TokioIo;

/// An agent's address and token.
#[derive(Clone)]
pub struct AgentClient {
    /// `127.0.0.1:8770`, `[::1]:8770`.
    pub authority: String,
    token: String,
}

impl std::fmt::Debug for AgentClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AgentClient({})", self.authority)
    }
}

impl AgentClient {
    /// `authority` is `HOST:PORT`; the token is read from `token_file`.
    pub fn new(authority: String, token_file: &std::path::Path) -> Result<Self, String> {
        let token = std::fs::read_to_string(token_file)
            .map_err(|e| {
                format!(
                    "reading the agent's token file {}: {e}",
                    token_file.display()
                )
            })?
            .trim_end_matches(['\r', '\n'])
            .to_owned();
        Ok(Self { authority, token })
    }

    /// GET `path`; returns the status and body.
    pub async fn get(&self, path: &str) -> Result<(u16, Bytes), String> {
        let fut = async {
            let tcp = tokio::net::TcpStream::connect(&self.authority)
                .await
                .map_err(|e| format!("the agent at {} is not reachable: {e}", self.authority))?;
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
                .await
                .map_err(|e| e.to_string())?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            let req = Request::get(path)
                .header(http::header::HOST, &self.authority)
                .header(http::header::AUTHORIZATION, &self.token)
                .body(Empty::<Bytes>::new())
                .map_err(|e| e.to_string())?;
            let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
            let status = resp.status().as_u16();
            let body = Limited::new(resp.into_body(), 1 << 20)
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            Ok((status, body))
        };
        tokio::time::timeout(Duration::from_secs(10), fut)
            .await
            .map_err(|_| format!("the agent at {} did not answer within 10 s", self.authority))?
    }
}
