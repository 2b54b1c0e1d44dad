//! End-to-end tests: the built programs run as a user runs them, against
//! stores in fresh directories. One module per program, plus the docs.
mod util;

mod active;
mod common;
mod delete;
mod docs;
mod ingest;
mod list;
mod path;
