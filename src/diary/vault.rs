//! The credential vault: diary passwords typed once on the linking page, kept so the
//! gateway can sign the user into the unmodified diary later.
//!
//! Threat: a copy of the database (backup, replica, stolen disk) must not reveal a
//! password, and an entry must not be usable for another login. So each entry is
//! sealed with XChaCha20-Poly1305 under a key that lives in a file outside the
//! database, with a fresh random 24-byte nonce, and the associated data binds the
//! entry to its format version, key id and diary login. Tampering with any stored
//! field, or moving an entry to another login, makes decryption fail.
//!
//! Stored entry (`store::VaultEntry`): `key_id`, `nonce` (24 bytes) and `ciphertext`
//! = one version byte (`1`) followed by the AEAD output (ciphertext ‖ 16-byte tag).
//!
//! Keys rotate: the [`Keyring`] has one active key (new entries) and older keys that
//! still decrypt; [`Vault::rotate_all`] re-seals every entry under the active key,
//! after which the old key files can be retired. Plaintexts are [`Secret`]s and never
//! print; intermediate buffers are wiped.
//!
//! Other secrets at rest (the diary cookie jar, an id token) use the same keys through
//! [`Vault::seal_blob`] / [`Vault::open_blob`] (see `vault/blob.rs`).

mod blob;
mod keys;

use std::path::PathBuf;

use chacha20poly1305::XNonce;
use chacha20poly1305::aead::{Aead, Payload};
use rand::RngCore;
use rand::rngs::OsRng;

pub use keys::{Keyring, VaultKey, generate_key_file};

use crate::clock::SharedClock;
use crate::secret::Secret;
use crate::store::{SharedStore, StoreError, VaultEntry};

const FORMAT_V1: u8 = 1;
const NONCE_LEN: usize = 24;

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("cannot read {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "vault key file {path} has mode {mode:o}; it must be readable by its owner only (chmod 600)"
    )]
    KeyFilePermissions { path: PathBuf, mode: u32 },
    #[error("vault key file {0} must be owned by the user running the gateway")]
    KeyFileOwner(PathBuf),
    #[error("vault key file {0} must hold 64 hex digits or 32 raw bytes")]
    KeyFileFormat(PathBuf),
    #[error("vault key file {0} already exists; not overwriting it")]
    KeyFileExists(PathBuf),
    #[error("vault entry is sealed with key {0}, which is not in the keyring")]
    UnknownKey(String),
    /// Wrong key, or the entry was altered or moved to another login.
    #[error("vault entry does not decrypt (tampered, moved, or wrong key)")]
    Decrypt,
    #[error("vault entry format {0} is not supported")]
    UnsupportedVersion(u8),
    #[error("vault entry is malformed")]
    Malformed,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What [`Vault::rotate_all`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RotationReport {
    /// Entries re-sealed under the active key.
    pub rotated: usize,
    /// Entries already under the active key.
    pub current: usize,
    /// Entries changed concurrently (a new password saved meanwhile); left as written.
    pub raced: usize,
    /// Logins whose entries could not be decrypted with any key; left untouched.
    pub unreadable: Vec<String>,
}

/// Seals and opens vault entries and keeps them in the store.
#[derive(Debug)]
pub struct Vault {
    store: SharedStore,
    keys: Keyring,
    clock: SharedClock,
}

/// Associated data: format, key id and login, each length-prefixed so no two
/// different triples share an encoding.
fn associated_data(version: u8, key_id: &str, login: &str) -> Vec<u8> {
    let mut ad = Vec::with_capacity(32 + key_id.len() + login.len());
    ad.extend_from_slice(b"esia-gateway/vault\0");
    ad.push(version);
    for part in [key_id, login] {
        ad.extend_from_slice(&(part.len() as u64).to_be_bytes());
        ad.extend_from_slice(part.as_bytes());
    }
    ad
}

impl Vault {
    pub fn new(store: SharedStore, keys: Keyring, clock: SharedClock) -> Self {
        Self { store, keys, clock }
    }

    pub fn keyring(&self) -> &Keyring {
        &self.keys
    }

    /// Encrypts `password` for `login` under the active key (no store access).
    pub fn seal(&self, login: &str, password: &Secret) -> Result<VaultEntry, VaultError> {
        let key = self.keys.active();
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let ad = associated_data(FORMAT_V1, key.id(), login);
        let sealed = key
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: password.expose().as_bytes(),
                    aad: &ad,
                },
            )
            .map_err(|_| VaultError::Malformed)?;
        let mut ciphertext = Vec::with_capacity(1 + sealed.len());
        ciphertext.push(FORMAT_V1);
        ciphertext.extend_from_slice(&sealed);
        Ok(VaultEntry {
            diary_login: login.to_owned(),
            key_id: key.id().to_owned(),
            nonce: nonce.to_vec(),
            ciphertext,
            updated_at: self.clock.now(),
        })
    }

    /// Decrypts an entry with whichever keyring key sealed it.
    pub fn open(&self, entry: &VaultEntry) -> Result<Secret, VaultError> {
        let (&version, sealed) = entry
            .ciphertext
            .split_first()
            .ok_or(VaultError::Malformed)?;
        if version != FORMAT_V1 {
            return Err(VaultError::UnsupportedVersion(version));
        }
        if entry.nonce.len() != NONCE_LEN {
            return Err(VaultError::Malformed);
        }
        let key = self
            .keys
            .find(&entry.key_id)
            .ok_or_else(|| VaultError::UnknownKey(entry.key_id.clone()))?;
        let ad = associated_data(version, &entry.key_id, &entry.diary_login);
        let plain = key
            .cipher
            .decrypt(
                XNonce::from_slice(&entry.nonce),
                Payload {
                    msg: sealed,
                    aad: &ad,
                },
            )
            .map_err(|_| VaultError::Decrypt)?;
        String::from_utf8(plain).map(Secret::new).map_err(|e| {
            keys::wipe(&mut e.into_bytes());
            VaultError::Malformed
        })
    }

    /// Saves (or replaces) the password for `login`; durable when this returns.
    pub async fn put(&self, login: &str, password: &Secret) -> Result<(), VaultError> {
        let entry = self.seal(login, password)?;
        self.store.put_vault_entry(&entry).await?;
        Ok(())
    }

    /// The password for `login`, if one is stored.
    pub async fn get(&self, login: &str) -> Result<Option<Secret>, VaultError> {
        match self.store.get_vault_entry(login).await? {
            Some(entry) => self.open(&entry).map(Some),
            None => Ok(None),
        }
    }

    pub async fn delete(&self, login: &str) -> Result<bool, VaultError> {
        Ok(self.store.delete_vault_entry(login).await?)
    }

    /// Re-seals every entry not under the active key. Entries that do not decrypt are
    /// reported, not deleted; an entry rewritten meanwhile is left alone.
    pub async fn rotate_all(&self) -> Result<RotationReport, VaultError> {
        let mut report = RotationReport::default();
        let active = self.keys.active().id().to_owned();
        for entry in self.store.list_vault_entries().await? {
            if entry.key_id == active {
                report.current += 1;
                continue;
            }
            let password = match self.open(&entry) {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(login = %entry.diary_login, error = %e, "vault entry unreadable during rotation");
                    report.unreadable.push(entry.diary_login);
                    continue;
                }
            };
            let fresh = self.seal(&entry.diary_login, &password)?;
            if self.store.replace_vault_entry(&entry.nonce, &fresh).await? {
                report.rotated += 1;
            } else {
                report.raced += 1;
            }
        }
        Ok(report)
    }
}
