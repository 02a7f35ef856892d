//! The delivery-status rule shared with the web SDK: `own_message_status` against the cases in
//! `spec/own_message_status.json`, which `web/test/unit/status.test.js` runs against the SDK's
//! `ownMessageStatus` too.

use confab_core::store::own_message_status;
use confab_proto::MessageStatus;
use serde_json::Value;

const SPEC: &str = include_str!("../../../spec/own_message_status.json");

fn marker(case: &Value, key: &str) -> Option<u64> {
    match &case[key] {
        Value::Null => None,
        v => Some(v.as_u64().unwrap_or_else(|| panic!("`{key}` is not a sequence number in {case}"))),
    }
}

#[test]
fn own_message_status_matches_the_shared_cases() {
    let spec: Value = serde_json::from_str(SPEC).expect("spec/own_message_status.json is JSON");
    let cases = spec["cases"].as_array().expect("`cases` is an array");
    assert!(cases.len() >= 10, "the shared cases are missing");
    let mut seen = Vec::new();
    for case in cases {
        let name = case["name"].as_str().expect("every case has a name");
        let sequence = case["sequence"].as_u64().expect("`sequence` is a number");
        let expected: MessageStatus =
            serde_json::from_value(case["status"].clone()).expect("`status` is a wire MessageStatus");
        let got = own_message_status(sequence, marker(case, "minDelivered"), marker(case, "minRead"));
        assert_eq!(got, expected, "case `{name}`");
        seen.push(expected);
    }
    for status in [MessageStatus::Sent, MessageStatus::Delivered, MessageStatus::Read] {
        assert!(seen.contains(&status), "no case expects {status:?}");
    }
}
