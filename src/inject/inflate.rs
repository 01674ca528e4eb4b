//! Undoing the diary's `Content-Encoding`, chunk by chunk, with a hard cap on the output.
//!
//! Two things real servers do that a naive decoder gets wrong:
//! - `Content-Encoding: deflate` means zlib (RFC 9110 §8.4.1.2), but IIS, old Apache
//!   `mod_deflate` set-ups and PHP's `gzdeflate()` send raw DEFLATE under that name;
//!   browsers accept both, so the first two bytes decide (a zlib header is `CMF FLG` with
//!   method 8 and `(CMF·256 + FLG) % 31 == 0`).
//! - A decompression bomb inflates ~1000× inside a single `write`: the cap must be
//!   enforced by the sink the decoder writes into, not checked after the write returns.

use std::io::{self, Write};

use flate2::write::{DeflateDecoder, GzDecoder, ZlibDecoder};

use super::body::InjectError;

/// A `Vec` sink that refuses to grow past `limit` bytes in total.
pub(super) struct Capped {
    buf: Vec<u8>,
    written: u64,
    limit: u64,
    over: bool,
}

impl Capped {
    fn new(limit: u64) -> Self {
        Self {
            buf: Vec::new(),
            written: 0,
            limit,
            over: false,
        }
    }
}

impl Write for Capped {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let len = u64::try_from(data.len()).unwrap_or(u64::MAX);
        if self.written.saturating_add(len) > self.limit {
            self.over = true;
            return Err(io::Error::other("decoded body over the limit"));
        }
        self.written += len;
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The decoder for one body.
pub(super) enum Inflater {
    Identity,
    /// One gzip member at a time; `ended` once its trailer was read.
    Gzip {
        member: Box<GzDecoder<Capped>>,
        ended: bool,
        /// Bytes after the last member that are not another member: ignored, as
        /// browsers ignore them (PHP output after `ob_gzhandler` flushed, a stray newline).
        trailing_garbage: bool,
    },
    Zlib(ZlibDecoder<Capped>),
    Raw(DeflateDecoder<Capped>),
    /// `deflate` before its first two bytes arrived: zlib or raw is not known yet.
    Sniff {
        head: Vec<u8>,
        limit: u64,
    },
}

/// True when `head` starts with a valid zlib header (RFC 1950 §2.2).
pub(super) fn is_zlib_header(cmf: u8, flg: u8) -> bool {
    cmf & 0x0F == 8 && cmf >> 4 <= 7 && (u16::from(cmf) * 256 + u16::from(flg)) % 31 == 0
}

impl Inflater {
    pub(super) fn identity() -> Self {
        Self::Identity
    }

    pub(super) fn gzip(limit: u64) -> Self {
        Self::Gzip {
            member: Box::new(GzDecoder::new(Capped::new(limit))),
            ended: false,
            trailing_garbage: false,
        }
    }

    pub(super) fn deflate(limit: u64) -> Self {
        Self::Sniff {
            head: Vec::new(),
            limit,
        }
    }

    /// Feeds compressed bytes; returns what they decoded to.
    pub(super) fn push(&mut self, data: &[u8]) -> Result<Vec<u8>, InjectError> {
        match self {
            Self::Identity => Ok(data.to_vec()),
            Self::Gzip {
                member,
                ended,
                trailing_garbage,
            } => gzip_members(member, ended, trailing_garbage, data),
            Self::Zlib(d) => feed(d, data, "deflate"),
            Self::Raw(d) => feed(d, data, "deflate"),
            Self::Sniff { head, limit } => {
                head.extend_from_slice(data);
                let (Some(&cmf), Some(&flg)) = (head.first(), head.get(1)) else {
                    return Ok(Vec::new());
                };
                let head = std::mem::take(head);
                *self = if is_zlib_header(cmf, flg) {
                    Self::Zlib(ZlibDecoder::new(Capped::new(*limit)))
                } else {
                    Self::Raw(DeflateDecoder::new(Capped::new(*limit)))
                };
                self.push(&head)
            }
        }
    }

    /// The end of the compressed stream: flushes what is left, refuses a truncated one.
    pub(super) fn finish(&mut self) -> Result<Vec<u8>, InjectError> {
        match self {
            Self::Identity => Ok(Vec::new()),
            Self::Gzip { ended: true, .. } => Ok(Vec::new()),
            Self::Gzip { member, .. } => end(member.as_mut(), "gzip"),
            Self::Zlib(d) => end(d, "deflate"),
            Self::Raw(d) => end(d, "deflate"),
            // An empty body is an empty page; a single byte is no DEFLATE stream.
            Self::Sniff { head, .. } if head.is_empty() => Ok(Vec::new()),
            Self::Sniff { .. } => Err(InjectError::Decode("deflate")),
        }
    }
}

/// What the three flate2 write-side decoders have in common.
trait Decode: Write {
    fn sink(&mut self) -> &mut Capped;
    fn end(&mut self) -> io::Result<()>;
}

macro_rules! decode_impl {
    ($t:ty) => {
        impl Decode for $t {
            fn sink(&mut self) -> &mut Capped {
                self.get_mut()
            }
            fn end(&mut self) -> io::Result<()> {
                self.try_finish()
            }
        }
    };
}
decode_impl!(GzDecoder<Capped>);
decode_impl!(ZlibDecoder<Capped>);
decode_impl!(DeflateDecoder<Capped>);

/// Feeds gzip data member by member: a new member (magic `1f 8b`) after the end of
/// one continues the page (RFC 1952 allows several); anything else after a complete
/// member is trailing garbage and dropped.
fn gzip_members(
    member: &mut Box<GzDecoder<Capped>>,
    ended: &mut bool,
    trailing_garbage: &mut bool,
    mut data: &[u8],
) -> Result<Vec<u8>, InjectError> {
    let mut out = Vec::new();
    while !data.is_empty() && !*trailing_garbage {
        if *ended {
            if data.first() != Some(&0x1f) {
                *trailing_garbage = true;
                break;
            }
            // The next member shares the running size cap.
            let sink = std::mem::replace(member.sink(), Capped::new(0));
            let mut next = Capped::new(sink.limit);
            next.written = sink.written;
            **member = GzDecoder::new(next);
            *ended = false;
        }
        match member.write(data) {
            Ok(0) => *ended = true,
            Ok(n) => data = data.get(n..).unwrap_or_default(),
            Err(_) => return Err(failure(member.sink(), "gzip")),
        }
        out.append(&mut member.sink().buf);
    }
    Ok(out)
}

fn failure(sink: &Capped, what: &'static str) -> InjectError {
    if sink.over {
        InjectError::TooLarge
    } else {
        InjectError::Decode(what)
    }
}

fn feed<D: Decode>(d: &mut D, data: &[u8], what: &'static str) -> Result<Vec<u8>, InjectError> {
    if d.write_all(data).is_err() {
        return Err(failure(d.sink(), what));
    }
    Ok(std::mem::take(&mut d.sink().buf))
}

fn end<D: Decode>(d: &mut D, what: &'static str) -> Result<Vec<u8>, InjectError> {
    if d.end().is_err() {
        return Err(failure(d.sink(), what));
    }
    Ok(std::mem::take(&mut d.sink().buf))
}
