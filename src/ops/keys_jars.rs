//! Re-sealing a session's diary cookie jar under the active vault key, for
//! `keys rotate`. The jar's stored form is `link::jar_store`'s (private to the link
//! service, so restated here): `1` ‖ key id length (u8) ‖ key id ‖ 24-byte nonce ‖
//! vault ciphertext, sealed by the vault for the owner `jar:<hex of the session key>`.
//! Should the two drift apart, rotation reports every jar as unreadable rather than
//! writing one the gateway cannot open (it opens the jar before sealing it again).

use crate::diary::vault::{Vault, VaultError};
use crate::store::{SessionKey, VaultEntry};

const FORMAT: u8 = 1;
const NONCE_LEN: usize = 24;

fn owner(key: &SessionKey) -> String {
    format!("jar:{}", hex::encode(key.0))
}

/// The id of the key a jar is sealed with, if the jar is well-formed.
pub fn key_id(sealed: &[u8]) -> Option<&str> {
    let (&format, rest) = sealed.split_first()?;
    if format != FORMAT {
        return None;
    }
    let (&len, rest) = rest.split_first()?;
    let id = rest.get(..usize::from(len))?;
    if rest.len() < usize::from(len) + NONCE_LEN {
        return None;
    }
    std::str::from_utf8(id).ok()
}

/// The jar opened with whichever keyring key sealed it and sealed again under the
/// active key, bound to the same session.
pub fn reseal(vault: &Vault, key: &SessionKey, sealed: &[u8]) -> Result<Vec<u8>, VaultError> {
    let id = key_id(sealed).ok_or(VaultError::Malformed)?;
    let rest = &sealed[2 + id.len()..];
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    let entry = VaultEntry {
        diary_login: owner(key),
        key_id: id.to_owned(),
        nonce: nonce.to_vec(),
        ciphertext: ciphertext.to_vec(),
        updated_at: chrono::DateTime::UNIX_EPOCH,
    };
    let plain = vault.open(&entry)?;
    let fresh = vault.seal(&owner(key), &plain)?;
    let id = fresh.key_id.as_bytes();
    let id_len = u8::try_from(id.len()).map_err(|_| VaultError::Malformed)?;
    let mut out = Vec::with_capacity(2 + id.len() + fresh.nonce.len() + fresh.ciphertext.len());
    out.push(FORMAT);
    out.push(id_len);
    out.extend_from_slice(id);
    out.extend_from_slice(&fresh.nonce);
    out.extend_from_slice(&fresh.ciphertext);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_of_malformed_jars_are_none() {
        let mut good = vec![FORMAT, 3];
        good.extend_from_slice(b"abc");
        good.extend_from_slice(&[0; NONCE_LEN]);
        good.extend_from_slice(b"ct");
        assert_eq!(key_id(&good), Some("abc"));
        for bad in [
            &b""[..],
            &[FORMAT][..],
            &[2, 3, b'a', b'b', b'c'][..],
            &[FORMAT, 200, b'a'][..],
            &good[..2 + 3 + NONCE_LEN - 1],
        ] {
            assert_eq!(key_id(bad), None, "{bad:?}");
        }
    }
}
