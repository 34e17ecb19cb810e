//! Personal data: [`Pii<T>`] wraps a buyer's name, phone, e-mail or address together with the
//! [`Region`] it must stay in.
//!
//! * `Debug` and `Display` never print the value, so a `tracing` field or a panic message
//!   cannot leak it.
//! * Reading the clear value is explicit: [`Pii::expose`].
//! * Before data crosses regions (China's PIPL: personal information collected in China stays
//!   there unless an exit assessment applies) it is masked ([`Pii::mask`]) or tokenized
//!   ([`Pii::tokenize`], a stable keyed HMAC-SHA256, so the same buyer gets the same token and
//!   can still be matched without being identified). [`Pii::for_region`] does the right thing
//!   for a destination region.
//! * Some platforms never hand out clear data (Tmall/Taobao OAID and encrypted receiver fields,
//!   Pinduoduo and Douyin encrypted fields). Such a value is [`PiiState::Sealed`]: a reference the
//!   platform can decrypt on request, never decrypted implicitly.
//!
//! `Serialize` writes the state as it is (a clear value serializes in clear): serialization is
//! storage inside the region, not logging. Convert with [`Pii::for_region`] before export.

use std::fmt;

use hmac::{Hmac, Mac};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The data-residency region a piece of personal data belongs to.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Region {
    /// Mainland China (PIPL): must be masked or tokenized before leaving.
    Cn,
    /// European Economic Area (GDPR).
    Eu,
    /// United States.
    Us,
    /// No residency constraint.
    Global,
}

impl Region {
    /// Whether clear data of this region may be handed to a consumer in `destination`.
    pub fn may_export_clear_to(self, destination: Region) -> bool {
        self == destination || self == Region::Global
    }
}

/// A secret key for tokenizing personal data. Keep it per tenant; rotate by re-tokenizing.
#[derive(Clone)]
pub struct TokenKey(Vec<u8>);

impl TokenKey {
    /// Wraps key bytes (at least 16 bytes recommended).
    pub fn new(bytes: impl Into<Vec<u8>>) -> TokenKey {
        TokenKey(bytes.into())
    }
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenKey(<redacted>)")
    }
}

/// What form personal data is held in.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "state", content = "value", rename_all = "snake_case")]
#[schemars(rename = "PiiState_for_{T}")]
pub enum PiiState<T> {
    /// The clear value, as received.
    Clear(T),
    /// A masked rendering (e.g. `张**`, `138****5678`), safe to show, not reversible.
    Masked(T),
    /// A stable keyed token (`tok_…`), usable for matching, not reversible without the key owner.
    Token(String),
    /// Held encrypted by the platform (e.g. Tmall OAID or an encrypted receiver field); only the
    /// platform's decrypt API can reveal it.
    Sealed {
        /// The platform scheme, e.g. `"taobao_oaid"`.
        scheme: String,
        /// The ciphertext or reference the platform issued.
        reference: String,
    },
}

/// Personal data tagged with its residency region. See the [module docs](self).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "Pii_for_{T}")]
pub struct Pii<T> {
    /// Where the data must stay.
    pub region: Region,
    /// The data in its current form.
    #[serde(flatten)]
    pub state: PiiState<T>,
}

impl<T> fmt::Debug for Pii<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pii<{:?}, {}>", self.region, self.state_name())
    }
}

impl<T> fmt::Display for Pii<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[pii:{}]", self.state_name())
    }
}

/// How a value renders when masked. Implemented for the model's personal-data types.
pub trait Mask {
    /// A masked copy: enough to recognise, not enough to identify.
    fn masked(&self) -> Self;
}

impl Mask for String {
    fn masked(&self) -> String {
        mask_text(self)
    }
}

/// Masks free text: keeps the first and (for longer values) the last character, stars the rest.
/// Works on characters, not bytes, so Chinese names mask correctly (`张三丰` → `张*丰`).
pub fn mask_text(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    match chars.len() {
        0 => String::new(),
        1 => "*".into(),
        2 => format!("{}*", chars[0]),
        // Up to 10 characters keep only the ends: the phone-like rule below would leave a
        // 7-character value whole (3 + 4 kept) and an 8-character one nearly whole.
        n if n <= 10 => format!("{}{}{}", chars[0], "*".repeat(n - 2), chars[n - 1]),
        n => {
            // Phone-like: keep three at the front, four at the back.
            let front: String = chars[..3].iter().collect();
            let back: String = chars[n - 4..].iter().collect();
            format!("{front}{}{back}", "*".repeat(n - 7))
        }
    }
}

impl<T> Pii<T> {
    /// Clear personal data belonging to `region`.
    pub fn new(region: Region, value: T) -> Pii<T> {
        Pii {
            region,
            state: PiiState::Clear(value),
        }
    }

    /// A platform-sealed value (see [`PiiState::Sealed`]).
    pub fn sealed(
        region: Region,
        scheme: impl Into<String>,
        reference: impl Into<String>,
    ) -> Pii<T> {
        Pii {
            region,
            state: PiiState::Sealed {
                scheme: scheme.into(),
                reference: reference.into(),
            },
        }
    }

    /// The state's name: `clear`, `masked`, `token` or `sealed`.
    pub fn state_name(&self) -> &'static str {
        match self.state {
            PiiState::Clear(_) => "clear",
            PiiState::Masked(_) => "masked",
            PiiState::Token(_) => "token",
            PiiState::Sealed { .. } => "sealed",
        }
    }

    /// The clear value, if held in clear. Named loudly on purpose: every call site is a place
    /// where personal data is read.
    pub fn expose(&self) -> Option<&T> {
        match &self.state {
            PiiState::Clear(v) => Some(v),
            _ => None,
        }
    }

    /// True when the value is clear.
    pub fn is_clear(&self) -> bool {
        matches!(self.state, PiiState::Clear(_))
    }
}

impl<T: Mask + Clone> Pii<T> {
    /// A masked copy. Masked, tokenized and sealed values are returned unchanged.
    pub fn mask(&self) -> Pii<T> {
        let state = match &self.state {
            PiiState::Clear(v) => PiiState::Masked(v.masked()),
            other => other.clone(),
        };
        Pii {
            region: self.region,
            state,
        }
    }
}

impl<T: Serialize + Clone> Pii<T> {
    /// A tokenized copy: `tok_` + hex(HMAC-SHA256(key, canonical JSON of the value)), truncated
    /// to 32 hex characters. Stable: the same value and key give the same token. Non-clear
    /// values are returned unchanged.
    pub fn tokenize(&self, key: &TokenKey) -> Pii<T> {
        let state = match &self.state {
            PiiState::Clear(v) => PiiState::Token(token_for(key, v)),
            other => other.clone(),
        };
        Pii {
            region: self.region,
            state,
        }
    }

    /// The form this data may take in `destination`: unchanged if clear export is allowed
    /// ([`Region::may_export_clear_to`]), otherwise tokenized.
    pub fn for_region(&self, destination: Region, key: &TokenKey) -> Pii<T> {
        if self.region.may_export_clear_to(destination) {
            self.clone()
        } else {
            self.tokenize(key)
        }
    }
}

fn token_for<T: Serialize>(key: &TokenKey, value: &T) -> String {
    // serde_json writes struct fields in declaration order, so the bytes are stable.
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    let mut mac = match Hmac::<Sha256>::new_from_slice(&key.0) {
        Ok(mac) => mac,
        // HMAC accepts keys of any length; this arm is unreachable in practice.
        Err(_) => return "tok_invalid_key".into(),
    };
    mac.update(&bytes);
    let digest = mac.finalize().into_bytes();
    let mut out = String::from("tok_");
    for b in digest.iter().take(16) {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let p = Pii::new(Region::Cn, "张三丰 13812345678".to_string());
        let dbg = format!("{p:?}");
        let disp = format!("{p}");
        assert!(!dbg.contains("张三丰"), "{dbg}");
        assert!(!disp.contains("1381"), "{disp}");
        assert_eq!(dbg, "Pii<Cn, clear>");
    }

    #[test]
    fn masks_by_character() {
        assert_eq!(mask_text("张三丰"), "张*丰");
        assert_eq!(mask_text("13812345678"), "138****5678");
        assert_eq!(mask_text("李四"), "李*");
        // No length leaves the value readable.
        assert_eq!(mask_text("Buyer 1"), "B*****1");
        assert_eq!(mask_text("Jane Doe"), "J******e");
        for n in 2..40 {
            let v: String = "abcdefghij".chars().cycle().take(n).collect();
            assert_ne!(mask_text(&v), v, "{n} characters");
        }
    }

    #[test]
    fn tokens_are_stable_and_keyed() {
        let k1 = TokenKey::new(b"tenant-one-key-0123".to_vec());
        let k2 = TokenKey::new(b"tenant-two-key-0123".to_vec());
        let p = Pii::new(Region::Cn, "王五".to_string());
        let t1 = p.tokenize(&k1);
        assert_eq!(t1, p.tokenize(&k1));
        assert_ne!(t1, p.tokenize(&k2));
        assert!(matches!(&t1.state, PiiState::Token(t) if t.starts_with("tok_") && t.len() == 36));
    }

    #[test]
    fn leaving_china_tokenizes() {
        let k = TokenKey::new(b"k".to_vec());
        let p = Pii::new(Region::Cn, "王五".to_string());
        assert!(p.for_region(Region::Cn, &k).is_clear());
        assert_eq!(p.for_region(Region::Global, &k).state_name(), "token");
        let g = Pii::new(Region::Global, "Jane".to_string());
        assert!(g.for_region(Region::Cn, &k).is_clear());
    }
}
