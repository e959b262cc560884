//! Limits on the shape of a document, checked before it is validated or run: tokens per document
//! (before parsing, so a huge document costs no parse), aliases in the selected operation, and
//! directives per field. Depth and complexity are async-graphql's own (`build_schema`).
//!
//! Registered before `SelectedOperation`, so the document it sees is the selected operation and
//! the fragments it reaches: another operation of the document costs nothing.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{Directive, ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ErrorExtensionValues, Name, Pos, Positioned, ServerError, ServerResult, Variables};

#[derive(Clone, Copy, Debug)]
pub struct QueryLimits {
    pub max_tokens: usize,
    pub max_aliases: usize,
    pub max_directives: usize,
}

impl ExtensionFactory for QueryLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(*self)
    }
}

fn refuse(code: &str, message: String, at: Option<Pos>) -> ServerError {
    let mut error = ServerError::new(message, at);
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", code);
    error.extensions = Some(extensions);
    error
}

#[async_graphql::async_trait::async_trait]
impl Extension for QueryLimits {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        self.check_source(query)?;
        let document = next.run(ctx, query, variables).await?;
        self.check_document(&document)?;
        Ok(document)
    }
}

impl QueryLimits {
    /// Refuses a document of more tokens than allowed, before it is parsed.
    pub fn check_source(&self, query: &str) -> ServerResult<()> {
        if count_tokens(query, self.max_tokens) > self.max_tokens {
            let message = format!("the document has more than {} tokens", self.max_tokens);
            return Err(refuse("TOO_MANY_TOKENS", message, None));
        }
        Ok(())
    }

    /// Refuses a parsed document (its selected operation) with too many aliases, or too many
    /// directives on one field or fragment.
    pub fn check_document(&self, document: &ExecutableDocument) -> ServerResult<()> {
        let aliases = count_aliases(document);
        if aliases > self.max_aliases {
            let message =
                format!("the operation has {aliases} aliased fields; at most {} are allowed", self.max_aliases);
            return Err(refuse("TOO_MANY_ALIASES", message, None));
        }
        if let Some(at) = too_many_directives(document, self.max_directives) {
            let message = format!("at most {} directives are allowed on one field or fragment", self.max_directives);
            return Err(refuse("TOO_MANY_DIRECTIVES", message, Some(at)));
        }
        Ok(())
    }
}

/// GraphQL's lexical tokens in `source`, counted up to just past `limit`: punctuators, names,
/// numbers and strings; whitespace, commas and comments are ignored, as the spec's lexer does.
/// A document that does not lex is left to the parser: this only has to count.
pub fn count_tokens(source: &str, limit: usize) -> usize {
    let b = source.as_bytes();
    let (mut i, mut n) = (0, 0);
    while i < b.len() && n <= limit {
        match b[i] {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => i += 1,
            b'#' => {
                while i < b.len() && b[i] != b'\n' && b[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' if b[i..].starts_with(b"\"\"\"") => {
                n += 1;
                i += 3;
                while i < b.len() && !b[i..].starts_with(b"\"\"\"") {
                    i += if b[i..].starts_with(b"\\\"\"\"") { 4 } else { 1 };
                }
                i += 3;
            }
            b'"' => {
                n += 1;
                i += 1;
                while i < b.len() && b[i] != b'"' && b[i] != b'\n' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'.' if b[i..].starts_with(b"...") => {
                n += 1;
                i += 3;
            }
            c if c.is_ascii_digit() || c == b'-' => {
                n += 1;
                i += 1;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'.' | b'+' | b'-' | b'_')) {
                    i += 1;
                }
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                n += 1;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
            }
            _ => {
                n += 1;
                i += 1;
            }
        }
    }
    n
}

/// Aliased fields of the document's operations, with each fragment counted every time it is
/// spread (memoized per fragment, so a chain of fragments spreading each other twice costs one
/// pass, not 2ⁿ). Saturating: a fragment cycle (a validation error later) counts once.
fn count_aliases(document: &ExecutableDocument) -> usize {
    fn in_set(
        set: &SelectionSet,
        document: &ExecutableDocument,
        memo: &mut HashMap<Name, usize>,
        visiting: &mut Vec<Name>,
    ) -> usize {
        set.items.iter().fold(0usize, |total, item| {
            let here = match &item.node {
                Selection::Field(field) => usize::from(field.node.alias.is_some()).saturating_add(in_set(
                    &field.node.selection_set.node,
                    document,
                    memo,
                    visiting,
                )),
                Selection::InlineFragment(fragment) => {
                    in_set(&fragment.node.selection_set.node, document, memo, visiting)
                }
                Selection::FragmentSpread(spread) => {
                    let name = &spread.node.fragment_name.node;
                    if let Some(known) = memo.get(name) {
                        *known
                    } else if visiting.contains(name) {
                        0
                    } else if let Some(fragment) = document.fragments.get(name) {
                        visiting.push(name.clone());
                        let count = in_set(&fragment.node.selection_set.node, document, memo, visiting);
                        visiting.pop();
                        memo.insert(name.clone(), count);
                        count
                    } else {
                        0
                    }
                }
            };
            total.saturating_add(here)
        })
    }
    let mut memo = HashMap::new();
    document.operations.iter().fold(0usize, |total, (_, operation)| {
        total.saturating_add(in_set(&operation.node.selection_set.node, document, &mut memo, &mut Vec::new()))
    })
}

/// Where a field, spread or inline fragment carries more than `max` directives, if anywhere.
fn too_many_directives(document: &ExecutableDocument, max: usize) -> Option<Pos> {
    fn in_set(set: &SelectionSet, max: usize) -> Option<Pos> {
        set.items.iter().find_map(|item| {
            let (directives, inner): (&[Positioned<Directive>], Option<&SelectionSet>) = match &item.node {
                Selection::Field(f) => (&f.node.directives, Some(&f.node.selection_set.node)),
                Selection::FragmentSpread(s) => (&s.node.directives, None),
                Selection::InlineFragment(f) => (&f.node.directives, Some(&f.node.selection_set.node)),
            };
            if directives.len() > max {
                return Some(item.pos);
            }
            inner.and_then(|set| in_set(set, max))
        })
    }
    let operations = document.operations.iter().map(|(_, op)| &op.node.selection_set.node);
    let fragments = document.fragments.values().map(|f| &f.node.selection_set.node);
    operations.chain(fragments).find_map(|set| in_set(set, max))
}

#[cfg(test)]
mod tests {
    use super::count_tokens;

    #[test]
    fn tokens_are_counted_as_the_lexer_sees_them() {
        assert_eq!(count_tokens("{ a }", 100), 3);
        assert_eq!(count_tokens("query Q($n: Int = -1.5e3) { a(n: $n), b }", 100), 20);
        assert_eq!(count_tokens("# a comment { } \n{ a(s: \"x { y } \\\" z\") }", 100), 8);
        assert_eq!(count_tokens("{ a(s: \"\"\"block \\\"\"\" { }\"\"\") ...F }", 100), 10);
        assert_eq!(count_tokens(&"{ a }".repeat(1000), 10), 11, "counting stops past the limit");
    }
}
