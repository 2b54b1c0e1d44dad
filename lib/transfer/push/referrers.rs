//! What a push carries along after the image: what the store records as
//! referring to the manifests and indexes pushed (signatures, SBOMs,
//! attestations), then what refers to those, [`MAX_DEPTH`] deep. Each goes
//! as an image does (blobs, then manifests, children first); an OCI
//! referrer by digest, and where the registry does not say it took its
//! `subject` (`OCI-Subject`: no referrers API) it is added to the list the
//! subject's fallback tag names; a cosign tag-scheme signature by its tag.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use super::{Event, Options, Pushed, each, everything, put_blob};
use crate::content::Store;
use crate::descriptor::Descriptor;
use crate::error::Result;
use crate::graph::{self, ObjectKind};
use crate::images::referrers::{self, MAX_DEPTH, TAG};
use crate::reference::Reference;
use crate::remote::{Put, Remote};

/// Pushes what refers to `subjects` (pushed to `dest` just now); returns
/// how many referrers went.
pub(super) fn push(
    store: &Store,
    remote: &Remote,
    dest: &Reference,
    subjects: &[&Descriptor],
    opts: &Options,
    events: &(dyn Fn(&Event) + Sync),
    tally: &Mutex<Pushed>,
) -> Result<usize> {
    let mut todo: VecDeque<(Descriptor, usize)> =
        subjects.iter().map(|d| ((*d).clone(), 0)).collect();
    let mut seen: HashSet<_> = todo.iter().map(|(d, _)| d.digest.clone()).collect();
    let mut pushed = 0;
    while let Some((subject, depth)) = todo.pop_front() {
        let mut listed = Vec::new();
        for mut entry in referrers::of(store, &subject.digest)? {
            // One removed by hand (dist-delete) is no longer carried.
            if !store.contains(&entry.digest) || !seen.insert(entry.digest.clone()) {
                continue;
            }
            let d = Descriptor::new(entry.media_type.clone(), entry.digest.clone(), entry.size);
            let tag = entry.annotations.remove(TAG);
            let taken = one(store, remote, dest, &d, tag.as_deref(), opts, events, tally)?;
            if !taken {
                listed.push(entry);
            }
            pushed += 1;
            if depth + 1 < MAX_DEPTH {
                todo.push_back((d, depth + 1));
            }
        }
        if !listed.is_empty() {
            remote.add_to_referrers_tag(dest, &subject.digest, &listed)?;
        }
    }
    Ok(pushed)
}

/// Pushes the referrer `d` whole, its manifest by `tag` if given, else by
/// digest. Returns whether it needs no entry in its subject's fallback
/// tag: the registry took its subject, or it goes by a tag of its own.
#[allow(clippy::too_many_arguments)]
fn one(
    store: &Store,
    remote: &Remote,
    dest: &Reference,
    d: &Descriptor,
    tag: Option<&str>,
    opts: &Options,
    events: &(dyn Fn(&Event) + Sync),
    tally: &Mutex<Pushed>,
) -> Result<bool> {
    let nodes = everything(store, d, dest)?;
    let (blobs, manifests): (Vec<&Descriptor>, Vec<&Descriptor>) =
        nodes.iter().partition(|n| !graph::has_children(n));
    each(&blobs, opts.jobs, |b| {
        let put = put_blob(store, remote, dest, b, &[], opts.upload, events)?;
        tally.lock().unwrap_or_else(|e| e.into_inner()).count(&put);
        Ok(())
    })?;
    let mut taken = true;
    for m in manifests.iter().rev() {
        let kind = ObjectKind::of(m);
        events(&Event::Uploading {
            kind,
            desc: m,
            offset: 0,
        });
        let body = graph::read_small(store, m)?;
        match (m.digest == d.digest, tag) {
            (true, Some(tag)) => remote.put_manifest(dest, tag, m, &body)?,
            (true, None) => taken = remote.put_referrer(dest, m, &body)?,
            (false, _) => remote.put_manifest(dest, &m.digest.to_string(), m, &body)?,
        }
        events(&Event::Pushed {
            kind,
            desc: m,
            how: &Put::Uploaded(m.size),
        });
    }
    Ok(taken || tag.is_some())
}
