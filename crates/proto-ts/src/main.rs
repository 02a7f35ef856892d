//! Prints `web/sdk/types/proto.d.ts` as generated from the current Rust wire types
//! (`cargo run -q -p confab-proto-ts > web/sdk/types/proto.d.ts`).

fn main() {
    print!("{}", confab_proto_ts::declarations());
}
