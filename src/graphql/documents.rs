//! Documents already parsed, selected and limited, kept for the next request that sends them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextValidation};
use async_graphql::parser::types::{BaseType, DocumentOperations, ExecutableDocument, OperationDefinition};
use async_graphql::registry::{MetaType, MetaTypeName, Registry};
use async_graphql::{Positioned, ServerError, ValidationResult, Value as ConstValue, Variables};

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
    /// What `ValidationMode::Fast` answered for this document, by `Known::key`; at most `RESULTS`.
    results: Mutex<Vec<(Vec<Option<ConstValue>>, ValidationResult)>>,
}

/// Validation results kept per document: a client sends a few page sizes, not hundreds.
const RESULTS: usize = 16;

impl Document {
    pub fn new(document: ExecutableDocument) -> Self {
        Document { document, validated: AtomicBool::new(false), order: OnceLock::new(), results: Mutex::default() }
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

    fn result(&self, key: &[Option<ConstValue>]) -> Option<ValidationResult> {
        let results = self.results.lock().unwrap_or_else(PoisonError::into_inner);
        results.iter().find(|(k, _)| k == key).map(|(_, result)| *result)
    }

    fn remember(&self, key: Vec<Option<ConstValue>>, result: ValidationResult) {
        let mut results = self.results.lock().unwrap_or_else(PoisonError::into_inner);
        if results.len() < RESULTS && !results.iter().any(|(k, _)| *k == key) {
            results.push((key, result));
        }
    }
}

/// A request whose document has passed full validation and whose variables fit it (see
/// `AppSchema::run`), with what `Reuse` needs to answer its validation from an earlier request.
pub struct Known {
    document: Arc<Document>,
    key: Vec<Option<ConstValue>>,
}

impl Known {
    /// The document and the values of the request's variables that can change what
    /// `ValidationMode::Fast` answers for it.
    ///
    /// That mode checks the document (fragment cycles, uploads, cache hints, depth) and its
    /// complexity, which our `complexity` functions compute from `first` and `last`, both `Int`. A
    /// variable declared `String` or `ID` cannot stand for an `Int` argument in a document that
    /// passed full validation, so those are left out of the key: FullLearnerView, whose one
    /// variable is the learner's key, has one result for every learner. Every other variable is in
    /// it, so a page size sent as a variable is checked once per size.
    /// `tests::complexity_reads_only_int_arguments` holds the schema to that, and
    /// `tests/api/http.rs` (`a_reused_validation_still_limits_each_page_size`) the behaviour.
    pub fn new(document: Arc<Document>, variables: &Variables) -> Option<Self> {
        let key = operation(&document.document)?
            .node
            .variable_definitions
            .iter()
            .filter(|def| !matches!(&def.node.var_type.node.base, BaseType::Named(n) if n == "String" || n == "ID"))
            .map(|def| variables.get(&def.node.name.node).cloned())
            .collect();
        Some(Known { document, key })
    }
}

/// Answers the validation of a `Known` request with what the same document and key got before, and
/// keeps what it gets otherwise. Even `ValidationMode::Fast` walks the whole document with the
/// registry (about a tenth of a FullLearnerView's instructions), for an answer that cannot change.
/// It hooks nothing else, so the schema keeps `fast::Unhooked`.
pub struct Reuse;

impl ExtensionFactory for Reuse {
    fn create(&self) -> Arc<dyn Extension> {
        static REUSE: OnceLock<Arc<Reuse>> = OnceLock::new();
        REUSE.get_or_init(|| Arc::new(Reuse)).clone()
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for Reuse {
    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let Some(known) = ctx.data_opt::<Known>() else { return next.run(ctx).await };
        if let Some(result) = known.document.result(&known.key) {
            return Ok(result);
        }
        let result = next.run(ctx).await;
        if let Ok(result) = &result {
            known.document.remember(known.key.clone(), *result);
        }
        result
    }
}

/// The document's one operation (a cached document holds only the selected one).
fn operation(document: &ExecutableDocument) -> Option<&Positioned<OperationDefinition>> {
    match &document.operations {
        DocumentOperations::Single(op) => Some(op),
        DocumentOperations::Multiple(ops) if ops.len() == 1 => ops.values().next(),
        DocumentOperations::Multiple(_) => None,
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
    let Some(operation) = operation(document) else { return false };
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

#[cfg(test)]
mod tests {
    use async_graphql::registry::MetaType;

    use super::*;

    /// `Known::new` leaves `String` and `ID` variables out of the key, because no `complexity`
    /// function of the schema reads an argument of those types: each reads `first` or `last`.
    /// These are every `String` and `ID` argument of a field with a `complexity` function; one
    /// added here must not be read by it, or `Known::new` must key on it.
    #[test]
    fn complexity_reads_only_int_arguments() {
        const UNREAD: &[&str] =
            &["after", "exerciseId", "goalId", "kind", "learnerId", "moodTag", "search", "sessionId", "skillCode"];
        let registry = input_types::<super::super::Query, super::super::Mutation, super::super::live::Subscription>();
        let mut found = std::collections::BTreeSet::new();
        for ty in registry.types.values() {
            let MetaType::Object { fields, .. } = ty else { continue };
            for field in fields.values().filter(|f| f.compute_complexity.is_some()) {
                for arg in field.args.values() {
                    let base = MetaTypeName::concrete_typename(&arg.ty);
                    if base == "String" || base == "ID" {
                        found.insert(arg.name.clone());
                    }
                }
            }
        }
        let unread: std::collections::BTreeSet<String> = UNREAD.iter().map(|s| s.to_string()).collect();
        assert_eq!(found, unread);
    }
}
