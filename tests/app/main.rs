//! The integration suite: real instances on loopback that federate with each other.
//! Run on SQLite by default; `scripts/test-postgres` runs it on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod accounts;
mod delivery;
mod directory;
mod discovery;
mod federation;
mod fuzz_replay;
mod hardening;
mod helpers;
mod inbox_security;
mod lab;
mod limits;
mod media;
mod moves;
mod operations;
mod outgoing;
mod peering;
mod rendering;
mod smtp;
mod snapshots;
mod storage;
mod web_signin;
mod xss;
mod zoo;
