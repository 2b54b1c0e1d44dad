//! The two forms of a signature cosign makes with a key, and what makes
//! one count for an image.
//!
//! Simple signing (sigstore's `payload.go`, cosign's `SIGNATURE_SPEC.md`):
//! a layer `application/vnd.dev.cosign.simplesigning.v1+json` whose bytes are
//! the payload and whose annotation `dev.cosignproject.cosign/signature` is
//! the signature of exactly those bytes, base64. It counts when the
//! signature verifies and the payload's `critical.type` is cosign's and its
//! `critical.image.docker-manifest-digest` is the image's digest.
//!
//! A Sigstore bundle (`application/vnd.dev.sigstore.bundle.v0.3+json`,
//! cosign's `BUNDLE_SPEC.md`), checked with the key alone: its
//! `messageSignature` signs the image's manifest itself, whose SHA-256 its
//! `messageDigest` must be; or its `dsseEnvelope` signs (DSSE's
//! pre-authentication encoding) an in-toto statement whose subject is the
//! image's digest and whose predicate type is cosign's signing one. Its
//! certificates, transparency log entries and timestamps are not checked:
//! keyless signatures are out of scope.

use base64::Engine as _;
use serde_json::Value;

use super::key::Key;
use crate::digest::Digest;
use crate::error::Untrusted;

/// A simple signing payload's layer type.
pub const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The annotation of a simple signing layer that holds its signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// `critical.type` of cosign's payloads.
pub const COSIGN_TYPE: &str = "cosign container image signature";
/// The artifact type of cosign's simple signing manifests pushed as OCI 1.1 referrers.
pub const COSIGN_ARTIFACT: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";
/// The type of Sigstore bundles (and of their layers) cosign attaches.
pub const BUNDLE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// In-toto statements, as DSSE payloads.
const IN_TOTO: &str = "application/vnd.in-toto+json";
/// The predicate type of cosign's signatures as in-toto statements.
pub const SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";

/// Whether a layer (or artifact) type is a Sigstore bundle's, any version.
pub fn is_bundle(media_type: &str) -> bool {
    media_type.starts_with("application/vnd.dev.sigstore.bundle") && media_type.ends_with("json")
}

/// Why one signature does not count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// It verifies with none of the keys.
    WrongKey,
    /// It signs another image.
    OtherImage(String),
    /// It is malformed, or no signature of an image.
    Malformed(String),
}

fn b64(text: &str, what: &str) -> Result<Vec<u8>, Refused> {
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|_| Refused::Malformed(format!("{what} is not base64")))
}

/// The first of `keys` that verifies `signature` over `message`.
fn verified_by<'k>(keys: &'k [Key], message: &[u8], signature: &[u8]) -> Result<&'k Key, Refused> {
    keys.iter()
        .find(|k| k.verifies(message, signature))
        .ok_or(Refused::WrongKey)
}

fn text<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

/// Checks a simple signing `payload` and its `annotation` (the signature)
/// against `image`; returns the key that verifies it.
pub fn simple<'k>(
    keys: &'k [Key],
    image: &Digest,
    payload: &[u8],
    annotation: Option<&str>,
) -> Result<&'k Key, Refused> {
    let annotation = annotation
        .ok_or_else(|| Refused::Malformed(format!("no {SIGNATURE_ANNOTATION} annotation")))?;
    let signature = b64(
        annotation,
        &format!("its {SIGNATURE_ANNOTATION} annotation"),
    )?;
    let key = verified_by(keys, payload, &signature)?;
    let v: Value = serde_json::from_slice(payload)
        .map_err(|_| Refused::Malformed("its payload is not JSON".into()))?;
    match text(&v, &["critical", "type"]) {
        Some(COSIGN_TYPE) => {}
        other => {
            return Err(Refused::Malformed(format!(
                "its payload's critical.type is {}, not \"{COSIGN_TYPE}\"",
                other.map_or("missing".into(), |t| format!("\"{}\"", Untrusted(t)))
            )));
        }
    }
    match text(&v, &["critical", "image", "docker-manifest-digest"]) {
        Some(d) if d == image.to_string() => Ok(key),
        Some(d) => Err(Refused::OtherImage(Untrusted(d).to_string())),
        None => Err(Refused::Malformed(
            "its payload has no critical.image.docker-manifest-digest".into(),
        )),
    }
}

/// Checks a Sigstore `bundle` against the image `image` whose manifest is
/// exactly `manifest`; returns the key that verifies it.
pub fn bundle<'k>(
    keys: &'k [Key],
    image: &Digest,
    manifest: &[u8],
    bundle: &[u8],
) -> Result<&'k Key, Refused> {
    let v: Value = serde_json::from_slice(bundle)
        .map_err(|_| Refused::Malformed("the bundle is not JSON".into()))?;
    match text(&v, &["mediaType"]) {
        Some(t) if is_bundle(t) => {}
        other => {
            return Err(Refused::Malformed(format!(
                "the bundle's mediaType is {}",
                other.map_or("missing".into(), |t| format!("\"{}\"", Untrusted(t)))
            )));
        }
    }
    if let Some(m) = v.get("messageSignature") {
        return message_signature(keys, image, manifest, m);
    }
    if let Some(e) = v.get("dsseEnvelope") {
        return dsse(keys, image, e);
    }
    Err(Refused::Malformed(
        "the bundle has neither messageSignature nor dsseEnvelope".into(),
    ))
}

fn message_signature<'k>(
    keys: &'k [Key],
    image: &Digest,
    manifest: &[u8],
    m: &Value,
) -> Result<&'k Key, Refused> {
    let signature = text(m, &["signature"])
        .ok_or_else(|| Refused::Malformed("its messageSignature has no signature".into()))?;
    let signature = b64(signature, "its signature")?;
    // What it says it signs first: a bundle of another image's manifest
    // cannot be verified over this one's, and should say so.
    let algorithm = text(m, &["messageDigest", "algorithm"]).unwrap_or("");
    let digest = text(m, &["messageDigest", "digest"]).unwrap_or("");
    let digest = b64(digest, "its messageDigest")?;
    let signs = match algorithm {
        "SHA2_256" => Digest::from_parts(
            crate::digest::Algorithm::Sha256,
            &crate::digest::hex(&digest),
        )
        .map(|d| d.to_string())
        .unwrap_or_else(|_| "a malformed digest".into()),
        other => format!("a {} digest", Untrusted(other)),
    };
    if signs != image.to_string() {
        return Err(Refused::OtherImage(signs));
    }
    verified_by(keys, manifest, &signature)
}

fn dsse<'k>(keys: &'k [Key], image: &Digest, e: &Value) -> Result<&'k Key, Refused> {
    let payload_type = text(e, &["payloadType"]).unwrap_or("");
    let payload = b64(text(e, &["payload"]).unwrap_or(""), "its DSSE payload")?;
    let mut pae = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    pae.extend_from_slice(&payload);
    let signatures = e
        .get("signatures")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let key = signatures
        .iter()
        .filter_map(|s| text(s, &["sig"]))
        .filter_map(|s| b64(s, "").ok())
        .find_map(|s| verified_by(keys, &pae, &s).ok())
        .ok_or(Refused::WrongKey)?;
    if payload_type != IN_TOTO {
        return Err(Refused::Malformed(format!(
            "its DSSE payload is a {}, not an in-toto statement",
            Untrusted(payload_type)
        )));
    }
    let statement: Value = serde_json::from_slice(&payload)
        .map_err(|_| Refused::Malformed("its in-toto statement is not JSON".into()))?;
    match text(&statement, &["predicateType"]) {
        Some(SIGN_PREDICATE) => {}
        other => {
            return Err(Refused::Malformed(format!(
                "an attestation ({}), not a signature",
                Untrusted(other.unwrap_or("no predicate type"))
            )));
        }
    }
    let subjects = statement
        .get("subject")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let alg = image.algorithm().name();
    if subjects
        .iter()
        .any(|s| text(s, &["digest", alg]) == Some(image.hex()))
    {
        return Ok(key);
    }
    let other = subjects
        .iter()
        .find_map(|s| text(s, &["digest", alg]))
        .map_or("no image".to_string(), |h| {
            format!("{alg}:{}", Untrusted(h))
        });
    Err(Refused::OtherImage(other))
}

#[cfg(test)]
mod tests {
    use super::super::key::tests::{P256_KEY, P256_SIG, PAYLOAD};
    use super::*;

    /// The payload, key and signature openssl made (see `key`'s tests).
    #[test]
    fn an_openssl_signed_payload_counts_for_its_digest_only() {
        let keys = [Key::parse("cosign.pub", P256_KEY.as_bytes()).unwrap()];
        let signed: Digest =
            "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
                .parse()
                .unwrap();
        let check = |image: &Digest, payload: &str, sig: Option<&str>| {
            simple(&keys, image, payload.as_bytes(), sig).map(|k| k.name().to_string())
        };
        assert_eq!(
            check(&signed, PAYLOAD, Some(P256_SIG)).unwrap(),
            "cosign.pub"
        );
        let other = Digest::of(b"another image");
        assert_eq!(
            check(&other, PAYLOAD, Some(P256_SIG)),
            Err(Refused::OtherImage(signed.to_string()))
        );
        let tampered = PAYLOAD.replace("registry.example/app", "registry.example/evil");
        assert_eq!(
            check(&signed, &tampered, Some(P256_SIG)),
            Err(Refused::WrongKey)
        );
        assert!(matches!(
            check(&signed, PAYLOAD, Some("%%%")),
            Err(Refused::Malformed(m)) if m.contains("not base64")
        ));
        assert!(matches!(
            check(&signed, PAYLOAD, None),
            Err(Refused::Malformed(m)) if m.contains("no dev.cosignproject.cosign/signature")
        ));
    }

    #[test]
    fn bundle_types_are_told_by_their_prefix() {
        assert!(is_bundle(BUNDLE));
        assert!(is_bundle("application/vnd.dev.sigstore.bundle+json"));
        assert!(!is_bundle("application/spdx+json"));
    }
}
