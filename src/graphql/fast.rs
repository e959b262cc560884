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
use async_graphql::parser::types::{Field, Selection};
use async_graphql::registry::Registry;
use async_graphql::{ContainerType, ContextSelectionSet, InputType, Name, OutputType, Positioned, ServerResult, Value};
use chrono::{DateTime, Datelike, Timelike, Utc};

/// Scalar fields a type answers from what it already holds.
pub trait Leaves: OutputType + ContainerType {
    /// Whether the type answers any field itself; one that does not goes to the executor whole.
    const ANY: bool = true;

    /// The value of the scalar field `name`, exactly as its resolver would give it; `None` for a
    /// field that needs its resolver (or that does not exist).
    fn leaf(&self, _name: &str) -> Option<Value> {
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
    /// Appends the object's JSON text for the selection of `ctx` when each selected field is a
    /// leaf or a nested object written in place; otherwise leaves `out` as it was and says so.
    fn write_in(&self, ctx: &ContextSelectionSet<'_>, out: &mut Vec<u8>) -> bool;
}

impl<T: Leaves> Written for T {
    fn write_in(&self, ctx: &ContextSelectionSet<'_>, out: &mut Vec<u8>) -> bool {
        match plain_fields::<T>(ctx) {
            Some(fields) => write_now(self, ctx, &fields, out),
            None => false,
        }
    }
}

/// Writes `root`'s `fields` (in query order, each key once) into `out` when each is a leaf or a
/// nested object written in place; otherwise leaves `out` as it was and returns false.
fn write_now<T: Leaves>(
    root: &T,
    ctx: &ContextSelectionSet<'_>,
    fields: &[&Positioned<Field>],
    out: &mut Vec<u8>,
) -> bool {
    let start = out.len();
    for (i, field) in fields.iter().enumerate() {
        out.push(if i == 0 { b'{' } else { b',' });
        let key = field.node.response_key().node.as_str();
        let name = field.node.name.node.as_str();
        let leaf = leaf_of(root, name);
        let written = match leaf {
            Some(value) => crate::json::write_member(out, key, &value).is_ok(),
            None => match root.nested(name) {
                Some(nested) if field.node.arguments.is_empty() => {
                    crate::json::write_key(out, key).is_ok() && {
                        let ctx_field = ctx.with_field(field);
                        nested.write_in(&ctx_field.with_selection_set(&field.node.selection_set), out)
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
            for (i, item) in self.0.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                if !write_now(item, ctx, &fields, &mut out) {
                    written = false;
                    break;
                }
            }
            if written {
                out.push(b']');
                return Ok(Value::Binary(out.into()));
            }
        }
        async_graphql::resolver_utils::resolve_list(ctx, field, self.0.iter().map(Fast), Some(self.0.len())).await
    }
}

/// The value of `name` on `root` when it is a leaf (`__typename` included).
fn leaf_of<T: Leaves>(root: &T, name: &str) -> Option<Value> {
    match name {
        "__typename" => Some(Value::String(root.introspection_type_name().into_owned())),
        _ => root.leaf(name),
    }
}

/// A leaf's value as its resolver's return type gives it to the executor.
pub fn value<T: InputType>(v: &T) -> Value {
    v.to_value()
}

/// A `DateTime` leaf, exactly as `value` gives it (chrono's `to_rfc3339`: `+00:00`, and the
/// fraction in 0, 3, 6 or 9 digits, the fewest that hold it), written without `core::fmt`: chrono
/// formats every part through a `Formatter`, about 740 instructions per time, and every attempt,
/// session and journal entry has two. Years outside 0..=9999 and leap seconds go to chrono.
pub fn time(at: &DateTime<Utc>) -> Value {
    let (date, clock) = (at.date_naive(), at.time());
    let (year, nano) = (date.year(), clock.nanosecond());
    if !(0..=9999).contains(&year) || nano >= 1_000_000_000 {
        return value(at);
    }
    let mut out = String::with_capacity(35);
    let digits = |out: &mut String, value: u32, width: u32, then: Option<char>| {
        for place in (0..width).rev() {
            out.push(char::from(b'0' + (value / 10u32.pow(place) % 10) as u8));
        }
        out.extend(then);
    };
    digits(&mut out, year as u32, 4, Some('-'));
    digits(&mut out, date.month(), 2, Some('-'));
    digits(&mut out, date.day(), 2, Some('T'));
    digits(&mut out, clock.hour(), 2, Some(':'));
    digits(&mut out, clock.minute(), 2, Some(':'));
    digits(&mut out, clock.second(), 2, None);
    if nano != 0 {
        out.push('.');
        match nano {
            _ if nano % 1_000_000 == 0 => digits(&mut out, nano / 1_000_000, 3, None),
            _ if nano % 1_000 == 0 => digits(&mut out, nano / 1_000, 6, None),
            _ => digits(&mut out, nano, 9, None),
        }
    }
    out.push_str("+00:00");
    Value::String(out)
}

/// `time` for an optional `DateTime` leaf: `null` when absent, as `value` gives it.
pub fn time_opt(at: &Option<DateTime<Utc>>) -> Value {
    match at {
        Some(at) => time(at),
        None => Value::Null,
    }
}

/// Marks a schema whose requests run without extensions (see the module comment).
pub struct Unhooked;

impl<T: Leaves> Leaves for &T {
    const ANY: bool = T::ANY;

    fn leaf(&self, name: &str) -> Option<Value> {
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
    let mut values: Vec<Option<Value>> = Vec::with_capacity(fields.len());
    let mut rest = Vec::new();
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
            Ok(value) => values[i] = Some(value.unwrap_or_default()),
            // As the executor does: the error is reported and the field left out.
            Err(e) => ctx.add_error(e),
        }
    }
    let written = fields.iter().zip(&values).all(|(field, value)| match value {
        Some(value) => field.node.selection_set.node.items.is_empty() || in_order(value),
        None => true,
    });
    if written {
        let mut out = Vec::with_capacity(64 * fields.len());
        let text = fields.iter().zip(&values).try_for_each(|(field, value)| match value {
            Some(value) => {
                out.push(if out.is_empty() { b'{' } else { b',' });
                crate::json::write_member(&mut out, field.node.response_key().node.as_str(), value)
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
            map.insert(field.node.response_key().node.clone(), value);
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
    let items = &ctx.item.node.items;
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
            Some(value) => {
                map.insert(key, value);
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
    super::learner::Learner,
);

#[cfg(test)]
mod tests {
    use super::*;

    /// `time` must give chrono's `to_rfc3339`, which is what the executor's path answers.
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
        ];
        for case in cases {
            let at = DateTime::parse_from_rfc3339(case).unwrap().with_timezone(&Utc);
            assert_eq!(time(&at), Value::String(at.to_rfc3339()), "{case}");
        }
        for micros in [-62_167_219_200_000_001, 253_402_300_800_000_000, 0, 1, 999_999] {
            let at = DateTime::from_timestamp_micros(micros).unwrap();
            assert_eq!(time(&at), Value::String(at.to_rfc3339()), "{micros}");
        }
        assert_eq!(time_opt(&None), Value::Null);
    }
}
