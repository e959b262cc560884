//! Response bodies, written as `serde_json::to_vec` writes them, faster.
//!
//! Serializing a FullLearnerView's response was an eighth of its instructions at concurrency 16
//! (callgrind, `examples/view_profile.rs`), and most of that was `serde_json`'s string escaping:
//! a table lookup and a branch per byte, and the call's setup for every short key. Here a string
//! is checked eight bytes at a time and, when nothing in it needs escaping (almost always), copied
//! whole between quotes; a string that needs escaping, a number, binary data, the errors and the
//! extensions are written by `serde_json` itself. The output is byte for byte what `serde_json`
//! gives for the same response (the tests compare the two on generated values), except that with
//! `Fragments::Raw` binary data is JSON text already written (`graphql::fast::Render`).

use std::sync::atomic::{AtomicUsize, Ordering};

use async_graphql::{BatchResponse, Name, Response, Value};

/// The size of the last body written: the next one starts with that much room, so a large
/// response is not copied through a dozen doublings of its buffer.
static LAST_SIZE: AtomicUsize = AtomicUsize::new(4096);

/// The largest room a body starts with (a larger one still grows as it needs).
const MAX_START: usize = 1 << 20;

/// How `Value::Binary` is written.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Fragments {
    /// As serde_json writes bytes: a list of numbers.
    Bytes,
    /// As JSON text already written, copied as it is: the objects `graphql::fast` writes for a
    /// request marked `fast::Render`, which the HTTP layer marks every request with.
    Raw,
}

/// The JSON text of `response`.
pub fn to_vec(response: &BatchResponse, fragments: Fragments) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(LAST_SIZE.load(Ordering::Relaxed).clamp(256, MAX_START));
    match response {
        BatchResponse::Single(r) => write_response(&mut out, r, fragments)?,
        BatchResponse::Batch(rs) => {
            out.push(b'[');
            for (i, r) in rs.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_response(&mut out, r, fragments)?;
            }
            out.push(b']');
        }
    }
    LAST_SIZE.store(out.len() + out.len() / 8, Ordering::Relaxed);
    Ok(out)
}

/// A response as async-graphql's `Serialize` writes it: `data`, then `extensions` and `errors`
/// when they are not empty.
fn write_response(out: &mut Vec<u8>, r: &Response, fragments: Fragments) -> serde_json::Result<()> {
    out.extend_from_slice(b"{\"data\":");
    write_value(out, &r.data, fragments)?;
    if !r.extensions.is_empty() {
        out.extend_from_slice(b",\"extensions\":");
        serde_json::to_writer(&mut *out, &r.extensions)?;
    }
    if !r.errors.is_empty() {
        out.extend_from_slice(b",\"errors\":");
        serde_json::to_writer(&mut *out, &r.errors)?;
    }
    out.push(b'}');
    Ok(())
}

/// `"key":`, before a member's value. `key` is a response key of a parsed document, a GraphQL
/// name (`[_A-Za-z][_0-9A-Za-z]*`, the only names the parser accepts), which never needs
/// escaping.
pub fn write_key(out: &mut Vec<u8>, key: &Name) {
    debug_assert!(!needs_escape(key.as_bytes()), "{key}");
    out.reserve(key.len() + 3);
    out.push(b'"');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

/// A value as `to_vec` writes it with `Fragments::Raw`.
pub fn write_raw(out: &mut Vec<u8>, value: &Value) -> serde_json::Result<()> {
    write_value(out, value, Fragments::Raw)
}

fn write_value(out: &mut Vec<u8>, value: &Value, fragments: Fragments) -> serde_json::Result<()> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Boolean(true) => out.extend_from_slice(b"true"),
        Value::Boolean(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => serde_json::to_writer(&mut *out, n)?,
        Value::String(s) => write_str(out, s)?,
        Value::Enum(name) => write_str(out, name.as_str())?,
        Value::Binary(text) if fragments == Fragments::Raw => out.extend_from_slice(text),
        Value::Binary(_) => serde_json::to_writer(&mut *out, value)?,
        Value::List(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item, fragments)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, key.as_str())?;
                out.push(b':');
                write_value(out, item, fragments)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

/// A JSON string: copied between quotes when no byte needs escaping, else written by serde_json.
pub fn write_str(out: &mut Vec<u8>, s: &str) -> serde_json::Result<()> {
    if needs_escape(s.as_bytes()) {
        return serde_json::to_writer(&mut *out, s);
    }
    out.reserve(s.len() + 2);
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
    Ok(())
}

/// Whether `bytes` holds a byte serde_json escapes: a control character (below 0x20), `"` or `\`.
/// Eight bytes at a time: a byte of a word is below `n` (for `n` up to 0x80) exactly when
/// `(word - n·0x01…01) & !word & 0x80…80` is not zero, and equal to `c` when `word ^ c·0x01…01`
/// has a zero byte.
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below = |word: u64, n: u8| word.wrapping_sub(ONES * n as u64) & !word & HIGH != 0;
    let escapes = |word: [u8; 8]| {
        let word = u64::from_le_bytes(word);
        below(word, 0x20) || below(word ^ (ONES * b'"' as u64), 1) || below(word ^ (ONES * b'\\' as u64), 1)
    };
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        if escapes(word) {
            return true;
        }
    }
    // The last up to seven bytes as one more word, padded with spaces (which need no escaping).
    let rest = chunks.remainder();
    let mut word = [b' '; 8];
    word[..rest.len()].copy_from_slice(rest);
    !rest.is_empty() && escapes(word)
}

#[cfg(test)]
mod tests {
    use async_graphql::indexmap::IndexMap;
    use async_graphql::{Name, Number, ServerError};
    use proptest::prelude::*;

    use super::*;

    fn leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Boolean),
            any::<i64>().prop_map(|n| Value::Number(n.into())),
            any::<u64>().prop_map(|n| Value::Number(n.into())),
            any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
            any::<String>().prop_map(Value::String),
            "[ -~]{0,40}".prop_map(Value::String),
            "[a-z\"\\\\\\n\\t\\u{1}\\u{1f}é☃]{0,20}".prop_map(Value::String),
            "[A-Z_]{1,12}".prop_map(|s| Value::Enum(Name::new(s))),
            proptest::collection::vec(any::<u8>(), 0..8).prop_map(|b| Value::Binary(b.into())),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        leaf().prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::List),
                proptest::collection::vec((any::<String>(), inner), 0..8)
                    .prop_map(|fields| Value::Object(fields.into_iter().map(|(k, v)| (Name::new(k), v)).collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn bodies_are_what_serde_json_writes(data in value(), more in value(), error in any::<Option<String>>()) {
            let mut single = Response::new(data.clone());
            if let Some(message) = &error {
                single.errors.push(ServerError::new(message.clone(), None));
                single.extensions.insert("trace".into(), more.clone());
            }
            let single = BatchResponse::Single(single);
            prop_assert_eq!(to_vec(&single, Fragments::Bytes).unwrap(), serde_json::to_vec(&single).unwrap());
            let batch = BatchResponse::Batch(vec![Response::new(data), Response::new(more)]);
            prop_assert_eq!(to_vec(&batch, Fragments::Bytes).unwrap(), serde_json::to_vec(&batch).unwrap());
        }

        /// Objects already written (`Fragments::Raw`) are copied in place: a response whose objects
        /// below the top are replaced by their text is written as the response itself.
        #[test]
        fn written_objects_are_copied_as_they_are(data in value()) {
            fn written(v: &Value) -> Value {
                match v {
                    Value::Object(_) => Value::Binary(serde_json::to_vec(v).unwrap().into()),
                    Value::List(items) => Value::List(items.iter().map(written).collect()),
                    other => other.clone(),
                }
            }
            let data = Value::from_json(serde_json::to_value(&data).unwrap()).unwrap();
            let text = match &data {
                Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), written(v))).collect()),
                other => written(other),
            };
            let expected = serde_json::to_vec(&BatchResponse::Single(Response::new(data))).unwrap();
            let body = BatchResponse::Single(Response::new(text));
            prop_assert_eq!(String::from_utf8(to_vec(&body, Fragments::Raw).unwrap()), String::from_utf8(expected));
        }

        #[test]
        fn escaping_is_found_wherever_it_is(prefix in "[ -~&&[^\"\\\\]]{0,20}", special in "[\"\\\\\\u{0}-\\u{1f}]", suffix in "[ -~]{0,20}") {
            let s = format!("{prefix}{special}{suffix}");
            prop_assert!(needs_escape(s.as_bytes()));
            prop_assert!(!needs_escape(prefix.as_bytes()));
        }
    }

    #[test]
    fn every_byte_is_judged_as_serde_json_judges_it() {
        for b in 0..=255u8 {
            for len in 1..=17 {
                for at in 0..len {
                    let mut bytes = vec![0xe9; len];
                    bytes[at] = b;
                    let escaped = b < 0x20 || b == b'"' || b == b'\\';
                    assert_eq!(needs_escape(&bytes), escaped, "byte {b:#x} at {at} of {len}");
                }
            }
        }
        assert!(!needs_escape(b""));
        let map: IndexMap<Name, Value> = [(Name::new("a\"b"), Value::String("x\u{7f}é".into()))].into_iter().collect();
        let body = BatchResponse::Single(Response::new(Value::Object(map)));
        assert_eq!(to_vec(&body, Fragments::Bytes).unwrap(), serde_json::to_vec(&body).unwrap());
    }
}
