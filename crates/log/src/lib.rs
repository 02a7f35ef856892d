//! The durable log behind [`confab_core::log::Log`], which carries large groups' messages to every
//! node ("push for small, pull for large").
//!
//! # Layout
//! - [`jetstream::JetStreamLog`]: NATS JetStream. One stream per prefix, a subject per partition;
//!   each node tails it with an ordered consumer of its own.
//! - [`kafka::KafkaLog`]: the Kafka protocol (Apache Kafka, Redpanda, tansu), through rskafka.
//!   One topic per prefix, a partition per key hash; each node tails every partition itself.
//! - [`location`]: [`LogLocation::resolve`] picks the adapter from `--log-url` (refusing unknown
//!   schemes) and [`open`] connects it.
//! - `conformance` (tests only): the behaviour every adapter must show, written once and run
//!   against each by `log_conformance_suite!`.

#[cfg(test)]
pub(crate) mod conformance;
pub mod jetstream;
pub mod kafka;
pub mod location;

pub use self::jetstream::JetStreamLog;
pub use self::kafka::KafkaLog;
pub use self::location::{open, LogLocation, LogUrlError, ACCEPTED_LOG_URLS};
