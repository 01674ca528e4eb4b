//! The diary cookie jar of a session, sealed with the vault key before it reaches the
//! store. The associated data names the session key, so a jar copied onto another
//! session does not open there.
//!
//! Stored bytes: `1` (format) ‖ key id length (u8) ‖ key id ‖ 24-byte nonce ‖ AEAD output.

use crate::diary::jar::Jar;
use crate::diary::vault::Vault;
use crate::secret::Secret;
use crate::store::{SessionKey, VaultEntry};

const FORMAT: u8 = 1;
const NONCE_LEN: usize = 24;

/// The vault "login" a jar is sealed for: bound to one session.
fn owner(key: &SessionKey) -> String {
    format!("jar:{}", hex::encode(key.0))
}

/// Seals a jar for the session `key`; `None` for an empty jar (nothing to keep).
pub fn seal(vault: &Vault, key: &SessionKey, jar: &Jar) -> Option<Vec<u8>> {
    if jar.is_empty() {
        return None;
    }
    let text = String::from_utf8(jar.to_bytes()).ok()?;
    let entry = match vault.seal(&owner(key), &Secret::new(text)) {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(error = %e, "cannot seal the diary cookie jar");
            return None;
        }
    };
    let id = entry.key_id.as_bytes();
    let id_len = u8::try_from(id.len()).ok()?;
    let mut out = Vec::with_capacity(2 + id.len() + entry.nonce.len() + entry.ciphertext.len());
    out.push(FORMAT);
    out.push(id_len);
    out.extend_from_slice(id);
    out.extend_from_slice(&entry.nonce);
    out.extend_from_slice(&entry.ciphertext);
    Some(out)
}

/// Opens a sealed jar; anything unreadable (other key, other session, garbage) is an
/// empty jar: the worst case is one more sign-in to the diary.
pub fn open(vault: &Vault, key: &SessionKey, bytes: Option<&[u8]>) -> Jar {
    let Some(bytes) = bytes else {
        return Jar::new();
    };
    let parsed = (|| {
        let (&format, rest) = bytes.split_first()?;
        if format != FORMAT {
            return None;
        }
        let (&id_len, rest) = rest.split_first()?;
        let id_len = usize::from(id_len);
        if rest.len() < id_len + NONCE_LEN {
            return None;
        }
        let (id, rest) = rest.split_at(id_len);
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        Some(VaultEntry {
            diary_login: owner(key),
            key_id: String::from_utf8(id.to_vec()).ok()?,
            nonce: nonce.to_vec(),
            ciphertext: ciphertext.to_vec(),
            updated_at: chrono::DateTime::UNIX_EPOCH,
        })
    })();
    let Some(entry) = parsed else {
        tracing::warn!("stored diary cookie jar is malformed; starting empty");
        return Jar::new();
    };
    match vault.open(&entry) {
        Ok(text) => Jar::from_bytes(text.expose().as_bytes()).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "stored diary cookie jar unreadable; starting empty");
            Jar::new()
        }),
        Err(e) => {
            tracing::warn!(error = %e, "stored diary cookie jar does not open; starting empty");
            Jar::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::diary::vault::{Keyring, VaultKey};

    async fn vault() -> (Vault, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::sqlite::SqliteStore::open(&dir.path().join("s.db"))
            .await
            .unwrap();
        let keys = Keyring::new(VaultKey::from_bytes([7; 32]), vec![]);
        let clock = Arc::new(crate::clock::SystemClock);
        (Vault::new(Arc::new(store), keys, clock), dir)
    }

    #[tokio::test]
    async fn a_jar_opens_only_for_its_session() {
        let (v, _d) = vault().await;
        let mut jar = Jar::new();
        jar.store("RIDSESSID=abc; Path=/", "/login", chrono::Utc::now());
        let a = SessionKey([1; 32]);
        let sealed = seal(&v, &a, &jar).unwrap();
        assert!(
            !sealed.windows(3).any(|w| w == b"abc"),
            "jar stored in clear"
        );
        assert_eq!(open(&v, &a, Some(&sealed)), jar);
        assert!(open(&v, &SessionKey([2; 32]), Some(&sealed)).is_empty());
        let mut flipped = sealed.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(open(&v, &a, Some(&flipped)).is_empty());
        for garbage in [&b""[..], b"\x01", b"\x02\x00", b"\x01\xff", b"\x01\x01x"] {
            assert!(open(&v, &a, Some(garbage)).is_empty());
        }
        assert!(seal(&v, &a, &Jar::new()).is_none());
    }
}
