//! A streaming reader of tar headers, as layers use them: ustar (with its
//! name prefix), GNU long names and links, and PAX extended headers, whose
//! records are read by their length, so that a value may hold any byte
//! (a binary `security.capability`, a newline). Numbers in octal or in
//! base-256. Every header's checksum is checked.
//!
//! It yields one [`Header`] per entry, with the PAX records already applied,
//! and then the entry's data; it knows nothing of files or directories.

use std::io::{self, Read};

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
}
