//! End-to-end tests: the built programs run as a user runs them, against
//! stores in fresh directories and a real registry (Debian's docker-registry)
//! on 127.0.0.1. One module per program, the docs, and the rig itself.
mod front;
mod image;
mod registry;
mod rig;
mod tls;
mod util;

mod front_rig;

mod active;
mod apply;
mod archive;
mod common;
mod delete;
mod docs;
mod fetch;
mod hosts;
mod images;
mod ingest;
mod list;
mod login;
mod multicall;
mod namespaces;
mod newuser;
mod path;
mod pull;
mod push;
mod referrers;
mod resolve;
mod store;
mod trust;
