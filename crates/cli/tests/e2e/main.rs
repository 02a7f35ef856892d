//! End-to-end tests: real servers on ephemeral ports with temp data dirs, driven over real HTTP and
//! WebSocket through the Rust client.

mod admin;
mod adversarial;
mod attachments;
mod blocks;
mod cli_admin;
mod cluster;
mod cluster_admin;
mod cluster_manage;
mod config;
mod data;
mod durability;
mod edge;
mod errors;
mod expiry;
mod groups;
mod harness;
mod jwks;
mod lifecycle;
mod lifecycle_cluster;
mod limits;
mod log_fanout;
mod messaging;
mod observability;
mod presence;
mod push;
mod readme;
mod realtime;
mod registration;
mod search;
mod security;
mod server_api;
mod services;
mod sessions;
mod tls;
