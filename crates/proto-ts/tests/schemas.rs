//! `docs/schema/*.schema.json` are exactly what the Rust frame types generate, and name every frame
//! type. After changing a type in crates/proto: `CONFAB_UPDATE_TS=1 cargo test -p confab-proto-ts`.

use std::path::PathBuf;

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn committed_frame_schemas_match_the_rust_types() {
    for (file, generated) in confab_proto_ts::frame_schemas() {
        let path = workspace_root().join(file);
        if std::env::var_os("CONFAB_UPDATE_TS").is_some_and(|v| v == "1") {
            std::fs::create_dir_all(path.parent().expect("parent")).expect("schema dir");
            std::fs::write(&path, &generated).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
            continue;
        }
        let committed =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        assert!(
            committed == generated,
            "{file} is out of date with crates/proto.\nRegenerate: CONFAB_UPDATE_TS=1 cargo test -p confab-proto-ts"
        );
    }
}

/// Every frame `type` the protocol names (the serde renames in frames.rs) is in a schema.
#[test]
fn every_frame_type_is_in_a_schema() {
    let source =
        std::fs::read_to_string(workspace_root().join("crates/proto/src/frames.rs")).expect("frames.rs");
    let schemas: String = confab_proto_ts::frame_schemas().into_iter().map(|(_, text)| text).collect();
    let mut names = 0;
    for line in source.lines() {
        let Some(rest) = line.trim().strip_prefix("#[serde(rename = \"") else { continue };
        let Some(name) =
            rest.split('"').next().filter(|n| n.contains('.') || *n == "sync" || *n == "heartbeat")
        else {
            continue;
        };
        names += 1;
        assert!(schemas.contains(&format!("\"{name}\"")), "frame type {name} is missing from the schemas");
    }
    assert!(names > 20, "found only {names} frame types in frames.rs");
}
