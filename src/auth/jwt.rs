//! Customer JWTs: EdDSA (Ed25519) with a `kid`, the claims of API.md, and the JWKS that
//! publishes the verifying keys. The first key signs; every key verifies (rotation).

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::{CustomerId, PublisherId, SessionEpoch};

/// The claims of a customer token (ids as strings, as Cleeng clients expect).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Claims {
    /// The customer.
    pub customer_id: String,
    /// Their publisher.
    pub publisher_id: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
    /// `jwt.issuer`.
    pub iss: String,
    /// Unique token id.
    pub jti: String,
    /// The customer's session epoch when issued: a password reset, an email change, an erasure
    /// or "sign out everywhere" bumps the customer's, and older tokens stop reaching it.
    /// (Absent in tokens from before it existed: epoch 0.)
    #[serde(default)]
    pub session_epoch: SessionEpoch,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Malformed, wrong algorithm, unknown key, bad signature, wrong issuer.
    #[error("invalid token")]
    Invalid,
    /// Past `exp`.
    #[error("expired token")]
    Expired,
}

struct Verifier {
    key: DecodingKey,
    jwk: serde_json::Value,
}

/// The signing key, the verifying keys and the JWKS document.
pub struct Keys {
    /// Kept decoded: `jsonwebtoken::encode` would decode its PKCS#8 bytes and derive the public
    /// key again for every token (a scalar multiplication, most of the cost of signing).
    signing: SigningKey,
    /// The first part of every token this key signs: the base64url JOSE header
    /// (`{"typ":"JWT","alg":"EdDSA","kid":…}`).
    header: String,
    verifiers: HashMap<String, Verifier>,
    jwks: Bytes,
    issuer: String,
    ttl: Duration,
}

/// A private key in PKCS#8 PEM, for development keys stored in the database.
pub fn generate_pem() -> Result<String, String> {
    let mut seed = [0u8; 32];
    rand::rng().fill_bytes(&mut seed);
    SigningKey::from_bytes(&seed)
        .to_pkcs8_pem(LineEnding::LF)
        .map(|pem| pem.to_string())
        .map_err(|e| format!("encoding a generated key: {e}"))
}

/// The RFC 7638 thumbprint of an Ed25519 public key, used as its `kid`.
fn thumbprint(x: &str) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

impl Keys {
    /// Loads PEM texts (`(where it came from, PEM)`): the first must be a private key and signs;
    /// the others may be private or public keys and only verify.
    pub fn from_pems(
        pems: &[(String, String)],
        issuer: &str,
        ttl: Duration,
    ) -> Result<Keys, String> {
        let mut verifiers = HashMap::new();
        let mut order = Vec::new();
        let mut signer = None;
        for (i, (source, pem)) in pems.iter().enumerate() {
            let public = match SigningKey::from_pkcs8_pem(pem) {
                Ok(key) => {
                    let public = key.verifying_key();
                    if i == 0 {
                        signer = Some(key);
                    }
                    public
                }
                Err(_) if i > 0 => VerifyingKey::from_public_key_pem(pem).map_err(|e| {
                    format!("{source}: not an Ed25519 private or public key in PEM ({e})")
                })?,
                Err(e) => {
                    return Err(format!(
                        "{source}: not an Ed25519 private key in PKCS#8 PEM ({e})"
                    ));
                }
            };
            let x = URL_SAFE_NO_PAD.encode(public.as_bytes());
            let kid = thumbprint(&x);
            let key = DecodingKey::from_ed_components(&x).map_err(|e| format!("{source}: {e}"))?;
            let jwk = serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "use": "sig", "alg": "EdDSA"});
            if verifiers
                .insert(kid.clone(), Verifier { key, jwk })
                .is_none()
            {
                order.push(kid);
            }
        }
        let signing = signer.ok_or("jwt.keys: no signing key")?;
        let jwks: Vec<_> = order
            .iter()
            .filter_map(|k| verifiers.get(k))
            .map(|v| v.jwk.clone())
            .collect();
        let jwks = Bytes::from(
            serde_json::to_vec(&serde_json::json!({ "keys": jwks })).unwrap_or_default(),
        );
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(order[0].clone());
        let header = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&header).map_err(|e| format!("encoding a JOSE header: {e}"))?,
        );
        Ok(Keys {
            signing,
            header,
            verifiers,
            jwks,
            issuer: issuer.to_owned(),
            ttl,
        })
    }

    /// A token for a customer of a publisher in a session epoch, valid for `jwt.ttl`.
    pub fn issue(
        &self,
        customer: CustomerId,
        publisher: PublisherId,
        session_epoch: SessionEpoch,
    ) -> Result<String, String> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            customer_id: customer.to_string(),
            publisher_id: publisher.to_string(),
            iat: now,
            exp: now + i64::try_from(self.ttl.as_secs()).unwrap_or(900),
            iss: self.issuer.clone(),
            jti: uuid::Uuid::new_v4().simple().to_string(),
            session_epoch,
        };
        self.compact(&claims)
            .map_err(|e| format!("signing a token: {e}"))
    }

    /// `payload` as a compact JWS (RFC 7515) under the signing key: the header, the payload
    /// and the Ed25519 signature of the two, each base64url without padding.
    fn compact(&self, payload: &impl Serialize) -> Result<String, serde_json::Error> {
        let payload = serde_json::to_vec(payload)?;
        let mut token = String::with_capacity(self.header.len() + payload.len() * 4 / 3 + 92);
        token.push_str(&self.header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
        let signature = self.signing.sign(token.as_bytes());
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature.to_bytes(), &mut token);
        Ok(token)
    }

    /// Checks the algorithm (EdDSA only), the key (`kid`), the signature, `exp` and `iss`.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::Invalid);
        }
        let verifier = header
            .kid
            .as_ref()
            .and_then(|k| self.verifiers.get(k))
            .ok_or(TokenError::Invalid)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "iss"]);
        validation.leeway = 5;
        match jsonwebtoken::decode::<Claims>(token, &verifier.key, &validation) {
            Ok(data) => Ok(data.claims),
            Err(e) if matches!(e.kind(), ErrorKind::ExpiredSignature) => Err(TokenError::Expired),
            Err(_) => Err(TokenError::Invalid),
        }
    }

    /// A consent receipt: `payload` as a compact JWS under the signing key (EdDSA, `kid`,
    /// `typ` `JWT`), verifiable offline with the JWKS. It has no `exp` or `iss`, so it is never
    /// taken for a customer token.
    pub fn sign_payload(&self, payload: &serde_json::Value) -> Result<String, String> {
        self.compact(payload)
            .map_err(|e| format!("signing a receipt: {e}"))
    }

    /// `GET /.well-known/jwks.json`.
    pub fn jwks(&self) -> Bytes {
        self.jwks.clone()
    }
}

impl crate::domain::receipt::ReceiptSigner for Keys {
    fn sign_receipt(&self, payload: &serde_json::Value) -> Result<String, String> {
        self.sign_payload(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(pems: &[String]) -> Keys {
        let pems: Vec<_> = pems
            .iter()
            .map(|p| ("test".to_owned(), p.clone()))
            .collect();
        Keys::from_pems(&pems, "enroll", Duration::from_secs(900)).unwrap()
    }

    #[test]
    fn issue_and_verify() {
        let k = keys(&[generate_pem().unwrap()]);
        let c = CustomerId::parse("123456789").unwrap();
        let p = PublisherId::parse("100000001").unwrap();
        let epoch = SessionEpoch::from_i64(3).unwrap();
        let claims = k.verify(&k.issue(c, p, epoch).unwrap()).unwrap();
        assert_eq!(claims.session_epoch, epoch);
        assert_eq!(
            (claims.customer_id.as_str(), claims.publisher_id.as_str()),
            ("123456789", "100000001")
        );
        assert_eq!(claims.exp - claims.iat, 900);
    }

    #[test]
    fn tokens_are_compact_jws_with_the_signing_keys_kid() {
        let k = keys(&[generate_pem().unwrap(), generate_pem().unwrap()]);
        let token = k
            .issue(
                CustomerId::parse("123456789").unwrap(),
                PublisherId::parse("100000001").unwrap(),
                SessionEpoch::FIRST,
            )
            .unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(
            (header.alg, header.typ.as_deref()),
            (Algorithm::EdDSA, Some("JWT"))
        );
        let jwks: serde_json::Value = serde_json::from_slice(&k.jwks()).unwrap();
        assert_eq!(
            header.kid.as_ref(),
            jwks["keys"][0]["kid"].as_str().map(str::to_owned).as_ref()
        );
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert!(
            parts.iter().all(|p| !p.contains('=')),
            "unpadded base64url: {token}"
        );
        // Any changed byte of the payload or the signature is refused.
        let mut payload = URL_SAFE_NO_PAD.decode(parts[1]).unwrap();
        payload[3] ^= 1;
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(&payload),
            parts[2]
        );
        assert_eq!(k.verify(&forged), Err(TokenError::Invalid));
        let mut signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        signature[10] ^= 1;
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            parts[1],
            URL_SAFE_NO_PAD.encode(&signature)
        );
        assert_eq!(k.verify(&forged), Err(TokenError::Invalid));
        assert!(k.verify(&token).is_ok());
    }

    #[test]
    fn a_receipt_is_not_a_customer_token() {
        let k = keys(&[generate_pem().unwrap()]);
        let jws = k
            .sign_payload(&serde_json::json!({"piiPrincipalId": "123456789"}))
            .unwrap();
        assert_eq!(jws.split('.').count(), 3);
        assert_eq!(k.verify(&jws), Err(TokenError::Invalid));
    }

    #[test]
    fn rotation_keeps_old_tokens_valid() {
        let (old, new) = (generate_pem().unwrap(), generate_pem().unwrap());
        let before = keys(std::slice::from_ref(&old));
        let token = before
            .issue(
                CustomerId::parse("123456789").unwrap(),
                PublisherId::parse("100000001").unwrap(),
                SessionEpoch::FIRST,
            )
            .unwrap();
        let after = keys(&[new.clone(), old]);
        assert!(after.verify(&token).is_ok());
        assert!(keys(&[new]).verify(&token).is_err());
        let jwks: serde_json::Value = serde_json::from_slice(&after.jwks()).unwrap();
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    }
}
