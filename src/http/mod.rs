//! Shared HTTP pieces: content negotiation and response helpers.

pub mod limit;
pub mod metrics;
pub mod negotiate;
pub mod server;
pub mod upload;
