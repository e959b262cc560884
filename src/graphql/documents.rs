//! Documents already parsed, selected and limited, kept for the next request that sends them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use async_graphql::Value as ConstValue;
use async_graphql::Variables;
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument};
use async_graphql::registry::{MetaType, MetaTypeName, Registry};

use super::selection;

/// Documents already parsed, selected and limited, by their text and operation name: clients send
/// the same few operations over and over, and parsing one as large as FullLearnerView cost more
/// than a tenth of the CPU of running it. Only documents that passed every limit are kept, up to
/// `DOCUMENTS` of them of at most `DOCUMENT_BYTES` each.
pub struct Documents(Mutex<lru::LruCache<u64, Parsed>>);

const DOCUMENTS: usize = 512;
const DOCUMENT_BYTES: usize = 32 * 1024;

struct Parsed {
    query: String,
    operation_name: Option<String>,
    document: Arc<Document>,
}

/// A parsed document, whether it has passed async-graphql's full validation once, and the key
/// order of its operation's response.
pub struct Document {
    pub document: ExecutableDocument,
    validated: AtomicBool,
    order: OnceLock<selection::Order>,
}

impl Document {
    pub fn new(document: ExecutableDocument) -> Self {
        Document { document, validated: AtomicBool::new(false), order: OnceLock::new() }
    }

    /// The response key order of the operation `operation_name` selects, worked out on first use.
    /// A document is cached under its operation name, so every request with it names the same.
    pub fn order(&self, operation_name: Option<&str>) -> &selection::Order {
        self.order.get_or_init(|| selection::Order::of_operation(&self.document, operation_name))
    }

    /// Whether every rule that reads only the document has passed for it (see `AppSchema::run`).
    pub fn validated(&self) -> bool {
        self.validated.load(Ordering::Relaxed)
    }

    /// Notes that a request with this document passed full validation.
    pub fn mark_validated(&self) {
        self.validated.store(true, Ordering::Relaxed);
    }
}

impl Default for Documents {
    fn default() -> Self {
        Documents(Mutex::new(lru::LruCache::new(
            std::num::NonZeroUsize::new(DOCUMENTS).unwrap_or(std::num::NonZeroUsize::MIN),
        )))
    }
}

impl Documents {
    fn key(query: &str, operation_name: Option<&str>) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (query, operation_name).hash(&mut hasher);
        hasher.finish()
    }

    pub fn get(&self, query: &str, operation_name: Option<&str>) -> Option<Arc<Document>> {
        let mut cache = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let parsed = cache.get(&Self::key(query, operation_name))?;
        (parsed.query == query && parsed.operation_name.as_deref() == operation_name).then(|| parsed.document.clone())
    }

    pub fn put(&self, query: &str, operation_name: Option<&str>, document: Arc<Document>) {
        if query.len() > DOCUMENT_BYTES {
            return;
        }
        let parsed = Parsed { query: query.to_owned(), operation_name: operation_name.map(str::to_owned), document };
        let mut cache = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        cache.put(Self::key(query, operation_name), parsed);
    }
}

/// The input types of the schema (scalars, enums, input objects), as async-graphql registers them:
/// what `variables_fit` checks values against. `async_graphql::registry` is public but left out of
/// async-graphql's documentation; an upgrade that changes it fails to compile here, and
/// `tests/api/http.rs` (`a_validated_document_answers_bad_variables_as_a_new_one_does`) pins the
/// behaviour.
pub fn input_types<Q, M, S>() -> Registry
where
    Q: async_graphql::OutputType,
    M: async_graphql::OutputType,
    S: async_graphql::SubscriptionType,
{
    let mut registry = Registry::default();
    Q::create_type_info(&mut registry);
    M::create_type_info(&mut registry);
    S::create_type_info(&mut registry);
    registry
}

/// Whether every variable of `document`'s operation has a value that async-graphql's full
/// validation would accept, by the same rules (`validation::utils::is_valid_input_value`): given or
/// defaulted, of its declared type. Only a document that has already passed full validation is
/// asked, so each variable sits where its declared type is allowed, and what is left to check is
/// the values, which change with each request. It answers `false` whenever it is not sure (a
/// missing value, an explicit top-level `null`, a type it does not know): such a request is
/// validated in full, which reports the error as it always has.
pub fn variables_fit(registry: &Registry, document: &ExecutableDocument, variables: &Variables) -> bool {
    let operation = match &document.operations {
        DocumentOperations::Single(op) => op,
        DocumentOperations::Multiple(ops) if ops.len() == 1 => match ops.values().next() {
            Some(op) => op,
            None => return false,
        },
        DocumentOperations::Multiple(_) => return false,
    };
    operation.node.variable_definitions.iter().all(|def| {
        let def = &def.node;
        match variables.get(&def.name.node) {
            // A default value was validated with the document.
            None => def.default_value.is_some(),
            // `null` for a variable with a default may stand where null is not allowed.
            Some(ConstValue::Null) => false,
            Some(value) => fits(registry, &def.var_type.node.to_string(), value),
        }
    })
}

fn fits(registry: &Registry, type_name: &str, value: &ConstValue) -> bool {
    match MetaTypeName::create(type_name) {
        MetaTypeName::NonNull(inner) => !matches!(value, ConstValue::Null) && fits(registry, inner, value),
        MetaTypeName::List(item) => match value {
            ConstValue::List(items) => items.iter().all(|v| fits(registry, item, v)),
            ConstValue::Null => true,
            _ => fits(registry, item, value),
        },
        MetaTypeName::Named(name) => {
            if matches!(value, ConstValue::Null) {
                return true;
            }
            match registry.types.get(name) {
                Some(MetaType::Scalar { is_valid, .. }) => is_valid.as_ref().is_none_or(|valid| valid(value)),
                Some(MetaType::Enum { enum_values, .. }) => match value {
                    ConstValue::Enum(v) => enum_values.contains_key(v.as_str()),
                    ConstValue::String(v) => enum_values.contains_key(v.as_str()),
                    _ => false,
                },
                Some(MetaType::InputObject { input_fields, oneof, .. }) => {
                    let ConstValue::Object(values) = value else { return false };
                    if *oneof && (values.len() != 1 || values.values().any(|v| matches!(v, ConstValue::Null))) {
                        return false;
                    }
                    let known = values.keys().all(|k| input_fields.contains_key(k.as_str()));
                    known
                        && input_fields.values().all(|field| match values.get(field.name.as_str()) {
                            Some(v) => fits(registry, &field.ty, v),
                            None => !MetaTypeName::create(&field.ty).is_non_null() || field.default_value.is_some(),
                        })
                }
                _ => false,
            }
        }
    }
}
