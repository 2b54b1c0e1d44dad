//! Layers: compression detected by magic number (gzip, multi-member too,
//! zstd, plain tar; bzip2 and xz are refused), the safe applier of a tar
//! stream to a directory (see `apply`), and the diff ID, the SHA-256 of the
//! uncompressed stream, computed while applying.
//!
//! The applier knows nothing of compression or of the store; [`apply_layer`]
//! composes decompress → hash → apply, inflating on one thread while this
//! one hashes and extracts.

mod apply;

use std::io::{self, BufReader, Read};
use std::path::Path;
use std::sync::mpsc;

pub use apply::{Applied, ApplyOptions};

use crate::digest::{Algorithm, Digest, Digester};
use crate::error::{Context, Error, Kind, Result};
use crate::stream::ReadAhead;

/// How a layer is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// A plain tar stream.
    None,
    /// gzip, one member or several.
    Gzip,
    /// Zstandard.
    Zstd,
}

/// Tells the compression from the first bytes of a stream (six are enough).
pub fn detect(head: &[u8]) -> Result<Compression> {
    let unsupported = |name: &str| {
        Error::new(
            Kind::InvalidContent,
            format!("unsupported compression: {name}"),
        )
    };
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Compression::Gzip)
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Ok(Compression::Zstd)
    } else if head.starts_with(b"BZh") {
        Err(unsupported("bzip2"))
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Err(unsupported("xz"))
    } else if head.is_empty() {
        Err(Error::new(
            Kind::InvalidContent,
            "malformed layer: the stream is empty",
        ))
    } else {
        Ok(Compression::None)
    }
}

/// The uncompressed stream of `input`, whatever its compression.
pub fn decompress<R: Read + Send + 'static>(
    mut input: R,
) -> Result<(Compression, Box<dyn Read + Send>)> {
    let mut head = Vec::with_capacity(6);
    while head.len() < 6 {
        let mut b = [0u8; 6];
        match input.read(&mut b[..6 - head.len()]) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&b[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io(&e).context("layer")),
        }
    }
    let compression = detect(&head)?;
    let stream = io::Cursor::new(head).chain(input);
    let out: Box<dyn Read + Send> = match compression {
        Compression::None => Box::new(stream),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(
            256 << 10,
            stream,
        ))),
        Compression::Zstd => Box::new(
            zstd::stream::read::Decoder::new(stream).map_err(|e| Error::io(&e).context("layer"))?,
        ),
    };
    Ok((compression, out))
}

/// A reader that hashes what passes and sends the digest and size when the
/// stream ends.
struct DigestAtEnd<R> {
    inner: R,
    digester: Option<Digester>,
    size: u64,
    done: mpsc::Sender<(Digest, u64)>,
}

impl<R: Read> Read for DigestAtEnd<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 {
            if let Some(d) = self.digester.take() {
                let _ = self.done.send((d.finish(), self.size));
            }
        } else if let Some(d) = self.digester.as_mut() {
            d.update(&buf[..n]);
            self.size += n as u64;
        }
        Ok(n)
    }
}

/// What applying a layer found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// SHA-256 of the uncompressed stream.
    pub diff_id: Digest,
    /// Bytes of the uncompressed stream.
    pub size: u64,
    /// How it was compressed.
    pub compression: Compression,
    /// What the applier did.
    pub applied: Applied,
}

/// Applies the layer `input` (plain, gzip or zstd) to `dir`, creating `dir`
/// if needed, and returns its diff ID.
pub fn apply_layer<R: Read + Send + 'static>(
    dir: &Path,
    input: R,
    opts: &ApplyOptions,
) -> Result<Layer> {
    let root = crate::fs::root::Root::open(dir).context(dir.display())?;
    let (compression, stream) = decompress(input)?;
    // Inflating runs on its own thread; hashing runs on this one, beside
    // extracting, which leaves it time: the two cores are then evenly used.
    let (tx, rx) = mpsc::channel();
    let mut hashed = DigestAtEnd {
        inner: ReadAhead::spawn(stream),
        digester: Some(Algorithm::Sha256.digester()),
        size: 0,
        done: tx,
    };
    let applied = apply::apply(&root, &mut hashed, opts)?;
    // The diff ID covers the whole stream, also what follows the end-of-archive blocks.
    io::copy(&mut hashed, &mut io::sink()).map_err(|e| apply::malformed_stream(&e))?;
    let (diff_id, size) = rx
        .recv()
        .map_err(|_| Error::new(Kind::Internal, "the layer's digest was not computed"))?;
    Ok(Layer {
        diff_id,
        size,
        compression,
        applied,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_by_magic_number() {
        assert_eq!(
            detect(&[0x1f, 0x8b, 8, 0, 0, 0]).unwrap(),
            Compression::Gzip
        );
        assert_eq!(
            detect(&[0x28, 0xb5, 0x2f, 0xfd, 0, 0]).unwrap(),
            Compression::Zstd
        );
        assert_eq!(detect(b"etc/pa").unwrap(), Compression::None);
        for (head, name) in [
            (&b"BZh91A"[..], "bzip2"),
            (&[0xfd, b'7', b'z', b'X', b'Z', 0][..], "xz"),
        ] {
            let e = detect(head).unwrap_err();
            assert_eq!(e.kind(), Kind::InvalidContent);
            assert_eq!(e.to_string(), format!("unsupported compression: {name}"));
        }
        assert_eq!(detect(b"").unwrap_err().kind(), Kind::InvalidContent);
    }
}
