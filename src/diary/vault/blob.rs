//! Sealed blobs: other secrets kept at rest with the vault's keys — the server-side
//! diary cookie jar (`SessionRecord::diary_cookies`) and an ESIA id token hint.
//!
//! Unlike password entries, a blob is self-contained (one column):
//! `0x02 ‖ len(key_id) ‖ key_id ‖ nonce(24) ‖ AEAD output`. The caller's `context`
//! (e.g. `b"jar"` plus the session key) is associated data, so a blob copied into
//! another session or another field does not open. Blobs follow the session's short
//! life, so they are not re-sealed by `rotate_all`: keep a retired key in the keyring
//! for one absolute session lifetime after rotating.

use chacha20poly1305::XNonce;
use chacha20poly1305::aead::{Aead, Payload};
use rand::RngCore;
use rand::rngs::OsRng;

use super::{NONCE_LEN, Vault, VaultError};

const BLOB_V1: u8 = 2;

fn associated_data(key_id: &str, context: &[u8]) -> Vec<u8> {
    let mut ad = Vec::with_capacity(40 + key_id.len() + context.len());
    ad.extend_from_slice(b"esia-gateway/blob\0");
    ad.push(BLOB_V1);
    for part in [key_id.as_bytes(), context] {
        ad.extend_from_slice(&(part.len() as u64).to_be_bytes());
        ad.extend_from_slice(part);
    }
    ad
}

impl Vault {
    /// Encrypts `plaintext` under the active key, bound to `context`.
    pub fn seal_blob(&self, context: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, VaultError> {
        let key = self.keyring().active();
        let id = key.id().as_bytes();
        let id_len = u8::try_from(id.len()).map_err(|_| VaultError::Malformed)?;
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let ad = associated_data(key.id(), context);
        let sealed = key
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &ad,
                },
            )
            .map_err(|_| VaultError::Malformed)?;
        let mut blob = Vec::with_capacity(2 + id.len() + NONCE_LEN + sealed.len());
        blob.push(BLOB_V1);
        blob.push(id_len);
        blob.extend_from_slice(id);
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&sealed);
        Ok(blob)
    }

    /// Decrypts a blob sealed for the same `context` by any key in the keyring.
    pub fn open_blob(&self, context: &[u8], blob: &[u8]) -> Result<Vec<u8>, VaultError> {
        let (&version, rest) = blob.split_first().ok_or(VaultError::Malformed)?;
        if version != BLOB_V1 {
            return Err(VaultError::UnsupportedVersion(version));
        }
        let (&id_len, rest) = rest.split_first().ok_or(VaultError::Malformed)?;
        let (id, rest) = rest
            .split_at_checked(usize::from(id_len))
            .ok_or(VaultError::Malformed)?;
        let (nonce, sealed) = rest
            .split_at_checked(NONCE_LEN)
            .ok_or(VaultError::Malformed)?;
        let id = std::str::from_utf8(id).map_err(|_| VaultError::Malformed)?;
        let key = self
            .keyring()
            .find(id)
            .ok_or_else(|| VaultError::UnknownKey(id.to_owned()))?;
        let ad = associated_data(id, context);
        key.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: &ad,
                },
            )
            .map_err(|_| VaultError::Decrypt)
    }
}
