//! Documents already parsed, selected and limited, kept for the next request that sends them.

use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::parser::types::ExecutableDocument;

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
    document: Arc<ExecutableDocument>,
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

    pub fn get(&self, query: &str, operation_name: Option<&str>) -> Option<Arc<ExecutableDocument>> {
        let mut cache = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let parsed = cache.get(&Self::key(query, operation_name))?;
        (parsed.query == query && parsed.operation_name.as_deref() == operation_name).then(|| parsed.document.clone())
    }

    pub fn put(&self, query: &str, operation_name: Option<&str>, document: Arc<ExecutableDocument>) {
        if query.len() > DOCUMENT_BYTES {
            return;
        }
        let parsed = Parsed { query: query.to_owned(), operation_name: operation_name.map(str::to_owned), document };
        let mut cache = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        cache.put(Self::key(query, operation_name), parsed);
    }
}
