//! Batching on yield, the way Facebook's DataLoader batches per event-loop tick.
//!
//! async-graphql's `DataLoader` gathers keys for a fixed time window and then loads them. Under a
//! 2-core load or in a debug build, resolving 20 siblings can outlast the window, so a list was
//! sometimes loaded in two or three batches, more often for longer lists: the statement count of a
//! request depended on timing and grew with page size. Here a load registers its key, yields
//! once, and the first load to run again takes every key registered until then and runs the one
//! query. The executor polls all siblings of a list (every item's fields) before any of them runs
//! a second time, so a list costs exactly one statement per relation, whatever its length.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OnceCell;

use crate::error::{ApiError, ApiResult};

/// The maps of batches and loaders. Their keys are ids and short tuples, hashed for every row of
/// every batch: std's SipHash cost about 4% of a FullLearnerView. foldhash's seed is random per
/// process, and a batch holds at most the keys the request limits allow.
pub type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// One relation's batched query.
pub trait BatchLoad: Send + Sync + 'static {
    type Key: Eq + Hash + Clone + Send + Sync + 'static;
    type Value: Clone + Send + Sync + 'static;

    /// The values for `keys` (distinct); a key without a value is simply absent.
    fn load(&self, keys: &[Self::Key]) -> impl Future<Output = ApiResult<Map<Self::Key, Self::Value>>> + Send;
}

/// A batch's values, each with the number of its loads that have not taken it yet: the last one
/// takes the value rather than cloning it (a page's rows, for most keys of most batches).
type Loaded<L> = Result<Mutex<Map<<L as BatchLoad>::Key, (usize, <L as BatchLoad>::Value)>>, ApiError>;

struct Batch<L: BatchLoad> {
    keys: Mutex<Vec<L::Key>>,
    result: OnceCell<Loaded<L>>,
}

impl<L: BatchLoad> Default for Batch<L> {
    fn default() -> Self {
        Batch { keys: Mutex::new(Vec::new()), result: OnceCell::new() }
    }
}

/// Batches the loads of one relation (shared by all requests; keys carry their learner).
pub struct Batcher<L: BatchLoad> {
    loader: L,
    open: Mutex<Arc<Batch<L>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<L: BatchLoad> Batcher<L> {
    pub fn new(loader: L) -> Self {
        Batcher { loader, open: Mutex::new(Arc::new(Batch::default())) }
    }

    pub async fn load_one(&self, key: L::Key) -> ApiResult<Option<L::Value>> {
        let batch = {
            // Keys join the open batch under the same lock that closes it, so a key is either in
            // a batch before it is closed or in the next one.
            let open = lock(&self.open);
            lock(&open.keys).push(key.clone());
            open.clone()
        };
        tokio::task::yield_now().await;
        // Unconstrained: waiting on the batch must not spend tokio's per-poll budget, or in a wide
        // request some waiters of a finished batch wake a pass after the others, and their
        // children's keys go to a second batch.
        //
        // Boxed: the query's future is large (sqlx and sea-orm state), and every resolver that
        // awaits a load would otherwise carry it inline. async-graphql boxes each field's future
        // at the size of the largest field of its type, so one loading field made every scalar
        // sibling cost kilobytes to allocate and move (`Session.kind` was 2.4 KiB).
        let result = tokio::task::unconstrained(batch.result.get_or_init(|| {
            Box::pin(async {
                // The items of a list wider than 30 are polled through `FuturesUnordered`, which ends
                // a pass after as many polls as it holds futures: when a wake-up lands mid-pass, some
                // siblings register their keys a pass later. The batch stays open while a pass still
                // brings keys.
                loop {
                    let before = lock(&batch.keys).len();
                    tokio::task::yield_now().await;
                    if lock(&batch.keys).len() == before {
                        break;
                    }
                }
                {
                    let mut open = lock(&self.open);
                    if Arc::ptr_eq(&open, &batch) {
                        *open = Arc::new(Batch::default());
                    }
                }
                // Read, not taken: if this load is cancelled mid-query, the next one retries with
                // the same keys.
                let keys = lock(&batch.keys).clone();
                let mut loads = Map::with_capacity_and_hasher(keys.len(), Default::default());
                for key in &keys {
                    *loads.entry(key.clone()).or_insert(0usize) += 1;
                }
                let distinct: Vec<L::Key> = dedup(keys);
                let mut values = self.loader.load(&distinct).await?;
                let counted =
                    values.drain().filter_map(|(key, value)| loads.get(&key).map(|&n| (key, (n, value)))).collect();
                Ok(Mutex::new(counted))
            })
        }))
        .await;
        match result {
            Ok(values) => {
                let mut values = lock(values);
                let Some((left, value)) = values.get_mut(&key) else { return Ok(None) };
                *left -= 1;
                if *left == 0 {
                    return Ok(values.remove(&key).map(|(_, value)| value));
                }
                Ok(Some(value.clone()))
            }
            Err(e) => Err(e.clone()),
        }
    }
}

/// `keys` without repeats, in their first order.
fn dedup<K: Eq + Hash + Clone>(mut keys: Vec<K>) -> Vec<K> {
    let mut seen: HashSet<K, foldhash::fast::RandomState> =
        HashSet::with_capacity_and_hasher(keys.len(), Default::default());
    keys.retain(|k| seen.insert(k.clone()));
    keys
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    struct Squares(Arc<AtomicUsize>);

    impl BatchLoad for Squares {
        type Key = u32;
        type Value = u32;

        async fn load(&self, keys: &[u32]) -> ApiResult<Map<u32, u32>> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(keys.iter().filter(|k| **k != 7).map(|k| (*k, k * k)).collect())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn siblings_polled_together_share_one_load_whatever_their_number() {
        for n in [8u32, 50, 500] {
            let calls = Arc::new(AtomicUsize::new(0));
            let batcher = Arc::new(Batcher::new(Squares(calls.clone())));
            // On a worker task, as requests run (see the module comment).
            let b = batcher.clone();
            let values =
                // Key 3 twice: both loads get its value (the first a clone, the last the value).
                tokio::spawn(async move { futures_util::future::join_all((0..n).chain([3]).map(|k| b.load_one(k))).await })
                    .await
                    .unwrap();
            assert_eq!(calls.load(Ordering::SeqCst), 1, "{n} siblings");
            assert_eq!(values[3].clone().unwrap(), Some(9));
            assert_eq!(values[7].clone().unwrap(), None, "a key without a value");
            assert_eq!(values[n as usize].clone().unwrap(), Some(9), "a key loaded twice");
            // A later load is a new batch.
            assert_eq!(batcher.load_one(4).await.unwrap(), Some(16));
            assert_eq!(calls.load(Ordering::SeqCst), 2);
        }
    }
}
