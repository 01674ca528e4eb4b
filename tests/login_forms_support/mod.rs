//! The hostile login-body fixture (`tests/data/diary_login_forms.tsv`): read by the demo
//! diary's own tests and by the gateway's legacy-login tests, so both judge the same rows.
#![allow(dead_code)]

/// Decodes the fixture escapes `\r \n \t \0 \\ \xHH`.
pub fn unescape(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut chars = s.bytes().peekable();
    while let Some(b) = chars.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match chars.next() {
            Some(b'r') => out.push(b'\r'),
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'0') => out.push(0),
            Some(b'\\') => out.push(b'\\'),
            Some(b'x') => {
                let hex: String = [chars.next().unwrap(), chars.next().unwrap()]
                    .iter()
                    .map(|&c| c as char)
                    .collect();
                out.push(u8::from_str_radix(&hex, 16).unwrap());
            }
            other => panic!("bad escape \\{other:?} in {s}"),
        }
    }
    out
}

pub struct FormRow {
    pub content_type: Option<&'static str>,
    pub body: Vec<u8>,
    pub reads: Option<Vec<u8>>,
    pub note: String,
}

pub fn login_form_rows() -> Vec<FormRow> {
    include_str!("../data/diary_login_forms.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("kind\t") && !l.is_empty())
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            assert_eq!(cols.len(), 4, "{line}");
            let content_type = match cols[0] {
                "url" => Some("application/x-www-form-urlencoded"),
                "multipart" => Some("multipart/form-data; boundary=BND"),
                "text" => Some("text/plain"),
                "json" => Some("application/json"),
                "none" => None,
                other => panic!("unknown kind {other}"),
            };
            FormRow {
                content_type,
                body: unescape(cols[1]),
                reads: (cols[2] != "-").then(|| unescape(cols[2])),
                note: cols[3].to_owned(),
            }
        })
        .collect()
}
