//! TOP error envelopes (`{"error_response":{…}}`) → classified `Error`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use marketsync_tmall::parse_error;
use marketsync_tmall::wire::ErrorResponse;
use reqwest::StatusCode;

fuzz_target!(|data: &[u8]| {
    let (head, body) = marketsync_fuzz::split_once(data, b'\n');
    let status = head
        .first()
        .map(|b| 200 + u16::from(*b) * 2)
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let parsed = serde_json::from_slice::<ErrorResponse>(body).ok();
    let _ = parse_error(status, parsed.as_ref(), None);
});
