//! Content digests (`sha256:<64 hex>`, `sha512:<128 hex>`): strict parsing,
//! and hashing adapters so that bytes are hashed while they are copied.
//!
//! This module owns the digest grammar of the OCI image spec restricted to the
//! algorithms a registry may use; it knows nothing of where bytes come from.

use std::fmt;
use std::io::{self, Read, Write};
use std::str::FromStr;

use sha2::Digest as _;

use crate::error::{Error, Result};

/// A digest algorithm the store and registries accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// SHA-256, the default everywhere.
    Sha256,
    /// SHA-512.
    Sha512,
}

impl Algorithm {
    /// `sha256` or `sha512`: the prefix of a digest and the directory under `blobs/`.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// Length of the hex-encoded value.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }

    /// The algorithm named `name`, if dist supports it.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        match name {
            "sha256" => Some(Algorithm::Sha256),
            "sha512" => Some(Algorithm::Sha512),
            _ => None,
        }
    }

    /// A fresh hasher of this algorithm.
    pub fn digester(self) -> Digester {
        match self {
            Algorithm::Sha256 => Digester::Sha256(sha2::Sha256::new()),
            Algorithm::Sha512 => Digester::Sha512(sha2::Sha512::new()),
        }
    }
}

/// A validated digest: an algorithm and its lowercase hex value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    hex: String,
}

impl Digest {
    /// The digest's algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The lowercase hex value, without the algorithm.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The SHA-256 digest of `data`.
    pub fn of(data: &[u8]) -> Digest {
        let mut d = Algorithm::Sha256.digester();
        d.update(data);
        d.finish()
    }

    /// Builds a digest from an algorithm and a hex value, validating the value.
    pub fn from_parts(algorithm: Algorithm, hex: &str) -> Result<Digest> {
        let bad = |why: String| {
            Error::invalid(format!(
                "invalid digest '{}:{hex}': {why}",
                algorithm.name()
            ))
        };
        if let Some((i, c)) = hex
            .char_indices()
            .find(|&(_, c)| !matches!(c, '0'..='9' | 'a'..='f'))
        {
            let what = if c.is_ascii_hexdigit() {
                "an uppercase"
            } else {
                "a non-hex"
            };
            return Err(bad(format!(
                "{what} character {c:?} at offset {i} (the value must be lowercase hex)"
            )));
        }
        if hex.len() != algorithm.hex_len() {
            return Err(bad(format!(
                "{} hex digits, {} needs {}",
                hex.len(),
                algorithm.name(),
                algorithm.hex_len()
            )));
        }
        Ok(Digest {
            algorithm,
            hex: hex.to_string(),
        })
    }
}

impl FromStr for Digest {
    type Err = Error;

    fn from_str(s: &str) -> Result<Digest> {
        let Some((algo, hex)) = s.split_once(':') else {
            let hint = if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
                " (did you mean sha256:…?)"
            } else {
                ""
            };
            return Err(Error::invalid(format!(
                "invalid digest '{s}': expected ALGORITHM:HEX such as sha256:<64 hex digits>{hint}"
            )));
        };
        let Some(algorithm) = Algorithm::from_name(algo) else {
            let why = if algo.is_empty() {
                "the algorithm is missing".to_string()
            } else {
                format!("unsupported algorithm '{algo}' (sha256 or sha512)")
            };
            return Err(Error::invalid(format!("invalid digest '{s}': {why}")));
        };
        Digest::from_parts(algorithm, hex)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.name(), self.hex)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Digest, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An running hash of one algorithm.
#[derive(Clone)]
pub enum Digester {
    /// SHA-256 state.
    Sha256(sha2::Sha256),
    /// SHA-512 state.
    Sha512(sha2::Sha512),
}

impl Digester {
    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Digester::Sha256(h) => h.update(data),
            Digester::Sha512(h) => h.update(data),
        }
    }

    /// The digest of everything fed so far.
    pub fn finish(self) -> Digest {
        let (algorithm, bytes) = match self {
            Digester::Sha256(h) => (Algorithm::Sha256, h.finalize().to_vec()),
            Digester::Sha512(h) => (Algorithm::Sha512, h.finalize().to_vec()),
        };
        Digest {
            algorithm,
            hex: hex(&bytes),
        }
    }
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// A reader that hashes and counts what passes through it.
pub struct HashingReader<R> {
    inner: R,
    digester: Digester,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    /// Hashes what `inner` yields with `algorithm`.
    pub fn new(inner: R, algorithm: Algorithm) -> Self {
        HashingReader {
            inner,
            digester: algorithm.digester(),
            count: 0,
        }
    }

    /// Bytes read so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The digest of the bytes read so far, and the inner reader.
    pub fn finish(self) -> (Digest, R) {
        (self.digester.finish(), self.inner)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.digester.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// A writer that hashes and counts what passes through it.
pub struct HashingWriter<W> {
    inner: W,
    digester: Digester,
    count: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Hashes what is written to `inner` with `algorithm`.
    pub fn new(inner: W, algorithm: Algorithm) -> Self {
        HashingWriter {
            inner,
            digester: algorithm.digester(),
            count: 0,
        }
    }

    /// Bytes written so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The digest of the bytes written so far, and the inner writer.
    pub fn finish(self) -> (Digest, W) {
        (self.digester.finish(), self.inner)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.digester.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn parses_and_prints_canonical_form() {
        let d: Digest = EMPTY.parse().unwrap();
        assert_eq!(d.to_string(), EMPTY);
        assert_eq!(d, Digest::of(b""));
        assert_eq!(d.algorithm(), Algorithm::Sha256);
    }

    #[test]
    fn sha512_is_accepted() {
        let mut h = Algorithm::Sha512.digester();
        h.update(b"abc");
        let d = h.finish();
        assert!(d.hex().starts_with("ddaf35a193617aba"));
        assert_eq!(d.to_string().parse::<Digest>().unwrap(), d);
    }

    #[test]
    fn rejects_every_bad_form_with_a_reason() {
        let cases = [
            ("", "expected ALGORITHM:HEX"),
            ("sha256", "expected ALGORITHM:HEX"),
            (&EMPTY[7..], "did you mean sha256:"),
            (":abc", "algorithm is missing"),
            (
                "md5:d41d8cd98f00b204e9800998ecf8427e",
                "unsupported algorithm 'md5'",
            ),
            ("SHA256:e3b0", "unsupported algorithm 'SHA256'"),
            ("sha256:", "0 hex digits, sha256 needs 64"),
            ("sha256:e3b0c44298fc", "12 hex digits"),
            (&format!("{EMPTY}00"), "66 hex digits"),
            (
                &EMPTY.to_uppercase().replace("SHA256", "sha256"),
                "uppercase character",
            ),
            (&EMPTY.replace('e', "g"), "non-hex character 'g'"),
            ("sha256:../../etc/passwd", "non-hex character '.'"),
            (&format!("{EMPTY} "), "non-hex character ' '"),
        ];
        for (input, why) in cases {
            let err = input.parse::<Digest>().unwrap_err();
            assert_eq!(err.kind(), crate::Kind::InvalidArgument, "{input}");
            assert!(err.to_string().contains(why), "{input:?}: {err}");
        }
    }

    #[test]
    fn hashing_adapters_count_and_hash() {
        let mut r = HashingReader::new(&b"hello world"[..], Algorithm::Sha256);
        let mut out = Vec::new();
        io::copy(&mut r, &mut out).unwrap();
        assert_eq!(r.count(), 11);
        let (d, _) = r.finish();
        assert_eq!(d, Digest::of(b"hello world"));

        let mut w = HashingWriter::new(Vec::new(), Algorithm::Sha256);
        w.write_all(b"hello world").unwrap();
        let (d2, inner) = w.finish();
        assert_eq!((d2, inner.as_slice()), (d, &b"hello world"[..]));
    }
}
