//! Personal data never reaches log output or Debug strings.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use marketsync::order::Order;
use marketsync::pii::{Pii, PiiState, Region, TokenKey};
use marketsync_testkit::{ChannelProfile, Generator, GeneratorConfig};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn clear_strings(order: &Order) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(b) = order.buyer.as_ref().and_then(Pii::expose) {
        out.extend(b.name.clone());
        out.extend(b.phone.clone());
        out.extend(b.email.clone());
    }
    if let Some(a) = order.ship_to.as_ref().and_then(Pii::expose) {
        out.extend(a.name.clone());
        out.extend(a.phone.clone());
        out.extend(a.lines.clone());
    }
    out
}

#[test]
fn orders_logged_with_tracing_carry_no_personal_data() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let mut generator = Generator::new(
        GeneratorConfig::new(99)
            .with_channels(vec![ChannelProfile::tmall(), ChannelProfile::shopify()]),
    );
    let orders = generator.orders(20);
    tracing::subscriber::with_default(subscriber, || {
        for o in &orders {
            tracing::info!(order = ?o, buyer = %o.buyer.as_ref().unwrap(), "normalized order");
        }
    });
    let logged = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(logged.contains("normalized order"), "nothing was logged");
    assert!(logged.contains("Pii<Cn, clear>") && logged.contains("Pii<Us, clear>"));
    for o in &orders {
        let secrets = clear_strings(o);
        assert!(!secrets.is_empty());
        for s in secrets {
            assert!(!logged.contains(&s), "{s:?} leaked into the log");
            assert!(!format!("{o:?}").contains(&s), "{s:?} leaked into Debug");
        }
    }
}

#[test]
fn china_data_is_tokenized_before_export() {
    let mut generator =
        Generator::new(GeneratorConfig::new(3).with_channels(vec![ChannelProfile::tmall()]));
    let order = generator.order();
    let key = TokenKey::new(b"tenant-key-for-tests".to_vec());
    let exported = order
        .ship_to
        .as_ref()
        .unwrap()
        .for_region(Region::Global, &key);
    assert!(matches!(exported.state, PiiState::Token(_)));
    let json = serde_json::to_string(&exported).unwrap();
    for s in clear_strings(&order) {
        assert!(!json.contains(&s), "{s:?} survived tokenization");
    }
    // The same address tokenizes to the same token: still joinable across systems.
    assert_eq!(
        exported,
        order
            .ship_to
            .as_ref()
            .unwrap()
            .for_region(Region::Global, &key)
    );
}
