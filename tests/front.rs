//! A fault-injecting HTTP front: a small HTTP/1.1 server on a loopback
//! address that forwards each request to a real registry and passes the
//! request and the registry's answer through the test's hooks, which may
//! rewrite status, headers and body, or stall, cut or delay the answer. It
//! serves plain HTTP or TLS with a certificate from the test CA, and records
//! every request it saw.
//!
//! The registry builds upload `Location`s from `X-Forwarded-Host` and
//! `X-Forwarded-Proto`, which the front sets, so that uploads come back
//! through it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::registry;
use crate::tls::{self, ServerCert};

/// How long a connection may sit idle, or a stalled answer wait for its
/// client to go away, before the front gives up on it.
const IDLE: Duration = Duration::from_secs(60);
/// How many of the last requests a failing test prints.
const SHOWN: usize = 40;

/// A request as the front read it.
#[derive(Clone, Debug)]
pub struct Req {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    /// Names lowercased, in the order sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Req {
    /// The first header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// The target without its query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
}

/// The answer the front will give, as the upstream gave it (or `404` with
/// an empty body without one), for hooks to rewrite.
#[derive(Clone, Debug)]
pub struct Resp {
    pub status: u16,
    /// Names lowercased. `Content-Length` is written as the body's length
    /// whatever this says, except in answers to HEAD, which keep this one.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Send the headers and this many body bytes, then neither close nor
    /// send more until the client goes away (a stalled server).
    pub stall_after: Option<usize>,
    /// Close the connection after this many body bytes (a dropped
    /// connection; over TLS, without close_notify).
    pub cut_after: Option<usize>,
    /// Wait this long before sending anything (a slow server).
    pub delay: Option<Duration>,
}

impl Resp {
    fn new(status: u16) -> Resp {
        Resp {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            stall_after: None,
            cut_after: None,
            delay: None,
        }
    }

    /// The first header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// Replaces every header `name` with one of `value`.
    pub fn set_header(&mut self, name: &str, value: &str) {
        self.remove_header(name);
        self.headers
            .push((name.to_ascii_lowercase(), value.to_string()));
    }

    pub fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
    }
}

/// A request the front answered.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub target: String,
    /// Names lowercased, in the order sent.
    pub headers: Vec<(String, String)>,
    pub body_len: usize,
    /// The status the front answered (after the hooks).
    pub status: u16,
    /// Which connection it came on, counting from 0: requests on one
    /// connection show keep-alive at work.
    pub conn: u64,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

type Matcher = Arc<dyn Fn(&Req) -> bool + Send + Sync>;
type Rewrite = Arc<dyn Fn(&Req, &mut Resp) + Send + Sync>;

struct Hook {
    matches: Matcher,
    f: Rewrite,
    /// How many more times it may run; None: always.
    left: Option<usize>,
    /// Whether the upstream is asked first; hooks that answer on their own
    /// leave it alone, so that a refused upload does not land anyway.
    forward: bool,
}

/// What the accept loop and the connections share.
struct Shared {
    upstream: Option<String>,
    /// `IP:PORT` and scheme of the front, for `X-Forwarded-*`.
    host: String,
    scheme: &'static str,
    agent: ureq::Agent,
    tls: Option<Arc<rustls::ServerConfig>>,
    hooks: Mutex<Vec<Hook>>,
    seen: Mutex<Vec<Seen>>,
    stop: AtomicBool,
    /// What the hooks that panicked said.
    panics: Mutex<Vec<String>>,
    /// Open connections, to shut down when the front stops.
    conns: Mutex<HashMap<u64, TcpStream>>,
    next_conn: AtomicU64,
}

/// A running front. Stops when dropped, closing its connections; prints the
/// last requests it saw if the test is failing.
pub struct Front {
    addr: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Front {
    /// A plain HTTP front on 127.0.0.1 forwarding to `upstream` (`HOST:PORT`).
    pub fn start(upstream: &str) -> Front {
        Front::start_with("127.0.0.1", Some(upstream), None)
    }

    /// A front on a free port of `ip` (127.0.0.1 or 127.0.0.2), forwarding to
    /// `upstream` (`HOST:PORT`, plain HTTP) if given, serving TLS with `tls`
    /// if given.
    pub fn start_with(ip: &str, upstream: Option<&str>, tls: Option<&ServerCert>) -> Front {
        let listener =
            TcpListener::bind((ip, 0)).unwrap_or_else(|e| panic!("front: bind {ip}: {e}"));
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            upstream: upstream.map(String::from),
            host: addr.to_string(),
            scheme: if tls.is_some() { "https" } else { "http" },
            agent: registry::agent(),
            tls: tls.map(tls::server_config),
            hooks: Mutex::new(Vec::new()),
            seen: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            panics: Mutex::new(Vec::new()),
            conns: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(0),
        });
        let thread = {
            let shared = shared.clone();
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if shared.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let shared = shared.clone();
                    std::thread::spawn(move || connection(&shared, conn));
                }
            })
        };
        Front {
            addr,
            shared,
            thread: Some(thread),
        }
    }

    /// `IP:PORT`.
    pub fn host(&self) -> String {
        self.shared.host.clone()
    }

    /// `http://IP:PORT` or `https://IP:PORT`.
    pub fn url(&self) -> String {
        format!("{}://{}", self.shared.scheme, self.shared.host)
    }

    /// Runs `f` on every request for which `matches` holds, after the
    /// upstream answered, at most `times` times (None: always). Hooks run in
    /// the order added; `f` may rewrite the answer in place.
    pub fn hook(
        &self,
        matches: impl Fn(&Req) -> bool + Send + Sync + 'static,
        times: Option<usize>,
        f: impl Fn(&Req, &mut Resp) + Send + Sync + 'static,
    ) {
        self.add(Arc::new(matches), times, Arc::new(f), true);
    }

    /// Like [`Front::hook`], but the upstream is not asked when this hook
    /// runs: `f` starts from an empty `404` and makes the whole answer.
    pub fn intercept(
        &self,
        matches: impl Fn(&Req) -> bool + Send + Sync + 'static,
        times: Option<usize>,
        f: impl Fn(&Req, &mut Resp) + Send + Sync + 'static,
    ) {
        self.add(Arc::new(matches), times, Arc::new(f), false);
    }

    fn add(&self, matches: Matcher, times: Option<usize>, f: Rewrite, forward: bool) {
        lock(&self.shared.hooks).push(Hook {
            matches,
            f,
            left: times,
            forward,
        });
    }

    /// Answers `status` with `headers` and `body` instead of the upstream,
    /// which is not asked.
    pub fn answer(
        &self,
        matches: impl Fn(&Req) -> bool + Send + Sync + 'static,
        times: Option<usize>,
        status: u16,
        headers: &[(&str, &str)],
        body: impl Into<Vec<u8>>,
    ) {
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
            .collect();
        let body = body.into();
        self.intercept(matches, times, move |_, resp| {
            resp.status = status;
            resp.headers = headers.clone();
            resp.body = body.clone();
        });
    }

    /// Flips every bit of the body's byte at `offset` (if the body is that
    /// long): a corrupted download.
    pub fn flip_byte(
        &self,
        matches: impl Fn(&Req) -> bool + Send + Sync + 'static,
        times: Option<usize>,
        offset: usize,
    ) {
        self.hook(matches, times, move |_, resp| {
            if let Some(b) = resp.body.get_mut(offset) {
                *b = !*b;
            }
        });
    }

    /// Sends the headers and `after` body bytes, then hangs until the client
    /// gives up.
    pub fn stall(
        &self,
        matches: impl Fn(&Req) -> bool + Send + Sync + 'static,
        times: Option<usize>,
        after: usize,
    ) {
        self.hook(matches, times, move |_, resp| {
            resp.stall_after = Some(after)
        });
    }

    /// Sends the headers and `after` body bytes, then closes the connection.
    pub fn cut(
        &self,
        matches: impl Fn(&Req) -> bool + Send + Sync + 'static,
        times: Option<usize>,
        after: usize,
    ) {
        self.hook(matches, times, move |_, resp| resp.cut_after = Some(after));
    }

    /// Waits `delay` before answering.
    pub fn delay(
        &self,
        matches: impl Fn(&Req) -> bool + Send + Sync + 'static,
        times: Option<usize>,
        delay: Duration,
    ) {
        self.hook(matches, times, move |_, resp| resp.delay = Some(delay));
    }

    /// Removes every hook: from now on the front forwards unchanged.
    pub fn clear_hooks(&self) {
        lock(&self.shared.hooks).clear();
    }

    /// Every request answered so far, oldest first.
    pub fn requests(&self) -> Vec<Seen> {
        lock(&self.shared.seen).clone()
    }

    /// The requests whose target holds `part`.
    pub fn requests_to(&self, part: &str) -> Vec<Seen> {
        let seen = lock(&self.shared.seen);
        seen.iter()
            .filter(|s| s.target.contains(part))
            .cloned()
            .collect()
    }

    /// Forgets the requests seen so far.
    pub fn clear_requests(&self) {
        lock(&self.shared.seen).clear();
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        for conn in lock(&self.shared.conns).values() {
            let _ = conn.shutdown(Shutdown::Both);
        }
        let panics = lock(&self.shared.panics).clone();
        if !panics.is_empty() && !std::thread::panicking() {
            panic!("front: hooks panicked:\n{}", panics.join("\n"));
        }
        if std::thread::panicking() {
            for p in &panics {
                eprintln!("--- a hook of the front panicked on {p}");
            }
            let seen = lock(&self.shared.seen);
            let tail = &seen[seen.len().saturating_sub(SHOWN)..];
            let lines: Vec<String> = tail
                .iter()
                .map(|s| {
                    format!(
                        "#{} {} {} ({} bytes) -> {}",
                        s.conn, s.method, s.target, s.body_len, s.status
                    )
                })
                .collect();
            eprintln!(
                "--- front {} (upstream {}), last {} of {} requests:\n{}",
                self.url(),
                self.shared.upstream.as_deref().unwrap_or("none"),
                tail.len(),
                seen.len(),
                lines.join("\n")
            );
        }
    }
}

/// Serves one connection until the client closes it, asks to, or the front
/// cuts it.
fn connection(shared: &Shared, tcp: TcpStream) {
    let id = shared.next_conn.fetch_add(1, Ordering::SeqCst);
    let Ok(ctl) = tcp.try_clone() else { return };
    let _ = tcp.set_nodelay(true);
    let _ = tcp.set_read_timeout(Some(IDLE));
    if let Ok(c) = tcp.try_clone() {
        lock(&shared.conns).insert(id, c);
    }
    // The stop flag may have been set before the clone was registered.
    if !shared.stop.load(Ordering::SeqCst) {
        match &shared.tls {
            None => serve(shared, id, tcp, &ctl),
            Some(config) => {
                if let Ok(conn) = rustls::ServerConnection::new(config.clone()) {
                    serve(shared, id, rustls::StreamOwned::new(conn, tcp), &ctl)
                }
            }
        }
    }
    let _ = ctl.shutdown(Shutdown::Both);
    lock(&shared.conns).remove(&id);
}

fn serve<S: Read + Write>(shared: &Shared, id: u64, stream: S, ctl: &TcpStream) {
    let mut reader = BufReader::new(stream);
    loop {
        let req = match read_request(&mut reader) {
            Ok(Some(req)) => req,
            // Closed, timed out, a failed TLS handshake or a broken request.
            Ok(None) | Err(_) => return,
        };
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        // A hook that panics (an assertion in it, say) answers 500 and
        // fails the test when the front is dropped.
        let resp = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| shared.answer(&req)))
            .unwrap_or_else(|panic| {
                let why = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                let why = format!("{} {}: {why}", req.method, req.target);
                lock(&shared.panics).push(why.clone());
                let mut resp = Resp::new(500);
                resp.body = format!("front: a hook panicked on {why}\n").into_bytes();
                resp
            });
        lock(&shared.seen).push(Seen {
            method: req.method.clone(),
            target: req.target.clone(),
            headers: req.headers.clone(),
            body_len: req.body.len(),
            status: resp.status,
            conn: id,
        });
        let close = req
            .header("connection")
            .is_some_and(|c| c.eq_ignore_ascii_case("close"));
        let Ok(keep) = write_response(reader.get_mut(), &req, &resp, close) else {
            return;
        };
        if resp.stall_after.is_some_and(|n| n < resp.body.len()) && resp.cut_after.is_none() {
            wait_until_gone(shared, ctl);
            return;
        }
        if !keep || close {
            return;
        }
    }
}

/// Neither closes nor sends more until the client goes away (or the front
/// stops, or IDLE passes).
fn wait_until_gone(shared: &Shared, ctl: &TcpStream) {
    let _ = ctl.set_read_timeout(Some(Duration::from_millis(100)));
    let mut buf = [0u8; 4096];
    let start = std::time::Instant::now();
    while !shared.stop.load(Ordering::SeqCst) && start.elapsed() < IDLE {
        // Whatever the client still sends (a TLS alert, say) is dropped:
        // the connection serves nothing more.
        match (&*ctl).read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return,
        }
    }
}

impl Shared {
    /// The upstream's answer to `req` (if asked) as the hooks rewrote it.
    fn answer(&self, req: &Req) -> Resp {
        let firing: Vec<(Rewrite, bool)> = {
            let mut hooks = lock(&self.hooks);
            let mut firing = Vec::new();
            for h in hooks.iter_mut() {
                if h.left == Some(0) || !(h.matches)(req) {
                    continue;
                }
                if let Some(n) = &mut h.left {
                    *n -= 1;
                }
                firing.push((h.f.clone(), h.forward));
            }
            firing
        };
        let mut resp = match &self.upstream {
            Some(up) if firing.iter().all(|(_, forward)| *forward) => self.forward(up, req),
            _ => Resp::new(404),
        };
        for (f, _) in &firing {
            f(req, &mut resp);
        }
        resp
    }

    /// Sends `req` to `upstream` and reads its whole answer; a `502` saying
    /// why if that fails.
    fn forward(&self, upstream: &str, req: &Req) -> Resp {
        let url = format!("http://{upstream}{}", req.target);
        let mut builder = ureq::http::Request::builder()
            .method(req.method.as_str())
            .uri(&url);
        for (k, v) in &req.headers {
            if !hop_by_hop(k) && !matches!(k.as_str(), "host" | "content-length" | "expect") {
                builder = builder.header(k.as_str(), v.as_str());
            }
        }
        if req.header("x-forwarded-host").is_none() {
            builder = builder
                .header("x-forwarded-host", self.host.as_str())
                .header("x-forwarded-proto", self.scheme);
        }
        let sent =
            if req.body.is_empty() && !matches!(req.method.as_str(), "POST" | "PUT" | "PATCH") {
                builder
                    .body(())
                    .map_err(ureq::Error::from)
                    .and_then(|r| self.agent.run(r))
            } else {
                let body = req.body.clone();
                builder
                    .body(body)
                    .map_err(ureq::Error::from)
                    .and_then(|r| self.agent.run(r))
            };
        let result = sent.and_then(|r| {
            let (parts, mut body) = r.into_parts();
            let body = body.with_config().limit(u64::MAX).read_to_vec()?;
            Ok((parts, body))
        });
        match result {
            Ok((parts, body)) => {
                let mut resp = Resp::new(parts.status.as_u16());
                resp.headers = parts
                    .headers
                    .iter()
                    .filter(|(k, _)| !hop_by_hop(k.as_str()))
                    .map(|(k, v)| {
                        (
                            k.as_str().to_string(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect();
                resp.body = body;
                resp
            }
            Err(e) => {
                let mut resp = Resp::new(502);
                resp.set_header("content-type", "text/plain");
                resp.body = format!("front: {upstream}: {e}\n").into_bytes();
                resp
            }
        }
    }
}

/// Headers that belong to one connection, not to the message.
fn hop_by_hop(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
    )
}

/// Reads one request; None when the client closed the connection before
/// sending one.
fn read_request<S: Read + Write>(r: &mut BufReader<S>) -> io::Result<Option<Req>> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target), Some(_version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(bad(&format!("request line {line:?}")));
    };
    let mut req = Req {
        method: method.to_string(),
        target: target.to_string(),
        headers: Vec::new(),
        body: Vec::new(),
    };
    req.headers = read_headers(r)?;
    if req
        .header("expect")
        .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
    {
        r.get_mut().write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        r.get_mut().flush()?;
    }
    let chunked = req
        .header("transfer-encoding")
        .is_some_and(|t| t.to_ascii_lowercase().contains("chunked"));
    if chunked {
        loop {
            let mut size = String::new();
            r.read_line(&mut size)?;
            let hex = size.split(';').next().unwrap_or("").trim();
            let n = usize::from_str_radix(hex, 16).map_err(|_| bad(&format!("chunk {size:?}")))?;
            if n == 0 {
                read_headers(r)?; // trailers
                break;
            }
            let start = req.body.len();
            req.body.resize(start + n, 0);
            r.read_exact(&mut req.body[start..])?;
            let mut crlf = String::new();
            r.read_line(&mut crlf)?;
        }
    } else if let Some(n) = req.header("content-length") {
        let n: usize = n.trim().parse().map_err(|_| bad("content-length"))?;
        req.body.resize(n, 0);
        r.read_exact(&mut req.body)?;
    }
    Ok(Some(req))
}

fn read_headers<S: Read>(r: &mut BufReader<S>) -> io::Result<Vec<(String, String)>> {
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let h = h.trim_end();
        if h.is_empty() {
            return Ok(headers);
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("bad {what}"))
}

/// Writes `resp`; whether the connection may serve another request.
fn write_response<S: Write>(out: &mut S, req: &Req, resp: &Resp, close: bool) -> io::Result<bool> {
    if let Some(d) = resp.delay {
        std::thread::sleep(d);
    }
    let head_only = req.method == "HEAD" || matches!(resp.status, 100..=199 | 204 | 304);
    let mut head = format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
    for (k, v) in &resp.headers {
        let framing = k.eq_ignore_ascii_case("content-length") && req.method != "HEAD";
        if framing || hop_by_hop(k) {
            continue;
        }
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !head_only {
        head.push_str(&format!("content-length: {}\r\n", resp.body.len()));
    }
    let cut = resp.cut_after.map(|n| n.min(resp.body.len()));
    if close || cut.is_some() {
        head.push_str("connection: close\r\n");
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    let body: &[u8] = if head_only { &[] } else { &resp.body };
    let send = match (cut, resp.stall_after) {
        (Some(c), Some(s)) => c.min(s),
        (Some(c), None) => c,
        (None, Some(s)) => s.min(body.len()),
        (None, None) => body.len(),
    };
    out.write_all(&body[..send.min(body.len())])?;
    out.flush()?;
    Ok(cut.is_none() && resp.stall_after.is_none_or(|s| s >= body.len()))
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// Locks `m`, even if a hook panicked while holding it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
