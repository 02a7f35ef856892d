//! `web/sdk/types/proto.d.ts` is exactly what the Rust wire types generate, and covers all of them.
//!
//! After changing a type in crates/proto: `CONFAB_UPDATE_TS=1 cargo test -p confab-proto-ts`.

use std::collections::BTreeSet;
use std::path::PathBuf;

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn committed_declarations_match_the_rust_types() {
    let path = workspace_root().join(confab_proto_ts::OUTPUT);
    let generated = confab_proto_ts::declarations();
    if std::env::var_os("CONFAB_UPDATE_TS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &generated).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        return;
    }
    let committed =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    if committed != generated {
        let line = committed.lines().zip(generated.lines()).position(|(a, b)| a != b);
        let hint = match line {
            Some(i) => format!(
                "first difference at line {}:\n  committed: {}\n  generated: {}",
                i + 1,
                committed.lines().nth(i).unwrap_or(""),
                generated.lines().nth(i).unwrap_or("")
            ),
            None => "one is a prefix of the other".to_string(),
        };
        panic!(
            "{} is out of date with crates/proto ({hint}).\nRegenerate: CONFAB_UPDATE_TS=1 cargo test -p confab-proto-ts",
            confab_proto_ts::OUTPUT
        );
    }
}

/// Every `pub` struct or enum that derives `Serialize` or `Deserialize` in crates/proto/src.
fn serde_types_in_proto() -> BTreeSet<String> {
    let dir = workspace_root().join("crates/proto/src");
    let mut names = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).expect("crates/proto/src") {
        let text = std::fs::read_to_string(entry.expect("dir entry").path()).expect("source file");
        let mut serde_derive = false;
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with("#[cfg(test)]") {
                break;
            }
            if line.starts_with("#[derive(") {
                serde_derive = line.contains("Serialize") || line.contains("Deserialize");
                continue;
            }
            if line.starts_with("#[") || line.starts_with("///") {
                continue;
            }
            let item = line.strip_prefix("pub struct ").or_else(|| line.strip_prefix("pub enum "));
            if let (true, Some(rest)) = (serde_derive, item) {
                let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                names.insert(name);
            }
            serde_derive = false;
        }
    }
    names
}

#[test]
fn every_wire_type_is_declared() {
    let declared: BTreeSet<String> = confab_proto_ts::types().into_iter().map(|(name, _)| name).collect();
    let wire = serde_types_in_proto();
    assert!(wire.len() > 40, "found only {} wire types; is the scan broken? {wire:?}", wire.len());
    let missing: Vec<_> = wire.difference(&declared).collect();
    assert!(missing.is_empty(), "add these to confab_proto_ts::types(): {missing:?}");
}

#[test]
fn serde_shapes_are_reflected() {
    let text = confab_proto_ts::declarations();
    for expected in [
        // rename_all = "camelCase", and `kind` renamed to `type`
        "export type Conversation = { conversationId: string, type: ConversationType,",
        // internally tagged content
        "export type Content = { \"type\": \"text\", text: string, } | { \"type\": \"image\" } & AttachmentContent",
        // SCREAMING_SNAKE_CASE codes
        "\"CONVERSATION_NOT_FOUND\"",
        // skip_serializing_if + default: optional
        "status?: MessageStatus",
        // adjacently tagged frames with the request id beside them
        "{ \"type\": \"message.read_receipt\", \"payload\": ReadReceiptPayload }",
        "export type ServerEnvelope = { id?: string, } & (",
        // u64 and i64 are numbers
        "sequenceNumber: number,",
    ] {
        assert!(text.contains(expected), "declarations lack `{expected}`:\n{text}");
    }
}
