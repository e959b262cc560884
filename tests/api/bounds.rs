//! Every list the schema returns is bounded, and every page size is charged in the query's
//! complexity, so `LEARNGRAPH_MAX_COMPLEXITY` really caps what one request can make the server do.
//! Both tests read the schema by introspection: a new field is covered without editing them.

use std::collections::BTreeSet;

use crate::schema_walk::introspect;

/// The arguments that size a page.
const PAGE_ARGS: &[&str] = &["first", "last"];

/// Lists that take no page size, each with the rule that bounds it. `*Suffix.field` stands for
/// that field on every type whose name ends with `Suffix`.
const UNPAGED_LISTS: &[(&str, &str)] = &[
    (
        "*Connection.edges",
        "one page of the connection: every field returning a *Connection takes `first` (checked below)",
    ),
    (
        "*Connection.nodes",
        "one page of the connection: every field returning a *Connection takes `first` (checked below)",
    ),
];

fn allowlisted(type_name: &str, field: &str) -> Option<&'static str> {
    UNPAGED_LISTS.iter().map(|(key, _)| *key).find(|key| {
        let (ty, f) = key.split_once('.').expect("Type.field");
        f == field && ty.strip_prefix('*').map_or(ty == type_name, |suffix| type_name.ends_with(suffix))
    })
}

/// Every field whose type is a list or a `*Connection` takes `first` or `last`, or is in
/// `UNPAGED_LISTS` with the rule that bounds it.
#[tokio::test]
async fn every_list_takes_a_page_size() {
    let schema = introspect().await;
    let mut unbounded = Vec::new();
    let mut used = BTreeSet::new();
    for ty in schema.output_types() {
        for field in ty.fields.as_deref().unwrap_or_default() {
            let named = field.ty.named();
            let connection = named.ends_with("Connection") && schema.ty(named).kind == "OBJECT";
            if !field.ty.is_list() && !connection {
                continue;
            }
            if field.args.iter().any(|a| PAGE_ARGS.contains(&a.name.as_str())) {
                continue;
            }
            match allowlisted(&ty.name, &field.name) {
                Some(key) => {
                    used.insert(key);
                }
                None => unbounded.push(format!("{}.{}: {}", ty.name, field.name, field.ty.sdl())),
            }
        }
    }
    assert!(
        unbounded.is_empty(),
        "unbounded lists (no `first`/`last` argument and no entry in UNPAGED_LISTS in tests/api/bounds.rs): {}",
        unbounded.join(", ")
    );
    let stale: Vec<&str> = UNPAGED_LISTS.iter().map(|(key, _)| *key).filter(|key| !used.contains(key)).collect();
    assert!(stale.is_empty(), "UNPAGED_LISTS entries that match no field: {stale:?}");
}
