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
pub mod gc;
pub mod images;
pub mod manifest;
pub mod pull;
pub mod reference;
pub mod remote;
pub mod rootfs;
pub mod stream;
pub mod time;

pub use error::{Context, Error, Kind, Result};
