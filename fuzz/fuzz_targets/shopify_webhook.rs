//! Shopify webhook authentication: headers + body as sent by anyone on the internet, through
//! `WebhookVerifier::authenticate` (body cap, HMAC, headers, `X-Shopify-Triggered-At`
//! freshness: every check but the durable dedup, which the store's tests cover). Half the
//! inputs carry the right HMAC, so what happens after the HMAC check is fuzzed too.
#![no_main]
use base64::Engine as _;
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use marketsync_shopify::WebhookVerifier;
use marketsync_shopify::auth::verify_webhook_hmac;
use sha2::Sha256;

const SECRET: &[u8] = b"fuzz-webhook-secret";

fuzz_target!(|data: &[u8]| {
    let (head, body) = marketsync_fuzz::split_once(data, 0);
    let mut headers = HeaderMap::new();
    for (k, v) in marketsync_fuzz::pairs(head) {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(k.as_str()), HeaderValue::try_from(v.as_str())) {
            headers.insert(name, value);
        }
    }
    if head.first().is_some_and(|b| b % 2 == 0) {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(SECRET) else {
            return;
        };
        mac.update(body);
        let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        if let Ok(v) = HeaderValue::try_from(sig.as_str()) {
            headers.insert("x-shopify-hmac-sha256", v);
        }
    }
    let _ = verify_webhook_hmac(SECRET, body, &marketsync_fuzz::text(head));
    let verifier = WebhookVerifier::new(SECRET);
    let _ = verifier.authenticate(&headers, body);
});
