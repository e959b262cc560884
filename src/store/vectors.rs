//! A replica's cache of its learners' journal vectors, for similarity search.
//!
//! A search used to read every (id, embedding) row of the learner: 61 MB for 10,000 entries of
//! 1,536 dimensions, most of its time spent moving rows (see the similarity benchmark). The cache
//! keeps each learner's vectors decoded, tagged with the version of the learner's journal corpus;
//! every write that changes an embedded entry bumps that version in its own transaction, so a
//! search reads one small row, and a cached corpus of another version (written through any
//! replica) is reloaded. Least recently used corpora go first when the byte budget is full.

use std::sync::{Arc, Mutex, PoisonError};

use lru::LruCache;
use sea_orm::prelude::Uuid;

/// One learner's embedded entries at one corpus version: `ids[i]`'s vector is
/// `vectors[i * dimension..(i + 1) * dimension]`.
pub struct Corpus {
    pub version: i64,
    pub dimension: usize,
    pub ids: Vec<Uuid>,
    pub vectors: Vec<f32>,
}

impl Corpus {
    fn bytes(&self) -> usize {
        self.vectors.len() * 4 + self.ids.len() * 16
    }

    pub fn vector(&self, i: usize) -> &[f32] {
        &self.vectors[i * self.dimension..(i + 1) * self.dimension]
    }
}

pub struct VectorCache {
    budget: usize,
    inner: Mutex<(LruCache<Uuid, Arc<Corpus>>, usize)>,
}

impl VectorCache {
    /// A cache of at most `budget` bytes (0 turns it off).
    pub fn new(budget: usize) -> Self {
        VectorCache { budget, inner: Mutex::new((LruCache::unbounded(), 0)) }
    }

    /// The learner's corpus, if cached at exactly this version.
    pub fn get(&self, learner: Uuid, version: i64) -> Option<Arc<Corpus>> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.0.get(&learner).filter(|c| c.version == version).cloned()
    }

    /// Keeps a corpus, dropping the least recently used ones past the budget. A corpus larger than
    /// the whole budget is not kept.
    pub fn put(&self, learner: Uuid, corpus: Arc<Corpus>) {
        let size = corpus.bytes();
        if size > self.budget {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let (lru, used) = &mut *inner;
        if let Some(old) = lru.put(learner, corpus) {
            *used -= old.bytes();
        }
        *used += size;
        while *used > self.budget {
            match lru.pop_lru() {
                Some((_, gone)) => *used -= gone.bytes(),
                None => break,
            }
        }
    }

    /// Bytes held now.
    pub fn used(&self) -> usize {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).1
    }
}

impl Default for VectorCache {
    fn default() -> Self {
        VectorCache::new(256 << 20)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus(version: i64, n: usize) -> Arc<Corpus> {
        Arc::new(Corpus {
            version,
            dimension: 2,
            ids: (0..n).map(|_| Uuid::new_v4()).collect(),
            vectors: vec![0.5; n * 2],
        })
    }

    #[test]
    fn hits_only_the_same_version_and_keeps_to_the_budget() {
        // Each corpus below: 10 ids (16 bytes) and 20 f32 (80 bytes) = 240 bytes; room for three.
        let cache = VectorCache::new(3 * 240);
        let (a, b, c, d) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        cache.put(a, corpus(1, 10));
        assert!(cache.get(a, 1).is_some());
        assert!(cache.get(a, 2).is_none(), "another version is a miss");
        cache.put(b, corpus(1, 10));
        cache.put(c, corpus(1, 10));
        assert!(cache.get(a, 1).is_some(), "a is now the most recently used");
        cache.put(d, corpus(1, 10));
        assert!(cache.get(b, 1).is_none(), "the least recently used went");
        assert!(cache.get(a, 1).is_some() && cache.get(d, 1).is_some());
        assert_eq!(cache.used(), 3 * 240);
        cache.put(a, corpus(1, 1_000));
        assert!(cache.get(a, 1).is_some(), "the old entry stays when a larger one does not fit");
    }
}
