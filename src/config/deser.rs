//! Deserialise the whole file and still report *every* bad key, not only the first.
//!
//! serde stops at the first error. So: deserialise, and on an error at path `p`, record it,
//! remove `p` from the value tree and try again. Every file field is optional or
//! defaulted, so removing a bad key leaves a tree that deserialises further; the loop ends
//! because each round removes one key. Removing the key (instead of fixing it) means
//! later validation simply does not see the bad value.

use serde::de::DeserializeOwned;
use toml::{Table, Value};

use super::errors::{SerdeMessage, split_serde_message};
use super::source::{Segment, Want};

/// One error serde reported, before it is given a location.
#[derive(Debug, Clone)]
pub struct RawError {
    pub path: Vec<Segment>,
    pub want: Want,
    pub message: SerdeMessage,
}

/// Upper bound on rounds, far above any real file's key count.
const MAX_ROUNDS: usize = 10_000;

/// Deserialises `T` from `table`, collecting every error. `None` only if the tree could not
/// be made to deserialise at all (which the removal strategy should never allow).
pub fn deserialize_all<T: DeserializeOwned>(mut table: Table) -> (Option<T>, Vec<RawError>) {
    let mut errors = Vec::new();
    for _ in 0..MAX_ROUNDS {
        let attempt: Result<T, _> = serde_path_to_error::deserialize(table.clone());
        let err = match attempt {
            Ok(value) => return (Some(value), errors),
            Err(err) => err,
        };
        let mut path = to_segments(err.path());
        let message = split_serde_message(err.inner().message());
        // An unknown key is located at the key itself, not its (absent) value.
        let want = match &message.unknown {
            Some((name, _)) if message.message.starts_with("unknown key") => {
                if path.last() != Some(&Segment::Key(name.clone())) {
                    path.push(Segment::Key(name.clone()));
                }
                Want::Key
            }
            _ => Want::Value,
        };
        let removed = remove_path(&mut table, &path);
        errors.push(RawError {
            path,
            want,
            message,
        });
        if !removed {
            return (None, errors);
        }
    }
    (None, errors)
}

fn to_segments(path: &serde_path_to_error::Path) -> Vec<Segment> {
    use serde_path_to_error::Segment as S;
    path.iter()
        .filter_map(|s| match s {
            S::Seq { index } => Some(Segment::Index(*index)),
            S::Map { key } => Some(Segment::Key(key.clone())),
            S::Enum { variant } => Some(Segment::Key(variant.clone())),
            S::Unknown => None,
        })
        .collect()
}

/// Removes the value at `path`. A bad array element removes the whole array's key: the
/// indexes of the other elements must keep pointing at the file.
fn remove_path(table: &mut Table, path: &[Segment]) -> bool {
    let Some(i) = path.iter().rposition(|s| matches!(s, Segment::Key(_))) else {
        return false;
    };
    let Some((parent, rest)) = path.split_at_checked(i) else {
        return false;
    };
    let Some(Segment::Key(key)) = rest.first() else {
        return false;
    };
    match walk_mut(table, parent) {
        Some(t) => t.remove(key).is_some(),
        None => false,
    }
}

fn walk_mut<'a>(table: &'a mut Table, path: &[Segment]) -> Option<&'a mut Table> {
    let Some((first, rest)) = path.split_first() else {
        return Some(table);
    };
    let Segment::Key(k) = first else {
        return None;
    };
    let mut value = table.get_mut(k)?;
    let mut rest = rest;
    // Follow indexes into arrays (of tables) until the next key.
    while let Some((Segment::Index(i), tail)) = rest.split_first() {
        value = match value {
            Value::Array(a) => a.get_mut(*i)?,
            _ => return None,
        };
        rest = tail;
    }
    match value {
        Value::Table(t) => walk_mut(t, rest),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::file::FileConfig;
    use crate::config::source::path_string;

    /// (path, message, hint) of each error.
    type Found = Vec<(String, String, Option<String>)>;

    fn run(text: &str) -> (Option<FileConfig>, Found) {
        let table: Table = toml::from_str(text).unwrap();
        let (cfg, errs) = deserialize_all::<FileConfig>(table);
        let errs = errs
            .into_iter()
            .map(|e| (path_string(&e.path), e.message.message, e.message.hint))
            .collect();
        (cfg, errs)
    }

    #[test]
    fn every_bad_key_is_reported() {
        let (cfg, errs) = run(
            "lisen = 1\n[listen]\nhttps = 443\nhtps = \"x\"\n[limits]\nmax_headers = \"many\"\n\
             [timeouts]\nidle = 60\n[log]\nformat = \"xml\"\n",
        );
        let paths: Vec<&str> = errs.iter().map(|e| e.0.as_str()).collect();
        // Tables are visited in key order; load.rs sorts by file position later.
        assert_eq!(
            paths,
            [
                "limits.max_headers",
                "lisen",
                "listen.htps",
                "listen.https",
                "log.format",
                "timeouts.idle",
            ]
        );
        assert_eq!(errs[1].2.as_deref(), Some("did you mean `listen`?"));
        assert_eq!(errs[2].2.as_deref(), Some("did you mean `https`?"));
        assert!(errs[5].2.as_deref().unwrap().contains("\"30s\""));
        // The good parts survive.
        assert!(cfg.is_some());
    }

    #[test]
    fn bad_array_element_drops_the_array() {
        let (cfg, errs) = run("[forwarding]\ntrusted_proxies = [\"10.0.0.0/8\", 5]\n");
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].0, "forwarding.trusted_proxies[1]");
        assert!(cfg.unwrap().forwarding.trusted_proxies.is_empty());
    }

    #[test]
    fn section_of_wrong_type() {
        let (cfg, errs) = run("listen = \"0.0.0.0:443\"\n");
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].0, "listen");
        assert!(cfg.is_some());
    }
}
