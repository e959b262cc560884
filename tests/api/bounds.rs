//! Every list the schema returns is bounded, and every page size is charged in the query's
//! complexity, so `LEARNGRAPH_MAX_COMPLEXITY` really caps what one request can make the server do.
//! Both tests read the schema by introspection: a new field is covered without editing them.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextValidation};
use async_graphql::{EmptySubscription, Schema, ServerError, ValidationResult};
use learngraph::graphql::{Mutation, Query};

use crate::schema_walk::{FieldDef, InputDef, SchemaInfo, TypeRef, introspect};

/// The arguments that size a page.
const PAGE_ARGS: &[&str] = &["first", "last"];

/// Lists that take no page size, each with the rule that bounds it. `*Suffix.field` stands for
/// that field on every type whose name ends with `Suffix`.
const UNPAGED_LISTS: &[(&str, &str)] = &[
    ("JournalEntry.moodTags", "at most 20 tags per entry (store::journal::MAX_TAGS, checked on write)"),
    ("Learner.conversationStates", "at most 100 per learner (graphql::companion::MAX_STATES, checked on write)"),
    ("PostChatMessagesPayload.messages", "what one call posted: at most 50 (store::companion::MAX_MESSAGES_PER_POST)"),
    ("Learner.preferences", "at most 100 per learner (store::details::MAX_PER_KIND, checked on write)"),
    ("Learner.interests", "at most 100 per learner (store::details::MAX_PER_KIND, checked on write)"),
    ("Learner.struggles", "at most 100 per learner (store::details::MAX_PER_KIND, checked on write)"),
    ("Learner.cognitiveMetrics", "at most 100 per learner (store::details::MAX_PER_KIND, checked on write)"),
    ("Learner.objectives", "at most 100 per learner (store::details::MAX_PER_KIND, checked on write)"),
    ("Learner.badges", "at most 100 per learner (store::details::MAX_PER_KIND, checked on write)"),
    ("Learner.portfolio", "at most 100 per learner (store::details::MAX_PER_KIND, checked on write)"),
    ("AccessLogEntry.fields", "the top-level fields of one request: bounded by the query size and depth limits"),
    ("Query.erasureRecords", "at most 100, newest first (store::audit::erasures); one per erasure of one externalId"),
    ("Learner.coachingFocus", "at most 5 tracks and 6 modules (domain::profiling::coaching_focus)"),
    ("CoachingFocus.skillCodes", "the skills of one area of the skill map, shipped with the binary"),
    ("ProfilingOutcome.alignment", "the five tracks (domain::profiling::TRACKS)"),
    ("ProfilingTelemetry.alignment", "the five tracks (domain::profiling::TRACKS)"),
    ("ProfilingTelemetry.moduleScores", "at most the six modules (domain::profiling::MODULES)"),
    ("ProfilingTelemetry.weakModules", "at most the six modules (domain::profiling::MODULES)"),
    (
        "ProfilingTelemetry.scenarioChoices",
        "one per question of a bank: at most 200 (domain::profiling::MAX_QUESTIONS)",
    ),
    ("ProfilingSession.responses", "one per question of a bank: at most 200 (domain::profiling::MAX_QUESTIONS)"),
    (
        "ProfilingSession.questions",
        "a bank has at most 200 questions (domain::profiling::MAX_QUESTIONS, checked on publish)",
    ),
    (
        "ProfilingQuestionBank.questions",
        "a bank has at most 200 questions (domain::profiling::MAX_QUESTIONS, checked on publish)",
    ),
    (
        "Query.profilingQuestions",
        "a bank has at most 200 questions (domain::profiling::MAX_QUESTIONS, checked on publish)",
    ),
    ("ProfilingQuestion.options", "at most 12 per question (domain::profiling::MAX_OPTIONS, checked on publish)"),
    ("Recipe.skillCodes", "at most 50 per recipe (store::profiling::MAX_SKILLS_PER_RECIPE, checked on write)"),
    (
        "RecipeRecommendation.skillCodes",
        "at most 50 per recipe (store::profiling::MAX_SKILLS_PER_RECIPE, checked on write)",
    ),
    (
        "RecipeRecommendation.reasons",
        "one per gap skill the recipe matches: at most the skills of a track and six modules",
    ),
    (
        "*Connection.edges",
        "one page of the connection: every field returning a *Connection takes `first` (checked below)",
    ),
    (
        "*Connection.nodes",
        "one page of the connection: every field returning a *Connection takes `first` (checked below)",
    ),
];

fn allowlisted(type_name: &str, field: &str) -> Option<&'static str> {
    UNPAGED_LISTS.iter().map(|(key, _)| *key).find(|key| {
        let (ty, f) = key.split_once('.').expect("Type.field");
        f == field && ty.strip_prefix('*').map_or(ty == type_name, |suffix| type_name.ends_with(suffix))
    })
}

/// Every field whose type is a list or a `*Connection` takes `first` or `last`, or is in
/// `UNPAGED_LISTS` with the rule that bounds it.
#[tokio::test]
async fn every_list_takes_a_page_size() {
    let schema = introspect().await;
    let mut unbounded = Vec::new();
    let mut used = BTreeSet::new();
    for ty in schema.output_types() {
        for field in ty.fields.as_deref().unwrap_or_default() {
            let named = field.ty.named();
            let connection = named.ends_with("Connection") && schema.ty(named).kind == "OBJECT";
            if !field.ty.is_list() && !connection {
                continue;
            }
            if field.args.iter().any(|a| PAGE_ARGS.contains(&a.name.as_str())) {
                continue;
            }
            match allowlisted(&ty.name, &field.name) {
                Some(key) => {
                    used.insert(key);
                }
                None => unbounded.push(format!("{}.{}: {}", ty.name, field.name, field.ty.sdl())),
            }
        }
    }
    assert!(
        unbounded.is_empty(),
        "unbounded lists (no `first`/`last` argument and no entry in UNPAGED_LISTS in tests/api/bounds.rs): {}",
        unbounded.join(", ")
    );
    let stale: Vec<&str> = UNPAGED_LISTS.iter().map(|(key, _)| *key).filter(|key| !used.contains(key)).collect();
    assert!(stale.is_empty(), "UNPAGED_LISTS entries that match no field: {stale:?}");
}

/// For every field that takes `first` or `last`: a large page costs more than a page of one, and
/// leaving the argument out costs the same as passing its documented default (an SDL default, or
/// "(default N)" in the argument's description), so the default page is charged too.
#[tokio::test]
async fn every_page_size_is_charged() {
    let schema = introspect().await;
    let measuring =
        Schema::build(Query::default(), Mutation::default(), EmptySubscription).extension(MeasureComplexity).finish();
    let paths = paths_from_roots(&schema);
    let mut failures = Vec::new();
    let mut checked = 0;
    for ty in schema.output_types() {
        for field in ty.fields.as_deref().unwrap_or_default() {
            for arg in field.args.iter().filter(|a| PAGE_ARGS.contains(&a.name.as_str())) {
                let name = format!("{}.{}({})", ty.name, field.name, arg.name);
                let Some((op, path)) = paths.get(&ty.name) else {
                    failures.push(format!("{name}: no path from a root type to {}", ty.name));
                    continue;
                };
                let doc = |value: Option<i64>| document(&schema, op, path, field, &arg.name, value);
                let large = if arg.name == "last" { 366 } else { 100 };
                let (one, many) =
                    (measure(&measuring, &doc(Some(1))).await, measure(&measuring, &doc(Some(large))).await);
                match (one, many) {
                    (Ok(one), Ok(many)) if many > one => {}
                    (Ok(one), Ok(many)) => failures.push(format!(
                        "{name}: complexity {many} with {}: {large} and {one} with {}: 1 — the page size is not charged \
                         (give the field a `complexity` that multiplies by it, like `page::cost`)",
                        arg.name, arg.name
                    )),
                    (Err(e), _) | (_, Err(e)) => failures.push(format!("{name}: {e}")),
                }
                match documented_default(arg) {
                    None => failures.push(format!(
                        "{name}: no documented default (an SDL default or \"(default N)\" in its description)"
                    )),
                    Some(default) => {
                        match (measure(&measuring, &doc(None)).await, measure(&measuring, &doc(Some(default))).await) {
                            (Ok(omitted), Ok(explicit)) if omitted == explicit => {}
                            (Ok(omitted), Ok(explicit)) => failures.push(format!(
                                "{name}: complexity {omitted} without {} but {explicit} with its default {}: {default}",
                                arg.name, arg.name
                            )),
                            (Err(e), _) | (_, Err(e)) => failures.push(format!("{name}: {e}")),
                        }
                    }
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 6, "page arguments were found ({checked})");
    assert!(failures.is_empty(), "page sizes not charged in the complexity:\n{}", failures.join("\n"));
}

/// One step from a type towards another: a field (with literal arguments) or an inline fragment.
#[derive(Debug, Clone)]
enum Step {
    Field(String),
    Fragment(String),
}

/// The shortest selection path from `Query` (or else `Mutation`) to every output type.
fn paths_from_roots(schema: &SchemaInfo) -> HashMap<String, (&'static str, Vec<Step>)> {
    let mut paths: HashMap<String, (&'static str, Vec<Step>)> = HashMap::new();
    let roots = [("query", Some(schema.query.clone())), ("mutation", schema.mutation.clone())];
    for (op, root) in roots {
        let Some(root) = root else { continue };
        let mut queue = VecDeque::from([(root.clone(), Vec::new())]);
        let mut seen = BTreeSet::from([root]);
        while let Some((name, path)) = queue.pop_front() {
            paths.entry(name.clone()).or_insert_with(|| (op, path.clone()));
            let ty = schema.ty(&name);
            let mut next: Vec<(String, Step)> = Vec::new();
            for field in ty.fields.as_deref().unwrap_or_default() {
                let target = field.ty.named();
                if matches!(schema.ty(target).kind.as_str(), "OBJECT" | "INTERFACE" | "UNION") {
                    next.push((target.to_owned(), Step::Field(call(schema, field, None))));
                }
            }
            for possible in ty.possible_types.as_deref().unwrap_or_default() {
                next.push((possible.name.clone(), Step::Fragment(possible.name.clone())));
            }
            for (target, step) in next {
                if seen.insert(target.clone()) {
                    let mut longer = path.clone();
                    longer.push(step);
                    queue.push_back((target, longer));
                }
            }
        }
    }
    paths
}

/// `field(required: dummy, …)`, plus `page_arg: value` when given.
fn call(schema: &SchemaInfo, field: &FieldDef, page: Option<(&str, i64)>) -> String {
    let mut args: Vec<String> = field
        .args
        .iter()
        .filter(|a| page.is_none_or(|(name, _)| a.name != name))
        .filter(|a| a.ty.is_non_null() && a.default_value.is_none())
        .map(|a| format!("{}: {}", a.name, dummy(schema, &a.ty)))
        .collect();
    if let Some((name, value)) = page {
        args.push(format!("{name}: {value}"));
    }
    if args.is_empty() { field.name.clone() } else { format!("{}({})", field.name, args.join(", ")) }
}

/// A literal of the type, for required arguments along the way.
fn dummy(schema: &SchemaInfo, ty: &TypeRef) -> String {
    match (ty.kind.as_str(), &ty.of_type) {
        ("NON_NULL", Some(inner)) => dummy(schema, inner),
        ("LIST", Some(inner)) => format!("[{}]", dummy(schema, inner)),
        _ => {
            let named = schema.ty(ty.named());
            match (named.kind.as_str(), named.name.as_str()) {
                ("ENUM", _) => named.enum_values.as_deref().unwrap_or_default()[0].name.clone(),
                ("INPUT_OBJECT", _) => {
                    let fields: Vec<String> = named
                        .input_fields
                        .as_deref()
                        .unwrap_or_default()
                        .iter()
                        .filter(|f| f.ty.is_non_null() && f.default_value.is_none())
                        .map(|f| format!("{}: {}", f.name, dummy(schema, &f.ty)))
                        .collect();
                    format!("{{ {} }}", fields.join(", "))
                }
                (_, "Int") => "1".into(),
                (_, "Float") => "1.5".into(),
                (_, "Boolean") => "true".into(),
                (_, "DateTime") => "\"2024-01-01T00:00:00Z\"".into(),
                (_, "Date") => "\"2024-01-01\"".into(),
                (_, "UUID") => "\"00000000-0000-0000-0000-000000000000\"".into(),
                (_, "JSON") => "{}".into(),
                _ => "\"x\"".into(),
            }
        }
    }
}

/// The page size an argument documents for when it is left out.
fn documented_default(arg: &InputDef) -> Option<i64> {
    if let Some(d) = &arg.default_value {
        return d.parse().ok();
    }
    let description = arg.description.as_deref()?;
    let rest = &description[description.find("(default ")? + "(default ".len()..];
    rest.chars().take_while(char::is_ascii_digit).collect::<String>().parse().ok()
}

/// The selection under a field of type `name`: none for a scalar or enum, else one field that
/// costs something (`__typename` costs nothing, which would hide a cost that multiplies by the
/// selection's): a scalar field if there is one, else an object field and its own selection.
fn leaf_selection(schema: &SchemaInfo, name: &str) -> Option<String> {
    fn pick(schema: &SchemaInfo, name: &str, depth: usize) -> Option<String> {
        let ty = schema.ty(name);
        if !matches!(ty.kind.as_str(), "OBJECT" | "INTERFACE" | "UNION") {
            return None;
        }
        let plain = |f: &&FieldDef| f.args.iter().all(|a| !a.ty.is_non_null() || a.default_value.is_some());
        let fields: Vec<&FieldDef> = ty.fields.as_deref().unwrap_or_default().iter().filter(plain).collect();
        let leaf = |f: &&&FieldDef| !matches!(schema.ty(f.ty.named()).kind.as_str(), "OBJECT" | "INTERFACE" | "UNION");
        if let Some(f) = fields.iter().find(leaf) {
            return Some(f.name.clone());
        }
        let nested = (depth < 3)
            .then(|| {
                fields
                    .iter()
                    .find_map(|f| pick(schema, f.ty.named(), depth + 1).map(|s| format!("{} {{ {s} }}", f.name)))
            })
            .flatten();
        Some(nested.unwrap_or_else(|| "__typename".to_owned()))
    }
    pick(schema, name, 0)
}

/// `op { path { field(page_arg: value) { a_scalar } } }`.
fn document(
    schema: &SchemaInfo,
    op: &str,
    path: &[Step],
    field: &FieldDef,
    page_arg: &str,
    value: Option<i64>,
) -> String {
    let mut text = format!("{op} {{ ");
    for step in path {
        match step {
            Step::Field(call) => text.push_str(&format!("{call} {{ ")),
            Step::Fragment(ty) => text.push_str(&format!("... on {ty} {{ ")),
        }
    }
    text.push_str(&call(schema, field, value.map(|v| (page_arg, v))));
    if let Some(leaf) = leaf_selection(schema, field.ty.named()) {
        text.push_str(&format!(" {{ {leaf} }}"));
    }
    for _ in 0..=path.len() {
        text.push_str(" }");
    }
    text
}

/// Validates `doc` and returns its complexity (nothing is executed).
async fn measure(schema: &Schema<Query, Mutation, EmptySubscription>, doc: &str) -> Result<usize, String> {
    let response = serde_json::to_value(schema.execute(doc).await).expect("response json");
    response["errors"][0]["extensions"]["complexity"]
        .as_u64()
        .map(|c| c as usize)
        .ok_or_else(|| format!("`{doc}` did not validate: {response}"))
}

/// Records the complexity that validation computed, in an error, so that nothing executes.
struct MeasureComplexity;

impl ExtensionFactory for MeasureComplexity {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(MeasureComplexity)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for MeasureComplexity {
    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        let mut measured = ServerError::new("complexity measured; not executed", None);
        measured.extensions.get_or_insert_with(Default::default).set("complexity", result.complexity);
        Err(vec![measured])
    }
}
