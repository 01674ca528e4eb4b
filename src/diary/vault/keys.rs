//! Vault keys and key files.
//!
//! A key file holds 32 random bytes, either as 64 hex digits (optionally followed by a
//! newline — what [`generate_key_file`] writes) or as exactly 32 raw bytes. The file
//! must be a regular file owned by the user running the gateway and readable by no one
//! else (mode 0600 or 0400); anything else is refused with an error naming the file,
//! because a key others can read protects nothing.
//!
//! A key's id is derived from the key itself (a SHA-256 prefix), so ids need no
//! configuration and two different keys cannot share one.

use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use chacha20poly1305::{Key, KeyInit, XChaCha20Poly1305};
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

use super::VaultError;

const KEY_LEN: usize = 32;
/// Larger files are not key files; refuse before reading them whole.
const MAX_FILE_LEN: u64 = 256;

/// Overwrites key material we own copies of (the cipher zeroises its own copy).
pub(super) fn wipe(buf: &mut [u8]) {
    for b in buf.iter_mut() {
        // SAFETY: `b` is a valid, exclusive reference; the volatile write only keeps
        // the compiler from eliding the store.
        unsafe { std::ptr::write_volatile(b, 0) };
    }
    std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
}

/// One vault key with its id.
pub struct VaultKey {
    id: String,
    pub(super) cipher: XChaCha20Poly1305,
}

impl VaultKey {
    pub fn from_bytes(mut bytes: [u8; KEY_LEN]) -> Self {
        let id = key_id(&bytes);
        let cipher = XChaCha20Poly1305::new(Key::from_slice(&bytes));
        wipe(&mut bytes);
        Self { id, cipher }
    }

    /// Loads a key file after checking its owner and mode.
    pub fn load(path: &Path) -> Result<Self, VaultError> {
        let io = |source| VaultError::Io {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        // Checked on the open handle, so the file cannot be swapped after the check.
        check_permissions(path, &file.metadata().map_err(io)?)?;
        let mut raw = Vec::with_capacity(MAX_FILE_LEN as usize);
        file.take(MAX_FILE_LEN + 1)
            .read_to_end(&mut raw)
            .map_err(io)?;
        let parsed = parse_key(&raw);
        wipe(&mut raw);
        parsed
            .map(Self::from_bytes)
            .ok_or_else(|| VaultError::KeyFileFormat(path.to_owned()))
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

impl fmt::Debug for VaultKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VaultKey({})", self.id)
    }
}

fn key_id(key: &[u8; KEY_LEN]) -> String {
    let mut h = Sha256::new();
    h.update(b"esia-gateway vault key id\0");
    h.update(key);
    hex::encode(&h.finalize()[..8])
}

/// 64 hex digits (surrounding whitespace allowed) or exactly 32 raw bytes.
fn parse_key(raw: &[u8]) -> Option<[u8; KEY_LEN]> {
    let mut key = [0u8; KEY_LEN];
    let text = raw.trim_ascii();
    if text.len() == 2 * KEY_LEN && hex::decode_to_slice(text, &mut key).is_ok() {
        return Some(key);
    }
    if raw.len() == KEY_LEN {
        key.copy_from_slice(raw);
        return Some(key);
    }
    None
}

#[cfg(unix)]
fn check_permissions(path: &Path, meta: &std::fs::Metadata) -> Result<(), VaultError> {
    use std::os::unix::fs::MetadataExt;
    if !meta.is_file() {
        return Err(VaultError::KeyFileFormat(path.to_owned()));
    }
    let mode = meta.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(VaultError::KeyFilePermissions {
            path: path.to_owned(),
            mode,
        });
    }
    if meta.uid()
        != current_uid().map_err(|source| VaultError::Io {
            path: "/proc/self".into(),
            source,
        })?
    {
        return Err(VaultError::KeyFileOwner(path.to_owned()));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(_path: &Path, _meta: &std::fs::Metadata) -> Result<(), VaultError> {
    Ok(())
}

/// The effective uid, without libc: `/proc/self` is owned by it.
#[cfg(unix)]
fn current_uid() -> std::io::Result<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map(|m| m.uid())
}

/// Writes a new random key as hex to `path` (mode 0600, never overwriting an existing
/// file, fsynced) and returns its id. Used by the demo and the tests.
pub fn generate_key_file(path: &Path) -> Result<String, VaultError> {
    let io = |source: std::io::Error| match source.kind() {
        std::io::ErrorKind::AlreadyExists => VaultError::KeyFileExists(path.to_owned()),
        _ => VaultError::Io {
            path: path.to_owned(),
            source,
        },
    };
    let mut key = [0u8; KEY_LEN];
    OsRng.fill_bytes(&mut key);
    let id = key_id(&key);
    let mut text = hex::encode(key).into_bytes();
    text.push(b'\n');
    wipe(&mut key);
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    let written = open
        .open(path)
        .and_then(|mut f| f.write_all(&text).and_then(|()| f.sync_all()));
    wipe(&mut text);
    written.map_err(io)?;
    Ok(id)
}

/// The active key (new entries) and older keys (still decrypt, until `rotate_all`).
#[derive(Debug)]
pub struct Keyring {
    active: VaultKey,
    older: Vec<VaultKey>,
}

impl Keyring {
    pub fn new(active: VaultKey, older: Vec<VaultKey>) -> Self {
        // A key listed twice is harmless; drop duplicates so lookups stay unambiguous.
        let mut kept: Vec<VaultKey> = Vec::with_capacity(older.len());
        for k in older {
            if k.id != active.id && !kept.iter().any(|x| x.id == k.id) {
                kept.push(k);
            }
        }
        Self {
            active,
            older: kept,
        }
    }

    pub fn from_files(active: &Path, older: &[PathBuf]) -> Result<Self, VaultError> {
        let active = VaultKey::load(active)?;
        let older = older
            .iter()
            .map(|p| VaultKey::load(p))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::new(active, older))
    }

    pub fn active(&self) -> &VaultKey {
        &self.active
    }

    pub(super) fn find(&self, id: &str) -> Option<&VaultKey> {
        std::iter::once(&self.active)
            .chain(&self.older)
            .find(|k| k.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_formats() {
        let hexkey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        assert!(parse_key(hexkey.as_bytes()).is_some());
        assert!(parse_key(format!("{hexkey}\n").as_bytes()).is_some());
        assert!(parse_key(&[7u8; 32]).is_some());
        for bad in [
            &b""[..],
            &[7u8; 31][..],
            &[7u8; 33][..],
            &hexkey.as_bytes()[..63],
            b"zz112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
        ] {
            assert!(parse_key(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn ids_depend_on_the_key() {
        let a = VaultKey::from_bytes([1; 32]);
        let b = VaultKey::from_bytes([2; 32]);
        assert_ne!(a.id(), b.id());
        assert_eq!(a.id(), VaultKey::from_bytes([1; 32]).id());
        assert_eq!(format!("{a:?}"), format!("VaultKey({})", a.id()));
    }
}
