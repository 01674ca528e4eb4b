//! Responses shaped the way real old servers (and hostile ones) send them: raw DEFLATE
//! under `deflate`, stacked codings, a BOM that contradicts the header, a `<meta>` that
//! contradicts the header, bombs inside a single frame. Each with what must happen.

use std::io::Write;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use proptest::prelude::*;

use super::inflate::{Inflater, is_zlib_header};
use super::*;

fn rules() -> Arc<[Rule]> {
    Arc::from(vec![
        Rule::new("body", "<b id=esia-banner>Внимание!</b>", Position::Prepend).unwrap(),
    ])
}

fn headers(ct: &str, ce: &[&str]) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
    for v in ce {
        h.append(CONTENT_ENCODING, HeaderValue::from_str(v).unwrap());
    }
    h
}

async fn run(h: HeaderMap, body: &[u8], chunk: usize) -> Result<Vec<u8>, InjectError> {
    let plan = plan_for(&Method::GET, StatusCode::OK, &h).expect("rewritable");
    let frames: Vec<Result<http_body::Frame<Bytes>, std::io::Error>> = body
        .chunks(chunk.max(1))
        .map(|c| Ok(http_body::Frame::data(Bytes::copy_from_slice(c))))
        .collect();
    let mut resp = Response::new(StreamBody::new(futures_util::stream::iter(frames)));
    *resp.headers_mut() = h;
    let out = inject(resp, plan, rules(), false)
        .into_body()
        .collect()
        .await?;
    Ok(out.to_bytes().to_vec())
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn raw_deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

const PAGE: &str = "<html><body><p>Дневник</p></body></html>";
const WANT: &str = "<html><body><b id=esia-banner>Внимание!</b><p>Дневник</p></body></html>";

#[tokio::test]
async fn deflate_is_accepted_as_zlib_and_as_raw_in_any_chunking() {
    // IIS and PHP's gzdeflate() send raw DEFLATE under `Content-Encoding: deflate`.
    for (name, body) in [
        ("zlib", zlib(PAGE.as_bytes())),
        ("raw", raw_deflate(PAGE.as_bytes())),
    ] {
        for chunk in [1, 2, 3, 7, 4096] {
            let h = headers("text/html; charset=utf-8", &["deflate"]);
            let out = run(h, &body, chunk).await;
            assert_eq!(
                out.as_deref().map(String::from_utf8_lossy).ok().as_deref(),
                Some(WANT),
                "{name} in {chunk}-byte chunks"
            );
        }
    }
}

#[tokio::test]
async fn empty_and_truncated_deflate_bodies() {
    let h = || headers("text/html", &["deflate"]);
    assert_eq!(run(h(), b"", 1).await.unwrap(), b"");
    // One byte can be neither a zlib header nor a complete raw block.
    assert!(matches!(
        run(h(), b"\x78", 1).await,
        Err(InjectError::Decode("deflate"))
    ));
    let mut cut = zlib(PAGE.as_bytes());
    cut.truncate(cut.len() / 2);
    assert!(matches!(
        run(h(), &cut, 5).await,
        Err(InjectError::Decode("deflate"))
    ));
}

#[test]
fn zlib_header_recognition() {
    // The four compression levels' headers zlib writes, all with method 8.
    for (cmf, flg) in [
        (0x78, 0x01),
        (0x78, 0x5E),
        (0x78, 0x9C),
        (0x78, 0xDA),
        (0x58, 0x85),
    ] {
        assert!(is_zlib_header(cmf, flg), "{cmf:02x} {flg:02x}");
    }
    // Raw DEFLATE openings, a wrong method, a window over 32 KiB, a bad check.
    for (cmf, flg) in [
        (0xED, 0xBD),
        (0x7F, 0x00),
        (0x89, 0x5E),
        (0x78, 0x9D),
        (0x00, 0x00),
    ] {
        assert!(!is_zlib_header(cmf, flg), "{cmf:02x} {flg:02x}");
    }
}

#[test]
fn a_bomb_is_stopped_inside_the_write_that_inflates_it() {
    // 8 MiB of zeros compress to ~8 KiB; a 64 KiB cap must trip during the one push,
    // before the whole expansion is held in memory.
    let zeros = vec![0u8; 8 * 1024 * 1024];
    for mut inflater in [Inflater::gzip(64 * 1024), Inflater::deflate(64 * 1024)] {
        let bomb = match inflater {
            Inflater::Gzip { .. } => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
                e.write_all(&zeros).unwrap();
                e.finish().unwrap()
            }
            _ => zlib(&zeros),
        };
        assert!(bomb.len() < 64 * 1024);
        assert!(matches!(inflater.push(&bomb), Err(InjectError::TooLarge)));
    }
}

#[test]
fn stacked_codings_are_not_rewritten() {
    let get = Method::GET;
    for ce in [
        &["gzip", "gzip"][..],
        &["deflate", "gzip"],
        &["identity", "gzip"],
    ] {
        assert!(
            plan_for(&get, StatusCode::OK, &headers("text/html", ce)).is_none(),
            "{ce:?}"
        );
    }
    for ce in [
        "gzip, gzip",
        "gzip,deflate",
        "compress",
        "x-compress",
        "GZIP;q=1",
    ] {
        assert!(
            plan_for(&get, StatusCode::OK, &headers("text/html", &[ce])).is_none(),
            "{ce}"
        );
    }
}

#[test]
fn charset_parameters_as_servers_write_them() {
    let get = Method::GET;
    let enc = |ct: &str| plan_for(&get, StatusCode::OK, &headers(ct, &[])).map(|p| p.encoding);
    let cp1251 = Some(encoding_rs::WINDOWS_1251);
    assert_eq!(enc("text/html; charset=windows-1251"), cp1251);
    assert_eq!(enc("text/html;charset=\"windows-1251\""), cp1251);
    assert_eq!(enc("text/html; CHARSET=CP1251"), cp1251);
    assert_eq!(enc("text/html; charset = windows-1251 "), cp1251);
    assert_eq!(enc("text/html; foo=bar; charset=windows-1251; q=1"), cp1251);
    assert_eq!(enc("text/html; foo; charset=windows-1251"), cp1251);
    assert_eq!(
        enc("text/html; charset=utf-8; charset=windows-1251"),
        Some(encoding_rs::UTF_8)
    );
    assert_eq!(enc("text/html; charset=\"\""), None);
    assert_eq!(enc("text/html;"), Some(encoding_rs::UTF_8));
    assert_eq!(enc("text/html; charset=utf-16le"), None);
    assert_eq!(enc("text/html; charset=iso-2022-jp"), None);
    assert_eq!(enc("text/htmlx"), None);
    assert_eq!(enc(" text/html "), Some(encoding_rs::UTF_8));
}

#[tokio::test]
async fn a_header_charset_wins_over_a_contradicting_meta() {
    // The browser decodes by the header; the banner must be in the header's charset.
    let page = "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1251\"></head><body>x</body></html>";
    let out = run(
        headers("text/html; charset=utf-8", &[]),
        page.as_bytes(),
        16,
    )
    .await
    .unwrap();
    assert!(
        String::from_utf8(out)
            .unwrap()
            .contains("<b id=esia-banner>Внимание!</b>")
    );
    // With no charset in the header, the meta decides (windows-1251 bytes out).
    let out = run(headers("text/html", &[]), page.as_bytes(), 16)
        .await
        .unwrap();
    let (want, _, _) = encoding_rs::WINDOWS_1251.encode("Внимание!");
    assert!(out.windows(want.len()).any(|w| w == &*want));
}

#[tokio::test]
async fn a_byte_order_mark_wins_over_the_header() {
    // A UTF-8 file with a BOM served as windows-1251: browsers show it as UTF-8.
    let page = format!("\u{FEFF}{PAGE}");
    for chunk in [1, 2, 64] {
        let out = run(
            headers("text/html; charset=windows-1251", &[]),
            page.as_bytes(),
            chunk,
        )
        .await
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("\u{FEFF}{WANT}"),
            "{chunk}"
        );
    }
    // A UTF-16 page behind an ASCII label goes through untouched.
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(PAGE.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let out = run(headers("text/html; charset=utf-8", &[]), &utf16, 3)
        .await
        .unwrap();
    assert_eq!(out, utf16);
    // Pages shorter than a BOM still come out whole.
    assert_eq!(
        run(headers("text/html", &[]), b"hi", 1).await.unwrap(),
        b"hi"
    );
}

#[tokio::test]
async fn pages_without_body_or_with_several_bodies() {
    let h = || headers("text/html; charset=utf-8", &[]);
    // No <body>: lol_html only sees the implied one, so nothing is inserted and nothing breaks.
    let out = run(h(), b"<p>just text", 3).await.unwrap();
    assert_eq!(out, b"<p>just text");
    let out = run(h(), b"<body>a</body><body>b</body>", 4).await.unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(out.starts_with("<body><b id=esia-banner>"), "{out}");
}

proptest! {
    #[test]
    fn plan_for_never_panics(ct in "\\PC{0,80}", ce in "\\PC{0,20}") {
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&ct) { h.insert(CONTENT_TYPE, v); }
        if let Ok(v) = HeaderValue::from_str(&ce) { h.insert(CONTENT_ENCODING, v); }
        let _ = plan_for(&Method::GET, StatusCode::OK, &h);
        let _ = declares_charset(&h);
    }

    #[test]
    fn inflaters_never_panic_on_garbage(data in proptest::collection::vec(any::<u8>(), 0..512), split in 0usize..512) {
        for mut inf in [Inflater::gzip(1 << 20), Inflater::deflate(1 << 20), Inflater::identity()] {
            let (a, b) = data.split_at(split.min(data.len()));
            let _ = inf.push(a).and_then(|_| inf.push(b)).and_then(|_| inf.finish());
        }
    }
}

#[test]
fn accept_encoding_as_browsers_and_odd_clients_send_it() {
    let h = |v: &str| {
        let mut m = HeaderMap::new();
        m.insert(
            http::header::ACCEPT_ENCODING,
            HeaderValue::from_str(v).unwrap(),
        );
        m
    };
    for (value, want) in [
        ("gzip, deflate, br, zstd", true),
        ("gzip;q=0, *", false),
        ("*, gzip;q=0", false),
        ("gzip;q=0.000", false),
        ("gzip;q=-1", false),
        ("gzip; q=0.5", true),
        ("x-gzip", true),
        ("*;q=0", false),
        ("identity", false),
        ("", false),
        ("gzipx", false),
        ("gzip;q=nonsense", true),
    ] {
        assert_eq!(accepts_gzip(&h(value)), want, "{value}");
    }
}

#[test]
fn byte_ranges_of_a_page_are_not_rewritten() {
    let h = headers("text/html", &[]);
    assert!(plan_for(&Method::GET, StatusCode::PARTIAL_CONTENT, &h).is_none());
    let mut with_range = h.clone();
    with_range.insert(
        http::header::CONTENT_RANGE,
        HeaderValue::from_static("bytes 0-99/1000"),
    );
    assert!(plan_for(&Method::GET, StatusCode::OK, &with_range).is_none());
    assert!(plan_for(&Method::GET, StatusCode::OK, &h).is_some());
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[tokio::test]
async fn gzip_members_and_trailing_garbage_as_browsers_read_them() {
    let (a, b) = PAGE.split_at(PAGE.find("<p>").unwrap());
    let two_members = [gz(a.as_bytes()), gz(b.as_bytes())].concat();
    let mut newline_after = gz(PAGE.as_bytes());
    newline_after.extend_from_slice(b"\n\n<!-- php -->\n");
    for (name, body) in [
        ("two members", two_members),
        ("trailing garbage", newline_after),
    ] {
        for chunk in [1, 5, 4096] {
            let out = run(headers("text/html; charset=utf-8", &["gzip"]), &body, chunk).await;
            assert_eq!(
                out.as_deref().map(String::from_utf8_lossy).ok().as_deref(),
                Some(WANT),
                "{name} in {chunk}-byte chunks"
            );
        }
    }
    // A truncated member is still an error, not a silently cut page.
    let mut cut = gz(PAGE.as_bytes());
    cut.truncate(cut.len() - 3);
    assert!(matches!(
        run(headers("text/html", &["gzip"]), &cut, 7).await,
        Err(InjectError::Decode("gzip"))
    ));
}

#[test]
fn the_size_cap_spans_all_gzip_members() {
    let member = gz(&vec![b'a'; 40 * 1024]);
    let mut inflater = Inflater::gzip(64 * 1024);
    assert!(inflater.push(&member).is_ok());
    assert!(matches!(inflater.push(&member), Err(InjectError::TooLarge)));
}
