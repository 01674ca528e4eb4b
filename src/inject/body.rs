//! The streaming body behind [`super::inject`]: decode → rewrite → (re-)encode, chunk by
//! chunk. Memory stays bounded: lol_html keeps at most [`REWRITER_MEMORY`] of markup, and a
//! page that inflates past [`MAX_DECODED`] (a decompression bomb from a broken or hostile
//! upstream) ends the body with an error instead of eating the gateway's memory.

use std::io::Write;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use http_body::{Body, Frame, SizeHint};
use lol_html::html_content::ContentType;
use lol_html::send::{ElementContentHandlers, HtmlRewriter, Settings};
use lol_html::{MemorySettings, OutputSink};

use super::inflate::Inflater;
use super::{Coding, Plan, Position, Rule};

/// Largest decoded page we rewrite.
pub const MAX_DECODED: u64 = 64 * 1024 * 1024;
/// Markup lol_html may buffer while looking for a match.
pub const REWRITER_MEMORY: usize = 4 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum InjectError {
    #[error("upstream body failed: {0}")]
    Upstream(Box<dyn std::error::Error + Send + Sync>),
    #[error("upstream body is not valid {0}")]
    Decode(&'static str),
    #[error("HTML rewriting failed: {0}")]
    Rewrite(String),
    #[error("decoded page larger than {MAX_DECODED} bytes")]
    TooLarge,
}

pin_project_lite::pin_project! {
    /// A response body with the injection rules applied.
    pub struct InjectedBody<B> {
        #[pin]
        inner: B,
        // A Mutex only to make the body `Sync` (boxed bodies require it); it is never contended.
        state: Option<Mutex<State>>,
    }
}

struct State {
    decoder: Inflater,
    stage: Stage,
    /// How to build the rewriter once the first bytes of the page are known.
    start: Start,
    /// Decoded bytes held back until the byte-order mark question is settled.
    head: Vec<u8>,
    out: Arc<Mutex<Vec<u8>>>,
    encoder: Option<GzEncoder<Vec<u8>>>,
    decoded: u64,
}

/// A page is rewritten only once its first bytes showed whether a byte-order mark
/// overrides the declared charset (HTML's encoding sniffing: BOM > header > `<meta>`).
enum Stage {
    Sniffing,
    Rewriting(Box<HtmlRewriter<'static, Sink>>),
    /// A UTF-16 page behind an ASCII charset label: lol_html cannot parse it, so it goes
    /// through unchanged rather than with a banner in the wrong encoding.
    Passthrough,
}

struct Start {
    rules: Arc<[Rule]>,
    encoding: &'static encoding_rs::Encoding,
    /// Follow a `<meta charset>` only when the header named none; a header charset wins.
    adjust_meta: bool,
}

/// Bytes needed to recognise any byte-order mark.
const BOM_LEN: usize = 3;

/// lol_html's output goes into a buffer the body drains after every write.
struct Sink(Arc<Mutex<Vec<u8>>>);

impl OutputSink for Sink {
    fn handle_chunk(&mut self, chunk: &[u8]) {
        lock(&self.0).extend_from_slice(chunk);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl<B> InjectedBody<B> {
    pub(super) fn new(
        inner: B,
        plan: Plan,
        rules: Arc<[Rule]>,
        gzip_out: bool,
        header_charset: bool,
    ) -> Self {
        let decoder = match plan.coding {
            Coding::Identity => Inflater::identity(),
            Coding::Gzip => Inflater::gzip(MAX_DECODED),
            Coding::Deflate => Inflater::deflate(MAX_DECODED),
        };
        let encoder = gzip_out.then(|| GzEncoder::new(Vec::new(), Compression::fast()));
        let state = State {
            decoder,
            stage: Stage::Sniffing,
            start: Start {
                rules,
                encoding: plan.encoding,
                adjust_meta: !header_charset,
            },
            head: Vec::new(),
            out: Arc::new(Mutex::new(Vec::new())),
            encoder,
            decoded: 0,
        };
        Self {
            inner,
            state: Some(Mutex::new(state)),
        }
    }
}

fn build_rewriter(
    start: &Start,
    encoding: &'static encoding_rs::Encoding,
    adjust_meta: bool,
    out: &Arc<Mutex<Vec<u8>>>,
) -> HtmlRewriter<'static, Sink> {
    let handlers = start
        .rules
        .iter()
        .map(|rule| {
            let html = rule.html.clone();
            let position = rule.position;
            let handler = ElementContentHandlers::default().element(
                move |el: &mut lol_html::send::Element<'_, '_>| {
                    match position {
                        Position::Prepend => el.prepend(&html, ContentType::Html),
                        Position::After => el.after(&html, ContentType::Html),
                        Position::Before => el.before(&html, ContentType::Html),
                    }
                    Ok(())
                },
            );
            (std::borrow::Cow::Owned(rule.selector.clone()), handler)
        })
        .collect();
    let mut memory = MemorySettings::new();
    memory.max_allowed_memory_usage = REWRITER_MEMORY;
    let settings = Settings {
        element_content_handlers: handlers,
        // `plan_for` only accepts ASCII-compatible encodings; UTF-8 is the safe fallback.
        encoding: lol_html::AsciiCompatibleEncoding::new(encoding)
            .unwrap_or_else(lol_html::AsciiCompatibleEncoding::utf_8),
        memory_settings: memory,
        adjust_charset_on_meta_tag: adjust_meta,
        ..Settings::new_send()
    };
    HtmlRewriter::new(settings, Sink(out.clone()))
}

impl State {
    fn push(&mut self, data: &[u8]) -> Result<Vec<u8>, InjectError> {
        let decoded = self.decoder.push(data)?;
        self.rewrite(&decoded)
    }

    fn rewrite(&mut self, decoded: &[u8]) -> Result<Vec<u8>, InjectError> {
        self.feed(decoded, false)?;
        let rewritten = std::mem::take(&mut *lock(&self.out));
        self.encode(rewritten, false)
    }

    /// Routes decoded bytes to the stage; `last` settles a page shorter than a BOM.
    fn feed(&mut self, decoded: &[u8], last: bool) -> Result<(), InjectError> {
        self.decoded = self
            .decoded
            .saturating_add(u64::try_from(decoded.len()).unwrap_or(u64::MAX));
        if self.decoded > MAX_DECODED {
            return Err(InjectError::TooLarge);
        }
        let held;
        let decoded = if matches!(self.stage, Stage::Sniffing) {
            self.head.extend_from_slice(decoded);
            if self.head.len() < BOM_LEN && !last {
                return Ok(());
            }
            self.stage = self.choose_stage();
            held = std::mem::take(&mut self.head);
            &held[..]
        } else {
            decoded
        };
        match &mut self.stage {
            Stage::Rewriting(r) if !decoded.is_empty() => r
                .write(decoded)
                .map_err(|e| InjectError::Rewrite(e.to_string())),
            Stage::Passthrough => {
                lock(&self.out).extend_from_slice(decoded);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn choose_stage(&self) -> Stage {
        let (encoding, adjust) = match encoding_rs::Encoding::for_bom(&self.head) {
            Some((enc, _)) if enc == encoding_rs::UTF_8 => (enc, false),
            Some(_) => return Stage::Passthrough,
            None => (self.start.encoding, self.start.adjust_meta),
        };
        Stage::Rewriting(Box::new(build_rewriter(
            &self.start,
            encoding,
            adjust,
            &self.out,
        )))
    }

    fn encode(&mut self, rewritten: Vec<u8>, last: bool) -> Result<Vec<u8>, InjectError> {
        let Some(enc) = self.encoder.as_mut() else {
            return Ok(rewritten);
        };
        let io = |_| InjectError::Rewrite("gzip encoder failed".into());
        enc.write_all(&rewritten).map_err(io)?;
        if !last && !rewritten.is_empty() {
            // A sync flush lets the browser start rendering before the page is complete.
            enc.flush().map_err(io)?;
        }
        Ok(std::mem::take(enc.get_mut()))
    }

    fn finish(mut self) -> Result<Vec<u8>, InjectError> {
        let rest = self.decoder.finish()?;
        self.feed(&rest, true)?;
        let pending = std::mem::take(&mut *lock(&self.out));
        let mut out = self.encode(pending, false)?;
        if let Stage::Rewriting(r) = std::mem::replace(&mut self.stage, Stage::Passthrough) {
            r.end().map_err(|e| InjectError::Rewrite(e.to_string()))?;
        }
        let tail = std::mem::take(&mut *lock(&self.out));
        match self.encoder.take() {
            None => out.extend_from_slice(&tail),
            Some(mut enc) => {
                let io = |_| InjectError::Rewrite("gzip encoder failed".into());
                enc.write_all(&tail).map_err(io)?;
                out.extend_from_slice(&enc.finish().map_err(io)?);
            }
        }
        Ok(out)
    }
}

impl<B> Body for InjectedBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = InjectError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, InjectError>>> {
        let mut this = self.project();
        loop {
            let Some(state) = this.state.as_mut() else {
                return Poll::Ready(None);
            };
            let state = state.get_mut().unwrap_or_else(|p| p.into_inner());
            let result = match ready!(this.inner.as_mut().poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => state.push(&data),
                    // Trailers belong to the original representation; the rewritten one has none.
                    Err(_) => continue,
                },
                Some(Err(e)) => Err(InjectError::Upstream(e.into())),
                None => match this.state.take() {
                    Some(st) => st.into_inner().unwrap_or_else(|p| p.into_inner()).finish(),
                    None => return Poll::Ready(None),
                },
            };
            match result {
                Ok(out) if out.is_empty() => continue,
                Ok(out) => return Poll::Ready(Some(Ok(Frame::data(Bytes::from(out))))),
                Err(e) => {
                    *this.state = None;
                    return Poll::Ready(Some(Err(e)));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.state.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}
