//! A real registry for the tests: Debian's `docker-registry` (the CNCF
//! distribution registry 2.8) on 127.0.0.1, in a fresh directory, with no
//! authentication, htpasswd (Basic) or token authentication served by our own
//! token issuer, on plain HTTP or on TLS with a certificate from the test CA.
//! It pushes test content itself, authenticating as needed.
#![allow(dead_code)]

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::tls::{self, ClientCert, ServerCert};

/// How clients must authenticate to the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    /// Anyone may pull and push.
    None,
    /// HTTP Basic against an htpasswd file holding USER:PASSWORD.
    Basic,
    /// Bearer tokens from our token server: anonymous tokens pull `public/…`
    /// only, tokens fetched with USER:PASSWORD grant every action asked.
    Token,
}

pub const USER: &str = "alice";
pub const PASSWORD: &str = "wonderland";
/// The `service` and `issuer` of the token setup.
pub const SERVICE: &str = "dist-test-registry";
pub const ISSUER: &str = "dist-test-issuer";

const BINARY: &str = "/usr/bin/docker-registry";
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// A running registry. Killed when dropped; its directory is removed then
/// unless the test is failing, in which case the end of its log is printed.
pub struct Registry {
    pub port: u16,
    /// The registry's storage root (`rootdirectory`).
    pub storage: PathBuf,
    dir: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    auth: Auth,
    token: Option<TokenServer>,
    agent: ureq::Agent,
    storage_host: Option<StorageHost>,
    tls: Option<Tls>,
    /// In proxy mode: the upstream's URL, and credentials for it.
    proxy: Option<(String, Option<(String, String)>)>,
}

/// How the registry serves TLS.
#[derive(Clone)]
struct Tls {
    server: ServerCert,
    /// With one, clients must present a certificate from its CA
    /// (`http.tls.clientcas`); the rig presents this one.
    client: Option<ClientCert>,
}

fn unique() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{}-{}-{nanos:x}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn binary() -> PathBuf {
    if Path::new(BINARY).exists() {
        return PathBuf::from(BINARY);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let p = dir.join("docker-registry");
        if p.is_file() {
            return p;
        }
    }
    panic!("docker-registry is missing: apt-get install docker-registry");
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// An HTTP agent for the rig: no proxy, statuses are not errors, no redirects.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .new_agent()
}

/// Runs `cmd`, feeding it `stdin`, and returns its stdout; panics on failure.
pub fn run(cmd: &mut Command, stdin: &[u8]) -> Vec<u8> {
    let desc = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {desc}: {e}"));
    let mut pipe = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(
        out.status.success(),
        "{desc} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

impl Registry {
    /// Starts a registry with `auth` on a free port in a fresh directory and
    /// waits until it answers.
    pub fn start(auth: Auth) -> Registry {
        Registry::start_with(auth, false, None, None)
    }

    /// Starts a pull-through cache of the registry at `upstream` (a URL,
    /// already running), logging in to it with `creds` if given:
    /// distribution's proxy mode, as fleets run it.
    pub fn start_proxy(upstream: &str, creds: Option<(&str, &str)>) -> Registry {
        let creds = creds.map(|(u, p)| (u.to_string(), p.to_string()));
        Registry::start_with(Auth::None, false, None, Some((upstream.to_string(), creds)))
    }

    /// Starts a registry serving HTTPS with `cert` (from [`tls::Ca::issue`]).
    pub fn start_tls(auth: Auth, cert: &ServerCert) -> Registry {
        let tls = Tls {
            server: cert.clone(),
            client: None,
        };
        Registry::start_with(auth, false, Some(tls), None)
    }

    /// Starts a registry serving HTTPS with `cert` that asks every client
    /// for a certificate signed by `client`'s CA; the rig itself presents
    /// `client`.
    pub fn start_mtls(auth: Auth, cert: &ServerCert, client: &ClientCert) -> Registry {
        let tls = Tls {
            server: cert.clone(),
            client: Some(client.clone()),
        };
        Registry::start_with(auth, false, Some(tls), None)
    }

    /// Starts a registry whose blob downloads redirect to a [`StorageHost`]
    /// on another loopback address, as registries backed by S3 or a CDN do
    /// (distribution's `redirect` storage middleware).
    pub fn start_redirecting(auth: Auth) -> Registry {
        Registry::start_with(auth, true, None, None)
    }

    fn start_with(
        auth: Auth,
        redirect: bool,
        tls: Option<Tls>,
        proxy: Option<(String, Option<(String, String)>)>,
    ) -> Registry {
        let bin = binary();
        let base = std::env::var_os("DIST_TEST_TMP")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let dir = base.join(format!("dist-registry-{}", unique()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let storage = dir.join("storage");
        fs::create_dir_all(&storage).unwrap();

        let token = match auth {
            Auth::Token => Some(TokenServer::start(&dir)),
            _ => None,
        };
        if auth == Auth::Basic {
            let line = run(Command::new("htpasswd").args(["-nbB", USER, PASSWORD]), b"");
            fs::write(dir.join("htpasswd"), line).unwrap();
        }
        let mut reg = Registry {
            port: 0,
            storage,
            log: dir.join("registry.log"),
            dir,
            child: None,
            auth,
            token,
            agent: match &tls {
                Some(t) => tls::agent(&t.server.ca, t.client.as_ref()),
                None => agent(),
            },
            storage_host: None,
            tls,
            proxy,
        };
        if redirect {
            reg.storage_host = Some(StorageHost::start(reg.storage.clone()));
        }
        // The port is free when picked but may be taken before the registry
        // binds it: try another one then.
        for attempt in 0.. {
            reg.port = free_port();
            reg.write_config();
            reg.spawn(&bin);
            match reg.wait_ready() {
                Ok(()) => break,
                Err(why) if attempt < 4 && why.contains("exited") => {
                    eprintln!("registry on port {} {why}; retrying", reg.port)
                }
                Err(why) => panic!("registry {why}\n--- log:\n{}", reg.log()),
            }
        }
        reg
    }

    fn write_config(&self) {
        let auth = match self.auth {
            Auth::None => String::new(),
            Auth::Basic => format!(
                "auth:\n  htpasswd:\n    realm: dist-test\n    path: {}\n",
                self.dir.join("htpasswd").display()
            ),
            Auth::Token => {
                let t = self.token.as_ref().unwrap();
                format!(
                    "auth:\n  token:\n    realm: {}\n    service: {SERVICE}\n    issuer: {ISSUER}\n    rootcertbundle: {}\n",
                    t.realm(),
                    t.cert.display()
                )
            }
        };
        let middleware = match &self.storage_host {
            Some(h) => format!(
                "middleware:\n  storage:\n    - name: redirect\n      options:\n        baseurl: http://{}/\n",
                h.addr
            ),
            None => String::new(),
        };
        let tls = match &self.tls {
            Some(t) => {
                let mut s = format!(
                    "  tls:\n    certificate: {}\n    key: {}\n",
                    t.server.cert.display(),
                    t.server.key.display()
                );
                if let Some(c) = &t.client {
                    s.push_str(&format!("    clientcas:\n      - {}\n", c.ca.display()));
                }
                s
            }
            None => String::new(),
        };
        let proxy = match &self.proxy {
            Some((url, creds)) => {
                let mut s = format!("proxy:\n  remoteurl: {url}\n");
                if let Some((user, password)) = creds {
                    s.push_str(&format!("  username: {user}\n  password: {password}\n"));
                }
                s
            }
            None => String::new(),
        };
        let config = format!(
            "version: 0.1
log:
  level: info
  formatter: text
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:{port}
  secret: dist-test-secret
  headers:
    X-Content-Type-Options: [nosniff]
{tls}{auth}{middleware}{proxy}",
            storage = self.storage.display(),
            port = self.port,
        );
        fs::write(self.dir.join("config.yml"), config).unwrap();
    }

    fn spawn(&mut self, bin: &Path) {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(bin)
            .arg("serve")
            .arg(self.dir.join("config.yml"))
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
        self.child = Some(child);
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let start = Instant::now();
        let url = format!("{}/v2/", self.url());
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                self.child = None;
                return Err(format!("exited early ({status})"));
            }
            if let Ok(resp) = self.agent.get(&url).call()
                && matches!(resp.status().as_u16(), 200 | 401)
            {
                return Ok(());
            }
            if start.elapsed() > READY_TIMEOUT {
                return Err(format!("not ready on {url} after {READY_TIMEOUT:?}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The storage host blob downloads redirect to, for a registry started
    /// with [`Registry::start_redirecting`].
    pub fn storage_host(&self) -> Option<&StorageHost> {
        self.storage_host.as_ref()
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT`, or `https://…` on TLS.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.host())
    }

    pub fn auth(&self) -> Auth {
        self.auth
    }

    /// Kills the registry and reaps it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops, then starts again on the same port, storage and token server.
    pub fn restart(&mut self) {
        self.stop();
        let bin = binary();
        let start = Instant::now();
        loop {
            self.spawn(&bin);
            match self.wait_ready() {
                Ok(()) => return,
                // The port may linger for a moment after the kill.
                Err(why) if why.contains("exited") && start.elapsed() < READY_TIMEOUT => {
                    std::thread::sleep(Duration::from_millis(100))
                }
                Err(why) => panic!("registry restart: {why}\n--- log:\n{}", self.log()),
            }
        }
    }

    /// The registry's log so far (its stderr and access log on stdout).
    pub fn log(&self) -> String {
        String::from_utf8_lossy(&fs::read(&self.log).unwrap_or_default()).into_owned()
    }

    /// The requests the token server served, oldest first, each as
    /// `"<request target> credentials"` or `"<request target> anonymous"`.
    /// Empty unless the registry uses Auth::Token.
    pub fn token_requests(&self) -> Vec<String> {
        match &self.token {
            Some(t) => t.requests.lock().unwrap().clone(),
            None => Vec::new(),
        }
    }

    /// The token server's realm (`http://127.0.0.1:PORT/token`), for Auth::Token.
    pub fn token_realm(&self) -> Option<String> {
        self.token.as_ref().map(|t| t.realm())
    }

    /// Where the registry keeps the blob `digest` (`sha256:…`) on disk.
    pub fn blob_data_path(&self, digest: &str) -> PathBuf {
        let (alg, hex) = digest.split_once(':').expect("digest is alg:hex");
        self.storage
            .join("docker/registry/v2/blobs")
            .join(alg)
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// The Authorization header pushes to `repo` use, if any.
    fn push_authorization(&self, repo: &str) -> Option<String> {
        match self.auth {
            Auth::None => None,
            Auth::Basic => Some(basic_authorization(USER, PASSWORD)),
            Auth::Token => {
                let t = self.token.as_ref().unwrap();
                let access = vec![(
                    "repository".into(),
                    repo.to_string(),
                    vec!["pull".into(), "push".into()],
                )];
                Some(format!("Bearer {}", t.issue(USER, &access)))
            }
        }
    }

    /// Uploads `data` as a blob of `repo` (POST, then PUT with the digest)
    /// and returns its digest.
    pub fn push_blob(&self, repo: &str, data: &[u8]) -> String {
        let digest = dist::digest::Digest::of(data).to_string();
        let auth = self.push_authorization(repo);
        let url = format!("{}/v2/{repo}/blobs/uploads/", self.url());
        let mut req = self.agent.post(&url);
        if let Some(a) = &auth {
            req = req.header("Authorization", a);
        }
        let mut resp = req.send_empty().unwrap();
        let status = resp.status().as_u16();
        assert_eq!(
            status,
            202,
            "POST {url}: {}",
            resp.body_mut().read_to_string().unwrap_or_default()
        );
        let location = resp
            .headers()
            .get("Location")
            .expect("upload without Location")
            .to_str()
            .unwrap()
            .to_string();
        let mut put = if location.starts_with("http://") || location.starts_with("https://") {
            location
        } else if location.starts_with('/') {
            format!("{}{location}", self.url())
        } else {
            format!("{}/v2/{repo}/blobs/uploads/{location}", self.url())
        };
        put.push(if put.contains('?') { '&' } else { '?' });
        put.push_str("digest=");
        put.push_str(&digest.replace(':', "%3A"));
        let mut req = self
            .agent
            .put(&put)
            .header("Content-Type", "application/octet-stream");
        if let Some(a) = &auth {
            req = req.header("Authorization", a);
        }
        let mut resp = req.send(data).unwrap();
        let status = resp.status().as_u16();
        assert_eq!(
            status,
            201,
            "PUT {put}: {}",
            resp.body_mut().read_to_string().unwrap_or_default()
        );
        digest
    }

    /// Puts a manifest as `repo:reference` (a tag or its digest) and returns
    /// its digest.
    pub fn push_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        body: &[u8],
    ) -> String {
        let digest = dist::digest::Digest::of(body).to_string();
        let url = format!("{}/v2/{repo}/manifests/{reference}", self.url());
        let mut req = self.agent.put(&url).header("Content-Type", media_type);
        if let Some(a) = self.push_authorization(repo) {
            req = req.header("Authorization", a);
        }
        let mut resp = req.send(body).unwrap();
        let status = resp.status().as_u16();
        let header = resp
            .headers()
            .get("Docker-Content-Digest")
            .map(|v| v.to_str().unwrap().to_string());
        assert_eq!(
            status,
            201,
            "PUT {url}: {}",
            resp.body_mut().read_to_string().unwrap_or_default()
        );
        assert_eq!(header.as_deref(), Some(digest.as_str()), "PUT {url}");
        digest
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            let log = self.log();
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(60)..];
            eprintln!(
                "--- registry {} ({:?}), directory kept: {}\n--- last {} lines of its log:\n{}",
                self.host(),
                self.auth,
                self.dir.display(),
                tail.len(),
                tail.join("\n")
            );
            if let Some(t) = &self.token {
                eprintln!(
                    "--- token requests:\n{}",
                    t.requests.lock().unwrap().join("\n")
                );
            }
        } else {
            self.token = None;
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// `Basic base64(user:password)`.
pub fn basic_authorization(user: &str, password: &str) -> String {
    format!("Basic {}", base64(format!("{user}:{password}").as_bytes()))
}

/// Standard base64 with padding.
pub fn base64(data: &[u8]) -> String {
    encode64(
        data,
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        true,
    )
}

/// URL-safe base64 without padding (JWT).
pub fn base64url(data: &[u8]) -> String {
    encode64(
        data,
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
        false,
    )
}

fn encode64(data: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(alphabet[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

fn decode64(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = acc << 6 | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Decodes `%XX` and `+` in a query component.
fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match (b[i], hex) {
            (b'+', _) => out.push(b' '),
            (b'%', Some(v)) => {
                out.push(v);
                i += 2;
            }
            (c, _) => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// RFC 3339 in UTC, whole seconds.
fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Our token issuer: a minimal HTTP/1.1 server on 127.0.0.1 answering
/// `GET /token?service=…&scope=…` with RS256 JWTs the registry trusts.
pub struct TokenServer {
    port: u16,
    cert: PathBuf,
    issuer: Arc<Issuer>,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct Issuer {
    key: PathBuf,
    /// The certificate in DER, base64 (the JWT's `x5c`).
    x5c: String,
}

impl TokenServer {
    /// Makes a key and self-signed certificate in `dir`, then listens.
    fn start(dir: &Path) -> TokenServer {
        let key = dir.join("key.pem");
        let cert = dir.join("cert.pem");
        run(
            Command::new("openssl")
                .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout"])
                .arg(&key)
                .arg("-out")
                .arg(&cert)
                .args(["-days", "2", "-subj", &format!("/CN={ISSUER}")]),
            b"",
        );
        let der = run(
            Command::new("openssl")
                .args(["x509", "-outform", "der", "-in"])
                .arg(&cert),
            b"",
        );
        let x5c = base64(&der);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let issuer = Arc::new(Issuer { key, x5c });
        let thread = {
            let (requests, stop, issuer) = (requests.clone(), stop.clone(), issuer.clone());
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let (requests, issuer) = (requests.clone(), issuer.clone());
                    std::thread::spawn(move || serve(conn, &issuer, &requests));
                }
            })
        };
        TokenServer {
            port,
            cert,
            issuer,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }

    fn issue(&self, user: &str, access: &[Access]) -> String {
        self.issuer.issue(user, access)
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One grant of a token: resource type, name, actions.
type Access = (String, String, Vec<String>);

impl Issuer {
    /// A JWT for `user` ("" for anonymous) granting `access`.
    fn issue(&self, user: &str, access: &[Access]) -> String {
        static JTI: AtomicU64 = AtomicU64::new(0);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]});
        let access: Vec<serde_json::Value> = access
            .iter()
            .map(|(kind, name, actions)| {
                serde_json::json!({"type": kind, "name": name, "actions": actions})
            })
            .collect();
        let claims = serde_json::json!({
            "iss": ISSUER,
            "sub": user,
            "aud": SERVICE,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": format!("dist-test-{}-{}", unique(), JTI.fetch_add(1, Ordering::Relaxed)),
            "access": access,
        });
        let signing_input = format!(
            "{}.{}",
            base64url(&serde_json::to_vec(&header).unwrap()),
            base64url(&serde_json::to_vec(&claims).unwrap())
        );
        let signature = run(
            Command::new("openssl")
                .args(["dgst", "-sha256", "-sign"])
                .arg(&self.key),
            signing_input.as_bytes(),
        );
        format!("{signing_input}.{}", base64url(&signature))
    }
}

/// Answers one request on `conn`, then closes it.
fn serve(mut conn: TcpStream, issuer: &Issuer, requests: &Mutex<Vec<String>>) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(match conn.try_clone() {
        Ok(c) => c,
        Err(_) => return,
    });
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return; // the wake-up connection, or a client that gave up
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (
        parts.next().unwrap_or("").to_string(),
        parts.next().unwrap_or("").to_string(),
    );
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 {
            break;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    if let Some(n) = headers
        .get("content-length")
        .and_then(|n| n.parse::<u64>().ok())
    {
        let _ = std::io::copy(&mut (&mut reader).take(n), &mut std::io::sink());
    }
    let authorization = headers.get("authorization");
    requests.lock().unwrap().push(format!(
        "{target} {}",
        if authorization.is_some() {
            "credentials"
        } else {
            "anonymous"
        }
    ));
    let (status, extra, body) = answer(&method, &target, authorization, issuer);
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        _ => "Method Not Allowed",
    };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}",
        body.len()
    );
    let _ = conn.write_all(response.as_bytes());
    let _ = conn.flush();
    let _ = conn.shutdown(std::net::Shutdown::Both);
}

/// Status, extra header lines and JSON body for one token request.
fn answer(
    method: &str,
    target: &str,
    authorization: Option<&String>,
    issuer: &Issuer,
) -> (u16, String, String) {
    let error = |status: u16, code: &str, message: &str| {
        let extra = if status == 401 {
            "WWW-Authenticate: Basic realm=\"dist-test-token\"\r\n".to_string()
        } else {
            String::new()
        };
        let body = serde_json::json!({"errors": [{"code": code, "message": message}]});
        (status, extra, body.to_string())
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if path != "/token" {
        return error(404, "NOT_FOUND", "no such path");
    }
    if method != "GET" {
        return error(405, "UNSUPPORTED", "only GET");
    }
    let mut scopes = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = url_decode(v);
        match url_decode(k).as_str() {
            "scope" => scopes.extend(v.split(' ').filter(|s| !s.is_empty()).map(String::from)),
            "service" if v != SERVICE => {
                return error(400, "DENIED", &format!("unknown service {v:?}"));
            }
            _ => {}
        }
    }
    let user = match authorization {
        None => "",
        Some(a) => {
            let creds = a
                .strip_prefix("Basic ")
                .and_then(|b| decode64(b.trim()))
                .map(|b| String::from_utf8_lossy(&b).into_owned());
            if creds.as_deref() != Some(&format!("{USER}:{PASSWORD}")) {
                return error(401, "UNAUTHORIZED", "bad credentials");
            }
            USER
        }
    };
    let mut access: Vec<Access> = Vec::new();
    for scope in &scopes {
        // type:name:actions, the name possibly holding colons.
        let Some((kind, rest)) = scope.split_once(':') else {
            continue;
        };
        let Some((name, actions)) = rest.rsplit_once(':') else {
            continue;
        };
        // Anonymous: pull on public/… only. Authenticated: all asked.
        let actions: Vec<String> = actions
            .split(',')
            .filter(|a| !a.is_empty())
            .filter(|a| {
                !user.is_empty()
                    || (kind == "repository" && *a == "pull" && name.starts_with("public/"))
            })
            .map(String::from)
            .collect();
        if !actions.is_empty() {
            access.push((kind.to_string(), name.to_string(), actions));
        }
    }
    let token = issuer.issue(user, &access);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let body = serde_json::json!({
        "token": token,
        "access_token": token,
        "expires_in": 300,
        "issued_at": rfc3339(now),
    });
    (200, String::new(), body.to_string())
}

/// A storage host on 127.0.0.2 that serves the registry's storage files, the
/// way S3 or a CDN serves a registry's blobs after a redirect. It records the
/// path and `Authorization` header of every request it answers.
pub struct StorageHost {
    pub addr: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// A request the storage host served: its path and `Authorization` header.
type Seen = (String, Option<String>);

impl StorageHost {
    fn start(root: PathBuf) -> StorageHost {
        let listener = TcpListener::bind("127.0.0.2:0").expect("bind 127.0.0.2");
        let addr = listener.local_addr().unwrap().to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (root, log) = (root.clone(), log.clone());
                std::thread::spawn(move || serve_file(stream, &root, &log));
            }
        });
        StorageHost { addr, seen }
    }

    /// (path, Authorization header) of every request served so far.
    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve_file(stream: TcpStream, root: &Path, log: &Mutex<Vec<Seen>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .split('?')
        .next()
        .unwrap_or("/")
        .to_string();
    let mut authorization = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.eq_ignore_ascii_case("authorization")
        {
            authorization = Some(v.trim().to_string());
        }
    }
    log.lock().unwrap().push((path.clone(), authorization));
    let mut out = stream;
    match fs::read(root.join(path.trim_start_matches('/'))) {
        Ok(body) => {
            let _ = write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = out.write_all(&body);
        }
        Err(_) => {
            let _ = write!(
                out,
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    }
}
