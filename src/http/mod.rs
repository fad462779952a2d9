//! Shared HTTP pieces: content negotiation and response helpers.

pub mod limit;
pub mod negotiate;
pub mod upload;
