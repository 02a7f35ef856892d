//! REST request bodies: the first byte picks the endpoint, the rest is its body. Each is decoded as
//! the server's `ApiJson` extractor does (`serde_json::from_slice`) and given the validation its
//! service applies, checking properties of what is accepted.

#![no_main]

use confab_fuzz::bodies;
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;

fn body<T: DeserializeOwned>(bytes: &[u8], check: fn(T)) {
    if let Ok(req) = serde_json::from_slice::<T>(bytes) {
        check(req);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&endpoint, bytes)) = data.split_first() else { return };
    match endpoint % 10 {
        0 => body(bytes, bodies::register),
        1 => body(bytes, bodies::login),
        2 => body(bytes, bodies::change_password),
        3 => body(bytes, bodies::update_profile),
        4 => body(bytes, bodies::create_conversation),
        5 => body(bytes, bodies::create_group),
        6 => body(bytes, bodies::add_members),
        7 => body(bytes, bodies::send_message),
        8 => body::<confab_proto::ReadRequest>(bytes, |_| {}),
        _ => body(bytes, bodies::sync),
    }
});
