//! The integration tests of the `ava` binary, as one test binary (one link, one
//! process; modules by theme). Every test runs the real `ava` against its own fresh
//! Postgres database (`ava_testpg`) and its own SQLite file in its own temp dir.

mod support;

mod archive;
mod cli;
mod crash;
mod db;
mod export;
mod hostile;
mod migrate;
mod roundtrip;
mod serve;
mod sync;
mod verify;
mod verify_api;
