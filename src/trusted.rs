//! Trusted documents: with `LEARNGRAPH_TRUSTED_DOCUMENTS` set to a manifest (a JSON object of
//! document id → document text, as GraphQL Code Generator's client preset writes
//! `persisted-documents.json` and Relay's compiler writes its persisted queries), learner-role
//! requests may run only the documents listed: named by id (`documentId`, Relay's `doc_id`, or
//! Apollo's `extensions.persistedQuery.sha256Hash`), or sent as the identical text. Staff and
//! service may run anything unless `LEARNGRAPH_TRUSTED_DOCUMENTS_FOR=everyone`.
//!
//! `learngraph trust FILES…` builds a manifest from `.graphql` files: one entry per operation (its
//! text and the fragments it uses), keyed by the SHA-256 of that text in hex, as the client preset
//! keys it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use async_graphql::parser::types::DocumentOperations;
use axum::http::StatusCode;
use sha2::{Digest, Sha256};

use crate::auth::Viewer;
use crate::config::TrustedFor;

/// The documents a manifest lists, and whom the rule binds.
#[derive(Debug)]
pub struct TrustedDocuments {
    by_id: HashMap<String, Arc<str>>,
    texts: HashSet<Arc<str>>,
    scope: TrustedFor,
}

/// Why a request may not run; `http.rs` and `ws.rs` send it with its code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl Refused {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Refused { status, code, message: message.into() }
    }
}

impl TrustedDocuments {
    /// Reads a manifest file; every document in it must parse.
    pub fn load(path: &Path, scope: TrustedFor) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the trusted documents manifest {}", path.display()))?;
        Self::from_manifest(&text, scope).with_context(|| format!("in {}", path.display()))
    }

    pub fn from_manifest(manifest: &str, scope: TrustedFor) -> anyhow::Result<Self> {
        let entries: BTreeMap<String, String> = serde_json::from_str(manifest)
            .context("a trusted documents manifest is a JSON object of document id to document text")?;
        let mut by_id = HashMap::with_capacity(entries.len());
        let mut texts = HashSet::with_capacity(entries.len());
        for (id, text) in entries {
            async_graphql::parser::parse_query(&text)
                .map_err(|e| anyhow::anyhow!("document {id} does not parse: {e}"))?;
            let text: Arc<str> = Arc::from(text);
            texts.insert(text.clone());
            by_id.insert(id, text);
        }
        Ok(TrustedDocuments { by_id, texts, scope })
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Whether `viewer` may run only listed documents.
    fn binds(&self, viewer: &Viewer) -> bool {
        match self.scope {
            TrustedFor::Everyone => true,
            TrustedFor::Learners => matches!(viewer, Viewer::Learner { .. } | Viewer::Anonymous),
        }
    }
}

/// The id a request names its document by: `document_id` (a top-level `documentId` or `doc_id`),
/// else `extensions.persistedQuery.sha256Hash`.
fn requested_id(request: &async_graphql::Request, document_id: Option<String>) -> Option<String> {
    document_id.or_else(|| {
        let persisted = request.extensions.get("persistedQuery")?;
        let async_graphql::Value::Object(fields) = persisted else { return None };
        match fields.get("sha256Hash")? {
            async_graphql::Value::String(hash) => Some(hash.clone()),
            _ => None,
        }
    })
}

/// Settles the document `request` runs for `viewer`: a named document's text is filled in from
/// the manifest; a text is checked against it when the rule binds the viewer.
pub fn admit(
    trusted: Option<&TrustedDocuments>,
    viewer: &Viewer,
    request: &mut async_graphql::Request,
    document_id: Option<String>,
) -> Result<(), Refused> {
    if let Some(id) = requested_id(request, document_id) {
        let Some(trusted) = trusted else {
            return Err(Refused::new(
                StatusCode::BAD_REQUEST,
                "PERSISTED_DOCUMENT_NOT_FOUND",
                "this server keeps no trusted documents (LEARNGRAPH_TRUSTED_DOCUMENTS); send the query text",
            ));
        };
        let Some(text) = trusted.by_id.get(&id) else {
            return Err(Refused::new(
                StatusCode::BAD_REQUEST,
                "PERSISTED_DOCUMENT_NOT_FOUND",
                format!("no trusted document has the id {id}"),
            ));
        };
        if !request.query.is_empty() && request.query != **text {
            return Err(Refused::new(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                format!("the query sent is not the text of document {id}; send one or the other"),
            ));
        }
        request.query = text.to_string();
        return Ok(());
    }
    if request.query.is_empty() {
        return Err(Refused::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", "a request needs `query` (or `documentId`)"));
    }
    match trusted {
        Some(trusted) if trusted.binds(viewer) && !trusted.texts.contains(request.query.as_str()) => Err(Refused::new(
            StatusCode::FORBIDDEN,
            "DOCUMENT_NOT_TRUSTED",
            "this server runs only trusted documents for this viewer; send a listed document or its documentId",
        )),
        _ => Ok(()),
    }
}

/// The SHA-256 of `text`, in lowercase hex: a document's id in a manifest built by `trust`.
pub fn document_id(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A manifest for the operations of `sources` (`(name, text)` of `.graphql` files): each
/// operation, followed by the fragments it uses from its file, keyed by `document_id`.
pub fn manifest(sources: &[(String, String)]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (name, source) in sources {
        let document = async_graphql::parser::parse_query(source).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        let operation_starts: Vec<usize> = match &document.operations {
            DocumentOperations::Single(op) => vec![offset(source, op.pos)],
            DocumentOperations::Multiple(ops) => ops.values().map(|op| offset(source, op.pos)).collect(),
        };
        let fragment_starts: Vec<(usize, async_graphql::Name)> =
            document.fragments.iter().map(|(n, f)| (offset(source, f.pos), n.clone())).collect();
        let mut starts: Vec<usize> =
            operation_starts.iter().copied().chain(fragment_starts.iter().map(|(s, _)| *s)).collect();
        starts.sort_unstable();
        let text_at = |start: usize| -> String {
            let end = starts.iter().copied().find(|s| *s > start).unwrap_or(source.len());
            definition_text(&source[start..end])
        };
        let names: Vec<Option<async_graphql::Name>> = match &document.operations {
            DocumentOperations::Single(_) => vec![None],
            DocumentOperations::Multiple(ops) => ops.keys().cloned().map(Some).collect(),
        };
        for (start, op_name) in operation_starts.iter().zip(names) {
            let mut single = document.clone();
            if let (Some(op_name), DocumentOperations::Multiple(ops)) = (&op_name, &mut single.operations) {
                ops.retain(|n, _| n == op_name);
            }
            let used = crate::graphql::selection::used_fragments(&single);
            let mut fragments: Vec<&(usize, async_graphql::Name)> =
                fragment_starts.iter().filter(|(_, n)| used.contains(n)).collect();
            fragments.sort_by_key(|(s, _)| *s);
            let mut text = text_at(*start);
            for (fragment_start, _) in fragments {
                text.push_str("\n\n");
                text.push_str(&text_at(*fragment_start));
            }
            out.insert(document_id(&text), text);
        }
    }
    Ok(out)
}

/// The byte offset of a parser position (1-based line and character column).
fn offset(source: &str, pos: async_graphql::Pos) -> usize {
    let mut line_start = 0;
    for (i, line) in source.split_inclusive('\n').enumerate() {
        if i + 1 == pos.line {
            return line_start + line.char_indices().nth(pos.column.saturating_sub(1)).map_or(line.len(), |(at, _)| at);
        }
        line_start += line.len();
    }
    source.len()
}

/// One definition's source: without the blank lines and comments that follow it (they introduce
/// the next definition).
fn definition_text(slice: &str) -> String {
    let mut lines: Vec<&str> = slice.lines().collect();
    while lines.last().is_some_and(|l| l.trim().is_empty() || l.trim_start().starts_with('#')) {
        lines.pop();
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "# The first.\nquery A($id: ID!) {\n  node(id: $id) { ...F }\n}\n\n# The second.\nmutation B { x }\n\nfragment F on Learner { externalId ...G }\nfragment G on Learner { id }\nfragment Unused on Learner { id }\n";

    #[test]
    fn a_manifest_has_one_document_per_operation_with_its_fragments() {
        let manifest = manifest(&[("a.graphql".into(), SOURCE.into())]).expect("manifest");
        let texts: Vec<&String> = manifest.values().collect();
        assert_eq!(manifest.len(), 2);
        let a = "query A($id: ID!) {\n  node(id: $id) { ...F }\n}\n\nfragment F on Learner { externalId ...G }\n\nfragment G on Learner { id }";
        assert!(texts.contains(&&a.to_owned()), "{texts:#?}");
        assert!(texts.contains(&&"mutation B { x }".to_owned()), "{texts:#?}");
        for (id, text) in &manifest {
            assert_eq!(*id, document_id(text));
            async_graphql::parser::parse_query(text).expect("each document parses alone");
        }
        assert_eq!(document_id("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn learners_run_listed_documents_only() {
        let manifest = serde_json::json!({ "h1": "{ __typename }" }).to_string();
        let trusted = TrustedDocuments::from_manifest(&manifest, TrustedFor::Learners).expect("load");
        let learner = Viewer::Learner { external_id: "l".into() };
        let staff = Viewer::Staff { sub: "s".into() };
        let mut by_text = async_graphql::Request::new("{ __typename }");
        assert_eq!(admit(Some(&trusted), &learner, &mut by_text, None), Ok(()));
        let mut by_id = async_graphql::Request::new("");
        assert_eq!(admit(Some(&trusted), &learner, &mut by_id, Some("h1".into())), Ok(()));
        assert_eq!(by_id.query, "{ __typename }");
        let mut other = async_graphql::Request::new("{ __schema { description } }");
        let refused = admit(Some(&trusted), &learner, &mut other, None).expect_err("not listed");
        assert_eq!((refused.status, refused.code), (StatusCode::FORBIDDEN, "DOCUMENT_NOT_TRUSTED"));
        assert_eq!(admit(Some(&trusted), &staff, &mut other, None), Ok(()), "staff may run anything");
        let everyone = TrustedDocuments::from_manifest(&manifest, TrustedFor::Everyone).expect("load");
        assert!(admit(Some(&everyone), &staff, &mut other, None).is_err());
        let mut unknown = async_graphql::Request::new("");
        let refused = admit(Some(&trusted), &staff, &mut unknown, Some("nope".into())).expect_err("unknown id");
        assert_eq!(refused.code, "PERSISTED_DOCUMENT_NOT_FOUND");
        assert!(TrustedDocuments::from_manifest(r#"{"x": "{ broken"}"#, TrustedFor::Learners).is_err());
    }
}
