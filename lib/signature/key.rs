//! Public keys as cosign's `--key` takes them, and checking a signature
//! over exact bytes with one.
//!
//! A key is a PEM `PUBLIC KEY` (an X.509 SubjectPublicKeyInfo) of one of
//! the algorithms cosign signs with: ECDSA P-256 with SHA-256, ECDSA P-384
//! with SHA-384 (or SHA-256, cosign's default digest), both with DER
//! signatures; Ed25519 over the bytes themselves; RSA PKCS#1 v1.5 with
//! SHA-256 (2048 to 8192 bits). `ring` does the arithmetic; the DER of the
//! key is read here.

use std::fmt;
use std::io::Read;
use std::path::Path;

use ring::signature::{self as sig, UnparsedPublicKey, VerificationAlgorithm};
use rustls_pki_types::SubjectPublicKeyInfoDer;
use rustls_pki_types::pem::{self, PemObject};

use crate::error::{Error, Result};

/// The largest key file read.
const MAX_KEY_FILE: u64 = 64 << 10;

/// The algorithm of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// ECDSA on P-256, SHA-256.
    EcdsaP256,
    /// ECDSA on P-384, SHA-384 (or SHA-256).
    EcdsaP384,
    /// Ed25519.
    Ed25519,
    /// RSA, PKCS#1 v1.5 with SHA-256.
    Rsa,
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Algorithm::EcdsaP256 => "ECDSA P-256",
            Algorithm::EcdsaP384 => "ECDSA P-384",
            Algorithm::Ed25519 => "Ed25519",
            Algorithm::Rsa => "RSA",
        })
    }
}

/// A public key, and the name (its file) messages call it by.
#[derive(Clone)]
pub struct Key {
    name: String,
    algorithm: Algorithm,
    /// The subjectPublicKey bits: an EC point, Ed25519's 32 bytes, or an
    /// RSAPublicKey's DER.
    public: Vec<u8>,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({}, {})", self.name, self.algorithm)
    }
}

// OIDs, as their DER contents.
const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const ED25519: &[u8] = &[0x2b, 0x65, 0x70];

impl Key {
    /// Reads the key file `path`.
    pub fn load(path: &Path) -> Result<Key> {
        let name = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|e| Error::io(&e).context(&name))?;
        let mut pem = Vec::new();
        file.take(MAX_KEY_FILE + 1)
            .read_to_end(&mut pem)
            .map_err(|e| Error::io(&e).context(&name))?;
        if pem.len() as u64 > MAX_KEY_FILE {
            return Err(Error::invalid(format!(
                "{name}: larger than {MAX_KEY_FILE} bytes; not a public key"
            )));
        }
        Key::parse(&name, &pem)
    }

    /// The key in the PEM text `pem`, called `name`.
    pub fn parse(name: &str, pem: &[u8]) -> Result<Key> {
        let bad = |why: &str| Error::invalid(format!("{name}: {why}"));
        let der = match SubjectPublicKeyInfoDer::from_pem_slice(pem) {
            Ok(der) => der,
            Err(pem::Error::NoItemsFound) if contains(pem, b"PRIVATE KEY-----") => {
                return Err(bad(
                    "a private key; give its public key (openssl pkey -pubout, or cosign's .pub)",
                ));
            }
            Err(pem::Error::NoItemsFound) => return Err(bad("no PEM PUBLIC KEY in it")),
            Err(e) => return Err(bad(&format!("not a PEM public key ({e})"))),
        };
        let (algorithm, public) = spki(&der).ok_or_else(|| bad("a malformed PUBLIC KEY"))?;
        let algorithm = match algorithm {
            Ok(a) => a,
            Err(oid) => {
                return Err(bad(&format!(
                    "a key of algorithm {oid}, which dist does not check (ECDSA P-256 or P-384, Ed25519, RSA)"
                )));
            }
        };
        let fits = match algorithm {
            Algorithm::EcdsaP256 => public.len() == 65 && public[0] == 4,
            Algorithm::EcdsaP384 => public.len() == 97 && public[0] == 4,
            Algorithm::Ed25519 => public.len() == 32,
            Algorithm::Rsa => {
                let bits = rsa_bits(public).ok_or_else(|| bad("a malformed RSA key"))?;
                if !(2048..=8192).contains(&bits) {
                    return Err(bad(&format!(
                        "an RSA key of {bits} bits; dist checks 2048 to 8192"
                    )));
                }
                true
            }
        };
        if !fits {
            return Err(bad(&format!("a malformed {algorithm} key")));
        }
        Ok(Key {
            name: name.to_string(),
            algorithm,
            public: public.to_vec(),
        })
    }

    /// What messages call the key: its file.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Whether `signature` signs exactly `message` with this key.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        let with = |alg: &'static dyn VerificationAlgorithm| {
            UnparsedPublicKey::new(alg, &self.public)
                .verify(message, signature)
                .is_ok()
        };
        match self.algorithm {
            Algorithm::EcdsaP256 => with(&sig::ECDSA_P256_SHA256_ASN1),
            Algorithm::EcdsaP384 => {
                with(&sig::ECDSA_P384_SHA384_ASN1) || with(&sig::ECDSA_P384_SHA256_ASN1)
            }
            Algorithm::Ed25519 => with(&sig::ED25519),
            Algorithm::Rsa => with(&sig::RSA_PKCS1_2048_8192_SHA256),
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// One DER element of `input`: its tag, its contents, and what follows.
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = match first {
        0..=0x7f => (first as usize, rest),
        0x81..=0x84 => {
            let n = (first & 0x7f) as usize;
            let len = rest
                .get(..n)?
                .iter()
                .fold(0usize, |a, &b| a << 8 | b as usize);
            (len, &rest[n..])
        }
        _ => return None,
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The algorithm (or, unknown, its OID dotted) and the key bits of a
/// SubjectPublicKeyInfo; `None` when it is malformed.
fn spki(der: &[u8]) -> Option<(std::result::Result<Algorithm, String>, &[u8])> {
    let (0x30, info, []) = element(der)? else {
        return None;
    };
    let (0x30, id, rest) = element(info)? else {
        return None;
    };
    let (0x03, bits, []) = element(rest)? else {
        return None;
    };
    let (&0, key) = bits.split_first()? else {
        return None;
    };
    let (0x06, oid, params) = element(id)? else {
        return None;
    };
    let curve = match element(params) {
        Some((0x06, curve, [])) => Some(curve),
        _ => None,
    };
    let algorithm = match (oid, curve) {
        (EC_PUBLIC_KEY, Some(P256)) => Ok(Algorithm::EcdsaP256),
        (EC_PUBLIC_KEY, Some(P384)) => Ok(Algorithm::EcdsaP384),
        (EC_PUBLIC_KEY, Some(c)) => Err(format!("EC on curve {}", dotted(c))),
        (ED25519, _) => Ok(Algorithm::Ed25519),
        (RSA, _) => Ok(Algorithm::Rsa),
        _ => Err(dotted(oid)),
    };
    Some((algorithm, key))
}

/// The bits of an RSAPublicKey's modulus.
fn rsa_bits(der: &[u8]) -> Option<usize> {
    let (0x30, seq, _) = element(der)? else {
        return None;
    };
    let (0x02, n, _) = element(seq)? else {
        return None;
    };
    let n = &n[n.iter().position(|&b| b != 0)?..];
    Some(n.len() * 8 - n[0].leading_zeros() as usize)
}

/// An OID's DER contents in dotted form: `1.2.840.10045.2.1`.
fn dotted(oid: &[u8]) -> String {
    let mut parts: Vec<u64> = Vec::new();
    let mut n: u64 = 0;
    for &b in oid {
        n = (n << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if parts.is_empty() {
                let first = (n / 40).min(2);
                parts.extend([first, n - 40 * first]);
            } else {
                parts.push(n);
            }
            n = 0;
        }
    }
    parts
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
pub(crate) mod tests {
    //! The vectors were made once with OpenSSL 3.0 (`openssl ecparam
    //! -genkey`, `openssl genpkey`, then `openssl dgst -sha256 -sign key.pem
    //! payload.json | base64 -w0` as cosign's documentation shows, and
    //! `openssl pkeyutl -sign -rawin` for Ed25519), outside these tests: the
    //! verifier is checked against signatures it did not make.
    use super::*;
    use base64::Engine as _;

    pub(crate) const PAYLOAD: &str = r#"{"critical":{"identity":{"docker-reference":"registry.example/app"},"image":{"docker-manifest-digest":"sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},"type":"cosign container image signature"},"optional":null}"#;

    pub(crate) const P256_KEY: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEGuc2WA4EQiKYtwqVdtkmvxzKF/Hy
uuma4A83k2pYTyJd3Zc9DtQJ4If44vwIKbpzRazAqPCRZLsYV6qGGBflKQ==
-----END PUBLIC KEY-----
";
    pub(crate) const P256_SIG: &str = "MEUCIHDoZGu/ZdEUzkIjbJrMhrp0Hym+gM6BexdXpiaI8dUeAiEAn/NFTuf19veQqJdQihmgDhyeWelEfQ+GvgBauOy48mQ=";

    const P384_KEY: &str = "-----BEGIN PUBLIC KEY-----
MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAE5pUKvlKm7UDELO7EWz3NOGiPG4OEViBu
MtKhx2zqMzdC7Nl5Z+793Yuyt0TG/6juMR0sXYUgJ3rpAywBCDWn3xSUoenPveca
CKYJBLJ2aM7BHBXfhRfIs8hvw6QnFCh9
-----END PUBLIC KEY-----
";
    const P384_SIG: &str = "MGQCMHACNKxgWYGKd9Lw/mX6tX/Ug0szXRpcsr1JmZ0IqOvJ1S58xropBAptqc4tM0etoQIwDolO9i+ABIlwXHCrJZq5T16zAI5sS8mnSj6tBdu6oyBhGpDLqjmthVAPa+NzMQzA";

    const ED25519_KEY: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAqAZ8ovzSoG3gJMwWUZc+xBV4N5Wzc9BuoAKx4DFcKss=
-----END PUBLIC KEY-----
";
    const ED25519_SIG: &str =
        "/4oGZANXTu+lwZFl4G+K75ul2cI5c5A8fmr6LMiHVlRaQ9mN1ldkxqil+K7shIre06JPVMyjDPb30NnUeAJzCQ==";

    const RSA_KEY: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAoQsuam066LPisMX3gYtO
1UNn0EDets3onPNI+1YDOfTxqaxntixlxWTf/JdKZT1IXJkjukpzDQ9XRSFxgeic
2PD0it8W3urjyhkuGfF0A1W/BLdRw8icQRD0rsxuuctiVrURCGoT9tSsN6qKxkyP
K1vUV4tE8NseXCczV21q7lf6ZIB3i0M2DgBEFc64PxA+T7dig2q7Hke/N7IFb9LS
PpwknJ3SmifEfOb8dFuhQr+GAQUKo/pCubg9hU6S2wQCrC4idEEri5nY1qr0uKf2
jKyo5jSpauoYziVOELQlHlzEtX9AbluM1/4uts7X6DpmvKmdKA25RCz1Rk36/GYT
MwIDAQAB
-----END PUBLIC KEY-----
";
    const RSA_SIG: &str = "C1yVynvWCCSckFbOLmxSRh0iP6PNUHIQv1Qag5ZaC8YdGPZLoAIsLldOHlXwqX6u3BvKpfce1P7dBApl98PIFQUjY5Ah7HwCdE4jWMz4kELWlqxhy4GzrhhGAT8QgHlfyzfBqw0/VCouj75iAkZjWS14FJkdo8SGhPzEF9l1/DXfkvi/c2cdlKD6kuk2KEzLBq+xIse/BxICRoD3WAmGUCZebF4RNnd1bLo8xy8iPV1M6Nta38dWHANNnKbYNDs0B3CUA9PXglCYXcs64PXP2wPfU06ocUZPanzCY8hcArup7Psplhyg/doTHESru6sN5GNZu/5pF0x9/NaK68PSYg==";

    fn b64(s: &str) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD.decode(s).unwrap()
    }

    #[test]
    fn signatures_made_by_openssl_verify_and_nothing_else_does() {
        let vectors = [
            (P256_KEY, P256_SIG, Algorithm::EcdsaP256),
            (P384_KEY, P384_SIG, Algorithm::EcdsaP384),
            (ED25519_KEY, ED25519_SIG, Algorithm::Ed25519),
            (RSA_KEY, RSA_SIG, Algorithm::Rsa),
        ];
        let keys: Vec<Key> = vectors
            .iter()
            .map(|(k, _, alg)| {
                let key = Key::parse("k.pub", k.as_bytes()).unwrap();
                assert_eq!(key.algorithm(), *alg);
                key
            })
            .collect();
        let tampered = PAYLOAD.replace("9f86", "9f87");
        for (i, (_, s, alg)) in vectors.iter().enumerate() {
            let signature = b64(s);
            for (j, key) in keys.iter().enumerate() {
                assert_eq!(
                    key.verifies(PAYLOAD.as_bytes(), &signature),
                    i == j,
                    "{alg} signature, {} key",
                    key.algorithm()
                );
            }
            assert!(!keys[i].verifies(tampered.as_bytes(), &signature), "{alg}");
            let mut flipped = signature.clone();
            let last = flipped.len() - 1;
            flipped[last] ^= 1;
            assert!(!keys[i].verifies(PAYLOAD.as_bytes(), &flipped), "{alg}");
        }
    }

    #[test]
    fn key_files_that_are_no_public_key_are_refused_with_a_reason() {
        let refused = |pem: &str| Key::parse("k.pem", pem.as_bytes()).unwrap_err().to_string();
        assert!(refused("hello").contains("no PEM PUBLIC KEY"));
        assert!(
            refused("-----BEGIN PRIVATE KEY-----\nMC4CAQA=\n-----END PRIVATE KEY-----\n")
                .contains("a private key")
        );
        // A DSA key (1.2.840.10040.4.1), and a P-256 point cut short.
        let dsa =
            "-----BEGIN PUBLIC KEY-----\nMA8wCQYHKoZIzjgEAQMCAAE=\n-----END PUBLIC KEY-----\n";
        assert!(
            refused(dsa).contains("1.2.840.10040.4.1"),
            "{}",
            refused(dsa)
        );
        let short = "-----BEGIN PUBLIC KEY-----\nMBkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDAgAE\n-----END PUBLIC KEY-----\n";
        assert!(
            refused(short).contains("malformed ECDSA P-256"),
            "{}",
            refused(short)
        );
        assert_eq!(dotted(P384), "1.3.132.0.34");
    }
}
