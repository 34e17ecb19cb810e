//! Helpers shared by the fuzz targets: splitting one fuzz input into the pieces a target needs.

/// Splits `data` at the first `sep` byte: (before, after). No separator: (data, empty).
pub fn split_once(data: &[u8], sep: u8) -> (&[u8], &[u8]) {
    match data.iter().position(|b| *b == sep) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

/// Lossy UTF-8 (a fuzz input is bytes; the APIs under test take text).
pub fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// `key=value` pairs from lines (`\n`-separated), keys de-duplicated (last wins), as a platform's
/// parameter map would hold them.
pub fn pairs(data: &[u8]) -> Vec<(String, String)> {
    let mut map = std::collections::BTreeMap::new();
    for line in text(data).split('\n') {
        let (k, v) = line.split_once('=').unwrap_or((line, ""));
        map.insert(k.to_owned(), v.to_owned());
    }
    map.into_iter().collect()
}
