//! The credential vault: passwords round-trip, nothing readable without the key, any
//! change to a stored entry is refused, key files are checked, and keys rotate.

mod store_support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use esia_gateway::clock::ManualClock;
use esia_gateway::diary::vault::{Keyring, Vault, VaultError, VaultKey, generate_key_file};
use esia_gateway::secret::Secret;
use esia_gateway::store::{SharedStore, VaultEntry};
use store_support::{TestDb, t0};

const PASSWORD: &str = "Секрет-123 with spaces";

fn vault(store: &SharedStore, active: [u8; 32], older: &[[u8; 32]]) -> Vault {
    let keys = Keyring::new(
        VaultKey::from_bytes(active),
        older.iter().map(|k| VaultKey::from_bytes(*k)).collect(),
    );
    Vault::new(store.clone(), keys, ManualClock::new(t0()))
}

async fn passwords_round_trip(db: &TestDb) {
    let v = vault(&db.store, [1; 32], &[]);
    v.put("parent", &Secret::new(PASSWORD)).await.unwrap();
    v.put("student", &Secret::new("")).await.unwrap();
    assert_eq!(v.get("parent").await.unwrap().unwrap().expose(), PASSWORD);
    assert_eq!(v.get("student").await.unwrap().unwrap().expose(), "");
    assert!(v.get("teacher").await.unwrap().is_none());
    // A new password replaces the old one.
    v.put("parent", &Secret::new("new")).await.unwrap();
    assert_eq!(v.get("parent").await.unwrap().unwrap().expose(), "new");
    // What the database holds reveals nothing: no plaintext, fresh nonce each time.
    let stored = db.store.get_vault_entry("parent").await.unwrap().unwrap();
    assert_eq!(stored.key_id, v.keyring().active().id());
    assert_eq!(stored.nonce.len(), 24);
    assert_eq!(stored.ciphertext[0], 1, "format version byte");
    let a = v.seal("parent", &Secret::new(PASSWORD)).unwrap();
    let b = v.seal("parent", &Secret::new(PASSWORD)).unwrap();
    assert_ne!(a.nonce, b.nonce);
    assert_ne!(a.ciphertext, b.ciphertext);
    let needle = PASSWORD.as_bytes();
    assert!(!a.ciphertext.windows(needle.len()).any(|w| w == needle));
    assert!(v.delete("parent").await.unwrap());
    assert!(v.get("parent").await.unwrap().is_none());
}

async fn unreadable_without_the_key(db: &TestDb) {
    vault(&db.store, [1; 32], &[])
        .put("parent", &Secret::new(PASSWORD))
        .await
        .unwrap();
    let other = vault(&db.store, [2; 32], &[]);
    assert!(matches!(
        other.get("parent").await,
        Err(VaultError::UnknownKey(_))
    ));
    // Relabelling the entry with the other key's id does not help.
    let mut e = db.store.get_vault_entry("parent").await.unwrap().unwrap();
    e.key_id = other.keyring().active().id().to_owned();
    assert!(matches!(other.open(&e), Err(VaultError::Decrypt)));
}

async fn rotation_keeps_entries_readable_and_moves_them(db: &TestDb) {
    let (old, new) = ([1; 32], [2; 32]);
    let before = vault(&db.store, old, &[]);
    for login in ["parent", "student", "teacher"] {
        before
            .put(login, &Secret::new(format!("{login}-pw")))
            .await
            .unwrap();
    }
    // An entry under a key nobody has any more: reported, never deleted.
    vault(&db.store, [9; 32], &[])
        .put("lost", &Secret::new("x"))
        .await
        .unwrap();

    let after = vault(&db.store, new, &[old]);
    assert_eq!(
        after.get("student").await.unwrap().unwrap().expose(),
        "student-pw"
    );
    after
        .put("director", &Secret::new("director-pw"))
        .await
        .unwrap();
    let report = after.rotate_all().await.unwrap();
    assert_eq!((report.rotated, report.current, report.raced), (3, 1, 0));
    assert_eq!(report.unreadable, vec!["lost".to_string()]);
    assert!(db.store.get_vault_entry("lost").await.unwrap().is_some());

    // The old key can now be retired.
    let only_new = vault(&db.store, new, &[]);
    for login in ["parent", "student", "teacher", "director"] {
        let e = db.store.get_vault_entry(login).await.unwrap().unwrap();
        assert_eq!(e.key_id, only_new.keyring().active().id());
        assert_eq!(
            only_new.get(login).await.unwrap().unwrap().expose(),
            format!("{login}-pw")
        );
    }
    let again = only_new.rotate_all().await.unwrap();
    assert_eq!((again.rotated, again.current), (0, 4));
}

on_both_backends!(
    passwords_round_trip,
    unreadable_without_the_key,
    rotation_keeps_entries_readable_and_moves_them,
);

/// A vault and one sealed entry; `seal` and `open` themselves never touch the store.
async fn sealed() -> (TestDb, Vault, VaultEntry) {
    let db = TestDb::sqlite().await;
    let v = vault(&db.store, [1; 32], &[]);
    let e = v.seal("parent", &Secret::new(PASSWORD)).unwrap();
    (db, v, e)
}

/// Which refusal a hostile entry must get.
type Expect = fn(&VaultError) -> bool;

#[tokio::test]
async fn every_change_to_an_entry_is_refused() {
    let (_db, v, good) = sealed().await;
    assert_eq!(v.open(&good).unwrap().expose(), PASSWORD);
    let mut cases: Vec<(&str, VaultEntry, Expect)> = Vec::new();
    let decrypt: Expect = |e| matches!(e, VaultError::Decrypt);
    let malformed: Expect = |e| matches!(e, VaultError::Malformed);
    for i in 1..good.ciphertext.len() {
        let mut e = good.clone();
        e.ciphertext[i] ^= 0x01;
        cases.push(("ciphertext bit", e, decrypt));
    }
    for i in 0..good.nonce.len() {
        let mut e = good.clone();
        e.nonce[i] ^= 0x80;
        cases.push(("nonce bit", e, decrypt));
    }
    let mut moved = good.clone();
    moved.diary_login = "teacher".into();
    cases.push(("moved to another login", moved, decrypt));
    let mut case = good.clone();
    case.diary_login = "Parent".into();
    cases.push(("login case changed", case, decrypt));
    let mut truncated = good.clone();
    truncated.ciphertext.truncate(10);
    cases.push(("truncated", truncated, decrypt));
    let mut extended = good.clone();
    extended.ciphertext.push(0);
    cases.push(("extended", extended, decrypt));
    let mut version = good.clone();
    version.ciphertext[0] = 2;
    cases.push(("unknown version", version, |e| {
        matches!(e, VaultError::UnsupportedVersion(2))
    }));
    let mut empty = good.clone();
    empty.ciphertext.clear();
    cases.push(("empty ciphertext", empty, malformed));
    let mut short_nonce = good.clone();
    short_nonce.nonce.pop();
    cases.push(("short nonce", short_nonce, malformed));
    let mut long_nonce = good.clone();
    long_nonce.nonce.push(0);
    cases.push(("long nonce", long_nonce, malformed));
    let mut no_nonce = good.clone();
    no_nonce.nonce.clear();
    cases.push(("no nonce", no_nonce, malformed));
    let mut unknown = good.clone();
    unknown.key_id = "0000000000000000".into();
    cases.push(("unknown key id", unknown, |e| {
        matches!(e, VaultError::UnknownKey(_))
    }));
    for (what, entry, want) in cases {
        let err = v.open(&entry).expect_err(what);
        assert!(want(&err), "{what}: got {err:?}");
    }
}

#[tokio::test]
async fn nothing_prints_a_password_or_key() {
    let (_db, v, e) = sealed().await;
    let secret = v.open(&e).unwrap();
    let key_hex = hex::encode([1u8; 32]);
    let printed = format!("{v:?} {e:?} {secret:?} {secret} {:?}", v.keyring());
    assert!(!printed.contains(PASSWORD), "{printed}");
    assert!(!printed.contains(&key_hex), "{printed}");
    let errs = [
        VaultError::Decrypt,
        VaultError::Malformed,
        VaultError::UnknownKey("k".into()),
    ];
    for err in errs {
        assert!(!format!("{err} {err:?}").contains(PASSWORD));
    }
}

fn write_key(dir: &Path, name: &str, contents: &[u8], mode: u32) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, contents).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    p
}

#[test]
fn key_files_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let hexkey = format!("{}\n", hex::encode([7u8; 32]));
    let id = VaultKey::from_bytes([7; 32]).id().to_owned();
    for mode in [0o600, 0o400] {
        let p = write_key(dir.path(), &format!("ok{mode:o}"), hexkey.as_bytes(), mode);
        assert_eq!(VaultKey::load(&p).unwrap().id(), id);
    }
    let raw = write_key(dir.path(), "raw", &[7; 32], 0o600);
    assert_eq!(VaultKey::load(&raw).unwrap().id(), id);
    for mode in [0o644, 0o640, 0o604, 0o606, 0o660, 0o777] {
        let p = write_key(
            dir.path(),
            &format!("open{mode:o}"),
            hexkey.as_bytes(),
            mode,
        );
        let err = VaultKey::load(&p).unwrap_err();
        assert!(
            matches!(err, VaultError::KeyFilePermissions { mode: m, .. } if m == mode),
            "{err:?}"
        );
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }
    for (name, contents) in [
        ("empty", &b""[..]),
        ("short", &[7u8; 31][..]),
        ("long", &[7u8; 33][..]),
        ("not-hex", &[b'g'; 64][..]),
        ("big", &[b'a'; 10_000][..]),
    ] {
        let p = write_key(dir.path(), name, contents, 0o600);
        assert!(
            matches!(VaultKey::load(&p), Err(VaultError::KeyFileFormat(_))),
            "{name}"
        );
    }
    assert!(matches!(
        VaultKey::load(&dir.path().join("missing")),
        Err(VaultError::Io { .. })
    ));
    assert!(
        matches!(
            VaultKey::load(dir.path()),
            Err(VaultError::KeyFileFormat(_))
        ),
        "a directory is not a key file"
    );
}

#[test]
fn key_file_owned_by_someone_else_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_key(dir.path(), "key", hex::encode([7u8; 32]).as_bytes(), 0o600);
    // Only root can give a file away; elsewhere this check cannot be staged.
    if std::os::unix::fs::chown(&p, Some(65534), Some(65534)).is_err() {
        eprintln!("not root: cannot stage a foreign-owned key file");
        return;
    }
    assert!(matches!(
        VaultKey::load(&p),
        Err(VaultError::KeyFileOwner(_))
    ));
}

#[test]
fn generated_key_files_are_private_and_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("vault.key");
    let id = generate_key_file(&p).unwrap();
    let meta = std::fs::metadata(&p).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(
        std::fs::read(&p).unwrap().len(),
        65,
        "64 hex digits and a newline"
    );
    assert_eq!(VaultKey::load(&p).unwrap().id(), id);
    let before = std::fs::read(&p).unwrap();
    assert!(matches!(
        generate_key_file(&p),
        Err(VaultError::KeyFileExists(_))
    ));
    assert_eq!(std::fs::read(&p).unwrap(), before);
    let second = dir.path().join("vault2.key");
    assert_ne!(generate_key_file(&second).unwrap(), id, "keys are random");
    let ring = Keyring::from_files(&second, &[p.clone(), p]).unwrap();
    assert_ne!(ring.active().id(), id);
}

#[tokio::test]
async fn blobs_open_only_in_their_own_context() {
    let db = TestDb::sqlite().await;
    let v = vault(&db.store, [1; 32], &[]);
    let jar = b"PHPSESSID=abc; diary_auth=xyz";
    let blob = v.seal_blob(b"jar:session-1", jar).unwrap();
    assert_eq!(v.open_blob(b"jar:session-1", &blob).unwrap(), jar);
    assert!(!blob.windows(jar.len()).any(|w| w == jar));
    assert_ne!(
        blob,
        v.seal_blob(b"jar:session-1", jar).unwrap(),
        "fresh nonce"
    );
    assert!(matches!(
        v.open_blob(b"jar:session-2", &blob),
        Err(VaultError::Decrypt)
    ));
    assert!(matches!(v.open_blob(b"", &blob), Err(VaultError::Decrypt)));
    // Every single-bit change and every truncation is refused, never a panic.
    for i in 0..blob.len() {
        let mut bad = blob.clone();
        bad[i] ^= 0x01;
        assert!(
            v.open_blob(b"jar:session-1", &bad).is_err(),
            "bit flip at {i}"
        );
        assert!(
            v.open_blob(b"jar:session-1", &blob[..i]).is_err(),
            "truncated to {i}"
        );
    }
    assert!(matches!(
        v.open_blob(b"jar:session-1", &[2, 200, 1, 2]),
        Err(VaultError::Malformed)
    ));
    assert!(matches!(
        v.open_blob(b"x", &[9]),
        Err(VaultError::UnsupportedVersion(9))
    ));
    // After a rotation, blobs sealed under the retired key still open while it is kept.
    let rotated = vault(&db.store, [2; 32], &[[1; 32]]);
    assert_eq!(rotated.open_blob(b"jar:session-1", &blob).unwrap(), jar);
    let only_new = vault(&db.store, [2; 32], &[]);
    assert!(matches!(
        only_new.open_blob(b"jar:session-1", &blob),
        Err(VaultError::UnknownKey(_))
    ));
}
