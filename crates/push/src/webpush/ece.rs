//! Web Push message encryption (RFC 8291) in the `aes128gcm` content coding (RFC 8188): a fresh
//! ECDH key and salt per message, one record. [`decrypt`] is the browser's half, for tests and
//! tools.

use aes_gcm::aead::Aead;
use aes_gcm::{Aes128Gcm, KeyInit, Nonce};
use hkdf::Hkdf;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::{PublicKey, SecretKey};
use rand::RngCore;
use sha2::Sha256;

use crate::WebPushKeys;

/// The record size announced in the header. Push services must accept 4096-byte payloads, and a
/// single record of this size holds any of them.
pub const RECORD_SIZE: u32 = 4096;
/// Salt (16), record size (4), key id length (1), key id (the 65-byte public key).
pub const HEADER_LEN: usize = 86;
/// AES-GCM's tag.
const TAG_LEN: usize = 16;
/// The largest plaintext that keeps the body within the 4096 bytes every push service accepts:
/// 4096 − header − tag − the padding delimiter.
pub const MAX_PLAINTEXT: usize = 4096 - HEADER_LEN - TAG_LEN - 1;
/// The padding delimiter of the last (here: only) record.
const LAST_RECORD: u8 = 0x02;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EceError {
    #[error("plaintext longer than {MAX_PLAINTEXT} bytes")]
    TooLarge,
    #[error("invalid key: {0}")]
    Key(&'static str),
    #[error("malformed message: {0}")]
    Malformed(&'static str),
    #[error("the message does not decrypt with this key and secret")]
    Decrypt,
}

/// Encrypts `plaintext` to the subscription's keys with a fresh key pair and salt; the result is
/// the request body (header and one record).
pub fn encrypt(keys: &WebPushKeys, plaintext: &[u8]) -> Result<Vec<u8>, EceError> {
    let mut rng = rand::rngs::OsRng;
    let ephemeral = SecretKey::random(&mut rng);
    let mut salt = [0u8; 16];
    rng.fill_bytes(&mut salt);
    encrypt_with(keys, plaintext, &ephemeral, salt)
}

/// [`encrypt`] with the application server's key pair and the salt given (the RFC's example).
pub(crate) fn encrypt_with(
    keys: &WebPushKeys,
    plaintext: &[u8],
    as_secret: &SecretKey,
    salt: [u8; 16],
) -> Result<Vec<u8>, EceError> {
    if plaintext.len() > MAX_PLAINTEXT {
        return Err(EceError::TooLarge);
    }
    let ua_public = keys.public_key().ok_or(EceError::Key("p256dh is not a P-256 point"))?;
    let as_public = encoded(&as_secret.public_key());
    let ecdh = p256::ecdh::diffie_hellman(as_secret.to_nonzero_scalar(), ua_public.as_affine());
    let (cek, nonce) = derive(ecdh.raw_secret_bytes(), keys.auth(), keys.p256dh(), &as_public, &salt)?;

    let mut record = Vec::with_capacity(plaintext.len() + 1);
    record.extend_from_slice(plaintext);
    record.push(LAST_RECORD);
    let cipher = Aes128Gcm::new_from_slice(&cek).map_err(|_| EceError::Key("content encryption key"))?;
    let sealed =
        cipher.encrypt(Nonce::from_slice(&nonce), record.as_slice()).map_err(|_| EceError::Decrypt)?;

    let mut body = Vec::with_capacity(HEADER_LEN + sealed.len());
    body.extend_from_slice(&salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(as_public.len() as u8);
    body.extend_from_slice(&as_public);
    body.extend_from_slice(&sealed);
    Ok(body)
}

/// Decrypts a single-record `aes128gcm` Web Push message with the subscription's private key
/// (the 32-byte scalar) and auth secret: what the browser does.
pub fn decrypt(ua_private: &[u8; 32], auth: &[u8; 16], body: &[u8]) -> Result<Vec<u8>, EceError> {
    let ua_secret =
        SecretKey::from_slice(ua_private).map_err(|_| EceError::Key("not a P-256 private key"))?;
    let ua_public = encoded(&ua_secret.public_key());
    if body.len() < 21 {
        return Err(EceError::Malformed("shorter than its header"));
    }
    let salt: [u8; 16] = body[..16].try_into().map_err(|_| EceError::Malformed("salt"))?;
    let record_size = u32::from_be_bytes([body[16], body[17], body[18], body[19]]) as usize;
    let id_len = body[20] as usize;
    let Some(as_public) = body.get(21..21 + id_len) else {
        return Err(EceError::Malformed("key id longer than the message"));
    };
    let sealed = &body[21 + id_len..];
    if sealed.len() <= TAG_LEN || sealed.len() > record_size {
        return Err(EceError::Malformed("not a single record"));
    }
    let as_public: [u8; 65] =
        as_public.try_into().map_err(|_| EceError::Malformed("key id is not an uncompressed P-256 point"))?;
    let as_key =
        PublicKey::from_sec1_bytes(&as_public).map_err(|_| EceError::Malformed("key id is no key"))?;
    let ecdh = p256::ecdh::diffie_hellman(ua_secret.to_nonzero_scalar(), as_key.as_affine());
    let (cek, nonce) = derive(ecdh.raw_secret_bytes(), auth, &ua_public, &as_public, &salt)?;
    let cipher = Aes128Gcm::new_from_slice(&cek).map_err(|_| EceError::Key("content encryption key"))?;
    let mut record = cipher.decrypt(Nonce::from_slice(&nonce), sealed).map_err(|_| EceError::Decrypt)?;
    // Strip the padding: zeros after the delimiter, which must say "last record".
    let end = record.iter().rposition(|&b| b != 0).ok_or(EceError::Malformed("no padding delimiter"))?;
    if record[end] != LAST_RECORD {
        return Err(EceError::Malformed("not the last record"));
    }
    record.truncate(end);
    Ok(record)
}

/// A public key as its 65-byte uncompressed point.
pub(crate) fn encoded(key: &PublicKey) -> [u8; 65] {
    let point = key.to_encoded_point(false);
    let mut out = [0u8; 65];
    out.copy_from_slice(point.as_bytes());
    out
}

/// RFC 8291 §3.3 and §3.4: the content encryption key and nonce.
fn derive(
    ecdh_secret: &[u8],
    auth: &[u8; 16],
    ua_public: &[u8; 65],
    as_public: &[u8; 65],
    salt: &[u8; 16],
) -> Result<([u8; 16], [u8; 12]), EceError> {
    let mut key_info = Vec::with_capacity(14 + 65 + 65);
    key_info.extend_from_slice(b"WebPush: info\0");
    key_info.extend_from_slice(ua_public);
    key_info.extend_from_slice(as_public);
    let mut ikm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(auth), ecdh_secret)
        .expand(&key_info, &mut ikm)
        .map_err(|_| EceError::Key("HKDF output length"))?;

    let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
    let mut cek = [0u8; 16];
    let mut nonce = [0u8; 12];
    prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek)
        .map_err(|_| EceError::Key("HKDF output length"))?;
    prk.expand(b"Content-Encoding: nonce\0", &mut nonce).map_err(|_| EceError::Key("HKDF output length"))?;
    Ok((cek, nonce))
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;
    use crate::target::tests::{AUTH, UA_PUBLIC};
    use crate::target::BASE64URL;

    /// RFC 8291 Appendix A.
    const PLAINTEXT: &[u8] = b"When I grow up, I want to be a watermelon";
    const AS_PRIVATE: &str = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
    const AS_PUBLIC: &str =
        "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8";
    const UA_PRIVATE: &str = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94";
    const SALT: &str = "DGv6ra1nlYgDCS1FRnbzlw";
    const ECDH_SECRET: &str = "kyrL1jIIOHEzg3sM2ZWRHDRB62YACZhhSlknJ672kSs";
    const CEK: &str = "oIhVW04MRdy2XN9CiKLxTg";
    const NONCE: &str = "4h_95klXJ5E_qnoN";
    const BODY: &str = "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN";

    fn b64(s: &str) -> Vec<u8> {
        BASE64URL.decode(s).unwrap()
    }

    fn ua_private() -> [u8; 32] {
        b64(UA_PRIVATE).try_into().unwrap()
    }

    fn keys() -> WebPushKeys {
        WebPushKeys::parse(UA_PUBLIC, AUTH).unwrap()
    }

    #[test]
    fn rfc8291_intermediate_values() {
        let as_secret = SecretKey::from_slice(&b64(AS_PRIVATE)).unwrap();
        assert_eq!(encoded(&as_secret.public_key()).to_vec(), b64(AS_PUBLIC));
        let ecdh = p256::ecdh::diffie_hellman(
            as_secret.to_nonzero_scalar(),
            keys().public_key().unwrap().as_affine(),
        );
        assert_eq!(ecdh.raw_secret_bytes().to_vec(), b64(ECDH_SECRET));
        let as_public: [u8; 65] = b64(AS_PUBLIC).try_into().unwrap();
        let salt: [u8; 16] = b64(SALT).try_into().unwrap();
        let (cek, nonce) =
            derive(ecdh.raw_secret_bytes(), keys().auth(), keys().p256dh(), &as_public, &salt).unwrap();
        assert_eq!(cek.to_vec(), b64(CEK));
        assert_eq!(nonce.to_vec(), b64(NONCE));
    }

    #[test]
    fn rfc8291_example_encrypts_to_the_rfc_bytes() {
        let as_secret = SecretKey::from_slice(&b64(AS_PRIVATE)).unwrap();
        let salt: [u8; 16] = b64(SALT).try_into().unwrap();
        let body = encrypt_with(&keys(), PLAINTEXT, &as_secret, salt).unwrap();
        assert_eq!(BASE64URL.encode(&body), BODY);
    }

    #[test]
    fn rfc8291_example_decrypts() {
        let auth: [u8; 16] = b64(AUTH).try_into().unwrap();
        assert_eq!(decrypt(&ua_private(), &auth, &b64(BODY)).unwrap(), PLAINTEXT);
    }

    #[test]
    fn fresh_keys_and_salt_round_trip() {
        let auth: [u8; 16] = b64(AUTH).try_into().unwrap();
        let a = encrypt(&keys(), b"{}").unwrap();
        let b = encrypt(&keys(), b"{}").unwrap();
        assert_ne!(a[..HEADER_LEN], b[..HEADER_LEN], "salt and key are per message");
        assert_eq!(a.len(), HEADER_LEN + 2 + 1 + TAG_LEN);
        assert_eq!(&a[16..21], &[0, 0, 0x10, 0, 65]);
        assert_eq!(decrypt(&ua_private(), &auth, &a).unwrap(), b"{}");
        assert_eq!(decrypt(&ua_private(), &auth, &b).unwrap(), b"{}");
    }

    #[test]
    fn the_largest_plaintext_fits_in_4096_bytes() {
        let body = encrypt(&keys(), &[b'x'; MAX_PLAINTEXT]).unwrap();
        assert_eq!(body.len(), 4096);
        assert_eq!(encrypt(&keys(), &[b'x'; MAX_PLAINTEXT + 1]), Err(EceError::TooLarge));
    }

    #[test]
    fn tampering_or_the_wrong_secret_fails() {
        let auth: [u8; 16] = b64(AUTH).try_into().unwrap();
        let mut body = b64(BODY);
        assert_eq!(decrypt(&ua_private(), &[0; 16], &body), Err(EceError::Decrypt));
        let last = body.len() - 1;
        body[last] ^= 1;
        assert_eq!(decrypt(&ua_private(), &auth, &body), Err(EceError::Decrypt));
        assert!(matches!(decrypt(&ua_private(), &auth, &body[..30]), Err(EceError::Malformed(_))));
        assert!(matches!(decrypt(&ua_private(), &auth, &body[..HEADER_LEN]), Err(EceError::Malformed(_))));
    }
}
