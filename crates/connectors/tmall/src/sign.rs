//! TOP request signing.
//!
//! The rule (official Java `TaobaoUtils.signTopRequest`, .NET `TopUtils`):
//!
//! 1. take every text parameter, system and business alike, except `sign`; skip a parameter
//!    whose key or value is empty — and, as in the official Java SDK, "empty" includes
//!    whitespace-only: `StringUtils.isEmpty` is true for a string of nothing but
//!    `Character.isWhitespace` characters, and `TaobaoHashMap.put` drops such a pair, so it is
//!    neither sent nor signed ([`is_top_empty`]);
//! 2. sort by key in byte order;
//! 3. concatenate `key + value` with no separator;
//! 4. `md5`: `MD5(secret + concat + secret)`; `hmac`: `HMAC-MD5(secret, concat)`;
//!    `hmac-sha256`: `HMAC-SHA256(secret, concat)`;
//! 5. upper-case hex.
//!
//! [`TopSigner`] plugs this into the shared HTTP client: it reads the form body the client
//! built, appends `sign`, and rewrites the body.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use hmac::{Hmac, Mac};
use marketsync_core::{Error, ErrorKind, Result};
use marketsync_http::{HttpRequest, RequestSigner};
use md5::{Digest, Md5};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The `sign_method` system parameter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum SignMethod {
    /// `md5`: MD5 of the parameters wrapped in the secret at both ends.
    #[default]
    #[serde(rename = "md5")]
    Md5,
    /// `hmac`: HMAC-MD5 keyed with the secret.
    #[serde(rename = "hmac")]
    HmacMd5,
    /// `hmac-sha256`: HMAC-SHA256 keyed with the secret.
    #[serde(rename = "hmac-sha256")]
    HmacSha256,
}

impl SignMethod {
    /// The wire value of `sign_method`.
    pub fn as_str(self) -> &'static str {
        match self {
            SignMethod::Md5 => "md5",
            SignMethod::HmacMd5 => "hmac",
            SignMethod::HmacSha256 => "hmac-sha256",
        }
    }
}

impl fmt::Display for SignMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SignMethod {
    type Err = Error;
    fn from_str(s: &str) -> Result<SignMethod> {
        match s.trim().to_ascii_lowercase().as_str() {
            "md5" => Ok(SignMethod::Md5),
            "hmac" | "hmac-md5" => Ok(SignMethod::HmacMd5),
            "hmac-sha256" => Ok(SignMethod::HmacSha256),
            other => Err(Error::new(
                ErrorKind::ConfigInvalid,
                format!("unknown TOP sign_method {other:?} (md5, hmac, hmac-sha256)"),
            )),
        }
    }
}

/// Java's `Character.isWhitespace`: the Unicode space, line and paragraph separators except the
/// non-breaking ones (U+00A0, U+2007, U+202F), plus `\t \n \u{B} \u{C} \r` and the
/// information separators U+001C–U+001F. (Rust's `char::is_whitespace` differs: it counts
/// U+0085 and the non-breaking spaces, and not U+001C–U+001F.)
pub fn is_java_whitespace(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n'
            | '\u{000B}'
            | '\u{000C}'
            | '\r'
            | '\u{001C}'..='\u{001F}'
            | ' '
            | '\u{1680}'
            | '\u{2000}'..='\u{2006}'
            | '\u{2008}'..='\u{200A}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{205F}'
            | '\u{3000}'
    )
}

/// The TOP SDK's notion of an empty parameter (`StringUtils.isEmpty` in the official Java SDK):
/// no characters, or only whitespace ([`is_java_whitespace`]). Such a key or value is neither
/// sent nor signed.
pub fn is_top_empty(s: &str) -> bool {
    s.chars().all(is_java_whitespace)
}

/// The string TOP signs: sorted `key+value` pairs, `sign` and empty (or whitespace-only) keys or
/// values skipped.
pub fn string_to_sign<'a, I>(params: I) -> String
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let sorted: BTreeMap<&str, &str> = params
        .into_iter()
        .filter(|(k, v)| !is_top_empty(k) && !is_top_empty(v) && *k != "sign")
        .collect();
    let mut out = String::new();
    for (k, v) in sorted {
        out.push_str(k);
        out.push_str(v);
    }
    out
}

/// Signs a parameter set; returns upper-case hex.
pub fn sign<'a, I>(params: I, secret: &str, method: SignMethod) -> String
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let data = string_to_sign(params);
    let digest: Vec<u8> = match method {
        SignMethod::Md5 => {
            let mut h = Md5::new();
            h.update(secret.as_bytes());
            h.update(data.as_bytes());
            h.update(secret.as_bytes());
            h.finalize().to_vec()
        }
        SignMethod::HmacMd5 => match Hmac::<Md5>::new_from_slice(secret.as_bytes()) {
            Ok(mut mac) => {
                mac.update(data.as_bytes());
                mac.finalize().into_bytes().to_vec()
            }
            // HMAC accepts keys of any length; unreachable in practice.
            Err(_) => Vec::new(),
        },
        SignMethod::HmacSha256 => match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
            Ok(mut mac) => {
                mac.update(data.as_bytes());
                mac.finalize().into_bytes().to_vec()
            }
            Err(_) => Vec::new(),
        },
    };
    upper_hex(&digest)
}

fn upper_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

/// Signs TOP requests for the shared HTTP client: parses the form body, adds `sign`.
///
/// `Debug` never prints the secret.
#[derive(Clone)]
pub struct TopSigner {
    secret: String,
    method: SignMethod,
}

impl TopSigner {
    /// A signer for an app secret and sign method.
    pub fn new(secret: impl Into<String>, method: SignMethod) -> TopSigner {
        TopSigner {
            secret: secret.into(),
            method,
        }
    }

    /// The sign method (it must also be sent as the `sign_method` parameter).
    pub fn method(&self) -> SignMethod {
        self.method
    }
}

impl fmt::Debug for TopSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TopSigner")
            .field("secret", &"<redacted>")
            .field("method", &self.method)
            .finish()
    }
}

impl RequestSigner for TopSigner {
    fn sign(&self, request: &mut HttpRequest) -> Result<()> {
        let mut pairs: Vec<(String, String)> =
            marketsync_http::url::form_urlencoded::parse(&request.body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                // Like the SDK's `TaobaoHashMap.put`: an empty or whitespace-only pair is not
                // sent (and so not signed).
                .filter(|(k, v)| k != "sign" && !is_top_empty(k) && !is_top_empty(v))
                .collect();
        // Query parameters are signed too (TOP signs every text parameter).
        let query = request.query_pairs();
        let sig = sign(
            pairs
                .iter()
                .chain(query.iter())
                .map(|(k, v)| (k.as_str(), v.as_str())),
            &self.secret,
            self.method,
        );
        pairs.push(("sign".to_owned(), sig));
        let body = marketsync_http::url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&pairs)
            .finish();
        request.body = body.into_bytes();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The classic TOP example parameter set (marketplaces.md §1.1 / §11 vector 1).
    fn vector_params(method: &'static str) -> Vec<(&'static str, &'static str)> {
        vec![
            ("method", "taobao.item.seller.get"),
            ("app_key", "12345678"),
            ("session", "test"),
            ("timestamp", "2016-01-01 12:00:00"),
            ("format", "json"),
            ("v", "2.0"),
            ("sign_method", method),
            ("fields", "num_iid,title,nick,price,num"),
            ("num_iid", "11223344"),
        ]
    }

    #[test]
    fn official_md5_vector() {
        assert_eq!(
            string_to_sign(vector_params("md5")),
            "app_key12345678fieldsnum_iid,title,nick,price,numformatjsonmethodtaobao.item.seller.getnum_iid11223344sessiontestsign_methodmd5timestamp2016-01-01 12:00:00v2.0"
        );
        assert_eq!(
            sign(vector_params("md5"), "helloworld", SignMethod::Md5),
            "66987CB115214E59E6EC978214934FB8"
        );
    }

    #[test]
    fn hmac_md5_vector() {
        assert_eq!(
            sign(vector_params("hmac"), "helloworld", SignMethod::HmacMd5),
            "D56D7858309C31B6251083A874D48273"
        );
    }

    #[test]
    fn hmac_sha256_vector() {
        assert_eq!(
            sign(
                vector_params("hmac-sha256"),
                "helloworld",
                SignMethod::HmacSha256
            ),
            "04DB15AD0774D5CFCE2C837DE43E3FCEA9011ED74F3038FB6AB5F3C4CEA119E8"
        );
    }

    #[test]
    fn empty_values_and_sign_are_skipped() {
        let mut p = vector_params("md5");
        p.push(("buyer_nick", ""));
        p.push(("sign", "WHATEVER"));
        p.push(("", "orphan"));
        assert_eq!(
            sign(p, "helloworld", SignMethod::Md5),
            "66987CB115214E59E6EC978214934FB8"
        );
    }

    #[test]
    fn signer_appends_sign_to_form_body() {
        let url = "http://127.0.0.1/router/rest".parse().unwrap();
        let pairs: Vec<(String, String)> = vector_params("md5")
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let mut req = HttpRequest::new(marketsync_http::http::Method::POST, url).form_body(&pairs);
        TopSigner::new("helloworld", SignMethod::Md5)
            .sign(&mut req)
            .unwrap();
        let body = String::from_utf8(req.body.clone()).unwrap_or_default();
        assert!(
            body.ends_with("sign=66987CB115214E59E6EC978214934FB8"),
            "{body}"
        );
        let dbg = format!("{:?}", TopSigner::new("helloworld", SignMethod::Md5));
        assert!(!dbg.contains("helloworld"));
    }

    #[test]
    fn whitespace_only_values_are_empty_like_the_java_sdk() {
        // The official Java SDK's StringUtils.isEmpty is true for "   ": such a pair is dropped
        // by TaobaoHashMap.put, so it is neither sent nor signed.
        let mut p = vector_params("md5");
        p.push(("buyer_nick", "   "));
        p.push(("memo", "\t\r\n\u{3000}\u{2003}\u{001F}"));
        p.push(("  ", "orphan"));
        assert_eq!(
            sign(p, "helloworld", SignMethod::Md5),
            "66987CB115214E59E6EC978214934FB8"
        );
        // Java does not count the non-breaking spaces (nor U+0085) as whitespace: such a value is
        // sent and signed.
        for kept in ["\u{00A0}", "\u{2007}", "\u{202F}", "\u{0085}", " a "] {
            assert!(!is_top_empty(kept), "{kept:?}");
            let mut p = vector_params("md5");
            p.push(("buyer_nick", kept));
            assert_ne!(
                sign(p, "helloworld", SignMethod::Md5),
                "66987CB115214E59E6EC978214934FB8",
                "{kept:?}"
            );
        }
        assert!(is_top_empty(""));

        // The signer leaves such a pair out of the body it sends.
        let url = "http://127.0.0.1/router/rest".parse().unwrap();
        let mut pairs: Vec<(String, String)> = vector_params("md5")
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        pairs.push(("buyer_nick".into(), "  ".into()));
        let mut req = HttpRequest::new(marketsync_http::http::Method::POST, url).form_body(&pairs);
        TopSigner::new("helloworld", SignMethod::Md5)
            .sign(&mut req)
            .unwrap();
        let body = String::from_utf8(req.body.clone()).unwrap_or_default();
        assert!(!body.contains("buyer_nick"), "{body}");
        assert!(
            body.ends_with("sign=66987CB115214E59E6EC978214934FB8"),
            "{body}"
        );
    }

    #[test]
    fn parses_method_names() {
        assert_eq!("hmac".parse::<SignMethod>().ok(), Some(SignMethod::HmacMd5));
        assert_eq!(
            "HMAC-SHA256".parse::<SignMethod>().ok(),
            Some(SignMethod::HmacSha256)
        );
        assert!("sha1".parse::<SignMethod>().is_err());
    }
}
