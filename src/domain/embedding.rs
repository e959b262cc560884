//! Journal embeddings: validation, compact storage, cosine similarity and top-k.
//!
//! Embeddings are stored as little-endian f32 scaled to unit length, so the cosine similarity of
//! two of them is their dot product: a search reads each stored vector once, multiplies, and
//! keeps the best k in a small heap. 10,000 entries of 1,536 dimensions are 61 MB of f32 and
//! about 15 million multiply-adds.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Largest accepted embedding dimension.
pub const MAX_DIMENSION: usize = 4096;

/// Why an embedding was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum EmbeddingError {
    Empty,
    TooLong(usize),
    NotFinite(usize),
    Zero,
}

impl EmbeddingError {
    pub fn reason(&self) -> String {
        match self {
            EmbeddingError::Empty => "must not be empty".into(),
            EmbeddingError::TooLong(n) => format!("has {n} dimensions; at most {MAX_DIMENSION} are accepted"),
            EmbeddingError::NotFinite(i) => format!("component {i} is not a finite number"),
            EmbeddingError::Zero => "is the zero vector, which has no direction".into(),
        }
    }
}

/// A validated embedding, scaled to unit length.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit(Vec<f32>);

impl Unit {
    /// Validates and normalizes a client's vector. Components are taken as f32 (what is stored);
    /// a component that does not fit in f32 is not finite.
    pub fn new(values: &[f64]) -> Result<Unit, EmbeddingError> {
        if values.is_empty() {
            return Err(EmbeddingError::Empty);
        }
        if values.len() > MAX_DIMENSION {
            return Err(EmbeddingError::TooLong(values.len()));
        }
        let mut v = Vec::with_capacity(values.len());
        for (i, x) in values.iter().enumerate() {
            let f = *x as f32;
            if !f.is_finite() {
                return Err(EmbeddingError::NotFinite(i));
            }
            v.push(f);
        }
        let norm = v.iter().map(|x| f64::from(*x) * f64::from(*x)).sum::<f64>().sqrt();
        if norm == 0.0 || !norm.is_finite() {
            return Err(EmbeddingError::Zero);
        }
        Ok(Unit(v.into_iter().map(|x| (f64::from(x) / norm) as f32).collect()))
    }

    pub fn dimension(&self) -> usize {
        self.0.len()
    }

    /// The stored form: little-endian f32.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    /// Cosine similarity with an embedding already decoded (same dimension, unit length).
    pub fn dot(&self, other: &[f32]) -> f32 {
        self.0.iter().zip(other).map(|(a, b)| a * b).sum()
    }

    /// Cosine similarity with a stored embedding of the same dimension; None when the stored
    /// bytes are not one (a fault of ours, which the caller logs).
    pub fn similarity(&self, stored: &[u8]) -> Option<f32> {
        if stored.len() != self.0.len() * 4 {
            return None;
        }
        let mut sum = 0.0f32;
        for (q, chunk) in self.0.iter().zip(stored.chunks_exact(4)) {
            sum += q * f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
        Some(sum)
    }
}

/// A stored embedding decoded; None when its length is not a whole number of f32.
pub fn decode(stored: &[u8]) -> Option<Vec<f32>> {
    if !stored.len().is_multiple_of(4) {
        return None;
    }
    Some(stored.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}

/// A scored item for the top-k heap: ordered so that the heap's top is the worst kept item.
struct Scored<T> {
    score: f32,
    rank: usize,
    item: T,
}

impl<T> PartialEq for Scored<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl<T> Eq for Scored<T> {}
impl<T> PartialOrd for Scored<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Scored<T> {
    /// Better is a higher score, then an earlier position in the input; the heap keeps the worst
    /// on top, so "greater" here means "worse".
    fn cmp(&self, other: &Self) -> Ordering {
        other.score.total_cmp(&self.score).then(self.rank.cmp(&other.rank))
    }
}

/// The `k` best of `items` by score, best first; ties keep input order.
pub fn top_k<T>(items: impl IntoIterator<Item = (f32, T)>, k: usize) -> Vec<(f32, T)> {
    if k == 0 {
        return Vec::new();
    }
    let mut heap: BinaryHeap<Scored<T>> = BinaryHeap::with_capacity(k + 1);
    for (rank, (score, item)) in items.into_iter().enumerate() {
        let candidate = Scored { score, rank, item };
        if heap.len() < k {
            heap.push(candidate);
        } else if heap.peek().is_some_and(|worst| candidate < *worst) {
            heap.pop();
            heap.push(candidate);
        }
    }
    let mut best: Vec<Scored<T>> = heap.into_vec();
    best.sort();
    best.into_iter().map(|s| (s.score, s.item)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_are_validated_and_normalized() {
        assert_eq!(Unit::new(&[]), Err(EmbeddingError::Empty));
        assert_eq!(Unit::new(&[0.0, 0.0]), Err(EmbeddingError::Zero));
        assert_eq!(Unit::new(&[1.0, f64::NAN]), Err(EmbeddingError::NotFinite(1)));
        assert_eq!(Unit::new(&[1.0, 1e300]), Err(EmbeddingError::NotFinite(1)), "does not fit in f32");
        assert_eq!(Unit::new(&vec![1.0; 4097]), Err(EmbeddingError::TooLong(4097)));
        assert!(Unit::new(&vec![1.0; 4096]).is_ok());
        let u = Unit::new(&[3.0, 4.0]).unwrap();
        assert_eq!(u.0, vec![0.6, 0.8]);
        assert_eq!(u.to_bytes().len(), 8);
    }

    #[test]
    fn similarity_is_the_cosine() {
        let q = Unit::new(&[1.0, 0.0]).unwrap();
        let same = Unit::new(&[5.0, 0.0]).unwrap().to_bytes();
        let orthogonal = Unit::new(&[0.0, 2.0]).unwrap().to_bytes();
        let opposite = Unit::new(&[-1.0, 0.0]).unwrap().to_bytes();
        let diagonal = Unit::new(&[1.0, 1.0]).unwrap().to_bytes();
        assert_eq!(q.similarity(&same), Some(1.0));
        assert_eq!(q.similarity(&orthogonal), Some(0.0));
        assert_eq!(q.similarity(&opposite), Some(-1.0));
        assert!((q.similarity(&diagonal).unwrap() - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
        assert_eq!(q.similarity(&[0u8; 12]), None, "a stored vector of another dimension");
        let decoded = decode(&diagonal).unwrap();
        assert_eq!(q.dot(&decoded), q.similarity(&diagonal).unwrap());
        assert_eq!(decode(&[0u8; 5]), None);
    }

    #[test]
    fn top_k_keeps_the_best_in_order_and_ties_in_input_order() {
        let items = vec![(0.1, "a"), (0.9, "b"), (0.5, "c"), (0.9, "d"), (0.7, "e")];
        assert_eq!(top_k(items.clone(), 3), vec![(0.9, "b"), (0.9, "d"), (0.7, "e")]);
        assert_eq!(top_k(items.clone(), 10).len(), 5);
        assert!(top_k(items, 0).is_empty());
    }
}
