//! A streaming reader of tar headers, as layers use them: ustar (with its
//! name prefix), GNU long names and links, and PAX extended headers, whose
//! records are read by their length, so that a value may hold any byte
//! (a binary `security.capability`, a newline). Numbers in octal or in
//! base-256. Every header's checksum is checked.
//!
//! It yields one [`Header`] per entry, with the PAX records already applied,
//! and then the entry's data; it knows nothing of files or directories.
//!
//! Beside it, [`TarWriter`] writes a tar stream entry by entry: ustar
//! headers, a PAX record for a name or size that does not fit them, each
//! header before its data, the data streamed from a reader of known size
//! (never buffered), and the two end blocks.

use std::io::{self, Read, Write};

use crate::error::{Error, Kind, Result};

const BLOCK: usize = 512;
/// The largest PAX header or GNU long name dist reads into memory (as Go's
/// archive/tar).
const MAX_META: u64 = 1 << 20;
/// The largest entry size: what Go, Python and GNU tar accept.
const MAX_SIZE: u64 = i64::MAX as u64;

/// The kind of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file (also the old `\0` type and contiguous files).
    File,
    /// A hard link to an earlier entry.
    HardLink,
    /// A symbolic link.
    Symlink,
    /// A character device.
    Char,
    /// A block device.
    Block,
    /// A directory.
    Directory,
    /// A named pipe.
    Fifo,
}

/// One entry's header, extended records applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// What the entry is.
    pub kind: EntryKind,
    /// The path, as stored.
    pub name: Vec<u8>,
    /// The target of a link.
    pub link: Vec<u8>,
    /// Permission bits (and setuid, setgid, sticky).
    pub mode: u32,
    /// The owner.
    pub uid: u64,
    /// The group.
    pub gid: u64,
    /// Bytes of data that follow.
    pub size: u64,
    /// Seconds and nanoseconds since the epoch.
    pub mtime: (i64, u32),
    /// Device major number.
    pub dev_major: u32,
    /// Device minor number.
    pub dev_minor: u32,
    /// `SCHILY.xattr.NAME` records: (NAME, value).
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Reads a tar stream header by header.
pub struct TarReader<R> {
    inner: R,
    /// Data bytes of the current entry not read yet.
    remaining: u64,
    /// Padding after the current entry's data.
    padding: u64,
    ended: bool,
}

fn malformed(why: impl std::fmt::Display) -> Error {
    Error::new(Kind::InvalidContent, format!("malformed layer: {why}"))
}

fn read_error(e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        return malformed("the stream ends in the middle of an entry (truncated)");
    }
    let inner = Error::from(e);
    // Errors of the decompressor are errors of the layer.
    match inner.kind() {
        Kind::Internal | Kind::InvalidContent => malformed(inner.message()),
        _ => inner,
    }
}

impl<R: Read> TarReader<R> {
    /// A reader of the tar stream `inner`.
    pub fn new(inner: R) -> TarReader<R> {
        TarReader {
            inner,
            remaining: 0,
            padding: 0,
            ended: false,
        }
    }

    /// The next entry, or `None` at the end of the archive.
    pub fn next_header(&mut self) -> Result<Option<Header>> {
        self.skip_data()?;
        let mut pax: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut long_name: Option<Vec<u8>> = None;
        let mut long_link: Option<Vec<u8>> = None;
        loop {
            if self.ended {
                return Ok(None);
            }
            let mut block = [0u8; BLOCK];
            if !self.read_block(&mut block)? {
                // The stream ends at a header boundary without the end blocks:
                // GNU tar accepts that too.
                self.ended = true;
                if !pax.is_empty() || long_name.is_some() || long_link.is_some() {
                    return Err(malformed("the stream ends after an extended header"));
                }
                return Ok(None);
            }
            if block.iter().all(|&b| b == 0) {
                self.ended = true;
                return Ok(None);
            }
            check_sum(&block)?;
            let size = number(&block[124..136], "size")?;
            if size > MAX_SIZE {
                return Err(malformed(format!("an entry of {size} bytes")));
            }
            let typeflag = block[156];
            match typeflag {
                b'x' | b'g' | b'L' | b'K' => {
                    if size > MAX_META {
                        return Err(malformed(format!("an extended header of {size} bytes")));
                    }
                    let mut data = vec![0u8; size as usize];
                    self.inner.read_exact(&mut data).map_err(read_error)?;
                    self.skip(padding(size))?;
                    match typeflag {
                        // A later header replaces an earlier one, as in Go and GNU tar.
                        b'x' => pax = pax_records(&data)?,
                        // Global records: nothing in them changes how dist applies.
                        b'g' => {
                            pax_records(&data)?;
                        }
                        b'L' => long_name = Some(until_nul(&data).to_vec()),
                        _ => long_link = Some(until_nul(&data).to_vec()),
                    }
                    continue;
                }
                _ => {}
            }
            let mut h = parse(&block, size)?;
            for (key, value) in pax {
                let text = || {
                    std::str::from_utf8(&value)
                        .map_err(|_| malformed("a PAX record that is not UTF-8"))
                };
                match key.as_slice() {
                    b"path" => h.name = value,
                    b"linkpath" => h.link = value,
                    b"size" => h.size = text()?.parse().map_err(|_| malformed("a bad PAX size"))?,
                    b"uid" => h.uid = text()?.parse().map_err(|_| malformed("a bad PAX uid"))?,
                    b"gid" => h.gid = text()?.parse().map_err(|_| malformed("a bad PAX gid"))?,
                    b"mtime" => {
                        h.mtime = pax_time(text()?).ok_or_else(|| malformed("a bad PAX mtime"))?
                    }
                    k if k.starts_with(b"SCHILY.xattr.") => {
                        h.xattrs.push((k[b"SCHILY.xattr.".len()..].to_vec(), value))
                    }
                    k if k.starts_with(b"GNU.sparse.") => {
                        return Err(malformed("GNU sparse files are not supported"));
                    }
                    _ => {}
                }
            }
            // GNU long names win over PAX records, as in Go's archive/tar,
            // which containerd reads layers with: both must see one tree.
            if let Some(n) = long_name {
                h.name = n;
            }
            if let Some(l) = long_link {
                h.link = l;
            }
            if h.size > MAX_SIZE {
                return Err(malformed(format!("an entry of {} bytes", h.size)));
            }
            // Pre-POSIX tars mark directories by a trailing slash on a type
            // NUL entry (only that type, as Go reads it), judged on the final
            // name; '0' and '7' stay files whatever their name.
            if typeflag == 0 && h.name.ends_with(b"/") {
                h.kind = EntryKind::Directory;
            }
            // Only regular files carry data; other kinds are header-only
            // whatever their size field says, as Go's archive/tar reads them.
            self.remaining = if h.kind == EntryKind::File { h.size } else { 0 };
            self.padding = padding(self.remaining);
            return Ok(Some(h));
        }
    }

    /// Reads the current entry's data.
    pub fn data(&mut self) -> Data<'_, R> {
        Data { reader: self }
    }

    fn skip_data(&mut self) -> Result<()> {
        let n = self.remaining.saturating_add(self.padding);
        (self.remaining, self.padding) = (0, 0);
        self.skip(n)
    }

    fn skip(&mut self, n: u64) -> Result<()> {
        let copied =
            io::copy(&mut (&mut self.inner).take(n), &mut io::sink()).map_err(read_error)?;
        if copied < n {
            return Err(malformed(
                "the stream ends in the middle of an entry (truncated)",
            ));
        }
        Ok(())
    }

    /// Reads one block; `false` at a clean end of stream.
    fn read_block(&mut self, block: &mut [u8; BLOCK]) -> Result<bool> {
        let mut n = 0;
        while n < BLOCK {
            match self.inner.read(&mut block[n..]) {
                Ok(0) if n == 0 => return Ok(false),
                Ok(0) => {
                    return Err(malformed(
                        "the stream ends in the middle of a header (truncated)",
                    ));
                }
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(read_error(e)),
            }
        }
        Ok(true)
    }
}

/// The data of one entry.
pub struct Data<'a, R> {
    reader: &'a mut TarReader<R>,
}

impl<R: Read> Read for Data<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let r = &mut *self.reader;
        if r.remaining == 0 {
            return Ok(0);
        }
        let want = buf.len().min(r.remaining.min(usize::MAX as u64) as usize);
        let n = r.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "truncated entry",
            ));
        }
        r.remaining -= n as u64;
        Ok(n)
    }
}

/// The buffer of a copy the kernel does not make.
const COPY_BUF: usize = 1 << 20;

/// The largest size an octal ustar size field holds (11 digits).
const OCTAL_SIZE_MAX: u64 = 0o77_777_777_777;

/// Writes a tar stream: each entry's header, then its data, then padding.
/// Headers are ustar; a name longer than ustar holds (after splitting it
/// into prefix and name) or a size over 8 GiB also gets a PAX header before
/// it, as GNU tar and Go's archive/tar write them.
pub struct TarWriter<W: Write> {
    inner: W,
}

impl<W: Write> TarWriter<W> {
    /// A writer of a tar stream into `inner`.
    pub fn new(inner: W) -> TarWriter<W> {
        TarWriter { inner }
    }

    /// The stream written to, for what must go around the writer.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// A directory entry (mode 0755). `name` gets a trailing slash.
    pub fn directory(&mut self, name: &str) -> io::Result<()> {
        let name = format!("{}/", name.trim_end_matches('/'));
        self.header(&name, b'5', 0o755, 0)
    }

    /// A regular file (mode 0644) holding `data`.
    pub fn file(&mut self, name: &str, data: &[u8]) -> io::Result<()> {
        self.header(name, b'0', 0o644, data.len() as u64)?;
        self.inner.write_all(data)?;
        self.pad(data.len() as u64)
    }

    /// A regular file (mode 0644) of `size` bytes read from `data`: the
    /// header first, then exactly `size` bytes copied as they are read (a
    /// `File` into a `File` goes through the kernel, without a copy here).
    /// A reader that ends early is an error of kind `UnexpectedEof`.
    pub fn file_from(&mut self, name: &str, size: u64, data: &mut impl Read) -> io::Result<()> {
        self.header(name, b'0', 0o644, size)?;
        // A large buffer for what the kernel cannot copy (into a pipe, std
        // reads and writes 8 KiB at a time); file to file still goes
        // through copy_file_range.
        let mut reader = io::BufReader::with_capacity(COPY_BUF, data.take(size));
        let copied = io::copy(&mut reader, &mut self.inner)?;
        if copied < size {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{name}: ended after {copied} of {size} bytes"),
            ));
        }
        self.pad(size)
    }

    /// Ends the archive with its two zero blocks; returns the stream.
    pub fn finish(mut self) -> io::Result<W> {
        self.inner.write_all(&[0u8; 2 * BLOCK])?;
        self.inner.flush()?;
        Ok(self.inner)
    }

    fn pad(&mut self, size: u64) -> io::Result<()> {
        let n = padding(size) as usize;
        self.inner.write_all(&[0u8; BLOCK][..n])
    }

    /// Writes the header of one entry (and a PAX header before it if needed).
    fn header(&mut self, name: &str, typeflag: u8, mode: u32, size: u64) -> io::Result<()> {
        let split = ustar_split(name.as_bytes());
        let mut records = Vec::new();
        if split.is_none() {
            records.extend(pax_record("path", name.as_bytes()));
        }
        if size > OCTAL_SIZE_MAX {
            records.extend(pax_record("size", size.to_string().as_bytes()));
        }
        if !records.is_empty() {
            let pax_name = format!("PaxHeaders/{}", last_component(name));
            let pax_name = &pax_name.as_bytes()[..pax_name.len().min(100)];
            let block = ustar_block(b"", pax_name, b'x', 0o644, records.len() as u64);
            self.inner.write_all(&block)?;
            self.inner.write_all(&records)?;
            self.pad(records.len() as u64)?;
        }
        let (prefix, short) = split.unwrap_or((b"", &name.as_bytes()[..name.len().min(100)]));
        self.inner
            .write_all(&ustar_block(prefix, short, typeflag, mode, size))
    }
}

/// The last component of a path, for the name of its PAX header.
fn last_component(name: &str) -> &str {
    let trimmed = name.trim_end_matches('/');
    let last = trimmed.rsplit('/').next().unwrap_or(trimmed);
    let end = (0..=last.len().min(80))
        .rev()
        .find(|&i| last.is_char_boundary(i))
        .unwrap_or(0);
    &last[..end]
}

/// `name` as ustar holds it: (prefix, name) of at most 155 and 100 bytes,
/// split at a slash; `None` when it does not fit (or holds a NUL).
fn ustar_split(name: &[u8]) -> Option<(&[u8], &[u8])> {
    if name.contains(&0) {
        return None;
    }
    if name.len() <= 100 {
        return Some((b"", name));
    }
    // The last slash that leaves at most 100 bytes after it.
    let at = name
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'/' && i > 0 && name.len() - i - 1 <= 100 && i <= 155)
        .map(|(i, _)| i)
        .next()?;
    let (prefix, rest) = (&name[..at], &name[at + 1..]);
    (!rest.is_empty()).then_some((prefix, rest))
}

/// One `LEN KEY=VALUE\n` PAX record, its length counting itself.
fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let body = [key.as_bytes(), b"=", value, b"\n"].concat();
    let mut len = body.len() + 2;
    while format!("{len} ").len() + body.len() != len {
        len += 1;
    }
    [format!("{len} ").as_bytes(), &body].concat()
}

/// A ustar header block: owner root, time 0 (the same images make the same
/// archive), the size in octal or, past 8 GiB, in base-256.
fn ustar_block(prefix: &[u8], name: &[u8], typeflag: u8, mode: u32, size: u64) -> [u8; BLOCK] {
    let mut b = [0u8; BLOCK];
    b[..name.len()].copy_from_slice(name);
    let octal = |b: &mut [u8], v: u64| {
        let digits = b.len() - 1;
        b[..digits].copy_from_slice(format!("{v:0digits$o}").as_bytes());
    };
    octal(&mut b[100..108], mode as u64);
    octal(&mut b[108..116], 0);
    octal(&mut b[116..124], 0);
    if size <= OCTAL_SIZE_MAX {
        octal(&mut b[124..136], size);
    } else {
        b[124] = 0x80;
        b[128..136].copy_from_slice(&size.to_be_bytes());
    }
    octal(&mut b[136..148], 0);
    b[156] = typeflag;
    b[257..263].copy_from_slice(b"ustar\0");
    b[263..265].copy_from_slice(b"00");
    b[345..345 + prefix.len()].copy_from_slice(prefix);
    b[148..156].copy_from_slice(b"        ");
    let sum: u64 = b.iter().map(|&x| x as u64).sum();
    b[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    b
}

fn padding(size: u64) -> u64 {
    (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64
}

fn until_nul(b: &[u8]) -> &[u8] {
    b.iter().position(|&c| c == 0).map_or(b, |i| &b[..i])
}

/// The header's checksum: the sum of its bytes with the checksum field as
/// spaces (unsigned, or signed as some old tars wrote it).
fn check_sum(block: &[u8; BLOCK]) -> Result<()> {
    let stored = number(&block[148..156], "checksum")?;
    let (mut unsigned, mut signed) = (0u64, 0i64);
    for (i, &b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += b as u64;
        signed += b as i8 as i64;
    }
    if stored != unsigned && stored as i64 != signed {
        return Err(malformed(format!(
            "a header checksum is wrong ({stored} stored, {unsigned} computed)"
        )));
    }
    Ok(())
}

/// A numeric field: octal (spaces and NULs around it), or base-256 when its
/// first byte has the high bit set.
fn number(field: &[u8], what: &str) -> Result<u64> {
    if field.first().is_some_and(|&b| b & 0x80 != 0) {
        if field[0] == 0xff {
            return Err(malformed(format!("a negative {what}")));
        }
        let mut v: u64 = (field[0] & 0x7f) as u64;
        for &b in &field[1..] {
            v = v
                .checked_mul(256)
                .and_then(|v| v.checked_add(b as u64))
                .ok_or_else(|| malformed(format!("a {what} too large")))?;
        }
        return Ok(v);
    }
    let text = field
        .iter()
        .skip_while(|&&b| b == b' ' || b == 0)
        .take_while(|&&b| b != b' ' && b != 0);
    let mut v: u64 = 0;
    for &b in text {
        if !(b'0'..=b'7').contains(&b) {
            return Err(malformed(format!("a {what} field that is not octal")));
        }
        v = v
            .checked_mul(8)
            .and_then(|v| v.checked_add((b - b'0') as u64))
            .ok_or_else(|| malformed(format!("a {what} too large")))?;
    }
    Ok(v)
}

fn parse(block: &[u8; BLOCK], size: u64) -> Result<Header> {
    let mut name = until_nul(&block[0..100]).to_vec();
    let ustar = &block[257..263] == b"ustar\0";
    if ustar {
        let prefix = until_nul(&block[345..500]);
        if !prefix.is_empty() {
            name = [prefix, b"/", &name].concat();
        }
    }
    let typeflag = block[156];
    let kind = match typeflag {
        b'0' | 0 | b'7' => EntryKind::File,
        b'1' => EntryKind::HardLink,
        b'2' => EntryKind::Symlink,
        b'3' => EntryKind::Char,
        b'4' => EntryKind::Block,
        b'5' => EntryKind::Directory,
        b'6' => EntryKind::Fifo,
        b'S' => return Err(malformed("GNU sparse files are not supported")),
        other => {
            return Err(malformed(format!(
                "an entry of unsupported type {:?}",
                other as char
            )));
        }
    };
    let field = |r: std::ops::Range<usize>, what: &str| number(&block[r], what);
    Ok(Header {
        kind,
        name,
        link: until_nul(&block[157..257]).to_vec(),
        mode: (field(100..108, "mode")? & 0o7777) as u32,
        uid: field(108..116, "uid")?,
        gid: field(116..124, "gid")?,
        size,
        mtime: (field(136..148, "mtime")? as i64, 0),
        dev_major: field(329..337, "device major").unwrap_or(0) as u32,
        dev_minor: field(337..345, "device minor").unwrap_or(0) as u32,
        xattrs: Vec::new(),
    })
}

/// `LEN KEY=VALUE\n` records, each read by its length.
fn pax_records(mut data: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut out = Vec::new();
    while !data.is_empty() {
        if data.iter().all(|&b| b == 0) {
            break;
        }
        let space = data
            .iter()
            .position(|&b| b == b' ')
            .ok_or_else(|| malformed("a PAX record without a length"))?;
        let len: usize = std::str::from_utf8(&data[..space])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| malformed("a PAX record with a bad length"))?;
        if len <= space + 1 || len > data.len() || data[len - 1] != b'\n' {
            return Err(malformed("a PAX record whose length does not fit"));
        }
        let record = &data[space + 1..len - 1];
        let eq = record
            .iter()
            .position(|&b| b == b'=')
            .ok_or_else(|| malformed("a PAX record without '='"))?;
        out.push((record[..eq].to_vec(), record[eq + 1..].to_vec()));
        data = &data[len..];
    }
    Ok(out)
}

/// `1700000000.123456789` → (seconds, nanoseconds).
fn pax_time(text: &str) -> Option<(i64, u32)> {
    let (secs, frac) = text.split_once('.').unwrap_or((text, ""));
    let secs: i64 = secs.parse().ok()?;
    let digits: String = frac.chars().take(9).collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let nanos = if digits.is_empty() {
        0
    } else {
        format!("{digits:0<9}").parse().ok()?
    };
    Some((secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &[u8], typeflag: u8, size: u64) -> [u8; BLOCK] {
        let mut b = [0u8; BLOCK];
        b[..name.len()].copy_from_slice(name);
        b[100..107].copy_from_slice(b"0000644");
        b[108..115].copy_from_slice(b"0001750");
        b[116..123].copy_from_slice(b"0001750");
        b[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
        b[136..147].copy_from_slice(b"14544770000");
        b[156] = typeflag;
        b[257..263].copy_from_slice(b"ustar\0");
        b[263..265].copy_from_slice(b"00");
        b[148..156].copy_from_slice(b"        ");
        let sum: u64 = b.iter().map(|&x| x as u64).sum();
        b[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        b
    }

    fn stream(parts: &[(&[u8], u8, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, t, data) in parts {
            out.extend_from_slice(&header(name, *t, data.len() as u64));
            out.extend_from_slice(data);
            out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
        }
        out.extend_from_slice(&[0u8; 2 * BLOCK]);
        out
    }

    fn pax(records: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (k, v) in records {
            let body = [k.as_bytes(), b"=", v, b"\n"].concat();
            let mut len = body.len() + 2;
            while format!("{len} ").len() + body.len() != len {
                len += 1;
            }
            out.extend_from_slice(format!("{len} ").as_bytes());
            out.extend_from_slice(&body);
        }
        out
    }

    #[test]
    fn pax_values_may_hold_newlines_and_override_the_header() {
        let records = pax(&[
            ("path", b"real/name"),
            (
                "SCHILY.xattr.security.capability",
                b"\x01\n27 path=smuggled\n\x00",
            ),
            ("mtime", b"1700000000.5"),
        ]);
        let data = stream(&[(b"PaxHeaders/f", b'x', &records), (b"f", b'0', b"hello")]);
        let mut r = TarReader::new(&data[..]);
        let h = r.next_header().unwrap().unwrap();
        assert_eq!(h.name, b"real/name");
        assert_eq!(
            h.xattrs,
            vec![(
                b"security.capability".to_vec(),
                b"\x01\n27 path=smuggled\n\x00".to_vec()
            )]
        );
        assert_eq!(h.mtime, (1_700_000_000, 500_000_000));
        let mut body = Vec::new();
        r.data().read_to_end(&mut body).unwrap();
        assert_eq!(body, b"hello");
        assert!(r.next_header().unwrap().is_none());
    }

    #[test]
    fn gnu_long_names_and_ustar_prefixes() {
        let long = "d/".repeat(80) + "file";
        let data = stream(&[
            (b"././@LongLink", b'L', long.as_bytes()),
            (b"short", b'0', b"x"),
            (b"l", b'K', b"target/far"),
            (b"link", b'2', b""),
        ]);
        let mut r = TarReader::new(&data[..]);
        assert_eq!(r.next_header().unwrap().unwrap().name, long.as_bytes());
        let h = r.next_header().unwrap().unwrap();
        assert_eq!(
            (h.kind, h.link.as_slice()),
            (EntryKind::Symlink, &b"target/far"[..])
        );
        let mut b = header(b"name", b'0', 0);
        b[345..351].copy_from_slice(b"prefix");
        b[148..156].copy_from_slice(b"        ");
        let sum: u64 = b.iter().map(|&x| x as u64).sum();
        b[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        assert_eq!(parse(&b, 0).unwrap().name, b"prefix/name");
    }

    #[test]
    fn bad_streams_are_malformed() {
        let good = stream(&[(b"f", b'0', b"hello")]);
        let mut bad_sum = good.clone();
        bad_sum[0] = b'g';
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("checksum", bad_sum),
            ("truncated", good[..BLOCK + 2].to_vec()),
            ("truncated", good[..100].to_vec()),
            (
                "length",
                stream(&[(b"p", b'x', b"99 path=x\n"), (b"f", b'0', b"")]),
            ),
            (
                "length",
                stream(&[(b"p", b'x', b"3 x\n"), (b"f", b'0', b"")]),
            ),
            ("unsupported type", stream(&[(b"v", b'V', b"")])),
            ("sparse", stream(&[(b"s", b'S', b"")])),
        ];
        for (why, data) in cases {
            let mut r = TarReader::new(&data[..]);
            let e = (|| -> Result<()> {
                while r.next_header()?.is_some() {
                    io::copy(&mut r.data(), &mut io::sink()).map_err(read_error)?;
                }
                Ok(())
            })()
            .unwrap_err();
            assert_eq!(e.kind(), Kind::InvalidContent, "{why}");
            assert!(
                e.to_string().contains(why.split(' ').next().unwrap()),
                "{why}: {e}"
            );
        }
    }

    fn names(data: &[u8]) -> Result<Vec<(Vec<u8>, EntryKind)>> {
        let mut r = TarReader::new(data);
        let mut out = Vec::new();
        while let Some(h) = r.next_header()? {
            out.push((h.name, h.kind));
        }
        Ok(out)
    }

    #[test]
    fn read_as_go_archive_tar_reads_it() {
        // A later PAX header replaces an earlier one (and so bounds memory).
        let two = stream(&[
            (b"p1", b'x', &pax(&[("path", b"first")])),
            (b"p2", b'x', &pax(&[("uid", b"7")])),
            (b"name", b'0', b""),
        ]);
        assert_eq!(
            names(&two).unwrap(),
            vec![(b"name".to_vec(), EntryKind::File)]
        );
        // A GNU long name wins over a PAX path.
        let both = stream(&[
            (b"p", b'x', &pax(&[("path", b"pax-name")])),
            (b"l", b'L', b"gnu-name"),
            (b"x", b'0', b""),
        ]);
        assert_eq!(names(&both).unwrap()[0].0, b"gnu-name");
        // A '0' entry named with a slash is a file: its data hides no entries.
        let inner = stream(&[(b"hidden", b'0', b"x")]);
        let cover = stream(&[
            (b"cover/", b'0', &inner[..BLOCK * 2]),
            (b"visible", b'0', b""),
        ]);
        assert_eq!(
            names(&cover).unwrap(),
            vec![
                (b"cover/".to_vec(), EntryKind::File),
                (b"visible".to_vec(), EntryKind::File)
            ]
        );
        // Sizes beyond i64 are refused, not wrapped.
        let huge = stream(&[
            (b"p", b'x', &pax(&[("size", b"18446744073709551615")])),
            (b".wh.foo", b'0', b""),
            (b"after", b'0', b""),
        ]);
        assert!(names(&huge).unwrap_err().to_string().contains("bytes"));
    }

    #[test]
    fn numbers_in_octal_and_base_256() {
        assert_eq!(number(b"0000644\0", "m").unwrap(), 0o644);
        assert_eq!(number(b"  644 \0\0", "m").unwrap(), 0o644);
        assert_eq!(
            number(&[0x80, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0], "s").unwrap(),
            1 << 33
        );
        assert!(number(b"0009\0", "m").is_err());
        assert!(number(&[0xff; 12], "s").is_err());
        assert_eq!(pax_time("12").unwrap(), (12, 0));
        assert_eq!(pax_time("1.1234567891").unwrap(), (1, 123_456_789));
        assert!(pax_time("1.x").is_none());
    }

    fn entries(data: &[u8]) -> Vec<(Vec<u8>, EntryKind, Vec<u8>)> {
        let mut r = TarReader::new(data);
        let mut out = Vec::new();
        while let Some(h) = r.next_header().unwrap() {
            let mut body = Vec::new();
            r.data().read_to_end(&mut body).unwrap();
            out.push((h.name, h.kind, body));
        }
        out
    }

    #[test]
    fn the_writer_writes_what_the_reader_and_the_tar_crate_read() {
        let long = format!("{}/{}", "d".repeat(120), "f".repeat(60));
        let longer = "x".repeat(300);
        let mut w = TarWriter::new(Vec::new());
        w.directory("blobs/sha256").unwrap();
        w.file("index.json", b"{}").unwrap();
        w.file_from(&long, 5, &mut &b"hello and more"[..]).unwrap();
        w.file_from(&longer, 0, &mut io::empty()).unwrap();
        w.file("a/b", &[7u8; 1000]).unwrap();
        let data = w.finish().unwrap();
        assert_eq!(data.len() % BLOCK, 0);
        let want = vec![
            (b"blobs/sha256/".to_vec(), EntryKind::Directory, vec![]),
            (b"index.json".to_vec(), EntryKind::File, b"{}".to_vec()),
            (
                long.clone().into_bytes(),
                EntryKind::File,
                b"hello".to_vec(),
            ),
            (longer.clone().into_bytes(), EntryKind::File, vec![]),
            (b"a/b".to_vec(), EntryKind::File, vec![7u8; 1000]),
        ];
        assert_eq!(entries(&data), want);
        // The tar crate (as Go and GNU tar) reads the same.
        let mut ar = ::tar::Archive::new(&data[..]);
        let got: Vec<(Vec<u8>, Vec<u8>)> = ar
            .entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let name = e.path_bytes().to_vec();
                let mut body = Vec::new();
                e.read_to_end(&mut body).unwrap();
                (name, body)
            })
            .collect();
        let want: Vec<(Vec<u8>, Vec<u8>)> = want.into_iter().map(|(n, _, b)| (n, b)).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn gnu_tar_lists_and_extracts_what_the_writer_writes() {
        let dir = std::env::temp_dir().join(format!("dist-tar-writer-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let long = format!("{}/{}", "p".repeat(150), "n".repeat(120));
        let mut w = TarWriter::new(Vec::new());
        w.directory("blobs").unwrap();
        w.file("blobs/one", b"1").unwrap();
        w.file(&long, b"long").unwrap();
        let data = w.finish().unwrap();
        std::fs::write(dir.join("a.tar"), &data).unwrap();
        let out = std::process::Command::new("tar")
            .args(["-xf", "a.tar"])
            .current_dir(&dir)
            .output()
            .expect("GNU tar");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(std::fs::read(dir.join("blobs/one")).unwrap(), b"1");
        assert_eq!(std::fs::read(dir.join(&long)).unwrap(), b"long");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn sizes_past_8_gib_and_short_readers() {
        let block = ustar_block(b"", b"big", b'0', 0o644, 10 << 30);
        assert_eq!(number(&block[124..136], "size").unwrap(), 10 << 30);
        check_sum(&block).unwrap();
        // A PAX size record goes before such a header (not written whole here).
        assert!(pax_record("size", b"10737418240").starts_with(b"20 size="));
        let mut w = TarWriter::new(Vec::new());
        let e = w.file_from("short", 10, &mut &b"abc"[..]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    }
}
