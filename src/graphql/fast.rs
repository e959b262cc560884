//! Objects of long lists answered without a future per scalar field.
//!
//! async-graphql resolves every selected field of every object through a boxed future polled by a
//! `FuturesUnordered`, then merges the results into a map: for an attempt's seven scalars that
//! machinery cost about 16,000 instructions per attempt, against under 2,000 for the values
//! themselves (callgrind, `examples/view_profile.rs`). `Fast` answers the scalar fields a type
//! lists in `Leaves::leaf` directly, in query order, and runs only the other fields (relations,
//! lists, anything that needs the context) through the type's own resolvers, together, as the
//! executor would. A selection it does not handle plainly (fragments, directives, a response key
//! selected twice) goes to the executor whole, as do requests on a schema with extensions, whose
//! per-field hooks must see every field.
//!
//! Over HTTP (`Render`) a fast object is its JSON text rather than a map, and a `List` of them is
//! one piece of text when every item can be written in place; the body writer copies the text.

use std::borrow::Cow;
use std::pin::Pin;

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::{ContainerType, ContextSelectionSet, InputType, Name, OutputType, Positioned, ServerResult, Value};
use chrono::{DateTime, Datelike, Timelike, Utc};
use sea_orm::prelude::Uuid;

use super::ids::{self, Kind};

/// Scalar fields a type answers from what it already holds.
pub trait Leaves: OutputType + ContainerType {
    /// Whether the type answers any field itself; one that does not goes to the executor whole.
    const ANY: bool = true;

    /// The value of the scalar field `name`, exactly as its resolver would give it; `None` for a
    /// field that needs its resolver (or that does not exist).
    fn leaf(&self, _name: &str) -> Option<Leaf<'_>> {
        None
    }

    /// The object-valued field `name` when another object on the fast path answers it without
    /// arguments (`Edge.node`), so a `List` can write it in place.
    fn nested(&self, _name: &str) -> Option<&dyn Written> {
        None
    }
}

/// An object on the fast path, written in place by a `List`.
pub trait Written {
    /// The fields of `set` when the object can be written for them (`selected`).
    fn plain<'a>(&self, set: &'a Positioned<SelectionSet>) -> Option<Vec<&'a Positioned<Field>>>;

    /// Appends the object's JSON text for `fields` (what `plain` gave for the selection of `ctx`)
    /// when each is a leaf or a nested object written in place; otherwise leaves `out` as it was
    /// and says so.
    fn write_with(&self, ctx: &ContextSelectionSet<'_>, fields: &[&Positioned<Field>], out: &mut Vec<u8>) -> bool;
}

impl<T: Leaves> Written for T {
    fn plain<'a>(&self, set: &'a Positioned<SelectionSet>) -> Option<Vec<&'a Positioned<Field>>> {
        selected::<T>(set)
    }

    fn write_with(&self, ctx: &ContextSelectionSet<'_>, fields: &[&Positioned<Field>], out: &mut Vec<u8>) -> bool {
        write_now(self, ctx, fields, &mut Vec::new(), out)
    }
}

/// The fields of each nested object `write_now` wrote, by the index of its field: the same for
/// every item of a list, so worked out for the first.
type Plans<'a> = Vec<Option<Option<Vec<&'a Positioned<Field>>>>>;

/// Writes `root`'s `fields` (in query order, each key once) into `out` when each is a leaf or a
/// nested object written in place; otherwise leaves `out` as it was and returns false.
fn write_now<'a, T: Leaves>(
    root: &T,
    ctx: &ContextSelectionSet<'_>,
    fields: &[&'a Positioned<Field>],
    plans: &mut Plans<'a>,
    out: &mut Vec<u8>,
) -> bool {
    let start = out.len();
    for (i, field) in fields.iter().enumerate() {
        out.push(if i == 0 { b'{' } else { b',' });
        let key = &field.node.response_key().node;
        let name = field.node.name.node.as_str();
        let leaf = leaf_of(root, name);
        let written = match leaf {
            Some(leaf) => {
                crate::json::write_key(out, key);
                leaf.write(out).is_ok()
            }
            None => match root.nested(name) {
                Some(nested) if field.node.arguments.is_empty() => {
                    crate::json::write_key(out, key);
                    if plans.len() < fields.len() {
                        plans.resize_with(fields.len(), || None);
                    }
                    match plans[i].get_or_insert_with(|| nested.plain(&field.node.selection_set)) {
                        Some(nested_fields) => {
                            let ctx_field = ctx.with_field(field);
                            let ctx_set = ctx_field.with_selection_set(&field.node.selection_set);
                            nested.write_with(&ctx_set, nested_fields, out)
                        }
                        None => false,
                    }
                }
                _ => false,
            },
        };
        if !written {
            out.truncate(start);
            return false;
        }
    }
    out.push(b'}');
    true
}

/// A list of objects on the fast path; to GraphQL it is `Vec<T>`. Over HTTP (`Render`) it is one
/// piece of JSON text when every item can be written in place (`write_now`); otherwise each item
/// resolves as a `Fast<&T>` would.
pub struct List<T>(pub Vec<T>);

impl<T: Leaves + Send + Sync> OutputType for List<T> {
    fn type_name() -> Cow<'static, str> {
        <Vec<T> as OutputType>::type_name()
    }

    fn qualified_type_name() -> String {
        <Vec<T> as OutputType>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Vec<T> as OutputType>::create_type_info(registry)
    }

    async fn resolve(&self, ctx: &ContextSelectionSet<'_>, field: &Positioned<Field>) -> ServerResult<Value> {
        if ctx.data_opt::<Render>().is_some()
            && let Some(fields) = plain_fields::<T>(ctx)
        {
            let mut out = Vec::with_capacity((2 + self.0.len() * 64 * fields.len()).min(64 * 1024));
            out.push(b'[');
            let mut written = true;
            let mut plans = Plans::new();
            for (i, item) in self.0.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                if !write_now(item, ctx, &fields, &mut plans, &mut out) {
                    written = false;
                    break;
                }
            }
            if written {
                out.push(b']');
                return Ok(Value::Binary(out.into()));
            }
        }
        if ctx.data_opt::<Unhooked>().is_none() {
            return async_graphql::resolver_utils::resolve_list(
                ctx,
                field,
                self.0.iter().map(Fast),
                Some(self.0.len()),
            )
            .await;
        }
        // What `resolve_list` does on a schema without extensions. A schema whose extensions hook
        // no field (`Unhooked`) gets the same, rather than a hook call and a type name formatted
        // per item.
        let items = self.0.iter().enumerate().map(|(i, item)| async move {
            let ctx_item = ctx.with_index(i);
            Fast(item).resolve(&ctx_item, field).await.map_err(|e| ctx_item.set_error_path(e))
        });
        Ok(Value::List(futures_util::future::try_join_all(items).await?))
    }
}

/// The value of `name` on `root` when it is a leaf (`__typename` included).
fn leaf_of<'a, T: Leaves>(root: &'a T, name: &str) -> Option<Leaf<'a>> {
    match name {
        "__typename" => Some(match root.introspection_type_name() {
            Cow::Borrowed(name) => Leaf::Text(name),
            Cow::Owned(name) => Leaf::Value(Value::String(name)),
        }),
        _ => root.leaf(name),
    }
}

/// A leaf's value as `Leaves::leaf` gives it: the `Value` its resolver would give, or what makes
/// one (text, a time, a global id), which a body can take as JSON text without building a `Value`
/// (an allocation and a copy for each string of each object, then a free).
pub enum Leaf<'a> {
    Value(Value),
    /// A string.
    Text(&'a str),
    /// A time, as `time` gives it.
    Time(DateTime<Utc>),
    /// A global id, as `ids::encode` gives it.
    Id(Kind, Uuid),
}

impl Leaf<'_> {
    /// The value the field's resolver gives.
    pub fn into_value(self) -> Value {
        match self {
            Leaf::Value(value) => value,
            Leaf::Text(text) => Value::String(text.to_owned()),
            Leaf::Time(at) => time_value(&at),
            Leaf::Id(kind, id) => Value::String(ids::encode(kind, id).0),
        }
    }

    /// Appends the value as `json::to_vec` writes `into_value`.
    fn write(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        match self {
            Leaf::Value(value) => crate::json::write_raw(out, value),
            Leaf::Text(text) => crate::json::write_str(out, text),
            Leaf::Time(at) => {
                let start = out.len();
                out.push(b'"');
                if rfc3339(at, out) {
                    out.push(b'"');
                    Ok(())
                } else {
                    out.truncate(start);
                    crate::json::write_raw(out, &time_value(at))
                }
            }
            Leaf::Id(kind, id) => {
                out.push(b'"');
                ids::write(out, *kind, *id);
                out.push(b'"');
                Ok(())
            }
        }
    }
}

/// A leaf's value as its resolver's return type gives it to the executor.
pub fn value<T: InputType>(v: &T) -> Leaf<'static> {
    Leaf::Value(v.to_value())
}

/// A string leaf.
pub fn text(v: &str) -> Leaf<'_> {
    Leaf::Text(v)
}

/// An optional string leaf: `null` when absent.
pub fn text_opt(v: Option<&str>) -> Leaf<'_> {
    v.map_or(Leaf::Value(Value::Null), Leaf::Text)
}

/// A global id leaf.
pub fn id(kind: Kind, id: Uuid) -> Leaf<'static> {
    Leaf::Id(kind, id)
}

/// A `Json` leaf (`Option<Json<_>>` too), as its resolver gives it: the value itself, not the
/// string `value` would make of it.
pub fn json<T: serde::Serialize>(v: &T) -> Leaf<'static> {
    Leaf::Value(async_graphql::to_value(v).unwrap_or_default())
}

/// A `DateTime` leaf.
pub fn time(at: &DateTime<Utc>) -> Leaf<'static> {
    Leaf::Time(*at)
}

/// An optional `DateTime` leaf: `null` when absent, as `value` gives it.
pub fn time_opt(at: &Option<DateTime<Utc>>) -> Leaf<'static> {
    at.map_or(Leaf::Value(Value::Null), Leaf::Time)
}

/// A `DateTime` as `value` gives it (chrono's `to_rfc3339`).
fn time_value(at: &DateTime<Utc>) -> Value {
    let mut out = Vec::with_capacity(35);
    if rfc3339(at, &mut out)
        && let Ok(text) = String::from_utf8(out)
    {
        return Value::String(text);
    }
    at.to_value()
}

/// Appends `at` exactly as chrono's `to_rfc3339` writes it (`+00:00`, and the fraction in 0, 3, 6
/// or 9 digits, the fewest that hold it), without `core::fmt`: chrono formats every part through
/// a `Formatter`, about 740 instructions per time, and every attempt, session and journal entry
/// has two. Years outside 0..=9999 and leap seconds are left to chrono: false, and nothing written.
fn rfc3339(at: &DateTime<Utc>, out: &mut Vec<u8>) -> bool {
    let (date, clock) = (at.date_naive(), at.time());
    let (year, nano) = (date.year(), clock.nanosecond());
    if !(0..=9999).contains(&year) || nano >= 1_000_000_000 {
        return false;
    }
    // Two digits at a time, from a table: a division per digit cost more than the rest.
    const PAIRS: &[u8; 200] =
        b"0001020304050607080910111213141516171819202122232425262728293031323334353637383940414243444546474849\
        5051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899";
    let two = |out: &mut Vec<u8>, n: u32| {
        let i = (n % 100) as usize * 2;
        out.extend_from_slice(&PAIRS[i..i + 2]);
    };
    out.reserve(35);
    let year = year as u32;
    two(out, year / 100);
    two(out, year);
    out.push(b'-');
    two(out, date.month());
    out.push(b'-');
    two(out, date.day());
    out.push(b'T');
    two(out, clock.hour());
    out.push(b':');
    two(out, clock.minute());
    out.push(b':');
    two(out, clock.second());
    if nano != 0 {
        out.push(b'.');
        // The fraction in 3, 6 or 9 digits: a lead digit when the count is odd, then pairs.
        let (value, width) = match nano {
            _ if nano % 1_000_000 == 0 => (nano / 1_000_000, 3),
            _ if nano % 1_000 == 0 => (nano / 1_000, 6),
            _ => (nano, 9),
        };
        let mut place = 10u32.pow(width);
        if width % 2 == 1 {
            place /= 10;
            out.push(b'0' + (value / place % 10) as u8);
        }
        while place > 1 {
            place /= 100;
            two(out, value / place);
        }
    }
    out.extend_from_slice(b"+00:00");
    true
}

/// Marks a schema whose requests run without extensions that hook fields (see the module comment);
/// `documents::Reuse`, which hooks only validation, may be there.
pub struct Unhooked;

impl<T: Leaves> Leaves for &T {
    const ANY: bool = T::ANY;

    fn leaf(&self, name: &str) -> Option<Leaf<'_>> {
        (**self).leaf(name)
    }

    fn nested(&self, name: &str) -> Option<&dyn Written> {
        (**self).nested(name)
    }
}

/// `T` as an output type with the fast path; to GraphQL it is `T`.
pub struct Fast<T>(pub T);

impl<T: Leaves> OutputType for Fast<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn qualified_type_name() -> String {
        T::qualified_type_name()
    }

    fn introspection_type_name(&self) -> Cow<'static, str> {
        self.0.introspection_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(&self, ctx: &ContextSelectionSet<'_>, field: &Positioned<Field>) -> ServerResult<Value> {
        match plain_fields::<T>(ctx) {
            Some(fields) if ctx.data_opt::<Render>().is_some() => render(&self.0, ctx, &fields).await,
            Some(fields) => resolve(&self.0, ctx, &fields).await,
            None => self.0.resolve(ctx, field).await,
        }
    }
}

/// Marks a request whose response is written by `json::to_vec` with `Fragments::Raw`, as the HTTP
/// layer writes every response: there an object on the fast path is its JSON text, written once
/// (`Value::Binary`, which nothing in the schema outputs otherwise), rather than a map of values
/// that is hashed as it is built, walked to be put in query order, walked again to be written and
/// then freed piece by piece.
pub struct Render;

/// `resolve` as JSON text: the fields in query order (`plain_fields` gives them so), each leaf
/// written as `json::to_vec` writes its value, and each other field's value after it resolves.
/// A field that answers an object still to be put in query order (the executor's maps) makes the
/// object a map as `resolve` builds it, with any text below kept as it is.
async fn render<T: Leaves>(
    root: &T,
    ctx: &ContextSelectionSet<'_>,
    fields: &[&Positioned<Field>],
) -> ServerResult<Value> {
    let mut values: Vec<Option<Leaf<'_>>> = Vec::with_capacity(fields.len());
    let mut rest = Vec::with_capacity(fields.len());
    for (i, field) in fields.iter().enumerate() {
        let name = field.node.name.node.as_str();
        let leaf = leaf_of(root, name);
        if leaf.is_none() {
            rest.push(async move { (i, other(root, ctx, field).await) });
        }
        values.push(leaf);
    }
    for (i, result) in futures_util::future::join_all(rest).await {
        match result {
            Ok(value) => values[i] = Some(Leaf::Value(value.unwrap_or_default())),
            // As the executor does: the error is reported and the field left out.
            Err(e) => ctx.add_error(e),
        }
    }
    let written = fields.iter().zip(&values).all(|(field, value)| match value {
        Some(Leaf::Value(value)) => field.node.selection_set.node.items.is_empty() || in_order(value),
        _ => true,
    });
    if written {
        // Sized for the text below, so the object's children (a page's edges, a learner's pages)
        // are copied in once, not again at each doubling.
        let size: usize = fields
            .iter()
            .zip(&values)
            .map(|(field, value)| {
                field.node.response_key().node.len()
                    + 4
                    + match value {
                        Some(Leaf::Value(Value::Binary(text))) => text.len(),
                        Some(Leaf::Value(Value::String(text))) => text.len() + 2,
                        Some(Leaf::Text(text)) => text.len() + 2,
                        _ => 40,
                    }
            })
            .sum();
        let mut out = Vec::with_capacity(size + 2);
        let text = fields.iter().zip(&values).try_for_each(|(field, value)| match value {
            Some(value) => {
                out.push(if out.is_empty() { b'{' } else { b',' });
                crate::json::write_key(&mut out, &field.node.response_key().node);
                value.write(&mut out)
            }
            None => Ok(()),
        });
        if text.is_ok() {
            if out.is_empty() {
                return Ok(Value::Null);
            }
            out.push(b'}');
            return Ok(Value::Binary(out.into()));
        }
    }
    let mut map: IndexMap<Name, Value> = IndexMap::with_capacity(fields.len());
    for (field, value) in fields.iter().zip(values) {
        if let Some(value) = value {
            map.insert(field.node.response_key().node.clone(), value.into_value());
        }
    }
    Ok(if map.is_empty() { Value::Null } else { Value::Object(map) })
}

/// A field that is not a leaf, through the type's own resolver. Boxed, as the executor boxes
/// every field: unboxed, the future of a page would hold those of its objects, which hold those of
/// the pages below them (a session's attempts, each attempt's session), deeper than the compiler
/// follows to prove them `Send`.
fn other<'a, T: Leaves>(
    root: &'a T,
    ctx: &'a ContextSelectionSet<'a>,
    field: &'a Positioned<Field>,
) -> Pin<Box<dyn Future<Output = ServerResult<Option<Value>>> + Send + 'a>> {
    Box::pin(async move { root.resolve_field(&ctx.with_field(field)).await })
}

/// Whether a resolved field's value is final as it stands: no map in it, only values, lists and
/// objects already written (maps from the executor are put in query order after execution).
fn in_order(value: &Value) -> bool {
    match value {
        Value::Object(_) => false,
        Value::List(items) => items.iter().all(in_order),
        _ => true,
    }
}

/// The selected fields, when the selection is only fields without directives, each response key
/// once, on a schema without extensions.
fn plain_fields<'a, T: Leaves>(ctx: &ContextSelectionSet<'a>) -> Option<Vec<&'a Positioned<Field>>> {
    if !T::ANY {
        return None;
    }
    ctx.data_opt::<Unhooked>()?;
    selected::<T>(ctx.item)
}

/// `plain_fields` of a selection set below one that passed it (so on the same schema).
fn selected<T: Leaves>(set: &Positioned<SelectionSet>) -> Option<Vec<&Positioned<Field>>> {
    if !T::ANY {
        return None;
    }
    let items = &set.node.items;
    let mut fields = Vec::with_capacity(items.len());
    for item in items {
        let Selection::Field(field) = &item.node else { return None };
        if !field.node.directives.is_empty() {
            return None;
        }
        let key = &field.node.response_key().node;
        if fields.iter().any(|f: &&Positioned<Field>| f.node.response_key().node == *key) {
            return None;
        }
        fields.push(field);
    }
    Some(fields)
}

async fn resolve<T: Leaves>(
    root: &T,
    ctx: &ContextSelectionSet<'_>,
    fields: &[&Positioned<Field>],
) -> ServerResult<Value> {
    let mut map: IndexMap<Name, Value> = IndexMap::with_capacity(fields.len());
    let mut rest = Vec::new();
    for field in fields {
        let key = field.node.response_key().node.clone();
        let name = field.node.name.node.as_str();
        let leaf = leaf_of(root, name);
        match leaf {
            Some(leaf) => {
                map.insert(key, leaf.into_value());
            }
            None => {
                // Holds the key's place, so the map stays in query order.
                map.insert(key, Value::Null);
                rest.push(async move { (field, other(root, ctx, field).await) });
            }
        }
    }
    for (field, result) in futures_util::future::join_all(rest).await {
        let key = &field.node.response_key().node;
        match result {
            Ok(value) => {
                if let Some(slot) = map.get_mut(key) {
                    *slot = value.unwrap_or_default();
                }
            }
            Err(e) => {
                // As the executor does: the error is reported and the field left out.
                map.shift_remove(key);
                ctx.add_error(e);
            }
        }
    }
    Ok(if map.is_empty() { Value::Null } else { Value::Object(map) })
}

/// Types listed in pages whose fields all go through the executor (short lists, or lists the
/// dashboard does not ask for).
macro_rules! executor_only {
    ($($t:ty),* $(,)?) => {
        $(impl Leaves for $t {
            const ANY: bool = false;
        })*
    };
}

executor_only!(
    super::audit::AccessLogEntry,
    super::event::LearnerEvent,
    super::meditation::MeditationReflection,
    super::profiling::Recipe,
);

#[cfg(test)]
mod tests {
    use super::*;

    /// The value and the text of a leaf.
    fn both(leaf: Leaf<'_>) -> (String, Value) {
        let mut out = Vec::new();
        leaf.write(&mut out).unwrap();
        (String::from_utf8(out).unwrap(), leaf.into_value())
    }

    /// `time` must give chrono's `to_rfc3339`, which is what the executor's path answers, as a
    /// value and as text.
    #[test]
    fn times_are_written_as_chrono_writes_them() {
        let cases = [
            "2026-12-04T19:28:40Z",
            "2026-12-04T19:28:40.086Z",
            "2026-12-04T19:28:40.086123Z",
            "2026-12-04T19:28:40.086123456Z",
            "2026-12-04T19:28:40.100Z",
            "2026-12-04T19:28:40.000001Z",
            "2026-12-04T19:28:40.000000001Z",
            "0000-01-01T00:00:00Z",
            "0999-02-28T23:59:59.5Z",
            "9999-12-31T23:59:59.999999999Z",
            "2016-12-31T23:59:60.5Z",
            "2026-01-09T09:05:07.010203Z",
            "2026-10-31T10:20:30.123456789Z",
            "2026-10-31T10:20:30.987654Z",
            "1970-01-01T00:00:00.001Z",
        ];
        let chrono = |at: DateTime<Utc>| (format!("\"{}\"", at.to_rfc3339()), Value::String(at.to_rfc3339()));
        for case in cases {
            let at = DateTime::parse_from_rfc3339(case).unwrap().with_timezone(&Utc);
            assert_eq!(both(time(&at)), chrono(at), "{case}");
            assert_eq!(both(time_opt(&Some(at))), chrono(at), "{case}");
        }
        for micros in [-62_167_219_200_000_001, 253_402_300_800_000_000, 0, 1, 999_999] {
            let at = DateTime::from_timestamp_micros(micros).unwrap();
            assert_eq!(both(time(&at)), chrono(at), "{micros}");
        }
        // Times spread over the years and every fraction width.
        for i in 0..20_000i64 {
            let micros = i * 1_578_997_777_331 % 253_402_300_799_000_000;
            let nanos = [0, 1_000_000, 1_000, 1][(i % 4) as usize] * (i * 7_919 % 1_000);
            let at = DateTime::from_timestamp_micros(micros).unwrap() + chrono::TimeDelta::nanoseconds(nanos);
            assert_eq!(both(time(&at)), chrono(at), "{at:?}");
        }
        assert_eq!(both(time_opt(&None)), ("null".to_owned(), Value::Null));
    }

    /// Text and ids are written as `json::to_vec` writes their values.
    #[test]
    fn text_and_ids_are_written_as_their_values() {
        for s in ["", "plain", "quote \" and \\ and \n", "é☃"] {
            let (text, value) = both(text(s));
            assert_eq!(value, Value::String(s.to_owned()));
            assert_eq!(text, serde_json::to_string(s).unwrap());
        }
        assert_eq!(both(text_opt(None)), ("null".to_owned(), Value::Null));
        for kind in Kind::ALL {
            let uuid = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
            let encoded = ids::encode(*kind, uuid).0;
            assert_eq!(both(id(*kind, uuid)), (format!("\"{encoded}\""), Value::String(encoded)));
        }
    }
}
