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

/// A structure-aware mutation step for the JSON targets (use it from `fuzz_mutator!`): every
/// other call rewrites the input with the hostile-input tests' JSON-aware mutator (values swapped
/// for extremes, keys dropped, arrays emptied or repeated), the others use libFuzzer's own byte
/// mutations. Byte mutations alone rarely keep JSON parseable, so they seldom reach the
/// normalizers' arithmetic; this reaches it on most inputs.
pub fn json_mutate(data: &mut [u8], size: usize, max_size: usize, seed: u32) -> usize {
    if seed % 2 == 0 {
        return libfuzzer_sys::fuzzer_mutate(data, size, max_size);
    }
    let mut mutator = marketsync_testkit::mutate::Mutator::new(u64::from(seed));
    let out = mutator.mutate(&data[..size.min(data.len())]);
    let n = out.len().min(max_size).min(data.len());
    data[..n].copy_from_slice(&out[..n]);
    n
}
