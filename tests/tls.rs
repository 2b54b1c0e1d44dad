//! A test certificate authority made with `openssl`: a self-signed CA, server
//! certificates for loopback addresses and client certificates it signs, and
//! ureq agents that trust it. EC P-256 keys in PKCS#8, which rustls and Go's
//! crypto/tls both read.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::registry::run;

/// A CA: its key and self-signed certificate, in a directory of the test's.
pub struct Ca {
    cert: PathBuf,
    key: PathBuf,
}

/// A server certificate signed by a [`Ca`], for the names it was issued for.
#[derive(Clone, Debug)]
pub struct ServerCert {
    /// The certificate, PEM.
    pub cert: PathBuf,
    /// Its private key, PEM (PKCS#8).
    pub key: PathBuf,
    /// The certificate of the CA that signed it, PEM.
    pub ca: PathBuf,
}

/// A client certificate (`extendedKeyUsage=clientAuth`) signed by a [`Ca`].
#[derive(Clone, Debug)]
pub struct ClientCert {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
}

/// `openssl req` needs a config; ours holds only what we ask for, so that the
/// system's openssl.cnf cannot add or clash with extensions.
const REQ_CONFIG: &str = "[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
";

fn new_key_args() -> [&'static str; 4] {
    ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
}

impl Ca {
    /// Makes a CA key and certificate (`CN=dist test CA`, valid two days) in
    /// `dir`, which must exist.
    pub fn new(dir: &Path) -> Ca {
        let config = dir.join("ca-req.cnf");
        fs::write(&config, REQ_CONFIG).unwrap();
        let (cert, key) = (dir.join("ca.pem"), dir.join("ca.key"));
        run(
            Command::new("openssl")
                .args(["req", "-x509", "-config"])
                .arg(&config)
                .args(["-extensions", "ca", "-nodes"])
                .args(new_key_args())
                .arg("-keyout")
                .arg(&key)
                .arg("-out")
                .arg(&cert)
                .args(["-days", "2", "-subj", "/CN=dist test CA"]),
            b"",
        );
        Ca { cert, key }
    }

    /// The CA certificate, PEM: what clients must trust.
    pub fn cert_path(&self) -> &Path {
        &self.cert
    }

    /// A server certificate for `hosts` (IP addresses become `IP:` entries
    /// of subjectAltName, the rest `DNS:`), as `dir/NAME.pem` and
    /// `dir/NAME.key`.
    pub fn issue(&self, dir: &Path, name: &str, hosts: &[&str]) -> ServerCert {
        let sans: Vec<String> = hosts
            .iter()
            .map(|h| match h.parse::<std::net::IpAddr>() {
                Ok(_) => format!("IP:{h}"),
                Err(_) => format!("DNS:{h}"),
            })
            .collect();
        let ext = format!(
            "subjectAltName = {}\nextendedKeyUsage = serverAuth\nkeyUsage = critical, digitalSignature\n",
            sans.join(", ")
        );
        let (cert, key) = self.sign(dir, name, &ext);
        ServerCert {
            cert,
            key,
            ca: self.cert.clone(),
        }
    }

    /// A client certificate `CN=NAME`, as `dir/NAME.pem` and `dir/NAME.key`.
    pub fn issue_client(&self, dir: &Path, name: &str) -> ClientCert {
        let ext = "extendedKeyUsage = clientAuth\nkeyUsage = critical, digitalSignature\n";
        let (cert, key) = self.sign(dir, name, ext);
        ClientCert {
            cert,
            key,
            ca: self.cert.clone(),
        }
    }

    /// A new key and an end-entity certificate `CN=NAME` with `ext`.
    fn sign(&self, dir: &Path, name: &str, ext: &str) -> (PathBuf, PathBuf) {
        let config = dir.join(format!("{name}-req.cnf"));
        fs::write(&config, REQ_CONFIG).unwrap();
        let extfile = dir.join(format!("{name}-ext.cnf"));
        fs::write(
            &extfile,
            format!(
                "[ee]\nbasicConstraints = critical, CA:FALSE\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n{ext}"
            ),
        )
        .unwrap();
        let (cert, key, csr) = (
            dir.join(format!("{name}.pem")),
            dir.join(format!("{name}.key")),
            dir.join(format!("{name}.csr")),
        );
        run(
            Command::new("openssl")
                .args(["req", "-new", "-config"])
                .arg(&config)
                .arg("-nodes")
                .args(new_key_args())
                .arg("-keyout")
                .arg(&key)
                .arg("-out")
                .arg(&csr)
                .args(["-subj", &format!("/CN={name}")]),
            b"",
        );
        // A serial of our own, unique without a serial file: the time and a count.
        static N: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let serial = format!("{nanos}{}", N.fetch_add(1, Ordering::Relaxed));
        run(
            Command::new("openssl")
                .args(["x509", "-req", "-in"])
                .arg(&csr)
                .arg("-CA")
                .arg(&self.cert)
                .arg("-CAkey")
                .arg(&self.key)
                .args(["-set_serial", &serial, "-days", "2"])
                .arg("-extfile")
                .arg(&extfile)
                .args(["-extensions", "ee", "-out"])
                .arg(&cert),
            b"",
        );
        (cert, key)
    }

    /// An agent like [`crate::registry::agent`] that trusts this CA only.
    pub fn agent(&self) -> ureq::Agent {
        agent(&self.cert, None)
    }
}

/// An agent like [`crate::registry::agent`] that trusts only the CA in
/// `ca` (PEM) and presents `client`, if given.
pub fn agent(ca: &Path, client: Option<&ClientCert>) -> ureq::Agent {
    use ureq::tls::{Certificate, ClientCert as UreqClientCert, PrivateKey, RootCerts, TlsConfig};
    let pem = fs::read(ca).unwrap();
    let root = Certificate::from_pem(&pem).unwrap();
    let mut tls = TlsConfig::builder().root_certs(RootCerts::Specific(Arc::new(vec![root])));
    if let Some(c) = client {
        let cert = Certificate::from_pem(&fs::read(&c.cert).unwrap()).unwrap();
        let key = PrivateKey::from_pem(&fs::read(&c.key).unwrap()).unwrap();
        tls = tls.client_cert(Some(UreqClientCert::new_with_certs(&[cert], key)));
    }
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(60)))
        .tls_config(tls.build())
        .build()
        .new_agent()
}

/// A rustls server configuration serving `cert` (ring, the provider ureq
/// already brings in).
pub fn server_config(cert: &ServerCert) -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert.cert)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(&cert.key).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap_or_else(|e| panic!("{}: {e}", cert.cert.display()));
    Arc::new(config)
}
