//! End-to-end tests: real servers on ephemeral ports with temp data dirs, driven over real HTTP and
//! WebSocket through the Rust client.

mod cluster;
mod config;
mod durability;
mod edge;
mod errors;
mod harness;
mod lifecycle;
mod lifecycle_cluster;
mod limits;
mod messaging;
mod presence;
mod realtime;
mod security;
mod services;
mod sessions;
