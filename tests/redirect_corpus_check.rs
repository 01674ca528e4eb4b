use esia_gateway::login::return_path::is_safe_return_path;
fn decode(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(i) = rest.find("{0x") {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 3..];
        let end = tail.find('}').unwrap();
        out.push(char::from_u32(u32::from_str_radix(&tail[..end], 16).unwrap()).unwrap());
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    out
}
#[test]
fn corpus() {
    let text = std::fs::read_to_string("tests/data/open_redirects.txt").unwrap();
    let mut bad = vec![];
    for line in text.lines() {
        if line.is_empty() || line == "#" || line.starts_with("# ") {
            continue;
        }
        let v = decode(line);
        if is_safe_return_path(&v) {
            bad.push(line.to_owned());
        }
    }
    assert!(bad.is_empty(), "{bad:#?}");
}
