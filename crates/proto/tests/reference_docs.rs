//! docs/protocol.md's reference lists every frame type and every error code the wire types define.

const DOCS: &str = include_str!("../../../docs/protocol.md");

/// The `type` names of the frame enums, read from their serde attributes.
fn frame_types() -> Vec<&'static str> {
    include_str!("../src/frames.rs")
        .lines()
        .filter_map(|l| l.trim().strip_prefix("#[serde(rename = \""))
        .filter_map(|rest| rest.split_once('"').map(|(name, _)| name))
        .filter(|name| *name != "type")
        .collect()
}

#[test]
fn every_frame_type_is_in_the_reference() {
    let types = frame_types();
    assert!(types.contains(&"message.send") && types.contains(&"sync.result"), "{types:?}");
    let missing: Vec<_> = types.iter().filter(|t| !DOCS.contains(&format!("`{t}`"))).collect();
    assert!(missing.is_empty(), "docs/protocol.md's reference lacks frames {missing:?}");
}

#[test]
fn every_error_code_is_in_the_reference() {
    use confab_proto::ErrorCode;
    let all: Vec<ErrorCode> = include_str!("../src/error.rs")
        .split_once("pub enum ErrorCode {")
        .and_then(|(_, rest)| rest.split_once('}'))
        .map(|(variants, _)| {
            variants
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("//"))
                .map(|l| l.trim_end_matches(','))
                .map(|name| serde_json::from_value(serde_json::Value::String(screaming(name))).unwrap())
                .collect()
        })
        .unwrap_or_default();
    assert!(all.len() >= 14, "{all:?}");
    for code in all {
        let row = format!("| `{}` | {} |", code.as_str(), code.http_status());
        assert!(DOCS.contains(&row), "docs/protocol.md's reference lacks the row for {}", code.as_str());
    }
}

fn screaming(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.extend(c.to_uppercase());
    }
    out
}
