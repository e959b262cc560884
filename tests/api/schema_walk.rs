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
      kind name
      fields(includeDeprecated: true) { name args { ...Input } type { ...Ref } }
      inputFields { ...Input }
      enumValues(includeDeprecated: true) { name }
      possibleTypes { name }
    }
  }
}
fragment Input on __InputValue { name description defaultValue type { ...Ref } }
fragment Ref on __Type {
  kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } }
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
    pub kind: String,
    pub name: String,
    pub fields: Option<Vec<FieldDef>>,
    pub input_fields: Option<Vec<InputDef>>,
    pub enum_values: Option<Vec<Named>>,
    pub possible_types: Option<Vec<Named>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FieldDef {
    pub name: String,
    pub args: Vec<InputDef>,
    #[serde(rename = "type")]
    pub ty: TypeRef,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InputDef {
    pub name: String,
    pub description: Option<String>,
    pub default_value: Option<String>,
    #[serde(rename = "type")]
    pub ty: TypeRef,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypeRef {
    pub kind: String,
    pub name: Option<String>,
    pub of_type: Option<Box<TypeRef>>,
}

impl TypeRef {
    /// The named type under any NON_NULL and LIST wrappers.
    pub fn named(&self) -> &str {
        match &self.of_type {
            Some(inner) => inner.named(),
            None => self.name.as_deref().expect("a named type at the bottom"),
        }
    }

    pub fn is_non_null(&self) -> bool {
        self.kind == "NON_NULL"
    }

    /// A list, possibly inside NON_NULL (`[X]`, `[X!]!`, …).
    pub fn is_list(&self) -> bool {
        match self.kind.as_str() {
            "LIST" => true,
            "NON_NULL" => self.of_type.as_ref().is_some_and(|t| t.is_list()),
            _ => false,
        }
    }

    /// The type as written in SDL (`[Goal!]!`).
    pub fn sdl(&self) -> String {
        match (self.kind.as_str(), &self.of_type) {
            ("NON_NULL", Some(t)) => format!("{}!", t.sdl()),
            ("LIST", Some(t)) => format!("[{}]", t.sdl()),
            _ => self.named().to_owned(),
        }
    }
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

    /// Our own types (not `__Schema` and friends).
    pub fn own_types(&self) -> impl Iterator<Item = &TypeDef> {
        self.types.values().filter(|t| !t.name.starts_with("__"))
    }

    /// Object and interface types: the ones with output fields.
    pub fn output_types(&self) -> impl Iterator<Item = &TypeDef> {
        self.own_types().filter(|t| t.kind == "OBJECT" || t.kind == "INTERFACE")
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
