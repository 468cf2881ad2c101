//! A tenant's client of the control plane's REST API: HTTPS (rustls,
//! trusting `--ca` or the system's CAs), the API key as a bearer token,
//! one HTTP/1.1 connection per request. The URL, key and CA come from
//! flags or `WEFT_API`, `WEFT_API_KEY` and `WEFT_CA`.

use anyhow::{Context as _, Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where the system keeps its trusted CAs (Debian's bundle).
const SYSTEM_CAS: &str = "/etc/ssl/certs/ca-certificates.crt";

/// How to reach the API.
#[derive(clap::Args, Clone, Debug)]
pub struct ApiArgs {
    /// The control plane's REST API, https://HOST:PORT (as `weft control
    /// serve` prints it).
    #[arg(long = "api", value_name = "URL", env = "WEFT_API")]
    pub url: Option<String>,
    /// The tenant's API key (better passed in the environment).
    #[arg(long = "api-key", env = "WEFT_API_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// The CA (PEM) to trust for the API's certificate: the control
    /// plane's ca.pem; default: the system's CAs.
    #[arg(long = "ca", value_name = "FILE", env = "WEFT_CA")]
    pub ca: Option<PathBuf>,
}

pub struct ApiClient {
    host: String,
    port: u16,
    key: String,
    tls: tokio_rustls::TlsConnector,
}

fn roots(ca: Option<&Path>) -> Result<rustls::RootCertStore> {
    let path = ca.unwrap_or(Path::new(SYSTEM_CAS));
    let mut roots = rustls::RootCertStore::empty();
    let certs = rustls_pki_types::CertificateDer::pem_file_iter(path)
        .with_context(|| format!("read --ca {}", path.display()))?;
    for cert in certs {
        let cert = cert.with_context(|| format!("read --ca {}", path.display()))?;
        roots
            .add(cert)
            .with_context(|| format!("--ca {}: a certificate rustls refuses", path.display()))?;
    }
    if roots.is_empty() {
        bail!("--ca {}: no certificate in it", path.display());
    }
    Ok(roots)
}

impl ApiClient {
    pub fn new(args: &ApiArgs) -> Result<ApiClient> {
        let Some(url) = &args.url else {
            bail!("give the control plane's REST API: --api https://HOST:PORT (or WEFT_API)");
        };
        let Some(key) = &args.key else {
            bail!("give the tenant's API key: WEFT_API_KEY (or --api-key)");
        };
        let bad = || {
            anyhow::anyhow!(
                "invalid --api {}: expected https://HOST:PORT",
                weft_model::error::shown(url)
            )
        };
        let rest = url.strip_prefix("https://").ok_or_else(bad)?;
        let authority = rest.trim_end_matches('/').trim_end_matches("/v1");
        let (host, port) = authority.rsplit_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || authority.contains('/') {
            return Err(bad());
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS configuration")?
            .with_root_certificates(roots(args.ca.as_deref())?)
            .with_no_client_auth();
        Ok(ApiClient {
            host: host.to_string(),
            port,
            key: key.trim().to_string(),
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
        })
    }

    fn url(&self) -> String {
        format!("https://{}:{}", self.host, self.port)
    }

    /// `GET path`; the answer's body is read by the caller (it may be a
    /// stream). A failed request's error says the status and the API's
    /// message.
    pub async fn get(&self, path: &str) -> Result<Response<Incoming>> {
        self.request(Method::GET, path, None).await
    }

    /// `method path`, with `body` as JSON; the answer as for [`Self::get`].
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Response<Incoming>> {
        let reach = || format!("reach the control plane at {}", self.url());
        let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .with_context(reach)?;
        let name = rustls_pki_types::ServerName::try_from(self.host.clone())
            .with_context(|| format!("invalid --api host {}", self.host))?;
        let tls = self.tls.connect(name, tcp).await.with_context(reach)?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .with_context(reach)?;
        tokio::spawn(conn);
        let authority = if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        };
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, authority)
            .header(hyper::header::AUTHORIZATION, format!("Bearer {}", self.key));
        let body = match body {
            Some(json) => {
                req = req.header(hyper::header::CONTENT_TYPE, "application/json");
                Bytes::from(serde_json::to_vec(json).context("encode the request")?)
            }
            None => Bytes::new(),
        };
        let req = req.body(Full::new(body)).context("make the request")?;
        let res = sender.send_request(req).await.with_context(reach)?;
        if res.status().is_success() {
            return Ok(res);
        }
        let status = res.status();
        let body = res.into_body().collect().await.map(|b| b.to_bytes());
        let message = body
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v["error"].as_str().map(str::to_string))
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("").to_string());
        bail!("the control plane answered {}: {message}", status.as_u16())
    }

    /// `method path` with `body`; the answer's JSON (`null` when it has
    /// no body, as a 204).
    pub async fn json(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<serde_json::Value> {
        let res = self.request(method, path, body).await?;
        let bytes = res.into_body().collect().await?.to_bytes();
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_slice(&bytes).context("the control plane's answer is not JSON")
    }
}

#[cfg(test)]
mod tests;
