//! Personal data never leaks through `Debug` or `Display`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use marketsync_core::*;
use support::fixtures::*;

const SECRETS: &[&str] = &[
    BUYER_NAME,
    BUYER_PHONE,
    BUYER_EMAIL,
    STREET,
    RECIPIENT_NAME,
    "世纪大道",
    "1381234",
    "zhang.sanfeng",
];

fn assert_clean(what: &str, text: &str) {
    for s in SECRETS {
        assert!(!text.contains(s), "{what} leaks {s:?}:\n{text}");
    }
}

#[test]
fn fixture_really_holds_clear_personal_data() {
    // Serialization is storage inside the region: the clear values are there.
    let json = serde_json::to_string(&tmall_order()).unwrap();
    for s in SECRETS {
        assert!(json.contains(s), "fixture should contain {s:?}");
    }
}

#[test]
fn order_debug_never_shows_personal_data() {
    let order = tmall_order();
    assert_clean("Order {:?}", &format!("{order:?}"));
    assert_clean("Order {:#?}", &format!("{order:#?}"));
    assert!(format!("{order:?}").contains("Pii<Cn, clear>"));
    assert_clean("Envelope<Order> {:?}", &format!("{:?}", order_envelope()));
    assert_clean("Refund {:?}", &format!("{:?}", tmall_refund()));
}

#[test]
fn pii_display_and_debug_never_show_the_value() {
    let buyer = tmall_buyer();
    let address = tmall_address();
    assert_clean("Pii<Buyer> Display", &format!("{buyer}"));
    assert_clean(
        "Pii<Address> Display",
        &format!("{address} {address:?} {address:#?}"),
    );
    assert_eq!(format!("{buyer}"), "[pii:clear]");
    // Every state renders without its content.
    let masked = address.mask();
    assert_eq!(format!("{masked:?}"), "Pii<Cn, masked>");
    let token = buyer.tokenize(&TokenKey::new(b"tenant-key".to_vec()));
    assert_eq!(format!("{token}"), "[pii:token]");
    let sealed: Pii<Buyer> = Pii::sealed(Region::Cn, "taobao_oaid", "oaid-SECRET-REF");
    assert!(!format!("{sealed:?} {sealed}").contains("SECRET"));
}

#[test]
fn validation_errors_never_show_personal_data() {
    let mut order = tmall_order();
    order.payments[0].amount = cny(rust_decimal_macros::dec!(1.00));
    let err = order.validate().unwrap_err();
    assert_clean("OrderError", &format!("{err} {err:?}"));
    let err: Error = err.into();
    assert_clean("Error", &format!("{err} {err:?}"));
}

#[test]
fn leaving_china_tokenizes_and_masking_hides_details() {
    let key = TokenKey::new(b"tenant-key-0123456789".to_vec());
    let mut order = tmall_order();
    order.buyer = order.buyer.map(|b| b.for_region(Region::Global, &key));
    order.ship_to = order.ship_to.map(|a| a.mask());
    let json = serde_json::to_string(&order).unwrap();
    for s in [BUYER_NAME, BUYER_EMAIL, STREET, RECIPIENT_NAME, BUYER_PHONE] {
        assert!(!json.contains(s), "exported JSON leaks {s:?}");
    }
    // Masking keeps what tax and reporting need.
    assert!(json.contains("上海市"));
}
