//! Every saved fuzz input (`fuzz/corpus/<target>/`: the seeds and what `cargo fuzz`
//! found) replayed through the same checks the fuzz targets run, on stable, on every
//! `cargo test`: a crash found once stays fixed. `fuzz/run.sh` does the fuzzing itself.

#[allow(dead_code)]
#[path = "../fuzz/checks.rs"]
mod checks;

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "no seeds in {}", dir.display());
    for path in &inputs {
        let data = std::fs::read(path).unwrap();
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(outcome.is_ok(), "{target}: {} fails", path.display());
    }
}

#[test]
fn canonical() {
    replay("canonical", checks::canonical);
}

#[test]
fn php_params() {
    replay("php_params", checks::php_params);
}

#[test]
fn set_cookie_jar() {
    replay("set_cookie_jar", checks::set_cookie_jar);
}

#[test]
fn esia_answers() {
    replay("esia_answers", checks::esia_answers);
}

#[test]
fn esia_token() {
    replay("esia_token", checks::esia_token);
}

#[test]
fn config() {
    replay("config", checks::config);
}
