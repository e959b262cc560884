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

use std::borrow::Cow;

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, Selection};
use async_graphql::registry::Registry;
use async_graphql::{ContainerType, ContextSelectionSet, InputType, Name, OutputType, Positioned, ServerResult, Value};

/// Scalar fields a type answers from what it already holds.
pub trait Leaves: OutputType + ContainerType {
    /// Whether the type answers any field itself; one that does not goes to the executor whole.
    const ANY: bool = true;

    /// The value of the scalar field `name`, exactly as its resolver would give it; `None` for a
    /// field that needs its resolver (or that does not exist).
    fn leaf(&self, _name: &str) -> Option<Value> {
        None
    }
}

/// A leaf's value as its resolver's return type gives it to the executor.
pub fn value<T: InputType>(v: &T) -> Value {
    v.to_value()
}

/// Marks a schema whose requests run without extensions (see the module comment).
pub struct Unhooked;

impl<T: Leaves> Leaves for &T {
    const ANY: bool = T::ANY;

    fn leaf(&self, name: &str) -> Option<Value> {
        (**self).leaf(name)
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
            Some(fields) => resolve(&self.0, ctx, &fields).await,
            None => self.0.resolve(ctx, field).await,
        }
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
        let leaf = match name {
            "__typename" => Some(Value::String(root.introspection_type_name().into_owned())),
            _ => root.leaf(name),
        };
        match leaf {
            Some(value) => {
                map.insert(key, value);
            }
            None => {
                // Holds the key's place, so the map stays in query order.
                map.insert(key, Value::Null);
                rest.push(async move {
                    let ctx_field = ctx.with_field(field);
                    (field, root.resolve_field(&ctx_field).await)
                });
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
