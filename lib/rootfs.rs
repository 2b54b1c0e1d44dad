//! Root filesystems built from layers: chain IDs, which name the result of
//! applying a stack of layers (OCI image spec, config.md "Layer ChainID"):
//!
//! ```text
//! ChainID(L0)          = DiffID(L0)
//! ChainID(L0|...|Ln)   = SHA256(ChainID(L0|...|Ln-1) + " " + DiffID(Ln))
//! ```
//!
//! Snapshots keyed by chain ID and the mount commands for them come later;
//! this module knows nothing of registries.

use crate::digest::Digest;

/// The chain ID of every prefix of `diff_ids`, bottom layer first.
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for diff_id in diff_ids {
        let next = match out.last() {
            None => diff_id.clone(),
            Some(parent) => Digest::of(format!("{parent} {diff_id}").as_bytes()),
        };
        out.push(next);
    }
    out
}

/// The chain ID of the whole stack, `None` for no layers.
pub fn chain_id(diff_ids: &[Digest]) -> Option<Digest> {
    chain_ids(diff_ids).pop()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Digest {
        s.parse().unwrap()
    }

    #[test]
    fn chain_ids_follow_the_spec() {
        // The canonical empty layer (1024 zero bytes) is a published diff ID.
        let empty = d("sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef");
        assert_eq!(Digest::of(&[0u8; 1024]), empty);
        assert_eq!(chain_ids(std::slice::from_ref(&empty)), vec![empty.clone()]);
        assert_eq!(chain_id(&[]), None);

        // Computed apart, with the shell:
        //   A=sha256:$(printf a | sha256sum | cut -d' ' -f1)   (B, C likewise)
        //   AB=sha256:$(printf "$A $B" | sha256sum | cut -d' ' -f1)
        //   ABC=sha256:$(printf "$AB $C" | sha256sum | cut -d' ' -f1)
        let (a, b, c) = (Digest::of(b"a"), Digest::of(b"b"), Digest::of(b"c"));
        let ab = d("sha256:51c0c8ace48498d6f5fee6b0592cc06f2da0f3cbe09c5a34a97dce85c3889676");
        let abc = d("sha256:2fce7f8ce91bcf0a1428b36e1024639fdbd9469eea762dba98aa749631885106");
        assert_eq!(
            chain_ids(&[a.clone(), b.clone(), c.clone()]),
            vec![a.clone(), ab, abc]
        );
        // ChainID(C) differs from ChainID(A|B|C): order matters.
        assert_ne!(chain_id(std::slice::from_ref(&c)), chain_id(&[a, b, c]));
    }
}
