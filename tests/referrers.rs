//! Referrers and signatures against the real registry, which has no
//! referrers API (so the sha256-HEX fallback tag is what carries the lists),
//! and through the front where a registry must answer otherwise: an image
//! with an SBOM and signatures attached as cosign and oras attach them,
//! listed, filtered, pulled along, pushed on to a second registry, kept
//! and collected with the image; signatures made with openssl exactly as
//! cosign makes them, verified, and each way of being wrong refused with
//! its message and exit code 9, nothing named.

use std::path::PathBuf;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::front::{Front, Req};
use crate::image::*;
use crate::pull::host_arch;
use crate::registry::{self, Auth, Registry};
use crate::util::*;

const EMPTY_TYPE: &str = "application/vnd.oci.empty.v1+json";
const SPDX: &str = "application/spdx+json";
const BUNDLE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
const SIGNATURE: &str = "dev.cosignproject.cosign/signature";

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// `sha256-HEX` of `sha256:HEX`.
fn tag_of(digest: &str) -> String {
    digest.replacen(':', "-", 1)
}

/// An ECDSA P-256 key pair made by openssl, as `cosign generate-key-pair`
/// makes one: (private key, public key) in the test's directory.
fn keypair(env: &Env, name: &str) -> (PathBuf, PathBuf) {
    let (key, public) = (format!("{name}.key"), format!("{name}.pub"));
    env.sh(&format!(
        "openssl ecparam -name prime256v1 -genkey -noout -out {key} &&
         openssl ec -in {key} -pubout -out {public} 2>/dev/null"
    ))
    .ok();
    (env.dir.join(key), env.dir.join(public))
}

/// The signature of `data` with `key`, base64, as cosign's documentation
/// makes one with openssl: `openssl dgst -sha256 -sign key.pem payload.json
/// | base64 -w0`.
fn sign(env: &Env, key: &std::path::Path, data: &[u8]) -> String {
    let file = env.file(&format!("signed-{}", &digest(data)[7..19]), data);
    env.sh(&format!(
        "openssl dgst -sha256 -sign {} {} | base64 -w0",
        key.display(),
        file.display()
    ))
    .ok()
    .stdout
}

/// An artifact: a manifest and the blobs it names.
struct Artifact {
    manifest: Vec<u8>,
    digest: String,
    blobs: Vec<Vec<u8>>,
}

impl Artifact {
    /// An OCI 1.1 artifact of `artifact_type` refering to `subject` (its
    /// digest and size), with `layers` (type, bytes, annotations).
    fn new(
        artifact_type: &str,
        subject: Option<(&str, usize)>,
        layers: Vec<(&str, Vec<u8>, Value)>,
    ) -> Artifact {
        let mut blobs = vec![b"{}".to_vec()];
        let layer_descs: Vec<Value> = layers
            .into_iter()
            .map(|(t, data, annotations)| {
                let d = json!({"mediaType": t, "digest": digest(&data), "size": data.len(),
                    "annotations": annotations});
                blobs.push(data);
                d
            })
            .collect();
        let mut m = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": artifact_type,
            "config": {"mediaType": EMPTY_TYPE, "digest": digest(b"{}"), "size": 2},
            "layers": layer_descs,
            "annotations": {"org.opencontainers.image.created": "2026-01-02T03:04:05Z"},
        });
        if let Some((d, size)) = subject {
            m["subject"] = json!({"mediaType": OCI_MANIFEST, "digest": d, "size": size});
        }
        Artifact::of(serde_json::to_vec(&m).unwrap(), blobs)
    }

    fn of(manifest: Vec<u8>, blobs: Vec<Vec<u8>>) -> Artifact {
        Artifact {
            digest: digest(&manifest),
            manifest,
            blobs,
        }
    }

    /// Its entry in a referrers list.
    fn entry(&self) -> Value {
        let m: Value = serde_json::from_slice(&self.manifest).unwrap();
        json!({"mediaType": OCI_MANIFEST, "digest": self.digest, "size": self.manifest.len(),
            "artifactType": m["artifactType"], "annotations": m["annotations"]})
    }

    /// Pushes its blobs, then its manifest as `reference` (its digest if none).
    fn push(&self, reg: &Registry, repo: &str, reference: Option<&str>) {
        for b in &self.blobs {
            reg.push_blob(repo, b);
        }
        let reference = reference.unwrap_or(&self.digest);
        reg.push_manifest(repo, reference, OCI_MANIFEST, &self.manifest);
    }
}

/// Writes the referrers list of `subject` to its fallback tag, as a client
/// (oras, cosign) does on a registry without the referrers API.
fn list_by_tag(reg: &Registry, repo: &str, subject: &str, referrers: &[&Artifact]) {
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": referrers.iter().map(|a| a.entry()).collect::<Vec<_>>(),
    }))
    .unwrap();
    reg.push_manifest(repo, &tag_of(subject), OCI_INDEX, &index);
}

/// cosign's simple signing payload for `image` (a digest).
fn payload(reference: &str, image: &str) -> Vec<u8> {
    format!(
        r#"{{"critical":{{"identity":{{"docker-reference":"{reference}"}},"image":{{"docker-manifest-digest":"{image}"}},"type":"cosign container image signature"}},"optional":null}}"#
    )
    .into_bytes()
}

/// A signature manifest as cosign pushes it to the tag `sha256-HEX.sig`:
/// an image config listing the payload, and the payload as a simple
/// signing layer whose annotation is `signature`.
fn cosign_manifest(payload: &[u8], signature: Option<&str>) -> Artifact {
    let config = serde_json::to_vec(&json!({
        "architecture": "", "created": "0001-01-01T00:00:00Z",
        "history": [{"created": "0001-01-01T00:00:00Z"}], "os": "",
        "rootfs": {"type": "layers", "diff_ids": [digest(payload)]}, "config": {},
    }))
    .unwrap();
    let annotations = match signature {
        Some(s) => json!({ SIGNATURE: s }),
        None => json!({}),
    };
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": digest(&config), "size": config.len()},
        "layers": [{"mediaType": SIMPLE_SIGNING, "digest": digest(payload), "size": payload.len(),
            "annotations": annotations}],
    }))
    .unwrap();
    Artifact::of(manifest, vec![config, payload.to_vec()])
}

/// A small image, pushed as `repo:tag`.
fn app(reg: &Registry, repo: &str, tag: &str, seed: u64) -> Image {
    let img = image(
        Format::Oci,
        "linux",
        host_arch(),
        vec![layer(&[("etc/app", &content(5000, seed))])],
    );
    reg.push_image(repo, tag, &img);
    img
}

/// A Sigstore bundle whose messageSignature signs `manifest` with `key`.
fn message_bundle(env: &Env, key: &std::path::Path, manifest: &[u8]) -> Vec<u8> {
    let raw = hex_bytes(&digest(manifest)[7..]);
    serde_json::to_vec(&json!({
        "mediaType": BUNDLE,
        "verificationMaterial": {"publicKey": {"hint": "test"}},
        "messageSignature": {
            "messageDigest": {"algorithm": "SHA2_256", "digest": b64(&raw)},
            "signature": sign(env, key, manifest),
        },
    }))
    .unwrap()
}

/// A Sigstore bundle whose DSSE envelope signs an in-toto statement about
/// `image` with `predicate_type`.
fn dsse_bundle(env: &Env, key: &std::path::Path, image: &str, predicate_type: &str) -> Vec<u8> {
    let statement = serde_json::to_vec(&json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"digest": {"sha256": &image[7..]}}],
        "predicateType": predicate_type,
        "predicate": {},
    }))
    .unwrap();
    let payload_type = "application/vnd.in-toto+json";
    let mut pae = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        statement.len()
    )
    .into_bytes();
    pae.extend_from_slice(&statement);
    serde_json::to_vec(&json!({
        "mediaType": BUNDLE,
        "verificationMaterial": {"publicKey": {"hint": "test"}},
        "dsseEnvelope": {"payload": b64(&statement), "payloadType": payload_type,
            "signatures": [{"sig": sign(env, key, &pae), "keyid": ""}]},
    }))
    .unwrap()
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// A bundle as an OCI 1.1 referrer of `img`.
fn bundle_artifact(img: &Image, bundle: Vec<u8>) -> Artifact {
    Artifact::new(
        BUNDLE,
        Some((&img.digest, img.manifest.len())),
        vec![(BUNDLE, bundle, json!({}))],
    )
}

/// An SBOM of `subject` as an OCI 1.1 referrer.
fn sbom(subject: &Image) -> Artifact {
    let doc = br#"{"spdxVersion":"SPDX-2.3","name":"app"}"#.to_vec();
    Artifact::new(
        SPDX,
        Some((&subject.digest, subject.manifest.len())),
        vec![(
            SPDX,
            doc,
            json!({"org.opencontainers.image.title": "sbom.spdx.json"}),
        )],
    )
}

/// The store has no name and nothing unpacked: the store was not even made.
fn nothing_written(env: &Env) {
    assert!(
        !env.root.exists(),
        "a refused pull wrote {}",
        env.root.display()
    );
}

#[test]
fn referrers_are_listed_through_the_fallback_tag_and_filtered_by_artifact_type() {
    let env = Env::new("referrers-list");
    let reg = Registry::start(Auth::None);
    let img = app(&reg, "app", "1", 1);
    let name = format!("{}/app:1", reg.host());
    // Nothing refers to it yet: no API, no fallback tag, an empty list.
    let out = env.dist("referrers").args(["--debug", &name]).ok();
    assert_eq!(out.lines(), ["DIGEST   ARTIFACT TYPE   SIZE"], "{out:?}");
    assert!(out.stderr.contains("no referrers API"), "{out:?}");

    let (key, _) = keypair(&env, "cosign");
    let sbom = sbom(&img);
    let sig = bundle_artifact(&img, message_bundle(&env, &key, &img.manifest));
    sbom.push(&reg, "app", None);
    sig.push(&reg, "app", None);
    list_by_tag(&reg, "app", &img.digest, &[&sbom, &sig]);

    let out = env.dist("referrers").arg(&name).ok();
    let lines = out.lines();
    assert_eq!(lines.len(), 3, "{out:?}");
    assert!(
        lines[1].starts_with(&sbom.digest) && lines[1].contains(SPDX),
        "{out:?}"
    );
    assert!(
        lines[2].starts_with(&sig.digest) && lines[2].contains(BUNDLE),
        "{out:?}"
    );
    let out = env
        .dist("referrers")
        .args(["--artifact-type", SPDX, "-q", &name])
        .ok();
    assert_eq!(out.lines(), [sbom.digest.as_str()]);
    let out = env.dist("referrers").args(["--json", &name]).ok();
    let listed: Vec<Value> = out
        .lines()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["artifactType"], SPDX);
    assert_eq!(listed[0]["size"], sbom.manifest.len());
    assert_eq!(
        listed[0]["annotations"]["org.opencontainers.image.created"],
        "2026-01-02T03:04:05Z"
    );
    // By digest, and through the multi-call binary.
    let by_digest = format!("{}/app@{}", reg.host(), img.digest);
    let out = env.bin("dist").args(["referrers", "-q", &by_digest]).ok();
    assert_eq!(out.lines().len(), 2);
    env.dist("referrers")
        .args(["--artifact-type", "not a type", &name])
        .fails(2);
    env.dist("referrers")
        .arg(format!("{}/app:nope", reg.host()))
        .fails(3);
}

#[test]
fn referrers_pulled_along_are_pushed_on_kept_by_gc_with_the_image_and_removed_with_it() {
    let env = Env::new("referrers-carry");
    let mut src = Registry::start(Auth::None);
    let dst = Registry::start(Auth::None);
    let img = app(&src, "app", "1", 2);
    let (key, public) = keypair(&env, "cosign");
    // An SBOM, a signature of the image as a bundle, a signature of the
    // SBOM (a referrer of a referrer), and cosign's tag-scheme signature.
    let sbom = sbom(&img);
    let sig = bundle_artifact(&img, message_bundle(&env, &key, &img.manifest));
    let sbom_image = Image {
        digest: sbom.digest.clone(),
        manifest: sbom.manifest.clone(),
        ..img.clone()
    };
    let sbom_sig = bundle_artifact(&sbom_image, message_bundle(&env, &key, &sbom.manifest));
    let name = format!("{}/app:1", src.host());
    let p = payload(&format!("{}/app", src.host()), &img.digest);
    let cosign = cosign_manifest(&p, Some(&sign(&env, &key, &p)));
    for a in [&sbom, &sig, &sbom_sig] {
        a.push(&src, "app", None);
    }
    cosign.push(&src, "app", Some(&format!("{}.sig", tag_of(&img.digest))));
    list_by_tag(&src, "app", &img.digest, &[&sbom, &sig]);
    list_by_tag(&src, "app", &sbom.digest, &[&sbom_sig]);

    let out = env
        .dist("pull")
        .args(["--no-unpack", "--referrers", "--json", &name])
        .ok();
    let done: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(done["referrers"], 4, "{out:?}");
    for a in [&sbom, &sig, &sbom_sig, &cosign] {
        assert!(env.blob(&a.digest).exists(), "{} not pulled", a.digest);
        for b in &a.blobs {
            assert!(env.blob(&digest(b)).exists());
        }
    }
    // Referrers are no images.
    let ls = env.dist("images").args(["ls", "-q"]).ok();
    assert_eq!(ls.lines(), [name.as_str()]);
    // The signatures came along: they verify from the store, the source
    // registry gone; and what follows needs only the store.
    src.stop();
    env.dist("verify")
        .args(["--key", public.to_str().unwrap(), &name])
        .ok()
        .stdout_has(&format!("tag {}.sig", tag_of(&img.digest)))
        .stdout_has(&format!("referrer {}", sig.digest));

    // Export and import keep them: in another store, in either form, the
    // signatures verify, the referrers are no images, and gc keeps them.
    for format in ["docker", "oci"] {
        let other = env.dir.join(format!("imported-{format}"));
        env.sh(&format!(
            "dist-export --format {format} {name} | dist-import --root {}",
            other.display()
        ))
        .ok();
        env.dist("verify")
            .env("DIST_ROOT", &other)
            .args(["--key", public.to_str().unwrap(), &name])
            .ok()
            .stdout_has(&format!("tag {}.sig", tag_of(&img.digest)))
            .stdout_has(&format!("referrer {}", sig.digest));
        let ls = env
            .dist("images")
            .env("DIST_ROOT", &other)
            .args(["ls", "-q"])
            .ok();
        assert_eq!(ls.lines(), [name.as_str()], "{format}");
        env.dist("gc").env("DIST_ROOT", &other).ok();
        for a in [&sbom, &sig, &sbom_sig, &cosign] {
            let blob = other.join("blobs/sha256").join(&a.digest[7..]);
            assert!(blob.exists(), "{format}: {} not kept", a.digest);
        }
        assert!(
            other
                .join("referrers/sha256")
                .join(&sbom.digest[7..])
                .exists()
        );
    }

    let copy = format!("{}/copy:1", dst.host());
    let out = env.dist("push").args(["--json", &name, &copy]).ok();
    let done: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(done["referrers"], 4, "{out:?}");
    let listed = env.dist("referrers").args(["-q", &copy]).ok();
    let mut got = listed.lines();
    got.sort();
    let mut want = vec![sbom.digest.as_str(), sig.digest.as_str()];
    want.sort();
    assert_eq!(got, want);
    let of_sbom = format!("{}/copy@{}", dst.host(), sbom.digest);
    let listed = env.dist("referrers").args(["-q", &of_sbom]).ok();
    assert_eq!(listed.lines(), [sbom_sig.digest.as_str()]);
    // And both signatures verify there.
    let out = env
        .dist("verify")
        .args(["--remote", "--key", public.to_str().unwrap(), &copy])
        .ok();
    assert_eq!(out.lines().len(), 3, "{out:?}");
    // A second push adds nothing to the lists.
    env.dist("push").args([&name, &copy]).ok();
    let listed = env.dist("referrers").args(["-q", &copy]).ok();
    assert_eq!(listed.lines().len(), 2);

    // The collector keeps them while the image is named...
    let before = env.blobs();
    env.dist("gc").ok();
    assert_eq!(env.blobs(), before);
    assert!(
        env.root
            .join("referrers/sha256")
            .join(&img.digest[7..])
            .exists()
    );
    // ...and they go with it.
    env.dist("images").args(["rm", &name]).ok();
    assert_eq!(env.blobs(), Vec::<String>::new());
    env.dist("gc").ok();
    let records = std::fs::read_dir(env.root.join("referrers/sha256")).unwrap();
    assert_eq!(records.count(), 0);
}

#[test]
fn a_pull_with_a_key_names_the_image_only_when_a_signature_verifies() {
    let env = Env::new("referrers-verify");
    let reg = Registry::start(Auth::None);
    let (key, public) = keypair(&env, "cosign");
    let (other_key, other_public) = keypair(&env, "other");
    let public = public.to_str().unwrap().to_string();
    let repo_ref = format!("{}/app", reg.host());
    // One image per case, each in its own repository.
    let case = |repo: &str, seed: u64| -> (Image, String) {
        let img = app(&reg, repo, "1", seed);
        (img, format!("{}/{repo}:1", reg.host()))
    };
    let sig_tag = |img: &Image| format!("{}.sig", tag_of(&img.digest));

    // Signed, as cosign signs.
    let (good, good_name) = case("good", 10);
    let p = payload(&repo_ref, &good.digest);
    cosign_manifest(&p, Some(&sign(&env, &key, &p))).push(&reg, "good", Some(&sig_tag(&good)));
    // A payload changed after it was signed.
    let (tampered, tampered_name) = case("tampered", 11);
    let p = payload(&repo_ref, &tampered.digest);
    let s = sign(&env, &key, &p);
    let changed = String::from_utf8(p).unwrap().replace("/app", "/evil");
    cosign_manifest(changed.as_bytes(), Some(&s)).push(&reg, "tampered", Some(&sig_tag(&tampered)));
    // Signed with another key.
    let (wrong, wrong_name) = case("wrong", 12);
    let p = payload(&repo_ref, &wrong.digest);
    cosign_manifest(&p, Some(&sign(&env, &other_key, &p))).push(
        &reg,
        "wrong",
        Some(&sig_tag(&wrong)),
    );
    // A good signature of another image's digest, under this one's tag.
    let (moved, moved_name) = case("moved", 13);
    let p = payload(&repo_ref, &good.digest);
    cosign_manifest(&p, Some(&sign(&env, &key, &p))).push(&reg, "moved", Some(&sig_tag(&moved)));
    // No signature at all.
    let (_, unsigned_name) = case("unsigned", 14);
    // An annotation that is no base64.
    let (garbled, garbled_name) = case("garbled", 15);
    let p = payload(&repo_ref, &garbled.digest);
    cosign_manifest(&p, Some("not base64!")).push(&reg, "garbled", Some(&sig_tag(&garbled)));

    let refusals = [
        (&tampered_name, "does not verify with".to_string()),
        (&wrong_name, "does not verify with".to_string()),
        (
            &moved_name,
            format!("signs {}, not {}", good.digest, moved.digest),
        ),
        (&unsigned_name, "untrusted: no signature found".to_string()),
        (
            &garbled_name,
            format!("malformed: its {SIGNATURE} annotation is not base64"),
        ),
    ];
    for (name, why) in &refusals {
        let env = Env::new("referrers-verify-refused");
        let out = env
            .dist("pull")
            .args(["--verify-key", &public, name])
            .fails(9)
            .stderr_has(&format!("dist-pull: {name}@sha256:"))
            .stderr_has(why);
        assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
        nothing_written(&env);
        env.dist("verify")
            .args(["--key", &public, name])
            .fails(9)
            .stderr_has(why);
    }
    let out = env
        .dist("pull")
        .args(["--verify-key", &public, &tampered_name])
        .fails(9);
    assert!(
        out.stderr.contains(&format!(
            "untrusted: no signature verifies with {public} (1 found: tag {}, payload sha256:",
            sig_tag(&tampered)
        )),
        "{out:?}"
    );

    // The good one: pulled, named, unpacked; the signature kept with it.
    let out = env
        .dist("pull")
        .args([
            "--verify-key",
            other_public.to_str().unwrap(),
            "--verify-key",
            &public,
            &good_name,
        ])
        .ok()
        .stdout_has(&format!("tag {}, payload", sig_tag(&good)))
        .stdout_has(&format!("verified with {public}"));
    assert!(out.stdout.contains("named"), "{out:?}");
    env.dist("images")
        .args(["ls", "-q"])
        .ok()
        .has_lines(&[good_name.as_str()]);
    env.dist("verify").args(["--key", &public, &good_name]).ok();
    env.dist("verify")
        .args(["--key", other_public.to_str().unwrap(), &good_name])
        .fails(9)
        .stderr_has("does not verify with");
    // A key file that is no public key is a usage error.
    env.dist("verify")
        .args(["--key", key.to_str().unwrap(), &good_name])
        .fails(2)
        .stderr_has("a private key");
    env.dist("verify")
        .arg(&good_name)
        .fails(2)
        .stderr_has("missing --key");
}

#[test]
fn sigstore_bundles_among_the_referrers_verify_with_the_key_alone() {
    let env = Env::new("referrers-bundles");
    let reg = Registry::start(Auth::None);
    let (key, public) = keypair(&env, "cosign");
    let public = public.to_str().unwrap().to_string();
    let attach = |repo: &str, seed: u64, bundles: &dyn Fn(&Image) -> Vec<Vec<u8>>| -> String {
        let img = app(&reg, repo, "1", seed);
        let arts: Vec<Artifact> = bundles(&img)
            .into_iter()
            .map(|b| bundle_artifact(&img, b))
            .collect();
        for a in &arts {
            a.push(&reg, repo, None);
        }
        list_by_tag(&reg, repo, &img.digest, &arts.iter().collect::<Vec<_>>());
        format!("{}/{repo}:1", reg.host())
    };
    let message = attach("message", 20, &|img| {
        vec![message_bundle(&env, &key, &img.manifest)]
    });
    let dsse = attach("dsse", 21, &|img| {
        vec![dsse_bundle(
            &env,
            &key,
            &img.digest,
            "https://sigstore.dev/cosign/sign/v1",
        )]
    });
    env.dist("verify").args(["--key", &public, &message]).ok();
    env.dist("verify").args(["--key", &public, &dsse]).ok();
    env.dist("pull")
        .args(["--no-unpack", "--verify-key", &public, &dsse])
        .ok();
    // An attestation is no signature; a bundle about another image is not
    // this one's.
    let attested = attach("attested", 22, &|img| {
        vec![dsse_bundle(
            &env,
            &key,
            &img.digest,
            "https://slsa.dev/provenance/v1",
        )]
    });
    env.dist("verify")
        .args(["--key", &public, &attested])
        .fails(9)
        .stderr_has("an attestation (https://slsa.dev/provenance/v1), not a signature");
    let other = app(&reg, "elsewhere", "1", 23);
    let misplaced = attach("misplaced", 24, &|_| {
        vec![message_bundle(&env, &key, &other.manifest)]
    });
    env.dist("verify")
        .args(["--key", &public, &misplaced])
        .fails(9)
        .stderr_has(&format!("signs {}, not sha256:", other.digest));
}

#[test]
fn the_fallback_tag_is_updated_with_if_match_and_read_again_when_another_client_changed_it() {
    let env = Env::new("referrers-if-match");
    let src = Registry::start(Auth::None);
    let dst = Registry::start(Auth::None);
    let front = Front::start(&dst.host());
    let img = app(&src, "app", "1", 30);
    let sbom = sbom(&img);
    sbom.push(&src, "app", None);
    list_by_tag(&src, "app", &img.digest, &[&sbom]);
    let name = format!("{}/app:1", src.host());
    env.dist("pull")
        .args(["--no-unpack", "--referrers", &name])
        .ok();

    // Another client's referrer, already in the destination's list.
    let theirs = Artifact::new(
        "application/vnd.example.other",
        Some((&img.digest, img.manifest.len())),
        vec![("text/plain", b"theirs".to_vec(), json!({}))],
    );
    theirs.push(&dst, "copy", None);
    dst.push_blob("copy", &img.config);
    for l in &img.layers {
        dst.push_blob("copy", &l.blob);
    }
    dst.push_manifest("copy", &img.digest, OCI_MANIFEST, &img.manifest);
    list_by_tag(&dst, "copy", &img.digest, &[&theirs]);
    let tag_path = format!("/v2/copy/manifests/{}", tag_of(&img.digest));
    // Right after dist reads the list, a third client adds to it.
    let late = Artifact::new(
        "application/vnd.example.late",
        Some((&img.digest, img.manifest.len())),
        vec![("text/plain", b"late".to_vec(), json!({}))],
    );
    late.push(&dst, "copy", None);
    let (dst_url, tag) = (dst.url(), tag_of(&img.digest));
    let (theirs_entry, late_entry) = (theirs.entry(), late.entry());
    let p = tag_path.clone();
    front.hook(
        move |r: &Req| r.method == "GET" && r.path() == p,
        Some(1),
        move |_, _| {
            let index = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX,
                "manifests": [theirs_entry, late_entry]}))
            .unwrap();
            let resp = registry::agent()
                .put(format!("{dst_url}/v2/copy/manifests/{tag}"))
                .header("Content-Type", OCI_INDEX)
                .send(&index[..])
                .unwrap();
            assert_eq!(resp.status().as_u16(), 201);
        },
    );
    // The registry does not check If-Match: the front does, as a registry
    // that honours it would.
    let (dst_url, p) = (dst.url(), tag_path.clone());
    front.answer(
        move |r: &Req| {
            if r.method != "PUT" || r.path() != p {
                return false;
            }
            let now = registry::agent()
                .head(format!("{dst_url}{p}"))
                .header("Accept", OCI_INDEX)
                .call()
                .unwrap();
            let now = now
                .headers()
                .get("Docker-Content-Digest")
                .map(|v| v.to_str().unwrap().to_string());
            r.header("if-match")
                .map(|m| m.trim_matches('"').to_string())
                != now
        },
        None,
        412,
        &[("Content-Type", "application/json")],
        r#"{"errors":[{"code":"PRECONDITION_FAILED","message":"changed"}]}"#,
    );
    let copy = format!("{}/copy:1", front.host());
    env.dist("push").args([&name, &copy]).ok();
    let puts: Vec<_> = front
        .requests_to(&tag_path)
        .into_iter()
        .filter(|s| s.method == "PUT")
        .collect();
    assert_eq!(puts.len(), 2, "{puts:?}");
    assert_eq!(puts[0].status, 412);
    assert_eq!(puts[1].status, 201);
    assert!(
        puts.iter().all(|s| s.header("if-match").is_some()),
        "{puts:?}"
    );
    let mut listed = env.dist("referrers").args(["-q", &copy]).ok().stdout;
    let mut want = vec![
        theirs.digest.clone(),
        late.digest.clone(),
        sbom.digest.clone(),
    ];
    want.sort();
    let mut got: Vec<String> = listed.lines().map(String::from).collect();
    got.sort();
    assert_eq!(got, want, "a list lost an entry");
    listed.clear();
}

#[test]
fn registries_with_the_referrers_api_are_paged_and_trusted_with_the_subject() {
    let env = Env::new("referrers-api");
    let reg = Registry::start(Auth::None);
    let front = Front::start(&reg.host());
    let img = app(&reg, "app", "1", 40);
    let sbom = sbom(&img);
    let other = Artifact::new(
        "application/vnd.example.other",
        Some((&img.digest, img.manifest.len())),
        vec![("text/plain", b"x".to_vec(), json!({}))],
    );
    // The referrers API, two pages; the filter is not applied by this
    // registry, so the client filters.
    let path = format!("/v2/app/referrers/{}", img.digest);
    let page = |entries: Vec<Value>| {
        serde_json::to_vec(
            &json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}),
        )
        .unwrap()
    };
    let (first, second) = (page(vec![sbom.entry()]), page(vec![other.entry()]));
    let next = format!("<{path}?last={}>; rel=\"next\"", sbom.digest);
    let p = path.clone();
    front.answer(
        move |r: &Req| r.path() == p && !r.target.contains("last="),
        None,
        200,
        &[("Content-Type", OCI_INDEX), ("Link", &next)],
        first,
    );
    let p = path.clone();
    front.answer(
        move |r: &Req| r.path() == p && r.target.contains("last="),
        None,
        200,
        &[("Content-Type", OCI_INDEX)],
        second,
    );
    let name = format!("{}/app:1", front.host());
    let out = env.dist("referrers").args(["-q", &name]).ok();
    assert_eq!(out.lines(), [sbom.digest.as_str(), other.digest.as_str()]);
    let out = env
        .dist("referrers")
        .args(["-q", "--artifact-type", SPDX, &name])
        .ok();
    assert_eq!(out.lines(), [sbom.digest.as_str()]);
    assert!(front.requests_to(&tag_of(&img.digest)).is_empty());

    // A push to a registry that says it took the subject (OCI-Subject)
    // leaves the fallback tag alone.
    sbom.push(&reg, "app", None);
    list_by_tag(&reg, "app", &img.digest, &[&sbom]);
    let direct = format!("{}/app:1", reg.host());
    env.dist("pull")
        .args(["--no-unpack", "--referrers", &direct])
        .ok();
    let d = sbom.digest.clone();
    front.hook(
        move |r: &Req| r.method == "PUT" && r.path().ends_with(&format!("/manifests/{d}")),
        None,
        |_, resp| resp.set_header("OCI-Subject", "yes"),
    );
    front.clear_requests();
    env.dist("push")
        .args([&direct, &format!("{}/api:1", front.host())])
        .ok();
    assert!(
        front
            .requests_to(&format!("/manifests/{}", sbom.digest))
            .iter()
            .any(|s| s.method == "PUT")
    );
    assert!(front.requests_to(&tag_of(&img.digest)).is_empty());
}

#[test]
fn a_fallback_tag_that_names_the_image_itself_is_no_list() {
    let env = Env::new("referrers-self");
    let reg = Registry::start(Auth::None);
    let front = Front::start(&reg.host());
    let img = app(&reg, "app", "1", 50);
    // As some registries answer: the image itself for its sha256-HEX tag.
    let (body, d) = (img.manifest.clone(), img.digest.clone());
    let len = body.len().to_string();
    let p = format!("/v2/app/manifests/{}", tag_of(&img.digest));
    front.answer(
        move |r: &Req| r.path() == p,
        None,
        200,
        &[
            ("Content-Type", OCI_MANIFEST),
            ("Docker-Content-Digest", &d),
            ("Content-Length", &len),
        ],
        body,
    );
    let name = format!("{}/app:1", front.host());
    let out = env.dist("referrers").args(["-q", &name]).ok();
    assert!(out.stdout.is_empty(), "{out:?}");
    assert!(
        out.stderr
            .contains("names the image itself, not a list of its referrers"),
        "{out:?}"
    );
    // A push does not overwrite it with a list.
    let src = Registry::start(Auth::None);
    let img2 = app(&src, "app", "1", 50);
    assert_eq!(img2.digest, img.digest);
    let sbom = sbom(&img2);
    sbom.push(&src, "app", None);
    list_by_tag(&src, "app", &img2.digest, &[&sbom]);
    let from = format!("{}/app:1", src.host());
    env.dist("pull")
        .args(["--no-unpack", "--referrers", &from])
        .ok();
    env.dist("push")
        .args([&from, &name])
        .fails(5)
        .stderr_has("names the image itself, not a list of its referrers; not replaced");
}
