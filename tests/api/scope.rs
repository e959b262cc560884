//! The scope table: every mutation and every path to a learner's data, with auth on, through the
//! real HTTP router. For learner A's data (a learner, its goal, session, event and attempt, all
//! created by a staff token):
//!
//! - (a) another learner's token (the intruder) gets FORBIDDEN, and exactly the answer it gets for
//!   ids of the same kinds that do not exist, so it cannot tell "someone else's" from "nobody's";
//! - (b) a request without a token gets UNAUTHENTICATED (also alike for existing and missing ids);
//! - (c) A's own token succeeds;
//!
//! and neither (a) nor (b) changes anything: row counts of every learner table and a staff read
//! of both learners are the same before and after.
//!
//! `the_scope_table_covers_every_field` fails when a field of `Query`, `Mutation` or `Learner`,
//! or a `Node` kind, has no row here: a new domain's mutation cannot skip the table.

use std::collections::BTreeSet;

use learngraph::config::Role;
use serde_json::{Value, json};

use crate::common::{Backend, SECRET, TestApp};
use crate::schema_walk::introspect;

crate::on_each_backend!(every_mutation_is_scoped, every_query_path_is_scoped, foreign_ids_in_own_requests_look_missing);

/// What a row must show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// Names A's data by id or externalId: (a), (b) and (c) as in the module docs.
    Scoped,
    /// `viewer`: nothing to name; each token sees its own learner (the intruder itself, never A),
    /// no token is UNAUTHENTICATED.
    TokenOwn,
    /// Staff only: every learner token (A's own too) and service tokens are FORBIDDEN, no token is
    /// UNAUTHENTICATED, staff succeeds.
    StaffOnly,
    /// A shared catalog read (question banks, recipes): any token succeeds (the intruder's too), no
    /// token is UNAUTHENTICATED.
    Catalog,
    /// A shared catalog write (`upsertRecipe`): staff and service succeed, every learner token is
    /// FORBIDDEN, no token is UNAUTHENTICATED.
    Privileged,
    /// The intruder names its own learner together with A's goal or session: answered exactly as
    /// with ids that do not exist, changing nothing. (Extra rows; they do not count as coverage.)
    Foreign,
}

/// One row of the table.
struct Row {
    /// The field the row covers: `Mutation.createGoal`, `Query.node`, `Learner.goals`, …
    field: &'static str,
    /// How the field is reached (for `Query.node` rows: the Node kind).
    via: String,
    /// The document; its variables (`$l`, `$g`, …, see `Ids::vars`) are declared by `doc`.
    doc: String,
    vars: fn(&Ids) -> Value,
    rule: Rule,
}

impl Row {
    fn label(&self) -> String {
        format!("{} (via {})", self.field, self.via)
    }
}

/// The ids a document can name: learner A's (or, for the "missing" comparison, well-formed ids of
/// the same kinds that do not exist), and the intruder's own learner.
#[derive(Debug, Clone)]
struct Ids {
    learner: String,
    external_id: String,
    goal: String,
    session: String,
    event: String,
    attempt: String,
    journal_entry: String,
    follow_up: String,
    chat_session: String,
    chat_message: String,
    mentor_selection: String,
    reflection: String,
    profiling_session: String,
    portfolio_item: String,
    recipe: String,
    /// The intruder's own learner (exists in both sets).
    me: String,
}

impl Ids {
    /// Every id as a variable: `$l $e $g $s $ev $a $je $fu $c $cm $ms $mr $ps $pi $r $me`, and
    /// `$bank`, a valid question bank that differs from the shipped one.
    fn vars(&self) -> Value {
        let mut bank: Value = serde_json::from_str(learngraph::domain::profiling::DEFAULT_BANK).expect("bank");
        bank["questions"][0]["prompt"] = json!(format!("Planted for {}", self.external_id));
        json!({
            "l": self.learner, "e": self.external_id, "g": self.goal, "s": self.session,
            "ev": self.event, "a": self.attempt, "je": self.journal_entry, "fu": self.follow_up,
            "c": self.chat_session, "cm": self.chat_message, "ms": self.mentor_selection,
            "mr": self.reflection, "ps": self.profiling_session, "pi": self.portfolio_item,
            "r": self.recipe, "me": self.me, "bank": bank,
        })
    }

    /// Ids of the same kinds that name nothing.
    fn missing(&self, n: usize) -> Ids {
        Ids {
            learner: gid("Learner"),
            external_id: format!("nobody-{n}"),
            goal: gid("Goal"),
            session: gid("Session"),
            event: gid("LearnerEvent"),
            attempt: gid("Attempt"),
            journal_entry: gid("JournalEntry"),
            follow_up: gid("JournalFollowUp"),
            chat_session: gid("Session"),
            chat_message: gid("ChatMessage"),
            mentor_selection: gid("MentorSelection"),
            reflection: gid("MeditationReflection"),
            profiling_session: gid("ProfilingSession"),
            portfolio_item: gid("PortfolioItem"),
            recipe: gid("Recipe"),
            me: self.me.clone(),
        }
    }
}

/// A well-formed global id of `kind` for a fresh UUID (see `src/graphql/ids.rs`).
fn gid(kind: &str) -> String {
    use base64::Engine;
    let text = format!("{kind}:{}", uuid::Uuid::new_v4().simple());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

const VARIABLE_TYPES: &[(&str, &str)] = &[
    ("l", "ID!"),
    ("e", "String!"),
    ("g", "ID!"),
    ("s", "ID!"),
    ("ev", "ID!"),
    ("a", "ID!"),
    ("je", "ID!"),
    ("fu", "ID!"),
    ("c", "ID!"),
    ("cm", "ID!"),
    ("ms", "ID!"),
    ("mr", "ID!"),
    ("ps", "ID!"),
    ("pi", "ID!"),
    ("r", "ID!"),
    ("me", "ID!"),
    ("bank", "JSON!"),
];

/// `op` (query | mutation) with `body` as its selection, declaring the variables `body` uses.
fn doc(op: &str, body: &str) -> String {
    let mut used = BTreeSet::new();
    let mut rest = body;
    while let Some(i) = rest.find('$') {
        let name: String =
            rest[i + 1..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>();
        rest = &rest[i + 1 + name.len()..];
        used.insert(name);
    }
    let decls: Vec<String> = used
        .iter()
        .map(|name| {
            let ty = VARIABLE_TYPES.iter().find(|(n, _)| n == name).map(|(_, t)| *t);
            format!("${name}: {}", ty.unwrap_or_else(|| panic!("unknown variable ${name} in {body}")))
        })
        .collect();
    if decls.is_empty() { format!("{op} {{ {body} }}") } else { format!("{op}({}) {{ {body} }}", decls.join(", ")) }
}

fn row(field: &'static str, via: &str, op: &str, body: &str, rule: Rule) -> Row {
    Row { field, via: via.to_owned(), doc: doc(op, body), vars: Ids::vars, rule }
}

fn mutation(field: &'static str, body: &str) -> Row {
    row(field, "its input", "mutation", body, Rule::Scoped)
}

/// Every field of `Learner`, as selected by the rows (all of them read A's data).
const LEARNER_FIELDS: &[(&str, &str)] = &[
    ("Learner.id", "id"),
    ("Learner.externalId", "externalId"),
    ("Learner.displayName", "displayName"),
    ("Learner.bio", "bio"),
    ("Learner.timeZone", "timeZone"),
    ("Learner.settings", "settings { theme preferredMeditationMinutes preferredMentorCategory }"),
    ("Learner.createdAt", "createdAt"),
    ("Learner.updatedAt", "updatedAt"),
    ("Learner.goals", "goals { id title profile profileHistory { version profile } }"),
    ("Learner.goal", "goal(id: $g) { id title profile }"),
    ("Learner.events", "events(first: 100) { edges { cursor node { id kind payload goal { id } learner { id } } } }"),
    ("Learner.attempts", "attempts(first: 100) { nodes { id exerciseId session { id } goal { id } learner { id } } }"),
    ("Learner.sessions", "sessions(first: 100) { nodes { id kind attempts { nodes { id } } learner { id } } }"),
    ("Learner.streak", "streak { current longest lastPracticeDate }"),
    (
        "Learner.progress",
        "progress { totalAttempts correctAttempts accuracy exercisesAttempted \
         byDay(last: 7) { date attempts correct } byExercise { exerciseId attempts } }",
    ),
    ("Learner.preferences", "preferences { category value updatedAt }"),
    ("Learner.interests", "interests"),
    ("Learner.struggles", "struggles"),
    ("Learner.cognitiveMetrics", "cognitiveMetrics { taskName metrics history(first: 2) { metrics } }"),
    ("Learner.objectives", "objectives { objectiveId status score attempts { id } }"),
    ("Learner.badges", "badges { badgeId name earnedAt }"),
    (
        "Learner.journalEntries",
        "journalEntries(first: 10) { edges { node { id content moodTags followUps { question synthesizedEntry { id } } synthesizedFrom { id } } } }",
    ),
    (
        "Learner.similarJournalEntries",
        "similarJournalEntries(embedding: [1.0, 0.0, 0.0], first: 3) { score entry { id } }",
    ),
    ("Learner.conversationState", "conversationState { state version lastAgent }"),
    ("Learner.conversationStates", "conversationStates { sessionKey }"),
    (
        "Learner.chatSessions",
        "chatSessions(first: 5) { edges { node { id messages { id role content session { id } } mentorSelections { mentorId } } } }",
    ),
    (
        "Learner.meditationReflections",
        "meditationReflections(first: 5) { edges { node { id reflection session { id reflection { id } } journalEntry { id } } } }",
    ),
    (
        "Learner.profilingSessions",
        "profilingSessions { id status bankVersion responses { questionId selectedOption } telemetry { primaryTrack } questions(module: \"difficulty\") { id } learner { id } }",
    ),
    ("Learner.profiling", "profiling { complete completedAt sessionId trackKey alignment { track percentage } }"),
    ("Learner.portfolio", "portfolio { id kind title content url profilingSessionId }"),
    ("Learner.recipeRecommendations", "recipeRecommendations(first: 5) { id title reasons recipe { slug } }"),
    ("Learner.coachingFocus", "coachingFocus { area reason skillCodes }"),
    (
        "Learner.activitySummary",
        "activitySummary { chatSessions chatMessages journalEntries meditationSessions meditationMinutes lastActiveAt }",
    ),
    ("Learner.accessLog", "accessLog(first: 5) { nodes { at actor role action operationName fields } }"),
];

/// The ways to reach a learner by naming it: (via, selection around the Learner fields).
const LEARNER_ENTRIES: &[(&str, &str, &str)] = &[
    ("learner(id)", "learner(id: $l) {", "}"),
    ("learner(externalId)", "learner(externalId: $e) {", "}"),
    ("node(Learner id)", "node(id: $l) { ... on Learner {", "} }"),
    ("node(Goal id).learner", "node(id: $g) { ... on Goal { learner {", "} } }"),
];

fn rows() -> Vec<Row> {
    let mut rows = vec![
        mutation(
            "Mutation.ensureLearner",
            "ensureLearner(input: { externalId: $e }) { learner { id externalId displayName } created }",
        ),
        mutation(
            "Mutation.updateLearner",
            "updateLearner(input: { id: $l, displayName: \"Mallory\", bio: \"planted\", \
             timeZone: \"Pacific/Auckland\", settings: { theme: \"planted\" } }) { learner { id displayName } }",
        ),
        mutation("Mutation.deleteLearner", "deleteLearner(input: { id: $l }) { deletedLearnerId }"),
        mutation(
            "Mutation.createGoal",
            "createGoal(input: { learnerId: $l, title: \"Planted\" }) { goal { id title } }",
        ),
        mutation(
            "Mutation.updateGoal",
            "updateGoal(input: { id: $g, title: \"Renamed\", status: ARCHIVED }) { goal { id title status } }",
        ),
        mutation(
            "Mutation.updateGoalProfile",
            "updateGoalProfile(input: { goalId: $g, profile: { planted: true } }) { goal { id profile profileVersion } }",
        ),
        mutation(
            "Mutation.logEvent",
            "logEvent(input: { learnerId: $l, kind: \"planted\", goalId: $g }) { event { id } }",
        ),
        mutation("Mutation.startSession", "startSession(input: { learnerId: $l, kind: PRACTICE }) { session { id } }"),
        mutation("Mutation.endSession", "endSession(input: { sessionId: $s }) { session { id endedAt } }"),
        mutation(
            "Mutation.recordAttempt",
            "recordAttempt(input: { learnerId: $l, exerciseId: \"planted\", isCorrect: true, sessionId: $s, \
             goalId: $g }) { attempt { id } streak { current longest } }",
        ),
        mutation(
            "Mutation.setPreference",
            "setPreference(input: { learnerId: $l, category: \"style\", value: \"planted\" }) { preference { category value } }",
        ),
        mutation(
            "Mutation.removePreference",
            "removePreference(input: { learnerId: $l, category: \"style\" }) { changed }",
        ),
        mutation("Mutation.addInterest", "addInterest(input: { learnerId: $l, name: \"planted\" }) { changed }"),
        mutation("Mutation.removeInterest", "removeInterest(input: { learnerId: $l, name: \"chess\" }) { changed }"),
        mutation("Mutation.addStruggle", "addStruggle(input: { learnerId: $l, description: \"planted\" }) { changed }"),
        mutation(
            "Mutation.removeStruggle",
            "removeStruggle(input: { learnerId: $l, description: \"fractions\" }) { changed }",
        ),
        mutation(
            "Mutation.recordCognitiveMetric",
            "recordCognitiveMetric(input: { learnerId: $l, taskName: \"memory\", metrics: { planted: 1 } }) { metric { taskName } }",
        ),
        mutation(
            "Mutation.updateObjectiveProgress",
            "updateObjectiveProgress(input: { learnerId: $l, objectiveId: \"lo-1\", status: COMPLETED, score: 1 }) { objective { status } }",
        ),
        mutation(
            "Mutation.awardBadge",
            "awardBadge(input: { learnerId: $l, badgeId: \"planted\", name: \"Planted\" }) { badge { badgeId } newlyAwarded }",
        ),
        mutation(
            "Mutation.syncLearnerProfile",
            "syncLearnerProfile(input: { learnerId: $l, mode: REPLACE, interests: [\"planted\"] }) { learner { interests } }",
        ),
        mutation(
            "Mutation.createJournalEntry",
            "createJournalEntry(input: { learnerId: $l, content: \"planted\", moodTags: [\"x\"] }) { entry { id } }",
        ),
        mutation(
            "Mutation.updateJournalEntry",
            "updateJournalEntry(input: { id: $je, content: \"planted\" }) { entry { id content } }",
        ),
        mutation("Mutation.deleteJournalEntry", "deleteJournalEntry(input: { id: $je }) { deletedEntryId }"),
        mutation(
            "Mutation.addJournalFollowUp",
            "addJournalFollowUp(input: { entryId: $je, question: \"q\", answer: \"planted\", synthesizedContent: \"planted\" }) { followUp { id } }",
        ),
        mutation(
            "Mutation.saveConversationState",
            "saveConversationState(input: { learnerId: $l, state: { planted: true } }) { conversationState { version } }",
        ),
        mutation("Mutation.clearConversationState", "clearConversationState(input: { learnerId: $l }) { cleared }"),
        mutation(
            "Mutation.postChatMessages",
            "postChatMessages(input: { learnerId: $l, messages: [{ role: USER, content: \"planted\" }] }) { session { id } messages { id } }",
        ),
        mutation(
            "Mutation.recordMentorSelection",
            "recordMentorSelection(input: { learnerId: $l, sessionId: $c, mentorId: \"planted\" }) { selection { id } }",
        ),
        mutation(
            "Mutation.recordMeditationReflection",
            "recordMeditationReflection(input: { learnerId: $l, durationMinutes: 5, reflection: \"planted\", saveToJournal: true }) { reflection { id } }",
        ),
        row(
            "Mutation.postChatMessages",
            "own learner, A's chat session",
            "mutation",
            "postChatMessages(input: { learnerId: $me, sessionId: $c, messages: [{ role: USER, content: \"planted\" }] }) { session { id } }",
            Rule::Foreign,
        ),
        row(
            "Mutation.recordMentorSelection",
            "own learner, A's chat session",
            "mutation",
            "recordMentorSelection(input: { learnerId: $me, sessionId: $c, mentorId: \"planted\" }) { selection { id } }",
            Rule::Foreign,
        ),
        row(
            "Query.node",
            "JournalEntry",
            "query",
            "node(id: $je) { id ... on JournalEntry { content moodTags followUps { question } learner { id } } }",
            Rule::Scoped,
        ),
        row(
            "Query.node",
            "JournalFollowUp",
            "query",
            "node(id: $fu) { id ... on JournalFollowUp { question answer entry { id } synthesizedEntry { id } } }",
            Rule::Scoped,
        ),
        row(
            "Query.node",
            "ChatMessage",
            "query",
            "node(id: $cm) { id ... on ChatMessage { content session { id } } }",
            Rule::Scoped,
        ),
        row(
            "Query.node",
            "MentorSelection",
            "query",
            "node(id: $ms) { id ... on MentorSelection { mentorId } }",
            Rule::Scoped,
        ),
        row(
            "Query.node",
            "MeditationReflection",
            "query",
            "node(id: $mr) { id ... on MeditationReflection { reflection session { id } journalEntry { id } } }",
            Rule::Scoped,
        ),
        mutation(
            "Mutation.startProfilingSession",
            "startProfilingSession(input: { learnerId: $l }) { session { id status } created }",
        ),
        mutation(
            "Mutation.answerProfilingQuestion",
            "answerProfilingQuestion(input: { sessionId: $ps, questionId: \"te_networking\", selectedOption: \"never\", responseTimeMs: 2000 }) { response { questionId selectedOption } }",
        ),
        mutation(
            "Mutation.completeProfilingSession",
            "completeProfilingSession(input: { sessionId: $ps }) { session { id status telemetry { primaryTrack } } learner { profiling { complete } portfolio { kind } } }",
        ),
        mutation(
            "Mutation.createPortfolioItem",
            "createPortfolioItem(input: { learnerId: $l, kind: PROJECT, title: \"Planted\" }) { item { id } }",
        ),
        mutation(
            "Mutation.updatePortfolioItem",
            "updatePortfolioItem(input: { itemId: $pi, title: \"Planted\", url: null }) { item { id title } }",
        ),
        mutation("Mutation.deletePortfolioItem", "deletePortfolioItem(input: { itemId: $pi }) { deletedItemId }"),
        row(
            "Mutation.publishProfilingQuestionBank",
            "staff catalog write",
            "mutation",
            "publishProfilingQuestionBank(input: { bank: $bank }) { bank { version questionCount } created }",
            Rule::StaffOnly,
        ),
        row(
            "Mutation.upsertRecipe",
            "catalog write",
            "mutation",
            "upsertRecipe(input: { slug: \"planted\", title: \"Planted\", skillCodes: [\"NET-101\"] }) { recipe { id } created }",
            Rule::Privileged,
        ),
        row(
            "Query.profilingQuestions",
            "catalog",
            "query",
            "profilingQuestions(module: \"work_style\") { id module prompt options { value label } }",
            Rule::Catalog,
        ),
        row(
            "Query.profilingQuestionBank",
            "catalog",
            "query",
            "profilingQuestionBank { version questionCount publishedBy questions { id } }",
            Rule::Catalog,
        ),
        row(
            "Query.accessLog",
            "staff read",
            "query",
            "accessLog(learnerId: $l, first: 5) { nodes { actor action fields } }",
            Rule::StaffOnly,
        ),
        row(
            "Query.erasureRecords",
            "staff read",
            "query",
            "erasureRecords(externalId: $e) { at actor }",
            Rule::StaffOnly,
        ),
        row("Query.exportLearner", "its id", "query", "exportLearner(id: $l)", Rule::Scoped),
        row("Query.recipes", "catalog", "query", "recipes(first: 5) { nodes { id slug skillCodes } }", Rule::Catalog),
        row(
            "Query.node",
            "Recipe",
            "query",
            "node(id: $r) { id ... on Recipe { slug title skillCodes usageCount avgRating isActive } }",
            Rule::Catalog,
        ),
        row(
            "Query.node",
            "ProfilingSession",
            "query",
            "node(id: $ps) { id ... on ProfilingSession { status responses { questionId } learner { id } } }",
            Rule::Scoped,
        ),
        row(
            "Query.node",
            "PortfolioItem",
            "query",
            "node(id: $pi) { id ... on PortfolioItem { kind title content } }",
            Rule::Scoped,
        ),
        mutation(
            "Mutation.resetProgress",
            "resetProgress(input: { learnerId: $l }) { deletedAttempts deletedSessions learner { id } }",
        ),
        row("Query.viewer", "the token", "query", "viewer { id externalId goals { id } }", Rule::TokenOwn),
        row("Query.learner", "id", "query", "learner(id: $l) { id externalId }", Rule::Scoped),
        row("Query.learner", "externalId", "query", "learner(externalId: $e) { id externalId }", Rule::Scoped),
        row(
            "Query.learners",
            "staff list",
            "query",
            "learners(first: 10) { nodes { id externalId } }",
            Rule::StaffOnly,
        ),
        row("Query.node", "Learner", "query", "node(id: $l) { id ... on Learner { externalId } }", Rule::Scoped),
        row(
            "Query.node",
            "Goal",
            "query",
            "node(id: $g) { id ... on Goal { title profile profileHistory { version } learner { id } } }",
            Rule::Scoped,
        ),
        row(
            "Query.node",
            "LearnerEvent",
            "query",
            "node(id: $ev) { id ... on LearnerEvent { kind payload goal { id } learner { id } } }",
            Rule::Scoped,
        ),
        row(
            "Query.node",
            "Session",
            "query",
            "node(id: $s) { id ... on Session { kind attempts { nodes { id } } learner { id } } }",
            Rule::Scoped,
        ),
        row(
            "Query.node",
            "Attempt",
            "query",
            "node(id: $a) { id ... on Attempt { exerciseId session { id } goal { id } learner { id } } }",
            Rule::Scoped,
        ),
        row("Learner.goal", "viewer, A's goal id", "query", "viewer { goal(id: $g) { id title } }", Rule::Foreign),
        row(
            "Learner.events",
            "viewer, filtered by A's goal",
            "query",
            "viewer { events(goalId: $g) { nodes { id } } }",
            Rule::Foreign,
        ),
        row(
            "Learner.attempts",
            "viewer, filtered by A's session and goal",
            "query",
            "viewer { bySession: attempts(sessionId: $s) { nodes { id } } byGoal: attempts(goalId: $g) { nodes { id } } }",
            Rule::Foreign,
        ),
        row(
            "Mutation.logEvent",
            "own learner, A's goal",
            "mutation",
            "logEvent(input: { learnerId: $me, kind: \"planted\", goalId: $g }) { event { id } }",
            Rule::Foreign,
        ),
        row(
            "Mutation.recordAttempt",
            "own learner, A's goal",
            "mutation",
            "recordAttempt(input: { learnerId: $me, exerciseId: \"planted\", isCorrect: true, goalId: $g }) { attempt { id } }",
            Rule::Foreign,
        ),
        row(
            "Mutation.recordAttempt",
            "own learner, A's session",
            "mutation",
            "recordAttempt(input: { learnerId: $me, exerciseId: \"planted\", isCorrect: true, sessionId: $s }) { attempt { id } }",
            Rule::Foreign,
        ),
    ];
    for &(field, selection) in LEARNER_FIELDS {
        for (via, open, close) in LEARNER_ENTRIES {
            rows.push(row(field, via, "query", &format!("{open} {selection} {close}"), Rule::Scoped));
        }
    }
    rows
}

/// Every field of `Query`, `Mutation` and `Learner`, and every `Node` kind, has a row (and every
/// row names a field that exists).
#[tokio::test]
async fn the_scope_table_covers_every_field() {
    let schema = introspect().await;
    let rows = rows();
    let covered: BTreeSet<&str> = rows.iter().filter(|r| r.rule != Rule::Foreign).map(|r| r.field).collect();
    let mut wanted = Vec::new();
    let mutation = schema.mutation.clone().expect("a Mutation type");
    for ty in [schema.query.as_str(), mutation.as_str(), "Learner"] {
        wanted.extend(schema.fields(ty).iter().map(|f| format!("{ty}.{}", f.name)));
    }
    let mut missing: Vec<String> = wanted.iter().filter(|f| !covered.contains(f.as_str())).cloned().collect();
    for kind in schema.ty("Node").possible_types.as_deref().unwrap_or_default() {
        if !rows
            .iter()
            .any(|r| r.field == "Query.node" && r.via == kind.name && matches!(r.rule, Rule::Scoped | Rule::Catalog))
        {
            missing.push(format!("Query.node on a {} id", kind.name));
        }
    }
    assert!(
        missing.is_empty(),
        "the scope table (tests/api/scope.rs, `rows()`/`LEARNER_FIELDS`) has no row for: {}. \
         Add one, so the field is checked against another learner's token and a request without one.",
        missing.join(", ")
    );
    let stale: Vec<&str> = rows.iter().map(|r| r.field).filter(|f| !wanted.iter().any(|w| w == f)).collect();
    assert!(stale.is_empty(), "scope table rows name fields the schema does not have: {stale:?}");
}

async fn every_mutation_is_scoped(b: Backend) {
    run(b, |r| r.rule != Rule::Foreign && r.field.starts_with("Mutation."), true).await;
}

async fn every_query_path_is_scoped(b: Backend) {
    run(b, |r| r.rule != Rule::Foreign && !r.field.starts_with("Mutation."), false).await;
}

async fn foreign_ids_in_own_requests_look_missing(b: Backend) {
    run(b, |r| r.rule == Rule::Foreign, true).await;
}

struct Tokens {
    staff: String,
    service: String,
    intruder: String,
}

/// Runs the selected rows, each on learner A's data (fresh for each row when `fresh`, as
/// mutations consume it), and fails once listing every row that broke its rule.
async fn run(b: Backend, select: impl Fn(&Row) -> bool, fresh: bool) {
    let app =
        TestApp::spawn_with(b, Default::default(), |c| c.jwt_secret = Some(learngraph::config::Secret::new(SECRET)))
            .await;
    let tokens = Tokens {
        staff: app.token("ops", Role::Staff),
        service: app.token("tutor", Role::Service),
        intruder: app.token("intruder", Role::Learner),
    };
    let me = staff(
        &app,
        &tokens,
        "mutation { ensureLearner(input: { externalId: \"intruder\" }) { learner { id } } }",
        json!({}),
    )
    .await["ensureLearner"]["learner"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let rows: Vec<Row> = rows().into_iter().filter(|r| select(r)).collect();
    assert!(!rows.is_empty());
    let mut failures = Vec::new();
    let mut shared = None;
    for (n, row) in rows.iter().enumerate() {
        let ids = match &shared {
            Some(ids) if !fresh => Ids::clone(ids),
            _ => learner_a(&app, &tokens, n, &me).await,
        };
        shared = Some(ids.clone());
        for failure in check(&app, &tokens, row, &ids, &ids.missing(n)).await {
            failures.push(format!("{}: {failure}", row.label()));
        }
    }
    assert!(failures.is_empty(), "{} scope rule(s) broken:\n{}", failures.len(), failures.join("\n"));
}

async fn post(app: &TestApp, token: Option<&str>, row: &Row, ids: &Ids) -> (u16, Value) {
    app.post(token, json!({ "query": row.doc, "variables": (row.vars)(ids) })).await
}

/// Executes as staff and returns `data`, failing on any error.
async fn staff(app: &TestApp, tokens: &Tokens, query: &str, variables: Value) -> Value {
    let (status, body) = app.post(Some(&tokens.staff), json!({ "query": query, "variables": variables })).await;
    assert!(status == 200 && body.get("errors").is_none(), "staff request failed ({status}): {body}\n{query}");
    body["data"].clone()
}

/// Learner A (`victim-{n}`) with a goal (with a profile), a practice session, an event about the
/// goal and an attempt in the session towards the goal, all created by a staff token.
async fn learner_a(app: &TestApp, tokens: &Tokens, n: usize, me: &str) -> Ids {
    let external_id = format!("victim-{n}");
    let data = staff(
        app,
        tokens,
        "mutation($e: String!) { ensureLearner(input: { externalId: $e, displayName: \"Victim\", timeZone: \"Europe/Berlin\" }) { learner { id } } }",
        json!({ "e": external_id }),
    )
    .await;
    let learner = data["ensureLearner"]["learner"]["id"].as_str().expect("learner id").to_owned();
    let data = staff(
        app,
        tokens,
        "mutation($l: ID!) { createGoal(input: { learnerId: $l, externalId: \"g1\", title: \"Secret\", profile: { level: 1 } }) { goal { id } } }",
        json!({ "l": learner }),
    )
    .await;
    let goal = data["createGoal"]["goal"]["id"].as_str().expect("goal id").to_owned();
    let data = staff(
        app,
        tokens,
        "mutation($l: ID!) { startSession(input: { learnerId: $l, kind: PRACTICE }) { session { id } } }",
        json!({ "l": learner }),
    )
    .await;
    let session = data["startSession"]["session"]["id"].as_str().expect("session id").to_owned();
    let data = staff(
        app,
        tokens,
        "mutation($l: ID!, $g: ID!) { logEvent(input: { learnerId: $l, kind: \"quiz_started\", goalId: $g, payload: { secret: 1 } }) { event { id } } }",
        json!({ "l": learner, "g": goal }),
    )
    .await;
    let event = data["logEvent"]["event"]["id"].as_str().expect("event id").to_owned();
    let data = staff(
        app,
        tokens,
        "mutation($l: ID!, $g: ID!, $s: ID!) { recordAttempt(input: { learnerId: $l, exerciseId: \"add-1\", isCorrect: true, goalId: $g, sessionId: $s }) { attempt { id } } }",
        json!({ "l": learner, "g": goal, "s": session }),
    )
    .await;
    let attempt = data["recordAttempt"]["attempt"]["id"].as_str().expect("attempt id").to_owned();
    staff(
        app,
        tokens,
        "mutation($l: ID!) { syncLearnerProfile(input: { learnerId: $l, preferences: [{ category: \"style\", value: \"visual\" }], \
         interests: [\"chess\"], struggles: [\"fractions\"], cognitiveMetrics: [{ taskName: \"memory\", metrics: { accuracy: 0.8 } }], \
         objectives: [{ objectiveId: \"lo-1\", status: IN_PROGRESS, score: 0.5 }], badges: [{ badgeId: \"b1\", name: \"First\" }] }) { learner { id } } }",
        json!({ "l": learner }),
    )
    .await;
    let data = staff(
        app,
        tokens,
        "mutation($l: ID!) { createJournalEntry(input: { learnerId: $l, content: \"Secret diary\", moodTags: [\"sad\"], embedding: [1.0, 0.5, 0.0] }) { entry { id } } }",
        json!({ "l": learner }),
    )
    .await;
    let journal_entry = data["createJournalEntry"]["entry"]["id"].as_str().expect("entry id").to_owned();
    let data = staff(
        app,
        tokens,
        "mutation($je: ID!) { addJournalFollowUp(input: { entryId: $je, question: \"Why?\", answer: \"Secret\", synthesizedContent: \"Summary\" }) { followUp { id } } }",
        json!({ "je": journal_entry }),
    )
    .await;
    let follow_up = data["addJournalFollowUp"]["followUp"]["id"].as_str().expect("follow-up id").to_owned();
    let data = staff(
        app,
        tokens,
        "mutation($l: ID!) { postChatMessages(input: { learnerId: $l, messages: [{ role: USER, content: \"Secret chat\" }, { role: ASSISTANT, content: \"Reply\", agentPersona: \"coach\" }] }) { session { id } messages { id } } }",
        json!({ "l": learner }),
    )
    .await;
    let chat_session = data["postChatMessages"]["session"]["id"].as_str().expect("chat session id").to_owned();
    let chat_message = data["postChatMessages"]["messages"][0]["id"].as_str().expect("message id").to_owned();
    let data = staff(
        app,
        tokens,
        "mutation($l: ID!, $c: ID!) { recordMentorSelection(input: { learnerId: $l, sessionId: $c, mentorId: \"sage\" }) { selection { id } } }",
        json!({ "l": learner, "c": chat_session }),
    )
    .await;
    let mentor_selection = data["recordMentorSelection"]["selection"]["id"].as_str().expect("selection id").to_owned();
    let data = staff(
        app,
        tokens,
        "mutation($l: ID!) { recordMeditationReflection(input: { learnerId: $l, durationMinutes: 10, reflection: \"Secret calm\", emotionalState: \"calm\", saveToJournal: true }) { reflection { id } } }",
        json!({ "l": learner }),
    )
    .await;
    let reflection = data["recordMeditationReflection"]["reflection"]["id"].as_str().expect("reflection id").to_owned();
    staff(
        app,
        tokens,
        "mutation($l: ID!) { saveConversationState(input: { learnerId: $l, state: { secret: 1 }, lastAgent: \"tutor\" }) { conversationState { version } } }",
        json!({ "l": learner }),
    )
    .await;
    let data = staff(
        app,
        tokens,
        "mutation($l: ID!) { startProfilingSession(input: { learnerId: $l }) { session { id } } }",
        json!({ "l": learner }),
    )
    .await;
    let profiling_session = data["startProfilingSession"]["session"]["id"].as_str().expect("profiling id").to_owned();
    for (q, o) in [
        ("te_networking", "deep"),
        ("ws_team_role", "investigator"),
        ("sp_incident", "contain"),
        ("df_challenge", "steady"),
        ("iv_motivation", "protect"),
        ("rf_growth", "judgement"),
    ] {
        staff(
            app,
            tokens,
            "mutation($ps: ID!, $q: String!, $o: String!) { answerProfilingQuestion(input: { sessionId: $ps, questionId: $q, selectedOption: $o, responseTimeMs: 4000 }) { response { questionId } } }",
            json!({ "ps": profiling_session, "q": q, "o": o }),
        )
        .await;
    }
    let data = staff(
        app,
        tokens,
        "mutation($l: ID!) { createPortfolioItem(input: { learnerId: $l, kind: PROJECT, title: \"Secret project\", content: \"Secret\" }) { item { id } } }",
        json!({ "l": learner }),
    )
    .await;
    let portfolio_item = data["createPortfolioItem"]["item"]["id"].as_str().expect("item id").to_owned();
    let data = staff(
        app,
        tokens,
        "mutation($s: String!) { upsertRecipe(input: { slug: $s, title: \"Networks\", skillCodes: [\"NET-101\"] }) { recipe { id } } }",
        json!({ "s": format!("recipe-{n}") }),
    )
    .await;
    let recipe = data["upsertRecipe"]["recipe"]["id"].as_str().expect("recipe id").to_owned();
    Ids {
        profiling_session,
        portfolio_item,
        recipe,
        journal_entry,
        follow_up,
        chat_session,
        chat_message,
        mentor_selection,
        reflection,
        learner,
        external_id,
        goal,
        session,
        event,
        attempt,
        me: me.to_owned(),
    }
}

const SNAPSHOT: &str =
    "query($l: ID!, $me: ID!) { a: learner(id: $l) { ...All } intruder: learner(id: $me) { ...All } }
fragment All on Learner {
  externalId displayName bio timeZone updatedAt
  settings { theme preferredMeditationMinutes preferredMentorCategory }
  goals(first: 10) { id title status profile profileVersion updatedAt profileHistory(first: 10) { version profile } }
  events(first: 100) { nodes { id kind payload } }
  sessions(first: 100) { nodes { id kind endedAt totalExercises correctAnswers } }
  attempts(first: 100) { nodes { id exerciseId } }
  streak { longest lastPracticeDate }
  progress { totalAttempts correctAttempts exercisesAttempted byExercise { exerciseId attempts correct } }
  preferences { category value updatedAt } interests struggles
  cognitiveMetrics { taskName metrics recordedAt history(first: 2) { metrics } }
  objectives { objectiveId status score startedAt completedAt } badges { badgeId name earnedAt }
  journalEntries(first: 20) { nodes { id content moodTags followUps(first: 5) { question answer } } }
  conversationStates { sessionKey state version } activitySummary { chatMessages journalEntries meditationMinutes }
  chatSessions(first: 5) { nodes { id endedAt messages(first: 10) { content } mentorSelections(first: 5) { mentorId } } }
  meditationReflections(first: 5) { nodes { id reflection } }
  profilingSessions { id status responses { questionId selectedOption responseTimeMs } }
  profiling { complete trackKey } portfolio { id kind title content url }
}";

/// Row counts of every learner table and a staff read of A and the intruder. The access log is
/// left out: this very staff read adds to it (refused requests come from learner tokens or none,
/// which are never logged; `protection.rs` tests that).
async fn snapshot(app: &TestApp, tokens: &Tokens, ids: &Ids) -> Value {
    let mut counts = serde_json::Map::new();
    let tables = learngraph::store::registry::LEARNER_TABLES.iter().map(|t| t.name).filter(|t| *t != "access_log");
    for table in std::iter::once("learners").chain(tables) {
        counts.insert(table.to_owned(), app.count_rows(table, None).await.into());
    }
    let read = staff(app, tokens, SNAPSHOT, json!({ "l": ids.learner, "me": ids.me })).await;
    json!({ "counts": counts, "read": read })
}

/// Every `extensions.code` of a response (`-` for an error without one).
fn codes(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|errors| errors.iter().map(|e| e["extensions"]["code"].as_str().unwrap_or("-").to_owned()).collect())
        .unwrap_or_default()
}

/// The response is refused with `code` and nothing else.
fn refused(who: &str, (status, body): &(u16, Value), code: &str) -> Option<String> {
    let codes = codes(body);
    (codes.is_empty() || codes.iter().any(|c| c != code))
        .then(|| format!("{who}: expected {code}, got {status} {body}"))
}

/// The response has no errors and no null root field.
fn succeeded(who: &str, (status, body): &(u16, Value)) -> Option<String> {
    let data_ok = body["data"].as_object().is_some_and(|d| !d.is_empty() && d.values().all(|v| !v.is_null()));
    (*status != 200 || body.get("errors").is_some() || !data_ok)
        .then(|| format!("{who}: expected success, got {status} {body}"))
}

fn same(who: &str, theirs: &(u16, Value), nobody: &(u16, Value)) -> Option<String> {
    (theirs != nobody).then(|| {
        format!(
            "{who}: the answer for A's data differs from the one for ids that do not exist\n  A's:     {} {}\n  missing: {} {}",
            theirs.0, theirs.1, nobody.0, nobody.1
        )
    })
}

async fn check(app: &TestApp, tokens: &Tokens, row: &Row, ids: &Ids, missing: &Ids) -> Vec<String> {
    let own = app.token(&ids.external_id, Role::Learner);
    let before = snapshot(app, tokens, ids).await;
    let mut failures: Vec<Option<String>> = Vec::new();
    match row.rule {
        Rule::Scoped => {
            let theirs = post(app, Some(&tokens.intruder), row, ids).await;
            let nobody = post(app, Some(&tokens.intruder), row, missing).await;
            failures.push(refused("(a) intruder", &theirs, "FORBIDDEN"));
            failures.push(same("(a) intruder", &theirs, &nobody));
            let anonymous = post(app, None, row, ids).await;
            let anonymous_missing = post(app, None, row, missing).await;
            failures.push(refused("(b) no token", &anonymous, "UNAUTHENTICATED"));
            failures.push(same("(b) no token", &anonymous, &anonymous_missing));
        }
        Rule::TokenOwn => {
            let (status, body) = post(app, Some(&tokens.intruder), row, ids).await;
            let root = body["data"].as_object().and_then(|d| d.values().next()).cloned().unwrap_or_default();
            if status != 200 || body.get("errors").is_some() || root["externalId"] != "intruder" {
                failures.push(Some(format!("(a) intruder: expected its own learner, got {status} {body}")));
            }
            failures.push(refused("(b) no token", &post(app, None, row, ids).await, "UNAUTHENTICATED"));
        }
        Rule::StaffOnly => {
            failures.push(refused("(a) intruder", &post(app, Some(&tokens.intruder), row, ids).await, "FORBIDDEN"));
            failures.push(refused("(a) own learner", &post(app, Some(&own), row, ids).await, "FORBIDDEN"));
            failures.push(refused("(a) service", &post(app, Some(&tokens.service), row, ids).await, "FORBIDDEN"));
            failures.push(refused("(b) no token", &post(app, None, row, ids).await, "UNAUTHENTICATED"));
        }
        Rule::Catalog => {
            failures.push(succeeded("(a) intruder", &post(app, Some(&tokens.intruder), row, ids).await));
            failures.push(refused("(b) no token", &post(app, None, row, ids).await, "UNAUTHENTICATED"));
        }
        Rule::Privileged => {
            failures.push(refused("(a) intruder", &post(app, Some(&tokens.intruder), row, ids).await, "FORBIDDEN"));
            failures.push(refused("(a) own learner", &post(app, Some(&own), row, ids).await, "FORBIDDEN"));
            failures.push(refused("(b) no token", &post(app, None, row, ids).await, "UNAUTHENTICATED"));
        }
        Rule::Foreign => {
            let theirs = post(app, Some(&tokens.intruder), row, ids).await;
            let nobody = post(app, Some(&tokens.intruder), row, missing).await;
            failures.push(same("intruder naming A's ids in its own request", &theirs, &nobody));
        }
    }
    let after = snapshot(app, tokens, ids).await;
    if before != after {
        failures.push(Some(format!("refused requests changed data:\n  before: {before}\n  after:  {after}")));
    }
    match row.rule {
        Rule::Scoped => failures.push(succeeded("(c) own token", &post(app, Some(&own), row, ids).await)),
        Rule::TokenOwn => {
            let (status, body) = post(app, Some(&own), row, ids).await;
            let root = body["data"].as_object().and_then(|d| d.values().next()).cloned().unwrap_or_default();
            if status != 200 || body.get("errors").is_some() || root["externalId"] != ids.external_id.as_str() {
                failures.push(Some(format!("(c) own token: expected its own learner, got {status} {body}")));
            }
        }
        Rule::StaffOnly => failures.push(succeeded("(c) staff", &post(app, Some(&tokens.staff), row, ids).await)),
        Rule::Catalog => failures.push(succeeded("(c) own token", &post(app, Some(&own), row, ids).await)),
        Rule::Privileged => {
            failures.push(succeeded("(c) service", &post(app, Some(&tokens.service), row, ids).await));
            failures.push(succeeded("(c) staff", &post(app, Some(&tokens.staff), row, ids).await));
        }
        Rule::Foreign => {}
    }
    failures.into_iter().flatten().collect()
}
