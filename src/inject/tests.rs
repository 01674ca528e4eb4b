use std::io::{Read, Write};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};

use super::*;

fn banner() -> Arc<[Rule]> {
    Arc::from(vec![
        Rule::new(
            "body",
            "<div id=esia-banner>Внимание! выполнить привязку к ЕСИА</div>",
            Position::Prepend,
        )
        .unwrap(),
        Rule::new(
            "form#login",
            "<a id=esia-button>Войти через Госуслуги</a>",
            Position::After,
        )
        .unwrap(),
    ])
}

fn headers(ct: &str, ce: Option<&str>) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
    if let Some(ce) = ce {
        h.insert(CONTENT_ENCODING, HeaderValue::from_str(ce).unwrap());
    }
    h
}

/// Runs `body` (split into `chunk`-byte pieces) through the injector.
async fn run(
    ct: &str,
    ce: Option<&str>,
    body: Vec<u8>,
    chunk: usize,
    gzip_out: bool,
) -> (HeaderMap, Vec<u8>) {
    let h = headers(ct, ce);
    let plan = plan_for(&Method::GET, StatusCode::OK, &h).expect("rewritable");
    let frames: Vec<Result<http_body::Frame<Bytes>, std::io::Error>> = body
        .chunks(chunk.max(1))
        .map(|c| Ok(http_body::Frame::data(Bytes::copy_from_slice(c))))
        .collect();
    let mut resp = Response::new(StreamBody::new(futures_util::stream::iter(frames)));
    *resp.headers_mut() = h;
    resp.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    let out = inject(resp, plan, banner(), gzip_out);
    let (parts, body) = out.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes().to_vec();
    (parts.headers, bytes)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap();
    out
}

const PAGE: &str = "<html><head><title>РИД</title></head><body class=x><h1>Панель управления</h1>\
<form id=login action=/login method=post><input name=login></form></body></html>";

#[tokio::test]
async fn injects_at_body_start_and_after_the_login_form_in_one_byte_chunks() {
    let (h, out) = run(
        "text/html; charset=utf-8",
        None,
        PAGE.as_bytes().to_vec(),
        1,
        false,
    )
    .await;
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains("<body class=x><div id=esia-banner>Внимание!"),
        "{out}"
    );
    assert!(
        out.contains("</form><a id=esia-button>Войти через Госуслуги</a>"),
        "{out}"
    );
    assert!(h.get(CONTENT_LENGTH).is_none());
}

#[tokio::test]
async fn gzip_page_is_decoded_rewritten_and_regzipped() {
    let (h, out) = run("text/html", Some("gzip"), gzip(PAGE.as_bytes()), 7, true).await;
    assert_eq!(h.get(CONTENT_ENCODING).unwrap(), "gzip");
    let text = String::from_utf8(gunzip(&out)).unwrap();
    assert!(text.contains("<div id=esia-banner>"), "{text}");
    assert!(text.ends_with("</html>"));
}

#[tokio::test]
async fn gzip_page_can_be_sent_plain_to_a_client_without_gzip() {
    let (h, out) = run("text/html", Some("gzip"), gzip(PAGE.as_bytes()), 64, false).await;
    assert!(h.get(CONTENT_ENCODING).is_none());
    assert!(String::from_utf8(out).unwrap().contains("esia-banner"));
}

#[tokio::test]
async fn windows_1251_page_gets_the_banner_in_windows_1251() {
    let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(PAGE);
    let (_, out) = run(
        "text/html; charset=windows-1251",
        None,
        bytes.to_vec(),
        5,
        false,
    )
    .await;
    assert!(
        std::str::from_utf8(&out).is_err(),
        "output must stay windows-1251"
    );
    let (text, _, bad) = encoding_rs::WINDOWS_1251.decode(&out);
    assert!(!bad);
    assert!(
        text.contains("<div id=esia-banner>Внимание! выполнить привязку к ЕСИА</div>"),
        "{text}"
    );
    assert!(text.contains("Панель управления"));
}

#[tokio::test]
async fn charset_declared_only_in_meta_is_honoured() {
    let page = "<html><head><meta charset=windows-1251></head><body><p>Оценки</p></body></html>";
    let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(page);
    let (_, out) = run("text/html", None, bytes.to_vec(), 3, false).await;
    let (text, _, bad) = encoding_rs::WINDOWS_1251.decode(&out);
    assert!(!bad);
    assert!(
        text.contains("<body><div id=esia-banner>Внимание!"),
        "{text}"
    );
}

#[tokio::test]
async fn corrupt_gzip_ends_the_body_with_an_error_not_a_panic() {
    let h = headers("text/html", Some("gzip"));
    let plan = plan_for(&Method::GET, StatusCode::OK, &h).unwrap();
    let frames = vec![Ok::<_, std::io::Error>(http_body::Frame::data(
        Bytes::from_static(b"\x1f\x8bnot gzip at all"),
    ))];
    let resp = Response::new(StreamBody::new(futures_util::stream::iter(frames)));
    let err = inject(resp, plan, banner(), false)
        .into_body()
        .collect()
        .await
        .unwrap_err();
    assert!(matches!(err, InjectError::Decode("gzip")), "{err}");
}

#[tokio::test]
async fn decompression_bomb_is_cut_off() {
    let bomb = gzip(&vec![b'a'; (body::MAX_DECODED + 1024) as usize]);
    let h = headers("text/html", Some("gzip"));
    let plan = plan_for(&Method::GET, StatusCode::OK, &h).unwrap();
    let frames = vec![Ok::<_, std::io::Error>(http_body::Frame::data(
        Bytes::from(bomb),
    ))];
    let resp = Response::new(StreamBody::new(futures_util::stream::iter(frames)));
    let err = inject(resp, plan, banner(), false)
        .into_body()
        .collect()
        .await
        .unwrap_err();
    assert!(matches!(err, InjectError::TooLarge), "{err}");
}

#[test]
fn only_html_bodies_in_known_codings_are_planned() {
    let get = Method::GET;
    assert!(
        plan_for(
            &get,
            StatusCode::OK,
            &headers("text/html; charset=UTF-8", None)
        )
        .is_some()
    );
    assert!(plan_for(&get, StatusCode::OK, &headers("TEXT/HTML", Some("deflate"))).is_some());
    assert!(plan_for(&get, StatusCode::NOT_FOUND, &headers("text/html", None)).is_some());
    for (ct, ce) in [
        ("application/json", None),
        ("text/css", None),
        ("image/png", None),
        ("text/html", Some("br")),
        ("text/html", Some("zstd")),
        ("text/html; charset=utf-16", None),
        ("text/html; charset=no-such-charset", None),
    ] {
        assert!(
            plan_for(&get, StatusCode::OK, &headers(ct, ce)).is_none(),
            "{ct} {ce:?}"
        );
    }
    assert!(plan_for(&Method::HEAD, StatusCode::OK, &headers("text/html", None)).is_none());
    assert!(plan_for(&get, StatusCode::NOT_MODIFIED, &headers("text/html", None)).is_none());
    assert!(plan_for(&get, StatusCode::NO_CONTENT, &headers("text/html", None)).is_none());
    assert!(plan_for(&get, StatusCode::OK, &HeaderMap::new()).is_none());
}

#[test]
fn accept_encoding_parsing() {
    let h = |v: &str| {
        let mut m = HeaderMap::new();
        m.insert(
            http::header::ACCEPT_ENCODING,
            HeaderValue::from_str(v).unwrap(),
        );
        m
    };
    assert!(accepts_gzip(&h("gzip, deflate, br")));
    assert!(accepts_gzip(&h("br;q=1.0, GZIP;q=0.5")));
    assert!(accepts_gzip(&h("*")));
    assert!(!accepts_gzip(&h("gzip;q=0")));
    assert!(!accepts_gzip(&h("br, identity")));
    assert!(!accepts_gzip(&HeaderMap::new()));
}

#[test]
fn bad_selector_is_an_error() {
    assert!(Rule::new("body[", "x", Position::Prepend).is_err());
}
