//! The simulator's own TOP signature check, written from the platform's rule (not the
//! connector's code): drop `sign` and empty keys/values (empty as the official Java SDK's
//! `StringUtils.isEmpty` has it: no characters, or only `Character.isWhitespace` ones), sort by
//! key bytes, join `key value` pairs, digest with the secret, compare upper-case hex.

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha2::Sha256;

/// Java's `StringUtils.isEmpty` in the TOP SDK: every char is `Character.isWhitespace` (the
/// Unicode space separators except the non-breaking ones, line/paragraph separators, `\t \n
/// \u{B} \u{C} \r` and U+001C–U+001F).
fn sdk_empty(s: &str) -> bool {
    s.chars().all(|c| {
        matches!(c, '\t'..='\r' | '\u{1C}'..='\u{1F}' | '\u{2028}' | '\u{2029}')
            || (c != '\u{A0}'
                && c != '\u{2007}'
                && c != '\u{202F}'
                && (c == ' '
                    || c == '\u{1680}'
                    || ('\u{2000}'..='\u{200A}').contains(&c)
                    || c == '\u{205F}'
                    || c == '\u{3000}'))
    })
}

/// Computes TOP's expected signature for `params` under `sign_method`; `None` for a method TOP
/// does not know.
pub fn expected_sign(
    params: &[(String, String)],
    secret: &str,
    sign_method: &str,
) -> Option<String> {
    let mut kept: Vec<(&str, &str)> = params
        .iter()
        .filter(|(k, v)| k != "sign" && !sdk_empty(k) && !sdk_empty(v))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    kept.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut joined = Vec::new();
    for (k, v) in kept {
        joined.extend_from_slice(k.as_bytes());
        joined.extend_from_slice(v.as_bytes());
    }
    let bytes: Vec<u8> = match sign_method {
        "md5" => {
            let mut wrapped = secret.as_bytes().to_vec();
            wrapped.extend_from_slice(&joined);
            wrapped.extend_from_slice(secret.as_bytes());
            Md5::digest(&wrapped).to_vec()
        }
        "hmac" => {
            let mut mac = Hmac::<Md5>::new_from_slice(secret.as_bytes()).ok()?;
            mac.update(&joined);
            mac.finalize().into_bytes().to_vec()
        }
        "hmac-sha256" => {
            let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).ok()?;
            mac.update(&joined);
            mac.finalize().into_bytes().to_vec()
        }
        _ => return None,
    };
    Some(bytes.iter().map(|b| format!("{b:02X}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(method: &str) -> Vec<(String, String)> {
        [
            ("app_key", "12345678"),
            ("fields", "num_iid,title,nick,price,num"),
            ("format", "json"),
            ("method", "taobao.item.seller.get"),
            ("num_iid", "11223344"),
            ("session", "test"),
            ("sign_method", method),
            ("timestamp", "2016-01-01 12:00:00"),
            ("v", "2.0"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    #[test]
    fn published_vectors() {
        // OFFICIAL md5 value; hmac / hmac-sha256 are local vectors of the same input.
        assert_eq!(
            expected_sign(&params("md5"), "helloworld", "md5").as_deref(),
            Some("66987CB115214E59E6EC978214934FB8")
        );
        assert_eq!(
            expected_sign(&params("hmac"), "helloworld", "hmac").as_deref(),
            Some("D56D7858309C31B6251083A874D48273")
        );
        assert_eq!(
            expected_sign(&params("hmac-sha256"), "helloworld", "hmac-sha256").as_deref(),
            Some("04DB15AD0774D5CFCE2C837DE43E3FCEA9011ED74F3038FB6AB5F3C4CEA119E8")
        );
        assert_eq!(expected_sign(&params("sha1"), "helloworld", "sha1"), None);
    }

    #[test]
    fn whitespace_only_values_are_not_signed() {
        let base = expected_sign(&params("md5"), "helloworld", "md5");
        let mut p = params("md5");
        p.push(("buyer_nick".into(), " \t\u{3000}".into()));
        p.push(("\u{2003}".into(), "x".into()));
        assert_eq!(expected_sign(&p, "helloworld", "md5"), base);
        let mut p = params("md5");
        p.push(("buyer_nick".into(), "\u{A0}".into()));
        assert_ne!(expected_sign(&p, "helloworld", "md5"), base);
    }
}
