//! Understory: a federated ActivityPub service for civil-society expertise profiles.
//!
//! Layers, dependencies pointing down only (DESIGN.md section 3):
//! ```text
//! main / cli ─► app (one startup path for main and tests)
//! web (HTML) · api (JSON, bearer tokens) · federation (ActivityPub endpoints)   adapters, thin
//!        ▼
//! service     use cases: orgs, posts, follows, inbox, remote actors, keys, accounts, tokens, audit, mail
//!        ▼
//! protocol (documents) · delivery (outbox worker) · store (all SQL) · net (checked HTTP client)
//!        ▼
//! domain (pure rules) · httpsig (signatures) · clock · config
//! ```

pub mod api;
pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod delivery;
pub mod domain;
pub mod error;
pub mod federation;
pub mod fuzzing;
pub mod http;
pub mod httpsig;
pub mod net;
pub mod protocol;
pub mod service;
pub mod state;
pub mod store;
pub mod web;
