//! NetSuite TBA (OAuth 1.0a, RFC 5849) signing of arbitrary URLs and parameters: never panics,
//! and the base string always has exactly three `&`-separated parts (every part is encoded).
#![no_main]
use libfuzzer_sys::fuzz_target;
use marketsync_netsuite::sign::{percent_encode, sign_hmac_sha256, signature_base_string};

fuzz_target!(|data: &[u8]| {
    let (url, rest) = marketsync_fuzz::split_once(data, 0);
    let (oauth, form) = marketsync_fuzz::split_once(rest, 0);
    let Ok(url) = url::Url::parse(&marketsync_fuzz::text(url)) else {
        return;
    };
    let oauth = marketsync_fuzz::pairs(oauth);
    let form = marketsync_fuzz::pairs(form);
    let base = signature_base_string("post", &url, &oauth, &form);
    assert_eq!(base.split('&').count(), 3, "unencoded '&' in the base string");
    let enc = percent_encode(&marketsync_fuzz::text(rest));
    assert!(enc.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)));
    let _ = sign_hmac_sha256(&base, "cs", "ts");
});
