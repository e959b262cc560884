//! The schema as data, read by introspection of the real `Query` and `Mutation`, for tests that
//! must cover every field (the scope table, the bounds on lists and page sizes) and so notice a
//! new one by themselves.

use std::collections::BTreeMap;

use async_graphql::{EmptySubscription, Schema as GqlSchema};
use learngraph::graphql::{Mutation, Query};
use serde::Deserialize;

const INTROSPECT: &str = r#"
{
  __schema {
    queryType { name }
    mutationType { name }
    types {
      name
      fields(includeDeprecated: true) { name }
      possibleTypes { name }
    }
  }
}
"#;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    query_type: Named,
    mutation_type: Option<Named>,
    types: Vec<TypeDef>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Named {
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypeDef {
    pub name: String,
    pub fields: Option<Vec<FieldDef>>,
    pub possible_types: Option<Vec<Named>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FieldDef {
    pub name: String,
}

/// The introspected schema.
pub struct SchemaInfo {
    pub query: String,
    pub mutation: Option<String>,
    pub types: BTreeMap<String, TypeDef>,
}

impl SchemaInfo {
    pub fn ty(&self, name: &str) -> &TypeDef {
        self.types.get(name).unwrap_or_else(|| panic!("type {name} is in the schema"))
    }

    pub fn fields(&self, type_name: &str) -> &[FieldDef] {
        self.ty(type_name).fields.as_deref().unwrap_or_default()
    }
}

/// The schema the server serves (same `Query` and `Mutation`), read by introspection.
pub async fn introspect() -> SchemaInfo {
    let schema = GqlSchema::build(Query::default(), Mutation::default(), EmptySubscription).finish();
    let response = serde_json::to_value(schema.execute(INTROSPECT).await).expect("response json");
    assert!(response.get("errors").is_none(), "introspection failed: {response:#}");
    let raw: Raw = serde_json::from_value(response["data"]["__schema"].clone()).expect("introspection shape");
    SchemaInfo {
        query: raw.query_type.name,
        mutation: raw.mutation_type.map(|m| m.name),
        types: raw.types.into_iter().map(|t| (t.name.clone(), t)).collect(),
    }
}
