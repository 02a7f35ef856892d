//! End-to-end tests: real servers on ephemeral ports with temp data dirs, driven over real HTTP and
//! WebSocket through the Rust client.

mod admin;
mod cli_admin;
mod cluster;
mod cluster_admin;
mod config;
mod durability;
mod edge;
mod errors;
mod harness;
mod limits;
mod messaging;
mod presence;
mod realtime;
mod security;
mod services;
mod sessions;
