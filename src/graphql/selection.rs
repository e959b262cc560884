//! The selected operation, as the GraphQL spec describes it:
//!
//! - a document of several operations (GraphiQL tabs, a `.graphql` file) is validated, limited and
//!   costed for the operation the request selects only, with the fragments it uses: another
//!   operation's missing variables or cost do not fail it;
//! - response maps keep the order in which the query selected their fields (with aliases and
//!   fragments). async-graphql builds `Learner` from several merged objects and emits their fields
//!   object by object; snapshot-based client tests rely on the query's order.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest,
};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Name, Request, Response, ServerResult, Value, Variables};

pub struct SelectedOperation;

impl ExtensionFactory for SelectedOperation {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Selected::default())
    }
}

#[derive(Default)]
struct Selected {
    /// The request's `operationName`.
    name: Mutex<Option<String>>,
    /// The document as executed (the selected operation and its fragments).
    document: Mutex<Option<Arc<ExecutableDocument>>>,
}

#[async_graphql::async_trait::async_trait]
impl Extension for Selected {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        if let Ok(mut name) = self.name.lock() {
            name.clone_from(&request.operation_name);
        }
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let mut document = next.run(ctx, query, variables).await?;
        let name = self.name.lock().ok().and_then(|n| n.clone());
        select(&mut document, name.as_deref());
        if let Ok(mut slot) = self.document.lock() {
            *slot = Some(Arc::new(document.clone()));
        }
        Ok(document)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let mut response = next.run(ctx, operation_name).await;
        let document = self.document.lock().ok().and_then(|d| d.clone());
        if let Some(document) = document {
            finish(&mut response.data, &document, operation_name);
        }
        response
    }
}

/// Keeps, of a document of several operations, the one `name` selects and the fragments it uses
/// (a name the document lacks is left for async-graphql to refuse).
pub fn select(document: &mut ExecutableDocument, name: Option<&str>) {
    if let (Some(name), DocumentOperations::Multiple(operations)) = (name, &mut document.operations)
        && operations.contains_key(name)
    {
        operations.retain(|n, _| n.as_str() == name);
        let used = used_fragments(document);
        document.fragments.retain(|n, _| used.contains(n));
    }
}

/// The operation a request runs: the one named, or the first.
fn operation<'a>(
    document: &'a ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<&'a async_graphql::Positioned<async_graphql::parser::types::OperationDefinition>> {
    match &document.operations {
        DocumentOperations::Single(op) => Some(op),
        DocumentOperations::Multiple(ops) => match operation_name {
            Some(name) => ops.get(name),
            None => ops.values().next(),
        },
    }
}

/// Puts the executed operation's `data` in query order, and answers `__schema { description }`.
pub fn finish(data: &mut Value, document: &ExecutableDocument, operation_name: Option<&str>) {
    if let Some(op) = operation(document, operation_name) {
        finish_in(data, &Order::of(&[&op.node.selection_set.node], document), document, operation_name);
    }
}

/// `finish` with the operation's key order worked out before (`Order::of_operation`), as a cached
/// document keeps it.
pub fn finish_in(data: &mut Value, order: &Order, document: &ExecutableDocument, operation_name: Option<&str>) {
    if let Some(op) = operation(document, operation_name) {
        if matches!(data, Value::List(_) | Value::Object(_)) {
            in_order_of(data, order);
        }
        describe_schema(data, &op.node.selection_set.node, document);
    }
}

/// What `__schema { description }` answers (async-graphql answers with a generic sentence).
pub const SCHEMA_DESCRIPTION: &str = "learngraph: the durable source of truth for a learning platform's learner data. \
Reads under Query (a learner's whole view in one request), writes under Mutation (one transaction each), \
live activity under Subscription (graphql-transport-ws at /graphql). The SDL: GET /graphql/schema.graphql.";

/// Puts our description where the operation selects `__schema { description }`.
fn describe_schema(data: &mut Value, set: &SelectionSet, document: &ExecutableDocument) {
    let mut top = Vec::new();
    keys_in_order(&[set], document, &mut top, &mut HashSet::new());
    let Value::Object(root) = data else { return };
    for (key, below) in top {
        let selects_schema =
            set_fields(&[set], document).iter().any(|(k, name)| *k == key && name.as_str() == "__schema");
        if !selects_schema {
            continue;
        }
        let Some(Value::Object(schema)) = root.get_mut(key) else { continue };
        for (k, name) in set_fields(&below, document) {
            if name.as_str() == "description" {
                schema.insert(k.clone(), Value::String(SCHEMA_DESCRIPTION.to_owned()));
            }
        }
    }
}

/// The (response key, field name) pairs a selection selects, fragments included.
fn set_fields<'a>(sets: &[&'a SelectionSet], document: &'a ExecutableDocument) -> Vec<(&'a Name, &'a Name)> {
    let mut out = Vec::new();
    for set in sets {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(f) => {
                    out.push((f.node.alias.as_ref().map_or(&f.node.name.node, |a| &a.node), &f.node.name.node));
                }
                Selection::InlineFragment(f) => out.extend(set_fields(&[&f.node.selection_set.node], document)),
                Selection::FragmentSpread(s) => {
                    if let Some(fragment) = document.fragments.get(&s.node.fragment_name.node) {
                        out.extend(set_fields(&[&fragment.node.selection_set.node], document));
                    }
                }
            }
        }
    }
    out
}

/// The fragments the document's operations reach, directly or through other fragments.
pub(crate) fn used_fragments(document: &ExecutableDocument) -> HashSet<Name> {
    fn walk(set: &SelectionSet, document: &ExecutableDocument, used: &mut HashSet<Name>) {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(f) => walk(&f.node.selection_set.node, document, used),
                Selection::InlineFragment(f) => walk(&f.node.selection_set.node, document, used),
                Selection::FragmentSpread(s) => {
                    let name = &s.node.fragment_name.node;
                    if used.insert(name.clone())
                        && let Some(fragment) = document.fragments.get(name)
                    {
                        walk(&fragment.node.selection_set.node, document, used);
                    }
                }
            }
        }
    }
    let mut used = HashSet::new();
    for (_, op) in document.operations.iter() {
        walk(&op.node.selection_set.node, document, &mut used);
    }
    used
}

/// The response keys of `sets` in the order the query selects them (fragments inlined where they
/// are spread), each with the selection sets below it.
fn keys_in_order<'a>(
    sets: &[&'a SelectionSet],
    document: &'a ExecutableDocument,
    out: &mut Vec<(&'a Name, Vec<&'a SelectionSet>)>,
    seen_fragments: &mut HashSet<&'a Name>,
) {
    for set in sets {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(f) => {
                    let key = f.node.alias.as_ref().map_or(&f.node.name.node, |a| &a.node);
                    let below = &f.node.selection_set.node;
                    match out.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, sets)) => sets.push(below),
                        None => out.push((key, vec![below])),
                    }
                }
                Selection::InlineFragment(f) => {
                    keys_in_order(&[&f.node.selection_set.node], document, out, seen_fragments);
                }
                Selection::FragmentSpread(s) => {
                    let name = &s.node.fragment_name.node;
                    if seen_fragments.insert(name)
                        && let Some(fragment) = document.fragments.get(name)
                    {
                        keys_in_order(&[&fragment.node.selection_set.node], document, out, seen_fragments);
                    }
                }
            }
        }
    }
}

/// The response keys a selection asks for, in query order, each with the keys below it: worked out
/// before the response is walked, once per document (`documents::Document` keeps its operation's).
/// The names are clones of the document's, as the response's keys are.
pub struct Order {
    keys: Vec<(Name, Order)>,
}

impl Order {
    fn of(sets: &[&SelectionSet], document: &ExecutableDocument) -> Self {
        let mut keys = Vec::new();
        keys_in_order(sets, document, &mut keys, &mut HashSet::new());
        Order { keys: keys.into_iter().map(|(key, below)| (key.clone(), Order::of(&below, document))).collect() }
    }

    /// The order of the operation a request names (or the document's first).
    pub fn of_operation(document: &ExecutableDocument, operation_name: Option<&str>) -> Self {
        match operation(document, operation_name) {
            Some(op) => Order::of(&[&op.node.selection_set.node], document),
            None => Order { keys: Vec::new() },
        }
    }

    fn position(&self, key: &Name) -> usize {
        self.keys.iter().position(|(k, _)| same(k, key)).unwrap_or(usize::MAX)
    }
}

/// Response keys are clones of the document's names, so the pointers are usually equal and the
/// strings need no comparing.
fn same(a: &Name, b: &Name) -> bool {
    let (a, b) = (a.as_str(), b.as_str());
    std::ptr::eq(a, b) || a == b
}

/// Puts every map of `value` in the order `order` asks for; a map already in order is left as it
/// is.
fn in_order_of(value: &mut Value, order: &Order) {
    if order.keys.is_empty() {
        return;
    }
    match value {
        Value::List(items) => {
            for item in items {
                in_order_of(item, order);
            }
        }
        Value::Object(map) => {
            let mut last = 0;
            let ordered = map.keys().all(|k| {
                let p = order.position(k);
                let in_order = p >= last;
                last = p;
                in_order
            });
            if !ordered {
                map.sort_by_cached_key(|k, _| order.position(k));
            }
            // By iteration, not lookup: finding each key in the map would hash it.
            for (key, v) in map.iter_mut() {
                if matches!(v, Value::List(_) | Value::Object(_))
                    && let Some((_, below)) = order.keys.iter().find(|(k, _)| same(k, key))
                {
                    in_order_of(v, below);
                }
            }
        }
        _ => {}
    }
}
