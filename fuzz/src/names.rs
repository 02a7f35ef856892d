//! A name accepted by `validate::name` is what people see: NFC, trimmed, single spaces, no control
//! characters, and accepting it again changes nothing.

use confab_core::validate;

pub fn check_display_name(raw: Option<&str>, username: &str) {
    if let Ok(name) = validate::display_name(raw, username) {
        looks_like_itself(&name);
        assert!(name.chars().count() <= validate::MAX_NAME_CHARS, "{name:?} is too long");
        assert_eq!(validate::display_name(Some(&name), username).as_ref(), Ok(&name), "not idempotent");
    }
}

pub fn check_group_name(raw: &str) {
    if let Ok(name) = validate::group_name(raw) {
        looks_like_itself(&name);
        assert!(!name.is_empty() && name.chars().count() <= validate::MAX_NAME_CHARS, "{name:?}");
        assert_eq!(validate::group_name(&name).as_ref(), Ok(&name), "not idempotent");
    }
}

fn looks_like_itself(name: &str) {
    assert!(unicode_normalization::is_nfc(name), "{name:?} is not NFC");
    assert_eq!(name.split_whitespace().collect::<Vec<_>>().join(" "), name, "{name:?} has stray spaces");
    assert!(!name.chars().any(char::is_control), "{name:?} has a control character");
    for c in ['\u{202E}', '\u{202D}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{200B}', '\u{FEFF}'] {
        assert!(!name.contains(c), "{name:?} has U+{:04X}", u32::from(c));
    }
}
