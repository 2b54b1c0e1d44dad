//! Adapters over byte streams: [`ReadAhead`] reads a stream on a thread of
//! its own into pooled buffers, so that producing bytes (the network,
//! inflating a layer) and consuming them (hashing, extracting) overlap on two
//! cores.
//!
//! This module knows nothing of what the bytes are.

use std::io::{self, Read};
use std::sync::Mutex;
use std::sync::mpsc::{self, Receiver, Sender};

/// Size of one read-ahead buffer, and of every pooled buffer.
pub const CHUNK: usize = 1 << 20;
/// Spare buffers kept for reuse, process-wide.
const SPARE_MAX: usize = 8;

static SPARE: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// A buffer of [`CHUNK`] bytes (whatever they hold): a spare one if there
/// is one. A pull of many objects then zeroes and maps its buffers once
/// instead of once per object.
pub fn buffer() -> Vec<u8> {
    let spare = SPARE.lock().unwrap_or_else(|e| e.into_inner()).pop();
    match spare {
        Some(mut b) => {
            b.resize(CHUNK, 0);
            b
        }
        None => vec![0; CHUNK],
    }
}

/// Gives a buffer from [`buffer`] back for reuse.
pub fn recycle(mut buf: Vec<u8>) {
    if buf.capacity() != CHUNK {
        return;
    }
    // Only a short last chunk has a tail to refill.
    buf.resize(CHUNK, 0);
    let mut spare = SPARE.lock().unwrap_or_else(|e| e.into_inner());
    if spare.len() < SPARE_MAX {
        spare.push(buf);
    }
}
/// Buffers in flight between the two threads.
const CHUNKS: usize = 3;

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
                let mut buf = pool_rx.try_recv().unwrap_or_else(|_| buffer());
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
                if n > 0 {
                    if let Err(mpsc::SendError(chunk)) = chunk_tx.send(Ok((buf, n))) {
                        if let Ok((b, _)) = chunk {
                            recycle(b);
                        }
                        break;
                    }
                } else {
                    recycle(buf);
                }
                match end {
                    Ok(false) => continue,
                    Ok(true) => drop(chunk_tx.send(Ok((Vec::new(), 0)))),
                    Err(e) => drop(chunk_tx.send(Err(e))),
                }
                break;
            }
            for b in pool_rx.try_iter() {
                recycle(b);
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

impl Drop for ReadAhead {
    fn drop(&mut self) {
        recycle(std::mem::take(&mut self.current));
        for (b, _) in self.chunks.try_iter().flatten() {
            recycle(b);
        }
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
