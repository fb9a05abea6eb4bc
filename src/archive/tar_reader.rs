//! A strict, streaming tar reader for untrusted archives: ustar, GNU long names and pax `path`/`size`
//! records, with every header checksummed and every metadata record capped in size, so a hostile
//! stream can neither smuggle a path past the caller nor make the reader buffer without bound.

use std::io::{self, Read};

use crate::error::{Error, Result};

const BLOCK: usize = 512;
/// GNU long-name records above this size are refused.
const LONG_NAME_LIMIT: u64 = 4096;
/// pax extended headers above this size are refused.
const PAX_LIMIT: u64 = 64 << 10;

/// What kind of member a header describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Regular,
    Directory,
    Symlink,
    HardLink,
    Device,
    Fifo,
    Other(u8),
}

impl Kind {
    fn from_flag(flag: u8) -> Kind {
        match flag {
            b'0' | 0 => Kind::Regular,
            b'1' => Kind::HardLink,
            b'2' => Kind::Symlink,
            b'3' | b'4' => Kind::Device,
            b'5' => Kind::Directory,
            b'6' => Kind::Fifo,
            other => Kind::Other(other),
        }
    }
}

/// One member's header: its path (raw bytes, after long-name and pax records), kind, size, and for
/// a link the path it names (empty otherwise).
#[derive(Debug)]
pub(crate) struct Member {
    pub path: Vec<u8>,
    pub kind: Kind,
    pub size: u64,
    pub link: Vec<u8>,
}

/// Reads members one after another; between two calls of [`TarReader::next_member`] the current
/// member's content is read through `Read`.
pub(crate) struct TarReader<R> {
    inner: Counting<R>,
    /// Where the header being read starts, for messages.
    header_at: u64,
    /// Content bytes of the current member not yet read.
    remaining: u64,
    /// Padding after the current member's content.
    padding: u64,
    done: bool,
}

fn malformed(reason: impl Into<String>) -> Error {
    Error::NotTar {
        reason: reason.into(),
        at: None,
    }
}

/// Counts the bytes read through it.
struct Counting<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

fn read_error(e: io::Error) -> Error {
    Error::ArchiveRead {
        member: None,
        source: e,
    }
}

impl<R: Read> TarReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        TarReader {
            inner: Counting { inner, count: 0 },
            header_at: 0,
            remaining: 0,
            padding: 0,
            done: false,
        }
    }

    /// The next member, or `None` at the end of the archive. A malformed stream is refused saying at
    /// which byte the header in question starts.
    pub(crate) fn next_member(&mut self) -> Result<Option<Member>> {
        self.read_member().map_err(|e| match e {
            Error::NotTar { reason, at: None } => Error::NotTar {
                reason,
                at: Some(format!("header at byte {}", self.header_at)),
            },
            e => e,
        })
    }

    fn read_member(&mut self) -> Result<Option<Member>> {
        let mut long_name: Option<Vec<u8>> = None;
        let mut long_link: Option<Vec<u8>> = None;
        let mut pax_link: Option<Vec<u8>> = None;
        let mut pax_path: Option<Vec<u8>> = None;
        let mut pax_size: Option<u64> = None;
        loop {
            self.skip_rest()?;
            if self.done {
                return Ok(None);
            }
            let mut block = [0u8; BLOCK];
            self.header_at = self.inner.count;
            if !self.read_block(&mut block)? {
                // End of input at a header boundary without the zero blocks: accepted, like GNU tar.
                self.done = true;
                return self.end(long_name.is_some() || long_link.is_some() || pax_path.is_some());
            }
            if block.iter().all(|&b| b == 0) {
                self.done = true;
                return self.end(long_name.is_some() || long_link.is_some() || pax_path.is_some());
            }
            verify_checksum(&block)?;
            let size = parse_size(&block[124..136])?;
            let flag = block[156];
            let padding = (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64;
            self.remaining = size;
            self.padding = padding;
            match flag {
                b'L' => {
                    let mut name = self.read_record(size, LONG_NAME_LIMIT, "GNU long name")?;
                    while name.last() == Some(&0) {
                        name.pop();
                    }
                    long_name = Some(name);
                }
                b'K' => {
                    let mut name = self.read_record(size, LONG_NAME_LIMIT, "GNU long link")?;
                    while name.last() == Some(&0) {
                        name.pop();
                    }
                    long_link = Some(name);
                }
                b'x' => {
                    let record = self.read_record(size, PAX_LIMIT, "pax header")?;
                    for (key, value) in parse_pax(&record)? {
                        match key.as_slice() {
                            b"path" => pax_path = Some(value),
                            b"linkpath" => pax_link = Some(value),
                            b"size" => pax_size = Some(parse_decimal(&value)?),
                            _ => {}
                        }
                    }
                }
                b'g' => {
                    // Global pax records apply to no path or size here; read and ignored.
                    self.read_record(size, PAX_LIMIT, "pax global header")?;
                }
                _ => {
                    let path = match (pax_path, long_name) {
                        (Some(p), _) => p,
                        (None, Some(n)) => n,
                        (None, None) => header_path(&block),
                    };
                    let link = match (pax_link, long_link) {
                        (Some(l), _) => l,
                        (None, Some(l)) => l,
                        (None, None) => {
                            let f = &block[157..257];
                            f[..f.iter().position(|&b| b == 0).unwrap_or(f.len())].to_vec()
                        }
                    };
                    if let Some(s) = pax_size {
                        self.remaining = s;
                        self.padding = (BLOCK as u64 - s % BLOCK as u64) % BLOCK as u64;
                    }
                    return Ok(Some(Member {
                        path,
                        kind: Kind::from_flag(flag),
                        size: self.remaining,
                        link,
                    }));
                }
            }
        }
    }

    fn end(&self, dangling: bool) -> Result<Option<Member>> {
        if dangling {
            return Err(malformed(
                "a long-name or pax record is not followed by a member",
            ));
        }
        Ok(None)
    }

    /// Reads a whole metadata record of `size` bytes, refusing one over `limit`.
    fn read_record(&mut self, size: u64, limit: u64, what: &str) -> Result<Vec<u8>> {
        if size > limit {
            return Err(malformed(format!(
                "a {what} of {size} bytes, over the limit of {limit}"
            )));
        }
        let mut buf = vec![0u8; size as usize];
        self.read_exact(&mut buf).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => malformed(format!("truncated {what}")),
            _ => read_error(e),
        })?;
        Ok(buf)
    }

    /// Skips what is left of the current member and its padding.
    fn skip_rest(&mut self) -> Result<()> {
        let skip = self.remaining + self.padding;
        if skip > 0 {
            let copied =
                io::copy(&mut (&mut self.inner).take(skip), &mut io::sink()).map_err(read_error)?;
            if copied != skip {
                return Err(malformed("truncated member"));
            }
        }
        self.remaining = 0;
        self.padding = 0;
        Ok(())
    }

    /// Reads one block; `false` on a clean end of input before its first byte.
    fn read_block(&mut self, block: &mut [u8; BLOCK]) -> Result<bool> {
        let mut filled = 0;
        while filled < BLOCK {
            match self.inner.read(&mut block[filled..]) {
                Ok(0) if filled == 0 => return Ok(false),
                Ok(0) => return Err(malformed("truncated header")),
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(read_error(e)),
            }
        }
        Ok(true)
    }
}

impl<R: Read> Read for TarReader<R> {
    /// Reads the current member's content; a stream that ends inside it is an `UnexpectedEof` error.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(self.remaining.min(usize::MAX as u64) as usize);
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the archive ends inside a member",
            ));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// Checks a header's checksum: the unsigned (or, as some old writers made it, signed) byte sum with
/// the checksum field counted as spaces.
fn verify_checksum(block: &[u8; BLOCK]) -> Result<()> {
    let stored = parse_octal(&block[148..156]).map_err(|_| malformed("unreadable checksum"))?;
    let mut unsigned: u64 = 0;
    let mut signed: i64 = 0;
    for (i, &b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += u64::from(b);
        signed += i64::from(b as i8);
    }
    if stored != unsigned && stored as i64 != signed {
        return Err(malformed("header checksum mismatch"));
    }
    Ok(())
}

/// The path in a header: `name`, preceded by the ustar `prefix` when the magic says ustar.
fn header_path(block: &[u8; BLOCK]) -> Vec<u8> {
    let field = |range: std::ops::Range<usize>| {
        let f = &block[range];
        f[..f.iter().position(|&b| b == 0).unwrap_or(f.len())].to_vec()
    };
    let name = field(0..100);
    let is_ustar = &block[257..263] == b"ustar\0";
    let prefix = if is_ustar {
        field(345..500)
    } else {
        Vec::new()
    };
    if prefix.is_empty() {
        name
    } else {
        let mut p = prefix;
        p.push(b'/');
        p.extend_from_slice(&name);
        p
    }
}

/// A size field: octal digits, or GNU base-256 when the first byte's high bit is set.
fn parse_size(field: &[u8]) -> Result<u64> {
    if field[0] & 0x80 != 0 {
        if field[0] & 0x40 != 0 {
            return Err(malformed("negative size"));
        }
        let mut n: u64 = u64::from(field[0] & 0x3f);
        for &b in &field[1..] {
            n = n
                .checked_mul(256)
                .and_then(|n| n.checked_add(u64::from(b)))
                .ok_or_else(|| malformed("size out of range"))?;
        }
        return Ok(n);
    }
    parse_octal(field)
}

fn parse_octal(field: &[u8]) -> Result<u64> {
    let trimmed: Vec<u8> = field
        .iter()
        .copied()
        .skip_while(|&b| b == b' ')
        .take_while(|&b| b != 0 && b != b' ')
        .collect();
    if trimmed.is_empty() {
        return Ok(0);
    }
    let s = std::str::from_utf8(&trimmed).map_err(|_| malformed("non-octal number"))?;
    u64::from_str_radix(s, 8).map_err(|_| malformed(format!("non-octal number {s:?}")))
}

fn parse_decimal(value: &[u8]) -> Result<u64> {
    std::str::from_utf8(value)
        .ok()
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| malformed("a pax size that is not a decimal number"))
}

/// Parses pax records: `<len> <key>=<value>\n`, where `len` counts the whole record.
fn parse_pax(mut data: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let bad = || malformed("a malformed pax record");
    let mut out = Vec::new();
    while !data.is_empty() {
        let space = data.iter().position(|&b| b == b' ').ok_or_else(bad)?;
        let len: usize = std::str::from_utf8(&data[..space])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(bad)?;
        if len <= space + 1 || len > data.len() || data[len - 1] != b'\n' {
            return Err(bad());
        }
        let record = &data[space + 1..len - 1];
        let eq = record.iter().position(|&b| b == b'=').ok_or_else(bad)?;
        out.push((record[..eq].to_vec(), record[eq + 1..].to_vec()));
        data = &data[len..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &[u8], flag: u8, size: u64) -> [u8; BLOCK] {
        let mut h = [0u8; BLOCK];
        h[..name.len()].copy_from_slice(name);
        h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
        h[156] = flag;
        h[257..263].copy_from_slice(b"ustar\0");
        h[148..156].copy_from_slice(b"        ");
        let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        h
    }

    fn member(name: &[u8], flag: u8, data: &[u8]) -> Vec<u8> {
        let mut out = header(name, flag, data.len() as u64).to_vec();
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
        out
    }

    fn read_all(bytes: &[u8]) -> Result<Vec<(String, Kind, Vec<u8>)>> {
        let mut r = TarReader::new(bytes);
        let mut out = Vec::new();
        while let Some(m) = r.next_member()? {
            let mut data = Vec::new();
            r.read_to_end(&mut data).map_err(read_error)?;
            out.push((String::from_utf8_lossy(&m.path).into_owned(), m.kind, data));
        }
        Ok(out)
    }

    #[test]
    fn reads_ustar_long_names_and_pax() {
        let long = format!("blobs/sha512/{}", "a".repeat(128));
        let mut bytes = member(b"oci-layout", b'0', b"{}");
        bytes.extend(member(
            b"././@LongLink",
            b'L',
            format!("{long}\0").as_bytes(),
        ));
        bytes.extend(member(b"truncated", b'0', b"long"));
        bytes.extend(member(b"PaxHeader", b'x', b"21 path=from-pax/x.y\n"));
        bytes.extend(member(b"ignored", b'0', b"pax"));
        bytes.extend(member(b"blobs/", b'5', b""));
        bytes.extend([0u8; 2 * BLOCK]);
        let got = read_all(&bytes).unwrap();
        let names: Vec<&str> = got.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["oci-layout", long.as_str(), "from-pax/x.y", "blobs/"]
        );
        assert_eq!(got[1].2, b"long");
        assert_eq!(got[3].1, Kind::Directory);
    }

    #[test]
    fn refuses_what_could_exhaust_or_mislead() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (
                header(b"././@LongLink", b'L', 1 << 32).to_vec(),
                "over the limit",
            ),
            (
                header(b"PaxHeader", b'x', 1 << 30).to_vec(),
                "over the limit",
            ),
            (member(b"PaxHeader", b'x', b"99 path=x\n"), "malformed pax"),
            (
                member(b"././@LongLink", b'L', b"dangling\0"),
                "not followed by a member",
            ),
            (header(b"a", b'0', 10).to_vec(), "ends inside a member"),
        ];
        for (bytes, want) in cases {
            let err = read_all(&bytes).unwrap_err().to_string();
            assert!(err.contains(want), "{want}: {err}");
        }
        let mut bad = header(b"a", b'0', 0);
        bad[0] = b'b';
        assert!(read_all(&bad).unwrap_err().to_string().contains("checksum"));
        // The message says where: the second member's header starts at byte 1024.
        let mut two = member(b"a", b'0', b"x");
        two.extend_from_slice(&bad);
        let err = read_all(&two).unwrap_err().to_string();
        assert!(
            err.ends_with("checksum mismatch (header at byte 1024)"),
            "{err}"
        );
    }
}
