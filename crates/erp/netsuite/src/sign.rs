//! Token-Based Authentication: OAuth 1.0a (RFC 5849) with HMAC-SHA256, as NetSuite applies it.
//!
//! 1. The `oauth_*` parameters (`oauth_consumer_key`, `oauth_token`, `oauth_nonce`,
//!    `oauth_timestamp`, `oauth_signature_method=HMAC-SHA256`, `oauth_version=1.0`) plus every
//!    query parameter of the URL (decoded, then re-encoded) — and form-body parameters for
//!    `application/x-www-form-urlencoded` bodies only; JSON bodies are never signed — are
//!    percent-encoded with the RFC 3986 unreserved set, sorted by encoded name then encoded value
//!    (byte order, so `Z` sorts before `a`), and joined as `name=value` with `&`.
//! 2. The base URL is scheme and host in lower case, the port only when it is not the default,
//!    and the path as-is, without the query.
//! 3. The base string is `METHOD&enc(base URL)&enc(parameter string)`.
//! 4. The key is `enc(consumer secret)&enc(token secret)`; the signature is
//!    Base64(HMAC-SHA256(key, base string)).
//! 5. The `Authorization` header carries `realm` (the account id in upper case with `_`, never
//!    signed) and the `oauth_*` parameters with the percent-encoded signature.
//!
//! The functions are tested against Oracle's published REST and RESTlet examples and the
//! RFC 5849 examples.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use marketsync_core::{Error, ErrorKind, Result};
use marketsync_http::{HttpRequest, RequestSigner};
use sha2::{Digest, Sha256};
use url::Url;

/// Percent-encodes with the RFC 3986 unreserved set (`A-Z a-z 0-9 - . _ ~` stay, everything
/// else becomes `%XX` with upper-case hex over the UTF-8 bytes).
pub fn percent_encode(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
    out
}

/// The base string URL: lower-case scheme and host, the port only if not the scheme's default,
/// the path as-is, no query or fragment.
pub fn base_string_uri(url: &Url) -> String {
    let scheme = url.scheme().to_ascii_lowercase();
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    // `Url::port` is already `None` for the scheme's default port.
    match url.port() {
        Some(p) => format!("{scheme}://{host}:{p}{}", url.path()),
        None => format!("{scheme}://{host}{}", url.path()),
    }
}

/// The normalized parameter string: every pair percent-encoded, sorted by encoded name then
/// encoded value, joined as `name=value` with `&`.
pub fn normalized_parameters(params: &[(String, String)]) -> String {
    let mut encoded: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (percent_encode(k), percent_encode(v)))
        .collect();
    encoded.sort();
    let mut out = String::new();
    for (i, (k, v)) in encoded.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// The signature base string of a request: `METHOD&enc(base URI)&enc(parameters)`, where the
/// parameters are `oauth` plus the URL's decoded query pairs plus `form` (pass form pairs only
/// for `application/x-www-form-urlencoded` bodies).
pub fn signature_base_string(
    method: &str,
    url: &Url,
    oauth: &[(String, String)],
    form: &[(String, String)],
) -> String {
    let mut params: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    params.extend(oauth.iter().cloned());
    params.extend(form.iter().cloned());
    format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        percent_encode(&base_string_uri(url)),
        percent_encode(&normalized_parameters(&params))
    )
}

/// The body parameters RFC 5849 §3.4.1.3.1 signs: the decoded name/value pairs of an
/// `application/x-www-form-urlencoded` body (`+` is a space, a name without `=` has an empty
/// value), in body order; nothing for any other content type (JSON bodies are never signed).
pub fn form_parameters(content_type: Option<&str>, body: &[u8]) -> Vec<(String, String)> {
    let is_form = content_type.is_some_and(|ct| {
        ct.split(';').next().is_some_and(|media| {
            media
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
    });
    if !is_form || body.is_empty() {
        return Vec::new();
    }
    url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The signing key: `enc(consumer secret)&enc(token secret)`.
pub fn signing_key(consumer_secret: &str, token_secret: &str) -> String {
    format!(
        "{}&{}",
        percent_encode(consumer_secret),
        percent_encode(token_secret)
    )
}

/// Base64 of the HMAC of `base_string` under `key`, with any HMAC (`Hmac<Sha256>` for NetSuite;
/// the RFC 5849 examples use `Hmac<Sha1>`).
pub fn hmac_base64<M: Mac + hmac::digest::KeyInit>(key: &str, base_string: &str) -> Result<String> {
    let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(key.as_bytes())
        .map_err(|_| Error::new(ErrorKind::ConfigInvalid, "invalid HMAC key"))?;
    mac.update(base_string.as_bytes());
    Ok(base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
}

/// HMAC-SHA256 signature, Base64 (not yet percent-encoded).
pub fn sign_hmac_sha256(
    base_string: &str,
    consumer_secret: &str,
    token_secret: &str,
) -> Result<String> {
    hmac_base64::<Hmac<Sha256>>(&signing_key(consumer_secret, token_secret), base_string)
}

/// The realm for an account id: upper case, `-` replaced by `_` (`1234567-sb1` → `1234567_SB1`).
pub fn realm_of(account_id: &str) -> String {
    account_id.trim().to_ascii_uppercase().replace('-', "_")
}

/// The host label for an account id: lower case, `_` replaced by `-` (`1234567_SB1` →
/// `1234567-sb1`), as in `https://1234567-sb1.suitetalk.api.netsuite.com`.
pub fn host_label_of(account_id: &str) -> String {
    account_id.trim().to_ascii_lowercase().replace('_', "-")
}

/// The `oauth_*` parameters of one request (everything except the signature).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthParams {
    /// `oauth_consumer_key`.
    pub consumer_key: String,
    /// `oauth_token` (the token id).
    pub token: String,
    /// `oauth_nonce`.
    pub nonce: String,
    /// `oauth_timestamp` (Unix seconds).
    pub timestamp: i64,
    /// `oauth_signature_method`.
    pub signature_method: String,
    /// `oauth_version`, if sent.
    pub version: Option<String>,
}

impl OAuthParams {
    /// The parameters for HMAC-SHA256 and `oauth_version=1.0`, as NetSuite expects.
    pub fn hmac_sha256(
        consumer_key: &str,
        token: &str,
        nonce: &str,
        timestamp: i64,
    ) -> OAuthParams {
        OAuthParams {
            consumer_key: consumer_key.to_owned(),
            token: token.to_owned(),
            nonce: nonce.to_owned(),
            timestamp,
            signature_method: "HMAC-SHA256".into(),
            version: Some("1.0".into()),
        }
    }

    /// As name/value pairs for the base string.
    pub fn pairs(&self) -> Vec<(String, String)> {
        let mut v = vec![
            ("oauth_consumer_key".to_owned(), self.consumer_key.clone()),
            ("oauth_nonce".to_owned(), self.nonce.clone()),
            (
                "oauth_signature_method".to_owned(),
                self.signature_method.clone(),
            ),
            ("oauth_timestamp".to_owned(), self.timestamp.to_string()),
            ("oauth_token".to_owned(), self.token.clone()),
        ];
        if let Some(version) = &self.version {
            v.push(("oauth_version".to_owned(), version.clone()));
        }
        v
    }

    /// The `Authorization` header value, in the parameter order of Oracle's example.
    pub fn authorization_header(&self, realm: &str, signature: &str) -> String {
        let mut h = format!(
            "OAuth realm=\"{}\", oauth_token=\"{}\", oauth_consumer_key=\"{}\", oauth_nonce=\"{}\", oauth_timestamp=\"{}\", oauth_signature_method=\"{}\"",
            realm,
            percent_encode(&self.token),
            percent_encode(&self.consumer_key),
            percent_encode(&self.nonce),
            self.timestamp,
            percent_encode(&self.signature_method),
        );
        if let Some(version) = &self.version {
            h.push_str(&format!(", oauth_version=\"{}\"", percent_encode(version)));
        }
        h.push_str(&format!(
            ", oauth_signature=\"{}\"",
            percent_encode(signature)
        ));
        h
    }
}

/// TBA credentials: the integration record's consumer key/secret and the access token.
#[derive(Clone)]
pub struct TbaCredentials {
    /// Consumer key (integration record).
    pub consumer_key: String,
    /// Consumer secret.
    pub consumer_secret: String,
    /// Token id.
    pub token_id: String,
    /// Token secret.
    pub token_secret: String,
}

impl fmt::Debug for TbaCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TbaCredentials")
            .field("consumer_key", &self.consumer_key)
            .field("consumer_secret", &"<redacted>")
            .field("token_id", &self.token_id)
            .field("token_secret", &"<redacted>")
            .finish()
    }
}

/// A source of Unix time, injectable for tests.
pub type Clock = fn() -> i64;

fn system_clock() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Signs NetSuite REST requests with TBA (HMAC-SHA256). Each request gets a fresh nonce.
pub struct TbaSigner {
    credentials: TbaCredentials,
    realm: String,
    clock: Clock,
    counter: AtomicU64,
}

impl fmt::Debug for TbaSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TbaSigner")
            .field("credentials", &self.credentials)
            .field("realm", &self.realm)
            .finish()
    }
}

impl TbaSigner {
    /// A signer for an account id in either form (`1234567-sb1` or `1234567_SB1`).
    pub fn new(account_id: &str, credentials: TbaCredentials) -> TbaSigner {
        TbaSigner {
            credentials,
            realm: realm_of(account_id),
            clock: system_clock,
            counter: AtomicU64::new(0),
        }
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, clock: Clock) -> TbaSigner {
        self.clock = clock;
        self
    }

    /// The realm sent in the header.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// A 20-character alphanumeric nonce, unique per signer and request.
    fn nonce(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let nanos = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
        let mut h = Sha256::new();
        h.update(self.credentials.token_id.as_bytes());
        h.update(n.to_be_bytes());
        h.update(nanos.to_be_bytes());
        h.update(std::process::id().to_be_bytes());
        const ALNUM: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        h.finalize()
            .iter()
            .take(20)
            .map(|b| char::from(ALNUM[usize::from(*b) % ALNUM.len()]))
            .collect()
    }

    /// The `Authorization` header for a request without body parameters, with a given nonce and
    /// timestamp.
    pub fn authorization_for(
        &self,
        method: &str,
        url: &Url,
        nonce: &str,
        timestamp: i64,
    ) -> Result<String> {
        self.authorization_with_form(method, url, &[], nonce, timestamp)
    }

    /// The `Authorization` header for a request whose form-encoded body parameters are `form`
    /// (see [`form_parameters`]), with a given nonce and timestamp.
    pub fn authorization_with_form(
        &self,
        method: &str,
        url: &Url,
        form: &[(String, String)],
        nonce: &str,
        timestamp: i64,
    ) -> Result<String> {
        let params = OAuthParams::hmac_sha256(
            &self.credentials.consumer_key,
            &self.credentials.token_id,
            nonce,
            timestamp,
        );
        let base = signature_base_string(method, url, &params.pairs(), form);
        let signature = sign_hmac_sha256(
            &base,
            &self.credentials.consumer_secret,
            &self.credentials.token_secret,
        )?;
        Ok(params.authorization_header(&self.realm, &signature))
    }
}

impl RequestSigner for TbaSigner {
    fn sign(&self, request: &mut HttpRequest) -> Result<()> {
        // RFC 5849 §3.4.1.3.1: a form-encoded body's parameters are signed too (a user's form
        // POST to a RESTlet); any other body is not.
        let content_type = request
            .headers
            .get(marketsync_http::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let form = form_parameters(content_type, &request.body);
        let header = self.authorization_with_form(
            request.method.as_str(),
            &request.url,
            &form,
            &self.nonce(),
            (self.clock)(),
        )?;
        let value = marketsync_http::http::HeaderValue::from_str(&header).map_err(|e| {
            Error::new(ErrorKind::ConfigInvalid, "invalid OAuth header").with_source(e)
        })?;
        request
            .headers
            .insert(marketsync_http::http::header::AUTHORIZATION, value);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CK: &str = "ef40afdd8abaac111b13825dd5e5e2ddddb44f86d5a0dd6dcf38c20aae6b67e4";
    const CS: &str = "d26ad321a4b2f23b0741c8d38392ce01c3e23e109df6c96eac6d099e9ab9e8b5";
    const TK: &str = "2b0ce516420110bcbd36b69e99196d1b7f6de3c6234c5afb799b73d87569f5cc";
    const TS: &str = "c29a677df7d5439a458c063654187e3d678d73aca8e3c9d8bea1478a3eb0d295";
    const NONCE: &str = "fjaLirsIcCGVZWzBX0pg";
    const TIME: i64 = 1508242306;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn signing_key_is_encoded_secrets() {
        assert_eq!(
            signing_key(CS, TS),
            "d26ad321a4b2f23b0741c8d38392ce01c3e23e109df6c96eac6d099e9ab9e8b5&c29a677df7d5439a458c063654187e3d678d73aca8e3c9d8bea1478a3eb0d295"
        );
    }

    /// Oracle's "REST Web Services Header Example" (vector NS-1).
    #[test]
    fn netsuite_rest_vector() {
        let u =
            url("https://123456.suitetalk.api.netsuite.com/services/rest/record/v1/employee/40");
        let p = OAuthParams::hmac_sha256(CK, TK, NONCE, TIME);
        let base = signature_base_string("GET", &u, &p.pairs(), &[]);
        assert_eq!(
            base,
            "GET&https%3A%2F%2F123456.suitetalk.api.netsuite.com%2Fservices%2Frest%2Frecord%2Fv1%2Femployee%2F40&oauth_consumer_key%3Def40afdd8abaac111b13825dd5e5e2ddddb44f86d5a0dd6dcf38c20aae6b67e4%26oauth_nonce%3DfjaLirsIcCGVZWzBX0pg%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1508242306%26oauth_token%3D2b0ce516420110bcbd36b69e99196d1b7f6de3c6234c5afb799b73d87569f5cc%26oauth_version%3D1.0"
        );
        let sig = sign_hmac_sha256(&base, CS, TS).unwrap();
        assert_eq!(sig, "B5OIWznZ2YP0OB7VrJrGkYsTh+8H+5T9Hag+o92q0zY=");
        assert_eq!(
            percent_encode(&sig),
            "B5OIWznZ2YP0OB7VrJrGkYsTh%2B8H%2B5T9Hag%2Bo92q0zY%3D"
        );
        let signer = TbaSigner::new(
            "123456",
            TbaCredentials {
                consumer_key: CK.into(),
                consumer_secret: CS.into(),
                token_id: TK.into(),
                token_secret: TS.into(),
            },
        );
        assert_eq!(
            signer.authorization_for("GET", &u, NONCE, TIME).unwrap(),
            "OAuth realm=\"123456\", oauth_token=\"2b0ce516420110bcbd36b69e99196d1b7f6de3c6234c5afb799b73d87569f5cc\", oauth_consumer_key=\"ef40afdd8abaac111b13825dd5e5e2ddddb44f86d5a0dd6dcf38c20aae6b67e4\", oauth_nonce=\"fjaLirsIcCGVZWzBX0pg\", oauth_timestamp=\"1508242306\", oauth_signature_method=\"HMAC-SHA256\", oauth_version=\"1.0\", oauth_signature=\"B5OIWznZ2YP0OB7VrJrGkYsTh%2B8H%2B5T9Hag%2Bo92q0zY%3D\""
        );
    }

    /// Oracle's RESTlet example (vector NS-2): query parameters are signed, sorted byte-wise.
    #[test]
    fn netsuite_restlet_vector() {
        let u = url(
            "https://123456.restlets.api.netsuite.com/app/site/hosting/restlet.nl?script=6&deploy=1&customParam=someValue&testParam=someOtherValue",
        );
        let p = OAuthParams::hmac_sha256(CK, TK, NONCE, TIME);
        let base = signature_base_string("POST", &u, &p.pairs(), &[]);
        assert_eq!(
            base,
            "POST&https%3A%2F%2F123456.restlets.api.netsuite.com%2Fapp%2Fsite%2Fhosting%2Frestlet.nl&customParam%3DsomeValue%26deploy%3D1%26oauth_consumer_key%3Def40afdd8abaac111b13825dd5e5e2ddddb44f86d5a0dd6dcf38c20aae6b67e4%26oauth_nonce%3DfjaLirsIcCGVZWzBX0pg%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1508242306%26oauth_token%3D2b0ce516420110bcbd36b69e99196d1b7f6de3c6234c5afb799b73d87569f5cc%26oauth_version%3D1.0%26script%3D6%26testParam%3DsomeOtherValue"
        );
        let sig = sign_hmac_sha256(&base, CS, TS).unwrap();
        assert_eq!(sig, "+KK4SKNgz4ZiILGLwOMtfYlgcXSy1eis8ldE9X90azQ=");
        assert_eq!(
            percent_encode(&sig),
            "%2BKK4SKNgz4ZiILGLwOMtfYlgcXSy1eis8ldE9X90azQ%3D"
        );
    }

    /// Vector NS-3: the RESTlet example on host `1234567`.
    #[test]
    fn netsuite_restlet_vector_other_host() {
        let u = url(
            "https://1234567.restlets.api.netsuite.com/app/site/hosting/restlet.nl?script=6&deploy=1&customParam=someValue&testParam=someOtherValue",
        );
        let p = OAuthParams::hmac_sha256(CK, TK, NONCE, TIME);
        let base = signature_base_string("POST", &u, &p.pairs(), &[]);
        assert_eq!(
            sign_hmac_sha256(&base, CS, TS).unwrap(),
            "i7MEtGwhCTIZbTsTrNGw9LdcERn4wsjt5C7TxmKWIfU="
        );
    }

    /// Vector NS-4: encoded query values are decoded, then encoded again (double-encoded in the
    /// base string).
    #[test]
    fn query_encoding_vector() {
        let u = url("https://a.suitetalk.api.netsuite.com/p?q=email%20IS%20%22a%22&limit=5");
        let base = signature_base_string("GET", &u, &[("oauth_nonce".into(), "n".into())], &[]);
        assert_eq!(
            base,
            "GET&https%3A%2F%2Fa.suitetalk.api.netsuite.com%2Fp&limit%3D5%26oauth_nonce%3Dn%26q%3Demail%2520IS%2520%2522a%2522"
        );
    }

    /// RFC 5849 §1.2 (HMAC-SHA1, no oauth_version), through the generic HMAC.
    #[test]
    fn rfc5849_section_1_2_vector() {
        let u = url("http://photos.example.net/photos?file=vacation.jpg&size=original");
        let p = OAuthParams {
            consumer_key: "dpf43f3p2l4k3l03".into(),
            token: "nnch734d00sl2jdk".into(),
            nonce: "chapoH".into(),
            timestamp: 137131202,
            signature_method: "HMAC-SHA1".into(),
            version: None,
        };
        let base = signature_base_string("GET", &u, &p.pairs(), &[]);
        assert_eq!(
            base,
            "GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacation.jpg%26oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3DchapoH%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131202%26oauth_token%3Dnnch734d00sl2jdk%26size%3Doriginal"
        );
        let sig = hmac_base64::<Hmac<sha1::Sha1>>(
            &signing_key("kd94hf93k423kf44", "pfkkdhi9sl3r4s00"),
            &base,
        )
        .unwrap();
        assert_eq!(sig, "MdpQcU8iPSUjWoN/UDMsK2sui9I=");
        assert_eq!(percent_encode(&sig), "MdpQcU8iPSUjWoN%2FUDMsK2sui9I%3D");
    }

    /// RFC 5849 §3.4.1.1 parameter normalisation (SHA-256 / oauth_version variant): duplicate
    /// names kept and sorted by value, encoded query values and form parameters included.
    #[test]
    fn rfc5849_normalisation_vector() {
        let u = url("https://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b");
        let p = OAuthParams::hmac_sha256(
            "9djdj82h48djs9d2",
            "kkk9d7dh3k39sjv7",
            "7d8f3e4a",
            137131201,
        );
        let form: Vec<(String, String)> = url::form_urlencoded::parse(b"c2=&a3=2+q")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let base = signature_base_string("POST", &u, &p.pairs(), &form);
        assert_eq!(
            base,
            "POST&https%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7%26oauth_version%3D1.0"
        );
    }

    /// RFC 5849 §3.4.1.1, exactly as printed: `POST /request?b5=%3D%253D&a3=a&c%40=&a2=r%20b`
    /// on `http://example.com` with the form body `c2&a3=2+q` (a name without `=`, `+` for a
    /// space) and HMAC-SHA1 without `oauth_version`. The RFC gives no secrets for this
    /// example, so its base string is the vector.
    #[test]
    fn rfc5849_section_3_4_1_1_body_parameters() {
        let u = url("http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b");
        let form = form_parameters(Some("application/x-www-form-urlencoded"), b"c2&a3=2+q");
        assert_eq!(
            form,
            vec![
                ("c2".to_owned(), String::new()),
                ("a3".to_owned(), "2 q".to_owned())
            ]
        );
        let p = OAuthParams {
            consumer_key: "9djdj82h48djs9d2".into(),
            token: "kkk9d7dh3k39sjv7".into(),
            nonce: "7d8f3e4a".into(),
            timestamp: 137131201,
            signature_method: "HMAC-SHA1".into(),
            version: None,
        };
        assert_eq!(
            signature_base_string("POST", &u, &p.pairs(), &form),
            concat!(
                "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q",
                "%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_",
                "key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_m",
                "ethod%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk",
                "9d7dh3k39sjv7"
            )
        );
        // Only form bodies are signed.
        assert!(form_parameters(Some("application/json"), b"c2&a3=2+q").is_empty());
        assert!(form_parameters(None, b"c2&a3=2+q").is_empty());
        assert_eq!(
            form_parameters(
                Some("Application/X-WWW-Form-URLEncoded; charset=utf-8"),
                b"a=1"
            )
            .len(),
            1
        );
    }

    /// The signer signs a form body's parameters (and not a JSON body): the same request with
    /// and without the form body signs differently, and a JSON body signs like no body.
    #[test]
    fn the_signer_signs_form_bodies_only() {
        fn clock() -> i64 {
            TIME
        }
        let signer = TbaSigner::new(
            "123456",
            TbaCredentials {
                consumer_key: CK.into(),
                consumer_secret: CS.into(),
                token_id: TK.into(),
                token_secret: TS.into(),
            },
        )
        .with_clock(clock);
        let u = url(
            "https://123456.restlets.api.netsuite.com/app/site/hosting/restlet.nl?script=6&deploy=1",
        );
        let form = vec![("memo".to_owned(), "a b+c".to_owned())];
        let signature_of = |req: &HttpRequest| {
            let h = req
                .headers
                .get(marketsync_http::http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            h.split("oauth_signature=\"")
                .nth(1)
                .unwrap_or_default()
                .to_owned()
        };
        let mut with_form =
            HttpRequest::new(marketsync_http::http::Method::POST, u.clone()).form_body(&form);
        signer.sign(&mut with_form).unwrap();
        // Recompute from the header's own nonce: the form pairs are in the base string.
        let header = with_form
            .headers
            .get(marketsync_http::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let nonce = header
            .split("oauth_nonce=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or_default()
            .to_owned();
        assert_eq!(
            header,
            signer
                .authorization_with_form("POST", &u, &form, &nonce, TIME)
                .unwrap()
        );
        assert_ne!(
            header,
            signer.authorization_for("POST", &u, &nonce, TIME).unwrap()
        );
        let mut json = HttpRequest::new(marketsync_http::http::Method::POST, u.clone())
            .json_body(b"{\"memo\":\"a\"}".to_vec());
        signer.sign(&mut json).unwrap();
        let json_header = json
            .headers
            .get(marketsync_http::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let json_nonce = json_header
            .split("oauth_nonce=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or_default()
            .to_owned();
        assert_eq!(
            json_header,
            signer
                .authorization_for("POST", &u, &json_nonce, TIME)
                .unwrap()
        );
        assert!(!signature_of(&with_form).is_empty());
    }

    #[test]
    fn encoding_realm_and_ports() {
        assert_eq!(percent_encode("a!'()*b"), "a%21%27%28%29%2Ab");
        assert_eq!(percent_encode("~-._ é"), "~-._%20%C3%A9");
        assert_eq!(realm_of("1234567-sb1"), "1234567_SB1");
        assert_eq!(host_label_of("1234567_SB1"), "1234567-sb1");
        assert_eq!(
            base_string_uri(&url("HTTPS://Example.COM:443/A/b?x=1")),
            "https://example.com/A/b"
        );
        assert_eq!(
            base_string_uri(&url("http://127.0.0.1:8080/p")),
            "http://127.0.0.1:8080/p"
        );
    }

    #[test]
    fn nonces_are_unique_alphanumeric_and_debug_redacts() {
        let s = TbaSigner::new(
            "1",
            TbaCredentials {
                consumer_key: "ck".into(),
                consumer_secret: "SECRET-C".into(),
                token_id: "tk".into(),
                token_secret: "SECRET-T".into(),
            },
        );
        let a = s.nonce();
        let b = s.nonce();
        assert_ne!(a, b);
        assert_eq!(a.len(), 20);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("SECRET"), "{dbg}");
    }
}
