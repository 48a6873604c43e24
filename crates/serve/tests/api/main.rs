//! `ava serve` over real HTTP, against both stores: a seeded SQLite file, and the same
//! rows migrated into a fresh Postgres database. One test binary; a module per theme.

mod analytics;
mod auth;
mod browser;
mod cache;
mod conformance;
mod customers;
mod export;
mod exposure;
mod hardening;
mod jwt;
mod reads;
mod support;
mod write;
