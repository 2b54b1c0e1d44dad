//! Where the store and registries meet: pulling an image into the store
//! ([`pull`]), pushing one from it ([`push`]), and the one event type both
//! report their progress with, which the progress display draws.

pub mod pull;
pub mod push;

use crate::descriptor::Descriptor;
use crate::graph::ObjectKind;
use crate::remote::Put;
use crate::rootfs::Unpacked;

pub use pull::{Options, Pulled, pull};
pub use push::{Pushed, push};

/// What a transfer reports as it goes, for the progress display.
#[derive(Debug)]
pub enum Event<'a> {
    /// The name resolved to this root.
    Resolved {
        /// The full name.
        name: &'a str,
        /// Its root descriptor.
        target: &'a Descriptor,
    },
    /// An object is being fetched, from `offset` (what an earlier pull kept).
    Fetching {
        /// What the object is.
        kind: ObjectKind,
        /// The object.
        desc: &'a Descriptor,
        /// Where the download starts.
        offset: u64,
    },
    /// Bytes of an object are in.
    Progress {
        /// The object.
        desc: &'a Descriptor,
        /// Bytes of it in the store's ingest so far.
        offset: u64,
    },
    /// An object is in the store.
    Fetched {
        /// What the object is.
        kind: ObjectKind,
        /// The object.
        desc: &'a Descriptor,
        /// It was there already: nothing was downloaded.
        existed: bool,
        /// Bytes an interrupted pull had kept.
        resumed_from: u64,
        /// The host that sent it (a mirror, or the registry).
        host: Option<&'a str>,
    },
    /// An object is being sent to a registry.
    Uploading {
        /// What the object is.
        kind: ObjectKind,
        /// The object.
        desc: &'a Descriptor,
        /// Where the upload starts.
        offset: u64,
    },
    /// An object is in the registry.
    Pushed {
        /// What the object is.
        kind: ObjectKind,
        /// The object.
        desc: &'a Descriptor,
        /// How it got there.
        how: &'a Put,
    },
    /// A layer is being unpacked.
    Unpacking(&'a Descriptor),
    /// A layer is unpacked.
    Unpacked(&'a Unpacked),
    /// A signature of the image verified.
    Verified {
        /// Which signature.
        signature: &'a str,
        /// The key it verifies with.
        key: &'a str,
    },
    /// The name is recorded.
    Named {
        /// The full name.
        name: &'a str,
        /// What it points at.
        target: &'a Descriptor,
    },
}
