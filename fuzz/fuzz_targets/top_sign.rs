//! TOP request signing, differentially: the connector's signer and the simulator's independent
//! verifier must agree on every parameter map, for every sign method.
#![no_main]
use libfuzzer_sys::fuzz_target;
use marketsync_testkit::sim::tmall::sign::expected_sign;
use marketsync_tmall::sign::{SignMethod, sign};

fuzz_target!(|data: &[u8]| {
    let (secret, rest) = marketsync_fuzz::split_once(data, 0);
    let secret = marketsync_fuzz::text(secret);
    let params = marketsync_fuzz::pairs(rest);
    for method in [SignMethod::Md5, SignMethod::HmacMd5, SignMethod::HmacSha256] {
        let ours = sign(
            params.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            &secret,
            method,
        );
        let theirs = expected_sign(&params, &secret, method.as_str());
        assert_eq!(Some(ours), theirs, "signer and verifier disagree ({method})");
    }
});
