//! dist: the blocking core of the `dist-*` programs, which move OCI and Docker
//! container images through a content store on disk that many processes share.
//!
//! Modules by the nouns of the domain; layers point one way: [`cli`] →
//! [`content`], [`remote`] → [`digest`], [`descriptor`], [`reference`],
//! [`time`], [`error`]. See `DESIGN.md` and `dist.7`.
#![deny(missing_docs)]

pub mod archive;
pub mod cli;
pub mod content;
pub mod descriptor;
pub mod digest;
pub mod error;
pub mod fs;
pub mod gc;
pub mod graph;
pub mod images;
pub mod layer;
pub mod manifest;
pub mod platform;
pub mod reference;
pub mod remote;
pub mod rootfs;
pub mod signature;
pub mod stream;
pub mod tar;
pub mod time;
pub mod transfer;

pub use error::{Context, Error, Kind, Result, Untrusted};

/// The version every program prints: `git describe` of the tree it was built from.
pub const VERSION: &str = env!("DIST_VERSION");
