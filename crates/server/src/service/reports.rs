//! Reports of messages by the members who received them (`POST /api/v1/reports`).

use std::time::{Duration, Instant};

use confab_core::ids::{new_id, now_millis};
use confab_core::moderation::NewReport;
use confab_core::rules::moderation;
use confab_core::store::SharedStore;
use confab_core::{validate, Error, Result};
use confab_proto::{ReportReceipt, ReportRequest};

use super::throttle::{retry_after_secs, Buckets};

pub(crate) struct Reports {
    store: SharedStore,
    /// Reports filed per user.
    filed: Buckets<String>,
}

impl Reports {
    pub(crate) fn new(store: SharedStore, per_hour: u32) -> Reports {
        Reports { store, filed: Buckets::new(per_hour, Duration::from_secs(3600)) }
    }

    /// Files `reporter`'s report of a message of a conversation they are in (someone else's):
    /// `true` when it is new, `false` when they had reported that message already (their first
    /// report is returned and this one does not count against their rate). Input is checked
    /// first, then the reporter's rate (`RATE_LIMITED`), then the message (`MESSAGE_NOT_FOUND`
    /// whenever the reporter cannot see it, however many exist elsewhere).
    pub(crate) async fn file(&self, reporter: &str, req: ReportRequest) -> Result<(ReportReceipt, bool)> {
        validate::client_id("messageId", &req.message_id)?;
        if let Some(id) = &req.conversation_id {
            validate::client_id("conversationId", id)?;
        }
        let reason = moderation::text("reason", &req.reason)?;
        self.filed.take(reporter.to_string(), Instant::now()).map_err(|wait| {
            metrics::counter!("confab_reports_throttled_total").increment(1);
            Error::RateLimited { retry_after_secs: retry_after_secs(wait) }
        })?;
        let filed = self
            .store
            .create_report(NewReport {
                report_id: new_id(),
                reporter: reporter.to_string(),
                message_id: req.message_id,
                conversation: req.conversation_id,
                reason,
                created_at: now_millis(),
            })
            .await;
        match &filed {
            Ok((_, true)) => metrics::counter!("confab_reports_total").increment(1),
            Ok((_, false)) => self.filed.give_back(reporter.to_string()),
            Err(_) => {}
        }
        filed
    }
}
