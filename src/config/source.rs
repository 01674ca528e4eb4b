//! From a key path back to the place an operator must edit: a `file:line:col` found through
//! the spans `toml_edit` keeps, or the environment variable that overrode the value.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;

use toml_edit::{Array, ArrayOfTables, ImDocument, InlineTable, Item, Table, Value};

use super::errors::Location;

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// Renders `[Key(a), Index(2), Key(b)]` as `a[2].b`.
pub fn path_string(path: &[Segment]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Segment::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// 1-based line and column (in characters) of a byte offset; offsets past the end or
/// inside a character clamp to the nearest valid position before it.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = text.get(..end).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, col)
}

/// What a span is wanted for: the key (unknown key) or its value (bad value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    Key,
    Value,
}

/// The parsed file plus the record of environment overrides, able to locate a key path.
pub struct SourceMap<'a> {
    pub file: PathBuf,
    pub text: &'a str,
    pub doc: Option<&'a ImDocument<&'a str>>,
    /// Overridden key path → variable name.
    pub overrides: BTreeMap<String, String>,
}

impl SourceMap<'_> {
    pub fn locate(&self, path: &[Segment], want: Want) -> Location {
        // An override anywhere on the path explains the value.
        for n in (1..=path.len()).rev() {
            if let Some(var) = path
                .get(..n)
                .and_then(|p| self.overrides.get(&path_string(p)))
            {
                return Location::Env { var: var.clone() };
            }
        }
        match self.doc.and_then(|doc| find_span(doc, path, want)) {
            Some(span) => {
                let (line, col) = line_col(self.text, span.start);
                Location::File {
                    path: self.file.clone(),
                    line,
                    col,
                }
            }
            None => Location::FileOnly {
                path: self.file.clone(),
            },
        }
    }
}

/// A step-able view of the document tree.
#[derive(Clone, Copy)]
enum Node<'a> {
    Table(&'a Table),
    Inline(&'a InlineTable),
    Array(&'a Array),
    Tables(&'a ArrayOfTables),
    Leaf,
}

impl<'a> Node<'a> {
    fn of_item(item: &'a Item) -> (Self, Option<Range<usize>>) {
        match item {
            Item::Table(t) => (Node::Table(t), t.span()),
            Item::ArrayOfTables(a) => (Node::Tables(a), a.span()),
            Item::Value(v) => (Node::of_value(v), v.span()),
            Item::None => (Node::Leaf, None),
        }
    }

    fn of_value(value: &'a Value) -> Self {
        match value {
            Value::InlineTable(t) => Node::Inline(t),
            Value::Array(a) => Node::Array(a),
            _ => Node::Leaf,
        }
    }
}

impl SourceMap<'_> {
    /// True when `path` names a `[[table]]` list in the file (not an override).
    pub fn is_array_of_tables(&self, path: &[Segment]) -> bool {
        let Some(doc) = self.doc else {
            return false;
        };
        let mut table = doc.as_table();
        let Some((last, parents)) = path.split_last() else {
            return false;
        };
        for seg in parents {
            match seg {
                Segment::Key(k) => match table.get(k) {
                    Some(Item::Table(t)) => table = t,
                    _ => return false,
                },
                Segment::Index(_) => return false,
            }
        }
        matches!(last, Segment::Key(k) if matches!(table.get(k), Some(Item::ArrayOfTables(_))))
    }
}

/// The span of the deepest part of `path` present in the document: a missing key is
/// reported at its table's header, which is where it has to be added.
fn find_span(doc: &ImDocument<&str>, path: &[Segment], want: Want) -> Option<Range<usize>> {
    let mut node = Node::Table(doc.as_table());
    let mut best: Option<Range<usize>> = None;
    let last = path.len().saturating_sub(1);
    for (i, seg) in path.iter().enumerate() {
        let found = match (seg, node) {
            (Segment::Key(k), Node::Table(t)) => t
                .get_key_value(k)
                .map(|(key, it)| (key.span(), Node::of_item(it))),
            (Segment::Key(k), Node::Inline(t)) => t
                .get_key_value(k)
                .map(|(key, it)| (key.span(), Node::of_item(it))),
            (Segment::Index(n), Node::Tables(a)) => {
                a.get(*n).map(|t| (None, (Node::Table(t), t.span())))
            }
            (Segment::Index(n), Node::Array(a)) => {
                a.get(*n).map(|v| (None, (Node::of_value(v), v.span())))
            }
            _ => None,
        };
        let Some((key_span, (next, value_span))) = found else {
            break;
        };
        let is_table = matches!(next, Node::Table(_));
        node = next;
        best = match (i == last, want) {
            // A `[section]` header is where the reader looks, not the name inside it.
            (true, Want::Key) if is_table => value_span.or(key_span).or(best),
            (true, Want::Key) => key_span.or(value_span).or(best),
            _ => value_span.or(key_span).or(best),
        };
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_not_bytes() {
        let text = "a = 1\n# комментарий\nb = \"значение\"\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 4), (1, 5));
        assert_eq!(line_col(text, 6), (2, 1));
        let b = text.find('b').unwrap();
        assert_eq!(line_col(text, b), (3, 1));
        let quote = text.find('"').unwrap();
        assert_eq!(line_col(text, quote), (3, 5));
    }

    #[test]
    fn line_col_edges() {
        assert_eq!(line_col("", 0), (1, 1));
        assert_eq!(line_col("ab", 99), (1, 3));
        assert_eq!(line_col("a\r\nb", 3), (2, 1));
        // Inside a two-byte character: clamp back to its start.
        assert_eq!(line_col("яb", 1), (1, 1));
        assert_eq!(line_col("\n\n", 2), (3, 1));
    }

    fn key(k: &str) -> Segment {
        Segment::Key(k.into())
    }

    fn at(loc: Location) -> (usize, usize) {
        match loc {
            Location::File { line, col, .. } => (line, col),
            other => panic!("not a file position: {other:?}"),
        }
    }

    #[test]
    fn locates_keys_values_and_missing_keys() {
        let text = "[listen]\nhttps = \"x\"\n\n[upstream]\nurl = 5\n\n[[route_group]]\nname = \"a\"\n[[route_group]]\npaths = [\"/a\", 7]\ninline = { k = 1 }\n";
        let doc = ImDocument::parse(text).unwrap();
        let map = SourceMap {
            file: "g.toml".into(),
            text,
            doc: Some(&doc),
            overrides: BTreeMap::new(),
        };
        assert_eq!(
            at(map.locate(&[key("listen"), key("https")], Want::Value)),
            (2, 9)
        );
        assert_eq!(
            at(map.locate(&[key("listen"), key("https")], Want::Key)),
            (2, 1)
        );
        assert_eq!(
            at(map.locate(&[key("upstream"), key("url")], Want::Value)),
            (5, 7)
        );
        // Missing key: its table header.
        assert_eq!(
            at(map.locate(&[key("upstream"), key("nope")], Want::Value)),
            (4, 1)
        );
        let rg1 = [
            key("route_group"),
            Segment::Index(1),
            key("paths"),
            Segment::Index(1),
        ];
        assert_eq!(at(map.locate(&rg1, Want::Value)), (10, 16));
        let inline = [
            key("route_group"),
            Segment::Index(1),
            key("inline"),
            key("k"),
        ];
        assert_eq!(at(map.locate(&inline, Want::Key)), (11, 12));
        assert_eq!(
            map.locate(&[key("missing_section"), key("x")], Want::Value),
            Location::FileOnly {
                path: "g.toml".into()
            }
        );
    }

    #[test]
    fn overrides_win_over_file_positions() {
        let text = "[tls]\ncert = \"a.pem\"\n";
        let doc = ImDocument::parse(text).unwrap();
        let mut overrides = BTreeMap::new();
        overrides.insert(
            "tls.cert".to_string(),
            "ESIA_GATEWAY__TLS__CERT".to_string(),
        );
        let map = SourceMap {
            file: "g.toml".into(),
            text,
            doc: Some(&doc),
            overrides,
        };
        assert_eq!(
            map.locate(&[key("tls"), key("cert")], Want::Value),
            Location::Env {
                var: "ESIA_GATEWAY__TLS__CERT".into()
            }
        );
        assert_eq!(
            path_string(&[key("a"), Segment::Index(2), key("b")]),
            "a[2].b"
        );
    }
}
