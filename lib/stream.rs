//! Adapters over byte streams: [`ReadAhead`] reads a stream on a thread of
//! its own into pooled buffers, so that producing bytes (the network,
//! inflating a layer) and consuming them (hashing, extracting) overlap on two
//! cores.
//!
//! This module knows nothing of what the bytes are.

use std::io::{self, Read};
use std::sync::Mutex;
use std::sync::mpsc::{self, Receiver};

/// Size of one pooled buffer.
pub const CHUNK: usize = 1 << 20;
/// Spare buffers kept for reuse, process-wide. Spares are only ever buffers
/// that were in use at once before, so keeping them costs no memory beyond
/// the peak; giving them back to the kernel costs a page fault and a zeroed
/// page per 4 KiB each time they are needed again.
const SPARE_MAX: usize = 64;

static SPARE: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// A buffer of [`CHUNK`] bytes (whatever they hold): a spare one if there
/// is one. A pull of many objects then maps its buffers once instead of
/// once per object. Buffers keep their full length all their life (a
/// [`Chunk`] tracks what it holds), so reuse never zeroes them again.
fn buffer() -> Vec<u8> {
    let spare = SPARE.lock().unwrap_or_else(|e| e.into_inner()).pop();
    spare.unwrap_or_else(|| vec![0; CHUNK])
}

/// Gives a buffer from [`buffer`] back for reuse.
fn recycle(buf: Vec<u8>) {
    if buf.len() != CHUNK {
        return; // the end marker's empty buffer
    }
    let mut spare = SPARE.lock().unwrap_or_else(|e| e.into_inner());
    if spare.len() < SPARE_MAX {
        spare.push(buf);
    }
}

/// Bytes in a pooled buffer, handed from thread to thread without a copy;
/// the buffer goes back to the pool when the chunk is dropped.
pub struct Chunk {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Chunk {
    /// An empty chunk over a pooled buffer, to be filled through [`Chunk::space`].
    pub fn new() -> Chunk {
        Chunk {
            buf: buffer(),
            start: 0,
            end: 0,
        }
    }

    /// A chunk of nothing, with no buffer.
    fn end() -> Chunk {
        Chunk {
            buf: Vec::new(),
            start: 0,
            end: 0,
        }
    }

    /// The room after the bytes held.
    pub fn space(&mut self) -> &mut [u8] {
        &mut self.buf[self.end..]
    }

    /// Counts `n` more bytes of [`Chunk::space`] as held.
    pub fn filled(&mut self, n: usize) {
        self.end = (self.end + n).min(self.buf.len());
    }

    /// Drops the first `n` bytes held.
    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
    }
}

impl Default for Chunk {
    fn default() -> Chunk {
        Chunk::new()
    }
}

impl std::ops::Deref for Chunk {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        recycle(std::mem::take(&mut self.buf));
    }
}

/// Chunks in flight between the two threads.
const CHUNKS: usize = 3;

/// A reader whose source is read on another thread, up to a few MiB ahead.
/// Read it as a [`Read`], or take its chunks whole with [`ReadAhead::next_chunk`].
pub struct ReadAhead {
    source: Source,
    current: Option<Chunk>,
    ended: bool,
}

enum Source {
    Thread(Receiver<io::Result<Chunk>>),
    /// The source, and the error that stopped it once the bytes before it are out.
    Inline(Box<dyn Read + Send>, Option<io::Error>),
}

/// Reads a quarter of a buffer or more from `source`, or what came before its
/// end; says whether it ended (or what stopped it).
fn gather(source: &mut impl Read) -> (Chunk, io::Result<bool>) {
    let mut chunk = Chunk::new();
    loop {
        match source.read(chunk.space()) {
            Ok(0) => return (chunk, Ok(true)),
            Ok(k) => {
                chunk.filled(k);
                if chunk.len() >= CHUNK / 4 {
                    return (chunk, Ok(false));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (chunk, Err(e)),
        }
    }
}

impl ReadAhead {
    /// Starts reading `source` on a new thread. The thread ends at the end of
    /// the source, on its first error, or when the `ReadAhead` is dropped.
    pub fn spawn<R: Read + Send + 'static>(mut source: R) -> ReadAhead {
        let (chunk_tx, chunks) = mpsc::sync_channel(CHUNKS);
        std::thread::spawn(move || {
            loop {
                let (chunk, end) = gather(&mut source);
                if !chunk.is_empty() && chunk_tx.send(Ok(chunk)).is_err() {
                    break;
                }
                match end {
                    Ok(false) => continue,
                    // An empty chunk says the source ended.
                    Ok(true) => drop(chunk_tx.send(Ok(Chunk::end()))),
                    Err(e) => drop(chunk_tx.send(Err(e))),
                }
                break;
            }
        });
        ReadAhead {
            source: Source::Thread(chunks),
            current: None,
            ended: false,
        }
    }

    /// A `ReadAhead` that reads `source` on the caller's thread, in the same
    /// chunks: for sources so short that a thread costs more than it saves.
    pub fn inline<R: Read + Send + 'static>(source: R) -> ReadAhead {
        ReadAhead {
            source: Source::Inline(Box::new(source), None),
            current: None,
            ended: false,
        }
    }

    /// The next bytes of the source, whole as the thread read them (what
    /// [`Read::read`] left of them first); `None` at the end.
    pub fn next_chunk(&mut self) -> io::Result<Option<Chunk>> {
        if let Some(chunk) = self.current.take().filter(|c| !c.is_empty()) {
            return Ok(Some(chunk));
        }
        if self.ended {
            return Ok(None);
        }
        let next = match &mut self.source {
            Source::Thread(chunks) => chunks
                .recv()
                .unwrap_or_else(|_| Err(io::Error::other("the reading thread stopped"))),
            Source::Inline(_, error) if error.is_some() => {
                Err(error.take().unwrap_or_else(|| io::Error::other("no error")))
            }
            Source::Inline(source, error) => match gather(source) {
                (chunk, Ok(false)) => Ok(chunk),
                (chunk, Ok(true)) => {
                    self.ended = true;
                    Ok(chunk)
                }
                // The bytes before an error first, as from the thread.
                (chunk, Err(e)) if !chunk.is_empty() => {
                    *error = Some(e);
                    Ok(chunk)
                }
                (_, Err(e)) => Err(e),
            },
        };
        match next {
            Ok(chunk) if chunk.is_empty() => {
                self.ended = true;
                Ok(None)
            }
            chunk => chunk.map(Some),
        }
    }
}

impl Read for ReadAhead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.current.as_ref().is_none_or(|c| c.is_empty()) {
            self.current = self.next_chunk()?;
        }
        let Some(chunk) = self.current.as_mut() else {
            return Ok(0);
        };
        let n = buf.len().min(chunk.len());
        buf[..n].copy_from_slice(&chunk[..n]);
        chunk.consume(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source of `.0` bytes of 1, then an error.
    struct Failing(usize);

    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "broken"));
            }
            let n = buf.len().min(self.0);
            buf[..n].fill(1);
            self.0 -= n;
            Ok(n)
        }
    }

    #[test]
    fn reads_everything_in_order_then_ends() {
        let data: Vec<u8> = (0..5_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut r = ReadAhead::spawn(io::Cursor::new(data.clone()));
        let mut out = Vec::new();
        let mut small = [0u8; 777];
        loop {
            let n = r.read(&mut small).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&small[..n]);
        }
        assert_eq!(out, data);
        assert_eq!(r.read(&mut small).unwrap(), 0);
    }

    #[test]
    fn chunks_come_whole_after_what_read_left_of_one() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
        let mut r = ReadAhead::spawn(io::Cursor::new(data.clone()));
        let mut out = vec![0u8; 1000];
        r.read_exact(&mut out).unwrap();
        let mut whole = 0;
        while let Some(c) = r.next_chunk().unwrap() {
            whole += usize::from(c.len() >= CHUNK / 4);
            out.extend_from_slice(&c);
        }
        assert_eq!(out, data);
        assert!(whole >= 2, "chunks were not passed whole");
        assert!(r.next_chunk().unwrap().is_none());
        assert_eq!(r.read(&mut [0u8; 10]).unwrap(), 0);
    }

    #[test]
    fn inline_reads_give_the_same_chunks_and_errors_after_bytes() {
        let data: Vec<u8> = (0..700_000u32).map(|i| (i % 241) as u8).collect();
        let mut r = ReadAhead::inline(io::Cursor::new(data.clone()));
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
        assert!(r.next_chunk().unwrap().is_none());
        let mut r = ReadAhead::inline(Failing(1000));
        assert_eq!(r.next_chunk().unwrap().unwrap().len(), 1000);
        let err = r.next_chunk().err().expect("the error after the bytes");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn errors_come_through_after_the_bytes_before_them() {
        let mut r = ReadAhead::spawn(Failing(1000));
        let mut out = Vec::new();
        let err = r.read_to_end(&mut out).unwrap_err();
        assert_eq!(out.len(), 1000);
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}
