//! Test support: a fresh directory and store per test, a command wrapper that
//! prints the command, its status, stdout and stderr in full when an
//! expectation fails, and helpers to make content.
#![allow(dead_code)]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where the built programs are.
pub fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_dist-ingest"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A fresh directory for one test, with a store at `root` (`$DIST_ROOT`).
/// Removed when the test passes; kept (and named) when it fails.
pub struct Env {
    pub dir: PathBuf,
    pub root: PathBuf,
}

impl Env {
    pub fn new(name: &str) -> Env {
        let base = std::env::var_os("DIST_TEST_TMP")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let dir = base.join(format!("dist-test-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let root = dir.join("store");
        Env { dir, root }
    }

    /// A command running program `dist-NAME` in the test's directory.
    pub fn dist(&self, name: &str) -> Cmd {
        let mut cmd = Command::new(bin_dir().join(format!("dist-{name}")));
        self.setup(&mut cmd);
        Cmd {
            cmd,
            stdin: Input::Null,
            desc: format!("dist-{name}"),
        }
    }

    /// A command running the built binary `name` (`dist`, the multi-call one).
    pub fn bin(&self, name: &str) -> Cmd {
        let mut cmd = Command::new(bin_dir().join(name));
        self.setup(&mut cmd);
        Cmd {
            cmd,
            stdin: Input::Null,
            desc: name.to_string(),
        }
    }

    /// A shell pipeline with the programs on PATH, run as written.
    pub fn sh(&self, script: &str) -> Cmd {
        let mut cmd = Command::new("bash");
        cmd.args(["-euo", "pipefail", "-c", script]);
        self.setup(&mut cmd);
        Cmd {
            cmd,
            stdin: Input::Null,
            desc: format!("bash -c {script:?}"),
        }
    }

    fn setup(&self, cmd: &mut Command) {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut paths = vec![bin_dir()];
        paths.extend(std::env::split_paths(&path));
        cmd.current_dir(&self.dir)
            .env("PATH", std::env::join_paths(paths).unwrap())
            .env("DIST_ROOT", &self.root)
            // No host configuration but what a test writes there.
            .env("DIST_HOSTS_DIR", self.dir.join("hosts.d"))
            .env_remove("DIST_NAMESPACE")
            .env_remove("CONTAINERD_NAMESPACE");
    }

    /// Writes a file in the test's directory and returns its path.
    pub fn file(&self, name: &str, data: &[u8]) -> PathBuf {
        let path = self.dir.join(name);
        fs::write(&path, data).unwrap();
        path
    }

    pub fn blob(&self, digest: &str) -> PathBuf {
        let (alg, hex) = digest.split_once(':').unwrap();
        self.root.join("blobs").join(alg).join(hex)
    }

    /// The entries left under `ingest/`.
    pub fn ingests(&self) -> Vec<String> {
        match fs::read_dir(self.root.join("ingest")) {
            Ok(rd) => rd
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// The digests committed, from the store's directory itself.
    pub fn blobs(&self) -> Vec<String> {
        let mut out = Vec::new();
        for alg in ["sha256", "sha512"] {
            if let Ok(rd) = fs::read_dir(self.root.join("blobs").join(alg)) {
                out.extend(
                    rd.map(|e| format!("{alg}:{}", e.unwrap().file_name().to_string_lossy())),
                );
            }
        }
        out.sort();
        out
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("test directory kept: {}", self.dir.display());
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

enum Input {
    Null,
    Bytes(Vec<u8>),
    File(PathBuf),
}

pub struct Cmd {
    cmd: Command,
    stdin: Input,
    desc: String,
}

impl Cmd {
    pub fn arg(mut self, arg: impl AsRef<std::ffi::OsStr>) -> Cmd {
        self.desc.push(' ');
        self.desc.push_str(&arg.as_ref().to_string_lossy());
        self.cmd.arg(arg);
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<std::ffi::OsStr>>(mut self, args: I) -> Cmd {
        for a in args {
            self = self.arg(a);
        }
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Cmd {
        self.cmd.env(key, value);
        self
    }

    pub fn stdin(mut self, data: impl Into<Vec<u8>>) -> Cmd {
        self.stdin = Input::Bytes(data.into());
        self
    }

    pub fn stdin_file(mut self, path: &Path) -> Cmd {
        self.desc.push_str(&format!(" < {}", path.display()));
        self.stdin = Input::File(path.to_path_buf());
        self
    }

    /// Starts the command with its stdin as a pipe the test writes to.
    pub fn spawn_piped(mut self) -> Child {
        self.cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    pub fn run(mut self) -> Output {
        let stdin = match &self.stdin {
            Input::Null => Stdio::null(),
            Input::Bytes(_) => Stdio::piped(),
            Input::File(p) => Stdio::from(fs::File::open(p).unwrap()),
        };
        let mut child = self
            .cmd
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.desc));
        if let Input::Bytes(data) = std::mem::replace(&mut self.stdin, Input::Null) {
            let mut pipe = child.stdin.take().unwrap();
            std::thread::spawn(move || {
                let _ = pipe.write_all(&data);
            });
        }
        let out = child.wait_with_output().unwrap();
        Output {
            desc: self.desc,
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs and expects success.
    pub fn ok(self) -> Output {
        self.run().code(0)
    }

    /// Runs and expects exit code `code`.
    pub fn fails(self, code: i32) -> Output {
        self.run().code(code)
    }
}

#[derive(Debug)]
pub struct Output {
    pub desc: String,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn code(self, code: i32) -> Output {
        if self.code != Some(code) {
            self.fail(&format!("expected exit code {code}"));
        }
        self
    }

    pub fn stdout_has(self, text: &str) -> Output {
        if !self.stdout.contains(text) {
            self.fail(&format!("expected stdout to contain {text:?}"));
        }
        self
    }

    pub fn stderr_has(self, text: &str) -> Output {
        if !self.stderr.contains(text) {
            self.fail(&format!("expected stderr to contain {text:?}"));
        }
        self
    }

    /// Asserts that each of `lines` is a whole line of stdout.
    pub fn has_lines(&self, lines: &[&str]) {
        for l in lines {
            if !self.stdout.lines().any(|have| have == *l) {
                self.fail(&format!("expected a line {l:?} on stdout"));
            }
        }
    }

    /// Runs `check` on the output (for assertions that need more than
    /// `stdout_has`), returning it for more.
    pub fn clone_check(&self, check: impl FnOnce(&Output)) {
        check(self)
    }

    /// Stdout's lines.
    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    pub fn fail(&self, why: &str) -> ! {
        panic!(
            "{why}\n--- command: {}\n--- exit code: {:?}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.desc, self.code, self.stdout, self.stderr
        );
    }
}

/// `n` bytes of deterministic, incompressible-looking content.
pub fn content(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(n);
    out
}

/// `sha256:<hex>` of `data`.
pub fn digest(data: &[u8]) -> String {
    dist::digest::Digest::of(data).to_string()
}

/// Polls `cond` every 20 ms until it holds, failing after 20 s.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether the tests run as root (some checks need it, some are moot under it).
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}
