//! The integration tests of the `ava` binary, as one test binary (one link, one
//! process; modules by theme). Every test runs the real `ava` against its own fresh
//! Postgres database (`ava_testpg`) and its own SQLite file in its own temp dir.

mod support;

mod archive;
mod cli;
mod crash;
mod db;
mod doctor;
mod export;
mod hostile;
mod migrate;
mod network;
mod rls;
mod roundtrip;
mod secrets;
mod serve;
mod sync;
mod tls;
mod verify;
mod verify_api;
