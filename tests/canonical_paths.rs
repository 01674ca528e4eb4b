//! Canonical requests are a security boundary (issue 6, DESIGN.md §4, §7): every row of
//! `tests/data/hostile_grade_spellings.tsv` (and of `hostile_grade_headers.tsv`) is sent
//! VERBATIM over a raw TLS socket (HTTP/1.1: a URL parser would normalise the target
//! first) through the gateway to the real, lenient demo diary, as a legacy-only session
//! after seed 004's cutover. Not one answer may carry a grade page; rejects are 400,
//! denials 403, allowed spellings are served. A sample goes over HTTP/2 as well.

mod cutover_support;
mod store_support;
mod support;

use std::time::Duration;

use cutover_support::{Stand, location, seed_004};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The closed pages' markers in the demo diary's HTML.
const CLOSED_PAGES: [&str; 3] = [
    "id=\"page-marks\"",
    "id=\"page-stats\"",
    "id=\"page-register\"",
];

struct Row {
    header: Option<(String, String)>,
    method: String,
    target: String,
    expect: String,
    note: String,
}

fn rows(file: &str, with_header: bool) -> Vec<Row> {
    let path = format!("{}/tests/data/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .skip(1) // column names
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            let o = usize::from(with_header) * 2;
            Row {
                header: with_header.then(|| (c[0].to_owned(), c[1].to_owned())),
                method: c[o].to_owned(),
                target: c[o + 1].to_owned(),
                expect: c[o + 2].to_owned(),
                note: c.get(o + 3).unwrap_or(&"").to_string(),
            }
        })
        .collect()
}

/// One request on its own connection; the status and the whole raw answer.
async fn raw(stand: &Stand, cookie: &str, row: &Row) -> (u16, String) {
    let mut tls = support::tls_stream(&stand.pki, stand.gw.https_addr()).await;
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: localhost:{}\r\nCookie: {cookie}\r\nConnection: close\r\n",
        row.method,
        row.target,
        stand.gw.https_addr().port()
    );
    if let Some((name, value)) = &row.header {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    tls.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), tls.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "no answer to {} {}", row.method, row.target);
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// A legacy session of `student` with a live diary session behind it, checked to see
/// its grades before the cutover; then the calendar is moved past the cutover.
async fn legacy_stand() -> (Stand, String) {
    let stand = Stand::start(seed_004(), cutover_support::at("2018-10-01T12:00:00+03:00")).await;
    let b = stand.browser();
    assert_eq!(location(&stand.legacy_login(&b, "student").await), "/");
    let cookie = b.cookie_header();
    assert!(!cookie.is_empty());
    let control = Row {
        header: None,
        method: "GET".into(),
        target: "/MARKS/".into(),
        expect: "allow".into(),
        note: "control".into(),
    };
    let (status, text) = raw(&stand, &cookie, &control).await;
    assert_eq!(status, 200, "{text}");
    assert!(
        text.contains(CLOSED_PAGES[0]),
        "the session sees grades before: {text}"
    );
    stand.set_date("2019-01-01T00:00:00+03:00");
    (stand, cookie)
}

fn check(row: &Row, status: u16, text: &str, failures: &mut Vec<String>) {
    let what = format!(
        "{:?} {} {:?} ({}) → {status}",
        row.header, row.method, row.target, row.note
    );
    if let Some(marker) = CLOSED_PAGES.iter().find(|m| text.contains(*m)) {
        failures.push(format!("{what}: CLOSED PAGE SERVED ({marker})"));
        return;
    }
    let refused_here =
        text.contains("id=\"esia-gw-denied\"") || text.contains("x-esia-gateway-reason: ");
    // The diary's own pages (its 404, its 400 for a bad form …) carry its title.
    let diary_page = text.contains("Интернет Дневник");
    // hyper's URI parser drops a fragment before the gateway sees the target, so a
    // `#…` spelling is judged without it: refused as the page it names (403), which
    // holds the invariant; the canonicaliser's own `fragment` reject covers other paths.
    let fragment = row.target.contains('#');
    // `OPTIONS *` is refused by the transport's route phase (no path) before policy.
    let asterisk = row.target == "*";
    let ok = match row.expect.as_str() {
        "deny" => status == 403 && refused_here,
        "reject" => status == 400 || (fragment && status == 403 && refused_here),
        "allow" if asterisk => status == 400,
        "allow" => status != 0 && status < 500 && !refused_here && (status != 400 || diary_page),
        other => panic!("unknown expectation {other:?}"),
    };
    if !ok {
        let head = text.lines().take(12).collect::<Vec<_>>().join(" | ");
        failures.push(format!("{what}: expected {}: {head}", row.expect));
    }
}

#[tokio::test]
async fn no_hostile_spelling_reaches_a_grade_page_over_http1() {
    let (stand, cookie) = legacy_stand().await;
    let table = rows("hostile_grade_spellings.tsv", false);
    assert!(table.len() >= 150, "{} rows", table.len());
    let mut failures = Vec::new();
    for row in &table {
        let (status, text) = raw(&stand, &cookie, row).await;
        check(row, status, &text, &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn override_and_identity_headers_change_nothing() {
    let (stand, cookie) = legacy_stand().await;
    let table = rows("hostile_grade_headers.tsv", true);
    assert!(!table.is_empty());
    let mut failures = Vec::new();
    for row in &table {
        let (status, text) = raw(&stand, &cookie, row).await;
        check(row, status, &text, &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn a_sample_over_http2_is_refused_the_same_way() {
    let (stand, _) = legacy_stand().await;
    // The same legacy session, in a browser that speaks HTTP/2 (ALPN h2).
    let b = stand.browser();
    stand.set_date("2018-10-01T12:00:00+03:00");
    assert_eq!(location(&stand.legacy_login(&b, "student").await), "/");
    stand.set_date("2019-01-01T00:00:00+03:00");
    let sample = [
        ("GET", "/MARKS"),
        ("GET", "/Marks;jsessionid=1/"),
        ("GET", "/index.php?mod%75le=marks"),
        ("GET", "/index.php?module[]=marks"),
        ("GET", "/index.php/x/y?MODULE=Marks"),
        ("GET", "/index.php?module=homework&module=marks"),
        ("GET", "/%6Darks"),
        ("HEAD", "/marks"),
        ("OPTIONS", "/marks"),
        ("PROPFIND", "/marks"),
        ("POST", "/index.php?module=stats"),
    ];
    for (method, target) in sample {
        let resp = b
            .client
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                stand.url(target),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.version(),
            reqwest::Version::HTTP_2,
            "{method} {target}"
        );
        assert_eq!(resp.status(), 403, "{method} {target}");
        let text = resp.text().await.unwrap();
        assert!(
            CLOSED_PAGES.iter().all(|m| !text.contains(m)),
            "{method} {target}"
        );
    }
    // Rejects are 400 on HTTP/2 too.
    let resp = b.get(&stand.url("/x%2Fmarks")).await;
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    assert_eq!(resp.status(), 400);
    // And an allowed page is served over HTTP/2.
    let resp = b.get(&stand.url("/homework")).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("page-homework"));
}
