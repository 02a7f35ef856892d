//! What every request handler gets: the server's services ([`App`]) and the node's connection
//! bookkeeping.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

use crate::app::App;

#[derive(Clone)]
pub(crate) struct AppState {
    pub app: Arc<App>,
    /// WebSocket sessions, so shutdown can wait for each to flush and close.
    pub sessions: TaskTracker,
    /// One permit per open WebSocket connection (`max_connections`).
    pub connection_slots: Arc<Semaphore>,
    /// Open WebSocket connections per user (`max_connections_per_user`).
    pub user_slots: Arc<crate::hub::UserSlots>,
    pub metrics: PrometheusHandle,
}
