//! Adapters over byte streams: [`ReadAhead`] reads a stream on a thread of
//! its own into pooled buffers, so that producing bytes (the network,
//! inflating a layer) and consuming them (hashing, extracting) overlap on two
//! cores.
//!
//! This module knows nothing of what the bytes are.

use std::io::{self, Read};
use std::sync::mpsc::{self, Receiver, Sender};

/// Size of one read-ahead buffer.
const CHUNK: usize = 1 << 20;
/// Buffers in flight between the two threads.
const CHUNKS: usize = 4;

/// A reader whose source is read on another thread, up to a few MiB ahead.
pub struct ReadAhead {
    chunks: Receiver<io::Result<(Vec<u8>, usize)>>,
    pool: Sender<Vec<u8>>,
    current: Vec<u8>,
    len: usize,
    at: usize,
    ended: bool,
}

impl ReadAhead {
    /// Starts reading `source` on a new thread. The thread ends at the end of
    /// the source, on its first error, or when the `ReadAhead` is dropped.
    pub fn spawn<R: Read + Send + 'static>(mut source: R) -> ReadAhead {
        let (chunk_tx, chunks) = mpsc::sync_channel(CHUNKS);
        let (pool, pool_rx) = mpsc::channel::<Vec<u8>>();
        std::thread::spawn(move || {
            loop {
                // Buffers keep their full length: nothing is zeroed on reuse.
                let mut buf = pool_rx.try_recv().unwrap_or_else(|_| vec![0; CHUNK]);
                let mut n = 0;
                // Gather a quarter of a buffer per message, or what came before the end.
                let end = loop {
                    match source.read(&mut buf[n..]) {
                        Ok(0) => break Ok(true),
                        Ok(k) => {
                            n += k;
                            if n >= CHUNK / 4 {
                                break Ok(false);
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => break Err(e),
                    }
                };
                if n > 0 && chunk_tx.send(Ok((buf, n))).is_err() {
                    return;
                }
                match end {
                    Ok(false) => continue,
                    Ok(true) => drop(chunk_tx.send(Ok((Vec::new(), 0)))),
                    Err(e) => drop(chunk_tx.send(Err(e))),
                }
                return;
            }
        });
        ReadAhead {
            chunks,
            pool,
            current: Vec::new(),
            len: 0,
            at: 0,
            ended: false,
        }
    }
}

impl Read for ReadAhead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.at == self.len {
            if self.ended {
                return Ok(0);
            }
            let (next, len) = match self.chunks.recv() {
                Ok(chunk) => chunk?,
                Err(_) => return Err(io::Error::other("the reading thread stopped")),
            };
            let spent = std::mem::replace(&mut self.current, next);
            if !spent.is_empty() {
                let _ = self.pool.send(spent);
            }
            (self.len, self.at) = (len, 0);
            if len == 0 {
                self.ended = true;
                return Ok(0);
            }
        }
        let n = buf.len().min(self.len - self.at);
        buf[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn errors_come_through_after_the_bytes_before_them() {
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
        let mut r = ReadAhead::spawn(Failing(1000));
        let mut out = Vec::new();
        let err = r.read_to_end(&mut out).unwrap_err();
        assert_eq!(out.len(), 1000);
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}
