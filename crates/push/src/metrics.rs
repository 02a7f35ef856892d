//! The counters [`crate::send_with_retries`] increments, with their label values, so the server
//! can describe them and register every series at zero.

/// Notifications a push service accepted, by `provider` ([`PROVIDERS`]).
pub const SENT: &str = "confab_push_sent_total";
/// Notifications not delivered, by `provider` and `reason` ([`FAILURE_REASONS`]).
pub const FAILED: &str = "confab_push_failed_total";

pub const SENT_HELP: &str = "Push notifications accepted by the push service, by provider.";
pub const FAILED_HELP: &str =
    "Push notifications not delivered, by provider and reason: gone (subscription deleted), \
     rejected, retry_exhausted, config.";

/// The `provider` label values: [`confab_proto::PushKind::as_str`].
pub const PROVIDERS: [&str; 4] = ["webpush", "fcm", "apns", "webhook"];
/// The `reason` label values: [`crate::PushError::reason_label`].
pub const FAILURE_REASONS: [&str; 4] = ["gone", "rejected", "retry_exhausted", "config"];

/// Describes both counters to the installed recorder.
pub fn describe() {
    metrics::describe_counter!(SENT, SENT_HELP);
    metrics::describe_counter!(FAILED, FAILED_HELP);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PushError;
    use confab_proto::PushKind;

    #[test]
    fn label_values_match_the_kinds_and_errors() {
        assert_eq!(PROVIDERS, PushKind::ALL.map(PushKind::as_str));
        let errors = [
            PushError::Gone(String::new()),
            PushError::Rejected(String::new()),
            PushError::retry(""),
            PushError::Config(String::new()),
        ];
        assert_eq!(FAILURE_REASONS, errors.map(|e| e.reason_label()));
    }
}
