//! The wellbeing companion: journal, follow-ups, similarity, conversation state, chat, mentors,
//! meditation, activity summary.

use futures_util::future::join_all;
use learngraph::auth::Viewer;
use learngraph::clock::Clock;
use serde_json::{Value, json};

use crate::common::{Backend, TestApp, first_code};
use crate::fixtures::statements;

crate::on_each_backend!(
    journal_entries_are_stored_exactly_and_listed_newest_first_with_filters,
    a_retried_journal_entry_returns_the_first,
    a_follow_up_with_a_synthesis_creates_and_links_the_entry,
    journal_entries_can_be_changed_and_deleted,
    similarity_ranks_entries_by_cosine,
    a_replica_never_searches_stale_vectors,
    embeddings_keep_one_dimension_and_refuse_bad_vectors,
    journal_text_of_100000_characters_is_exact_and_a_megabyte_is_refused,
    conversation_state_is_versioned_and_survives_a_restart,
    chat_messages_append_in_order_to_the_open_session,
    sixteen_concurrent_first_posts_share_one_session_and_lose_nothing,
    a_retried_chat_post_returns_the_first,
    mentor_selections_belong_to_chat_sessions,
    a_meditation_reflection_completes_a_session_and_can_go_to_the_journal,
    activity_summary_counts_without_loading_rows,
    a_page_of_learners_loads_wellbeing_lists_in_constant_statements,
);

/// A learner with a row in every wellbeing table (for erasure and export checks).
pub async fn seed_wellbeing(app: &TestApp, l: &str) {
    let entry = app
        .ok(
            "mutation($l: ID!) { createJournalEntry(input: { learnerId: $l, content: \"dear diary\", moodTags: [\"calm\"], embedding: [0.1, 0.2] }) { entry { id } } }",
            json!({ "l": l }),
        )
        .await["createJournalEntry"]["entry"]["id"]
        .clone();
    app.ok(
        "mutation($e: ID!) { addJournalFollowUp(input: { entryId: $e, question: \"q\", answer: \"a\", synthesizedContent: \"s\" }) { followUp { id } } }",
        json!({ "e": entry }),
    )
    .await;
    app.ok(
        "mutation($l: ID!) { saveConversationState(input: { learnerId: $l, state: { step: 1 } }) { conversationState { version } } }",
        json!({ "l": l }),
    )
    .await;
    let chat = app
        .ok(
            "mutation($l: ID!) { postChatMessages(input: { learnerId: $l, idempotencyKey: \"p1\", messages: [{ role: USER, content: \"hi\" }] }) { session { id } } }",
            json!({ "l": l }),
        )
        .await["postChatMessages"]["session"]["id"]
        .clone();
    app.ok(
        "mutation($l: ID!, $s: ID!) { recordMentorSelection(input: { learnerId: $l, sessionId: $s, mentorId: \"m\" }) { selection { id } } }",
        json!({ "l": l, "s": chat }),
    )
    .await;
    app.ok(
        "mutation($l: ID!) { recordMeditationReflection(input: { learnerId: $l, durationMinutes: 5, reflection: \"r\", saveToJournal: true }) { reflection { id } } }",
        json!({ "l": l }),
    )
    .await;
}

fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    s.parse().expect("instant")
}

const CREATE: &str = "mutation($l: ID!, $c: String!, $t: [String!], $emb: [Float!], $k: String) {
  createJournalEntry(input: { learnerId: $l, content: $c, moodTags: $t, embedding: $emb, idempotencyKey: $k }) {
    entry { id content moodTags source embeddingDimension createdAt }
  }
}";

async fn create(app: &TestApp, l: &str, content: &str, tags: Value, embedding: Value) -> Value {
    app.ok(CREATE, json!({ "l": l, "c": content, "t": tags, "emb": embedding })).await["createJournalEntry"]["entry"]
        .clone()
}

const LIST: &str = "query($l: ID!, $tag: String, $since: DateTime, $until: DateTime, $first: Int, $after: String) {
  learner(id: $l) { journalEntries(first: $first, after: $after, moodTag: $tag, since: $since, until: $until) {
    edges { cursor node { content } } pageInfo { hasNextPage endCursor } } }
}";

fn contents(data: &Value) -> Vec<String> {
    data["learner"]["journalEntries"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["content"].as_str().expect("content").to_owned())
        .collect()
}

async fn journal_entries_are_stored_exactly_and_listed_newest_first_with_filters(b: Backend) {
    let clock = Clock::fixed(at("2026-05-01T08:00:00Z"));
    let app = TestApp::spawn_with(b, clock.clone(), |_| {}).await;
    let l = app.learner("journal").await;
    let odd = "  Spaces kept,\nnewlines too — and ünïcödé 🙂  ";
    for (day, content, tags) in
        [(1, odd, json!(["calm", "calm", " happy "])), (2, "two", json!(["sad"])), (3, "three", json!(["calm"]))]
    {
        clock.set(at(&format!("2026-05-0{day}T08:00:00Z")));
        let e = create(&app, &l, content, tags, Value::Null).await;
        assert_eq!(e["content"], content, "stored exactly");
        assert_eq!(e["source"], "MANUAL");
        assert_eq!(e["embeddingDimension"], Value::Null);
    }
    let all = app.ok(LIST, json!({ "l": l })).await;
    assert_eq!(contents(&all), ["three", "two", odd]);
    let first = app.ok("query($l: ID!) { learner(id: $l) { journalEntries(first: 1, after: null) { edges { node { moodTags } } } } }", json!({ "l": l })).await;
    assert_eq!(first["learner"]["journalEntries"]["edges"][0]["node"]["moodTags"], json!(["calm"]));
    let calm = app.ok(LIST, json!({ "l": l, "tag": "calm" })).await;
    assert_eq!(contents(&calm), ["three", odd]);
    let window =
        app.ok(LIST, json!({ "l": l, "since": "2026-05-02T00:00:00Z", "until": "2026-05-03T00:00:00Z" })).await;
    assert_eq!(contents(&window), ["two"]);
    let page = app.ok(LIST, json!({ "l": l, "first": 2 })).await;
    assert_eq!(page["learner"]["journalEntries"]["pageInfo"]["hasNextPage"], true);
    let next = app
        .ok(LIST, json!({ "l": l, "first": 2, "after": page["learner"]["journalEntries"]["pageInfo"]["endCursor"] }))
        .await;
    assert_eq!(contents(&next), [odd]);
    let tags = app
        .ok(
            "query($l: ID!) { learner(id: $l) { journalEntries(first: 5) { edges { node { moodTags } } } } }",
            json!({ "l": l }),
        )
        .await;
    assert_eq!(
        tags["learner"]["journalEntries"]["edges"][2]["node"]["moodTags"],
        json!(["calm", "happy"]),
        "trimmed, deduplicated, in order"
    );
}

async fn a_retried_journal_entry_returns_the_first(b: Backend) {
    let app = TestApp::spawn(b).await;
    let l = app.learner("retry").await;
    let vars = |c: &str| json!({ "l": l, "c": c, "k": "entry-1" });
    let first = app.ok(CREATE, vars("first")).await;
    let again = app.ok(CREATE, vars("second")).await;
    assert_eq!(first, again);
    let racing = join_all(
        (0..8).map(|_| app.post(None, json!({ "query": CREATE, "variables": { "l": l, "c": "x", "k": "entry-2" } }))),
    )
    .await;
    let ids: std::collections::HashSet<String> = racing
        .iter()
        .map(|(_, b)| b["data"]["createJournalEntry"]["entry"]["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(ids.len(), 1, "{racing:?}");
    assert_eq!(app.count_rows("journal_entries", None).await, 2);
}

const FOLLOW_UP: &str = "mutation($e: ID!, $q: String!, $a: String!, $s: String, $emb: [Float!]) {
  addJournalFollowUp(input: { entryId: $e, question: $q, answer: $a, synthesizedContent: $s, embedding: $emb }) {
    followUp { id question answer entry { id } synthesizedEntry { id content source synthesizedFrom { id entry { id } } } }
  }
}";

async fn a_follow_up_with_a_synthesis_creates_and_links_the_entry(b: Backend) {
    let app = TestApp::spawn(b).await;
    let l = app.learner("follow").await;
    let entry = create(&app, &l, "I felt stuck today", json!(["stuck"]), json!([1.0, 0.0])).await;
    let plain = app.ok(FOLLOW_UP, json!({ "e": entry["id"], "q": "Why stuck?", "a": "Fractions" })).await;
    assert_eq!(plain["addJournalFollowUp"]["followUp"]["synthesizedEntry"], Value::Null);
    let with = app
        .ok(FOLLOW_UP, json!({ "e": entry["id"], "q": "What helped?", "a": "A walk", "s": "Walking helps me reset.", "emb": [0.0, 1.0] }))
        .await;
    let f = &with["addJournalFollowUp"]["followUp"];
    assert_eq!(f["entry"]["id"], entry["id"]);
    assert_eq!(f["synthesizedEntry"]["content"], "Walking helps me reset.");
    assert_eq!(f["synthesizedEntry"]["source"], "SYNTHESIS");
    assert_eq!(f["synthesizedEntry"]["synthesizedFrom"]["id"], f["id"]);
    assert_eq!(f["synthesizedEntry"]["synthesizedFrom"]["entry"]["id"], entry["id"]);
    let listed = app
        .ok("query($l: ID!) { learner(id: $l) { journalEntries(first: 5) { edges { node { content followUps { question answer } } } } } }", json!({ "l": l }))
        .await;
    let original = &listed["learner"]["journalEntries"]["edges"][1]["node"];
    assert_eq!(
        original["followUps"],
        json!([{ "question": "Why stuck?", "answer": "Fractions" }, { "question": "What helped?", "answer": "A walk" }])
    );
    // A bad embedding on the synthesis stores neither the follow-up nor the entry.
    let bad = app
        .exec_as(
            Viewer::Open,
            FOLLOW_UP,
            json!({ "e": entry["id"], "q": "q", "a": "a", "s": "s", "emb": [1.0, 2.0, 3.0] }),
        )
        .await;
    assert_eq!(first_code(&bad), "BAD_USER_INPUT");
    assert_eq!(app.count_rows("journal_follow_ups", None).await, 2);
    assert_eq!(app.count_rows("journal_entries", None).await, 2);
}

async fn journal_entries_can_be_changed_and_deleted(b: Backend) {
    let app = TestApp::spawn(b).await;
    let l = app.learner("edit").await;
    let entry = create(&app, &l, "draft", json!(["a"]), json!([1.0, 0.0])).await;
    assert_eq!(entry["embeddingDimension"], 2);
    let update = "mutation($id: ID!, $c: String, $t: [String!]) { updateJournalEntry(input: { id: $id, content: $c, moodTags: $t }) { entry { content moodTags embeddingDimension } } }";
    let changed = app.ok(update, json!({ "id": entry["id"], "c": "final", "t": ["b", "c"] })).await;
    assert_eq!(
        changed["updateJournalEntry"]["entry"],
        json!({ "content": "final", "moodTags": ["b", "c"], "embeddingDimension": 2 }),
        "an embedding left out stays"
    );
    let clear = "mutation($id: ID!) { updateJournalEntry(input: { id: $id, embedding: null }) { entry { embeddingDimension } } }";
    let cleared = app.ok(clear, json!({ "id": entry["id"] })).await;
    assert_eq!(cleared["updateJournalEntry"]["entry"]["embeddingDimension"], Value::Null, "null removes the embedding");
    let by_tag = app.ok(LIST, json!({ "l": l, "tag": "a" })).await;
    assert!(contents(&by_tag).is_empty(), "old tags are gone");
    app.ok(FOLLOW_UP, json!({ "e": entry["id"], "q": "q", "a": "a", "s": "synth" })).await;
    let delete = "mutation($id: ID!) { deleteJournalEntry(input: { id: $id }) { deletedEntryId } }";
    app.ok(delete, json!({ "id": entry["id"] })).await;
    assert_eq!(app.count_rows("journal_follow_ups", None).await, 0, "its follow-ups go with it");
    assert_eq!(app.count_rows("journal_mood_tags", None).await, 0);
    assert_eq!(app.count_rows("journal_entries", None).await, 1, "the synthesized entry stays");
    assert_eq!(app.error_code(delete, json!({ "id": entry["id"] })).await, "NOT_FOUND");
}

const SIMILAR: &str = "query($l: ID!, $emb: [Float!]!, $first: Int, $tag: String) {
  learner(id: $l) { similarJournalEntries(embedding: $emb, first: $first, moodTag: $tag) { score entry { content } } }
}";

async fn similarity_ranks_entries_by_cosine(b: Backend) {
    let app = TestApp::spawn(b).await;
    let l = app.learner("similar").await;
    for (content, emb, tags) in [
        ("east", json!([1.0, 0.0, 0.0]), json!(["x"])),
        ("north", json!([0.0, 1.0, 0.0]), json!([])),
        ("north-east", json!([1.0, 1.0, 0.0]), json!(["x"])),
        ("west", json!([-2.0, 0.0, 0.0]), json!([])),
        ("up", json!([0.0, 0.0, 5.0]), json!([])),
    ] {
        create(&app, &l, content, tags, emb).await;
    }
    create(&app, &l, "no embedding", json!([]), Value::Null).await;
    let got = app.ok(SIMILAR, json!({ "l": l, "emb": [3.0, 1.0, 0.0], "first": 10 })).await;
    let ranked: Vec<(String, f64)> = got["learner"]["similarJournalEntries"]
        .as_array()
        .expect("matches")
        .iter()
        .map(|m| (m["entry"]["content"].as_str().expect("c").to_owned(), m["score"].as_f64().expect("s")))
        .collect();
    // cos((3,1,0), v): east 3/√10, north-east 4/(√10·√2), north 1/√10, up 0, west -3/√10.
    let r10 = 10f64.sqrt();
    let expected = [
        ("east", 3.0 / r10),
        ("north-east", 4.0 / (r10 * 2f64.sqrt())),
        ("north", 1.0 / r10),
        ("up", 0.0),
        ("west", -3.0 / r10),
    ];
    assert_eq!(ranked.len(), 5, "entries without an embedding are not searched");
    for ((content, score), (want, want_score)) in ranked.iter().zip(expected) {
        assert_eq!(content, want);
        assert!((score - want_score).abs() < 1e-6, "{content}: {score} vs {want_score}");
    }
    let top2 = app.ok(SIMILAR, json!({ "l": l, "emb": [3.0, 1.0, 0.0], "first": 2 })).await;
    assert_eq!(top2["learner"]["similarJournalEntries"].as_array().map(Vec::len), Some(2));
    let tagged = app.ok(SIMILAR, json!({ "l": l, "emb": [0.0, 1.0, 0.0], "tag": "x" })).await;
    let names: Vec<&str> = tagged["learner"]["similarJournalEntries"]
        .as_array()
        .expect("m")
        .iter()
        .map(|m| m["entry"]["content"].as_str().expect("c"))
        .collect();
    assert_eq!(names, ["north-east", "east"]);
    let other = app.learner("empty").await;
    let none = app.ok(SIMILAR, json!({ "l": other, "emb": [1.0] })).await;
    assert_eq!(none["learner"]["similarJournalEntries"], json!([]), "a learner without embeddings has no matches");
}

/// Each replica caches a learner's vectors for similarity search; a write through another replica
/// (an entry added, an embedding changed, an entry deleted) is seen by the next search.
async fn a_replica_never_searches_stale_vectors(b: Backend) {
    let app = TestApp::spawn(b).await;
    let other = app.replica().await;
    let l = app.learner("replicas").await;
    let search = |schema: learngraph::graphql::AppSchema, emb: Value| {
        let l = l.clone();
        async move {
            let request = async_graphql::Request::new(SIMILAR)
                .variables(async_graphql::Variables::from_json(json!({ "l": l, "emb": emb, "first": 10 })))
                .data(Viewer::Open);
            let response = tokio::spawn(async move { schema.execute(request).await }).await.expect("task");
            let data = serde_json::to_value(response).expect("json");
            data["data"]["learner"]["similarJournalEntries"]
                .as_array()
                .expect("matches")
                .iter()
                .map(|m| m["entry"]["content"].as_str().expect("c").to_owned())
                .collect::<Vec<_>>()
        }
    };
    let east = create(&app, &l, "east", json!([]), json!([1.0, 0.0])).await;
    assert_eq!(search(other.clone(), json!([1.0, 0.1])).await, ["east"], "the other replica caches one entry");
    create(&app, &l, "north", json!([]), json!([0.0, 1.0])).await;
    assert_eq!(search(other.clone(), json!([0.0, 1.0])).await, ["north", "east"], "an entry added elsewhere is seen");
    let update =
        "mutation($id: ID!) { updateJournalEntry(input: { id: $id, embedding: [-1.0, 0.0] }) { entry { id } } }";
    app.ok(update, json!({ "id": east["id"] })).await;
    assert_eq!(search(other.clone(), json!([-1.0, 0.0])).await, ["east", "north"], "a changed embedding is seen");
    app.ok(
        "mutation($id: ID!) { deleteJournalEntry(input: { id: $id }) { deletedEntryId } }",
        json!({ "id": east["id"] }),
    )
    .await;
    assert_eq!(search(other.clone(), json!([-1.0, 0.0])).await, ["north"], "a deleted entry is gone");
    assert_eq!(search(app.schema.clone(), json!([-1.0, 0.0])).await, ["north"]);
}

async fn embeddings_keep_one_dimension_and_refuse_bad_vectors(b: Backend) {
    let app = TestApp::spawn(b).await;
    let l = app.learner("dims").await;
    create(&app, &l, "first", json!([]), json!([1.0, 2.0, 3.0])).await;
    let wrong = app.exec_as(Viewer::Open, CREATE, json!({ "l": l, "c": "x", "emb": [1.0, 2.0] })).await;
    assert_eq!(first_code(&wrong), "BAD_USER_INPUT");
    assert!(wrong["errors"][0]["message"].as_str().expect("m").contains("uses 3"), "{wrong}");
    for (what, emb) in [
        ("zero", json!([0.0, 0.0, 0.0])),
        ("empty", json!([])),
        ("too long", json!(vec![0.5; 4097])),
        ("beyond f32", json!([1.0, 1e300, 0.0])),
    ] {
        let r = app.exec_as(Viewer::Open, CREATE, json!({ "l": l, "c": "x", "emb": emb })).await;
        assert_eq!(first_code(&r), "BAD_USER_INPUT", "{what}");
    }
    let query = app.exec_as(Viewer::Open, SIMILAR, json!({ "l": l, "emb": [1.0, 0.0] })).await;
    assert_eq!(first_code(&query), "BAD_USER_INPUT", "a query of another dimension");
    let zero = app.exec_as(Viewer::Open, SIMILAR, json!({ "l": l, "emb": [0.0, 0.0, 0.0] })).await;
    assert_eq!(first_code(&zero), "BAD_USER_INPUT");
    assert_eq!(app.count_rows("journal_entries", None).await, 1, "nothing else was stored");
}

async fn journal_text_of_100000_characters_is_exact_and_a_megabyte_is_refused(b: Backend) {
    let app = TestApp::spawn(b).await;
    let l = app.learner("long").await;
    let long: String = "Ab😀 ü\n".chars().cycle().take(100_000).collect();
    let (status, body) = app.post(None, json!({ "query": CREATE, "variables": { "l": l, "c": long } })).await;
    assert_eq!(status, 200);
    let id = body["data"]["createJournalEntry"]["entry"]["id"].clone();
    let back =
        app.ok("query($id: ID!) { node(id: $id) { ... on JournalEntry { content } } }", json!({ "id": id })).await;
    assert_eq!(back["node"]["content"].as_str().map(|c| c == long), Some(true), "stored exactly");
    let huge = "x".repeat(1_000_000);
    let (status, body) = app.post(None, json!({ "query": CREATE, "variables": { "l": l, "c": huge } })).await;
    assert_eq!(status, 200);
    assert_eq!(first_code(&body), "BAD_USER_INPUT");
    let health = crate::common::http_client().get(app.url("/healthz")).send().await.expect("healthz");
    assert_eq!(health.status(), 200);
    assert_eq!(app.count_rows("journal_entries", None).await, 1);
}

const SAVE: &str = "mutation($l: ID!, $k: String, $s: JSON!, $a: String, $v: Int) {
  saveConversationState(input: { learnerId: $l, sessionKey: $k, state: $s, lastAgent: $a, expectedVersion: $v }) {
    conversationState { sessionKey state lastAgent version }
  }
}";

async fn conversation_state_is_versioned_and_survives_a_restart(b: Backend) {
    let mut app = TestApp::spawn(b).await;
    let l = app.learner("agent").await;
    let saved = app.ok(SAVE, json!({ "l": l, "s": { "step": 1 }, "a": "tutor", "v": 0 })).await;
    assert_eq!(
        saved["saveConversationState"]["conversationState"],
        json!({ "sessionKey": "default", "state": { "step": 1 }, "lastAgent": "tutor", "version": 1 })
    );
    let second = app.ok(SAVE, json!({ "l": l, "s": { "step": 2 }, "v": 1 })).await;
    assert_eq!(second["saveConversationState"]["conversationState"]["version"], 2);
    // A second replica that read version 1 loses, and changes nothing.
    let stale = app.exec_as(Viewer::Open, SAVE, json!({ "l": l, "s": { "step": 99 }, "v": 1 })).await;
    assert_eq!(first_code(&stale), "CONFLICT");
    let twice_new = app.exec_as(Viewer::Open, SAVE, json!({ "l": l, "s": {}, "v": 0 })).await;
    assert_eq!(first_code(&twice_new), "CONFLICT", "expecting no state when one exists");
    let no_expectation = app.ok(SAVE, json!({ "l": l, "s": { "step": 3 } })).await;
    assert_eq!(no_expectation["saveConversationState"]["conversationState"]["version"], 3);
    app.ok(SAVE, json!({ "l": l, "k": "math-tutor", "s": { "topic": "fractions" } })).await;

    app.restart().await;
    let load = "query($l: ID!) { learner(id: $l) { conversationState { state version } other: conversationState(sessionKey: \"math-tutor\") { state } none: conversationState(sessionKey: \"nope\") { state } conversationStates { sessionKey } } }";
    let got = app.ok(load, json!({ "l": l })).await;
    assert_eq!(
        got["learner"],
        json!({
            "conversationState": { "state": { "step": 3 }, "version": 3 },
            "other": { "state": { "topic": "fractions" } },
            "none": null,
            "conversationStates": [{ "sessionKey": "default" }, { "sessionKey": "math-tutor" }],
        })
    );
    let clear = "mutation($l: ID!, $k: String) { clearConversationState(input: { learnerId: $l, sessionKey: $k }) { cleared } }";
    assert_eq!(app.ok(clear, json!({ "l": l })).await["clearConversationState"]["cleared"], true);
    assert_eq!(app.ok(clear, json!({ "l": l })).await["clearConversationState"]["cleared"], false);
    assert_eq!(app.count_rows("conversation_states", None).await, 1);
}

const POST: &str = "mutation($l: ID!, $m: [ChatMessageInput!]!, $s: ID, $k: String) {
  postChatMessages(input: { learnerId: $l, messages: $m, sessionId: $s, idempotencyKey: $k }) {
    session { id kind endedAt } messages { id role content agentPersona position }
  }
}";

async fn chat_messages_append_in_order_to_the_open_session(b: Backend) {
    let app = TestApp::spawn(b).await;
    let l = app.learner("chat").await;
    let first = app
        .ok(POST, json!({ "l": l, "m": [{ "role": "USER", "content": "hello" }, { "role": "ASSISTANT", "content": "hi!", "agentPersona": "coach" }] }))
        .await;
    let session = first["postChatMessages"]["session"].clone();
    assert_eq!(session["kind"], "CHAT");
    let second = app.ok(POST, json!({ "l": l, "m": [{ "role": "USER", "content": "again" }] })).await;
    assert_eq!(second["postChatMessages"]["session"]["id"], session["id"], "the open CHAT session is reused");
    assert_eq!(second["postChatMessages"]["messages"][0]["position"], 3);
    let history = "query($l: ID!) { learner(id: $l) { chatSessions(first: 5) { edges { node { id messages { id role content agentPersona } } } } } }";
    let got = app.ok(history, json!({ "l": l })).await;
    let messages = &got["learner"]["chatSessions"]["edges"][0]["node"]["messages"];
    let texts: Vec<&str> = messages.as_array().expect("m").iter().map(|m| m["content"].as_str().expect("c")).collect();
    assert_eq!(texts, ["hello", "hi!", "again"], "oldest first");
    assert_eq!(messages[1]["agentPersona"], "coach");
    let paged = app
        .ok("query($l: ID!, $after: ID) { learner(id: $l) { chatSessions(first: 1) { edges { node { messages(first: 1, after: $after) { content } } } } } }", json!({ "l": l, "after": messages[0]["id"] }))
        .await;
    assert_eq!(paged["learner"]["chatSessions"]["edges"][0]["node"]["messages"], json!([{ "content": "hi!" }]));
    // An ended session takes no more messages; the next post opens a new one.
    app.ok(
        "mutation($s: ID!) { endSession(input: { sessionId: $s }) { session { id } } }",
        json!({ "s": session["id"] }),
    )
    .await;
    let closed = app
        .exec_as(
            Viewer::Open,
            POST,
            json!({ "l": l, "s": session["id"], "m": [{ "role": "USER", "content": "late" }] }),
        )
        .await;
    assert_eq!(first_code(&closed), "CONFLICT");
    let fresh = app.ok(POST, json!({ "l": l, "m": [{ "role": "USER", "content": "new day" }] })).await;
    assert_ne!(fresh["postChatMessages"]["session"]["id"], session["id"]);
    assert_eq!(fresh["postChatMessages"]["messages"][0]["position"], 1);
    let practice = app
        .ok(
            "mutation($l: ID!) { startSession(input: { learnerId: $l, kind: PRACTICE }) { session { id } } }",
            json!({ "l": l }),
        )
        .await;
    let wrong_kind = app.exec_as(Viewer::Open, POST, json!({ "l": l, "s": practice["startSession"]["session"]["id"], "m": [{ "role": "USER", "content": "x" }] })).await;
    assert_eq!(first_code(&wrong_kind), "BAD_USER_INPUT");
    for bad in [json!([]), json!([{ "role": "USER", "content": "  " }])] {
        assert_eq!(app.error_code(POST, json!({ "l": l, "m": bad })).await, "BAD_USER_INPUT");
    }
    assert_eq!(app.count_rows("chat_messages", None).await, 4);
}

async fn sixteen_concurrent_first_posts_share_one_session_and_lose_nothing(b: Backend) {
    let app = TestApp::spawn(b).await;
    let l = app.learner("burst").await;
    let posts = (0..16).map(|i| {
        app.post(None, json!({ "query": POST, "variables": { "l": l, "m": [{ "role": "USER", "content": format!("m{i}-a") }, { "role": "ASSISTANT", "content": format!("m{i}-b") }] } }))
    });
    let results = join_all(posts).await;
    let mut sessions = std::collections::HashSet::new();
    for (status, body) in &results {
        assert_eq!(*status, 200);
        assert!(body.get("errors").is_none(), "{body:#}");
        sessions.insert(body["data"]["postChatMessages"]["session"]["id"].as_str().expect("id").to_owned());
    }
    assert_eq!(sessions.len(), 1, "one open CHAT session");
    let got = app
        .ok("query($l: ID!) { learner(id: $l) { chatSessions(first: 5) { edges { node { messages(first: 100) { content position } } } } } }", json!({ "l": l }))
        .await;
    let edges = got["learner"]["chatSessions"]["edges"].as_array().expect("edges");
    assert_eq!(edges.len(), 1);
    let messages = edges[0]["node"]["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 32, "none lost");
    let positions: Vec<i64> = messages.iter().map(|m| m["position"].as_i64().expect("p")).collect();
    assert_eq!(positions, (1..=32).collect::<Vec<_>>(), "none duplicated, no gap");
    for pair in messages.chunks(2) {
        let a = pair[0]["content"].as_str().expect("a");
        assert_eq!(
            pair[1]["content"].as_str().expect("b"),
            a.replace("-a", "-b"),
            "a post's messages stay together, in order"
        );
    }
}

async fn a_retried_chat_post_returns_the_first(b: Backend) {
    let app = TestApp::spawn(b).await;
    let l = app.learner("retry-chat").await;
    let vars = json!({ "l": l, "k": "post-1", "m": [{ "role": "USER", "content": "once" }] });
    let first = app.ok(POST, vars.clone()).await;
    let again = app.ok(POST, vars).await;
    assert_eq!(first, again);
    let racing = join_all((0..8).map(|_| {
        app.post(None, json!({ "query": POST, "variables": { "l": l, "k": "post-2", "m": [{ "role": "USER", "content": "twice?" }] } }))
    }))
    .await;
    let ids: std::collections::HashSet<String> = racing
        .iter()
        .map(|(_, b)| b["data"]["postChatMessages"]["messages"][0]["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(app.count_rows("chat_messages", None).await, 2);
}

async fn mentor_selections_belong_to_chat_sessions(b: Backend) {
    let app = TestApp::spawn(b).await;
    let l = app.learner("mentor").await;
    let chat = app.ok(POST, json!({ "l": l, "m": [{ "role": "USER", "content": "hi" }] })).await["postChatMessages"]["session"]["id"].clone();
    let select = "mutation($l: ID!, $s: ID!, $m: String!, $k: String) { recordMentorSelection(input: { learnerId: $l, sessionId: $s, mentorId: $m, contextKeywords: $k }) { selection { mentorId contextKeywords } } }";
    app.ok(select, json!({ "l": l, "s": chat, "m": "sage", "k": "exams, stress" })).await;
    app.ok(select, json!({ "l": l, "s": chat, "m": "coach" })).await;
    let got = app
        .ok(
            "query($id: ID!) { node(id: $id) { ... on Session { mentorSelections { mentorId contextKeywords } } } }",
            json!({ "id": chat }),
        )
        .await;
    assert_eq!(
        got["node"]["mentorSelections"],
        json!([{ "mentorId": "sage", "contextKeywords": "exams, stress" }, { "mentorId": "coach", "contextKeywords": null }])
    );
    let meditation = app
        .ok(
            "mutation($l: ID!) { startSession(input: { learnerId: $l, kind: MEDITATION }) { session { id } } }",
            json!({ "l": l }),
        )
        .await;
    assert_eq!(
        app.error_code(select, json!({ "l": l, "s": meditation["startSession"]["session"]["id"], "m": "x" })).await,
        "BAD_USER_INPUT"
    );
    assert_eq!(app.count_rows("mentor_selections", None).await, 2);
}

const REFLECT: &str = "mutation($l: ID!, $d: Int!, $r: String!, $i: String, $e: String, $j: Boolean, $s: ID) {
  recordMeditationReflection(input: { learnerId: $l, durationMinutes: $d, reflection: $r, insight: $i, emotionalState: $e, saveToJournal: $j, sessionId: $s }) {
    reflection { id reflection insight emotionalState durationMinutes }
    session { id kind startedAt endedAt reflection { id } }
    journalEntry { id content moodTags source }
  }
}";

async fn a_meditation_reflection_completes_a_session_and_can_go_to_the_journal(b: Backend) {
    let clock = Clock::fixed(at("2026-05-01T08:00:00Z"));
    let app = TestApp::spawn_with(b, clock.clone(), |_| {}).await;
    let l = app.learner("calm").await;
    // No open session: a completed one of the given length, ending now.
    let done = app
        .ok(
            REFLECT,
            json!({ "l": l, "d": 15, "r": "Breathing helped", "i": "Notice the breath", "e": "calm", "j": true }),
        )
        .await;
    let d = &done["recordMeditationReflection"];
    assert_eq!(d["session"]["kind"], "MEDITATION");
    assert_eq!(d["session"]["startedAt"], "2026-05-01T07:45:00+00:00");
    assert_eq!(d["session"]["endedAt"], "2026-05-01T08:00:00+00:00");
    assert_eq!(d["session"]["reflection"]["id"], d["reflection"]["id"]);
    assert_eq!(d["journalEntry"]["moodTags"], json!(["meditative", "calm"]));
    assert_eq!(d["journalEntry"]["source"], "MEDITATION");
    assert_eq!(d["journalEntry"]["content"], "Breathing helped");
    // An open MEDITATION session is completed.
    let open = app
        .ok(
            "mutation($l: ID!) { startSession(input: { learnerId: $l, kind: MEDITATION }) { session { id } } }",
            json!({ "l": l }),
        )
        .await;
    let open_id = open["startSession"]["session"]["id"].clone();
    clock.set(at("2026-05-01T09:00:00Z"));
    let second = app.ok(REFLECT, json!({ "l": l, "d": 60, "r": "Restless" })).await;
    assert_eq!(second["recordMeditationReflection"]["session"]["id"], open_id);
    assert_eq!(second["recordMeditationReflection"]["session"]["endedAt"], "2026-05-01T09:00:00+00:00");
    assert_eq!(second["recordMeditationReflection"]["journalEntry"], Value::Null);
    let again = app.exec_as(Viewer::Open, REFLECT, json!({ "l": l, "d": 5, "r": "x", "s": open_id })).await;
    assert_eq!(first_code(&again), "CONFLICT", "one reflection per session");
    for bad in [
        json!({ "l": l, "d": 0, "r": "x" }),
        json!({ "l": l, "d": 601, "r": "x" }),
        json!({ "l": l, "d": 5, "r": " " }),
    ] {
        assert_eq!(app.error_code(REFLECT, bad).await, "BAD_USER_INPUT");
    }
    let listed = app.ok("query($l: ID!) { learner(id: $l) { meditationReflections(first: 5) { edges { node { reflection journalEntry { id } session { id } } } } } }", json!({ "l": l })).await;
    let r = listed["learner"]["meditationReflections"]["edges"].as_array().expect("edges");
    assert_eq!(r.len(), 2);
    assert_eq!(r[0]["node"]["reflection"], "Restless", "newest first");
    assert_eq!(r[1]["node"]["journalEntry"]["id"], d["journalEntry"]["id"]);
    assert_eq!(app.count_rows("meditation_reflections", None).await, 2);
    assert_eq!(app.count_rows("journal_entries", None).await, 1);
}

async fn activity_summary_counts_without_loading_rows(b: Backend) {
    let clock = Clock::fixed(at("2026-05-01T08:00:00Z"));
    let app = TestApp::spawn_with(b, clock.clone(), |_| {}).await;
    let l = app.learner("summary").await;
    let query = "query($l: ID!) { learner(id: $l) { activitySummary { chatSessions chatMessages journalEntries meditationSessions meditationMinutes lastActiveAt } } }";
    let empty = app.ok(query, json!({ "l": l })).await;
    assert_eq!(
        empty["learner"]["activitySummary"],
        json!({ "chatSessions": 0, "chatMessages": 0, "journalEntries": 0, "meditationSessions": 0, "meditationMinutes": 0, "lastActiveAt": null })
    );
    app.ok(POST, json!({ "l": l, "m": [{ "role": "USER", "content": "a" }, { "role": "ASSISTANT", "content": "b" }] }))
        .await;
    create(&app, &l, "entry", json!([]), Value::Null).await;
    clock.set(at("2026-05-02T08:00:00Z"));
    app.ok(REFLECT, json!({ "l": l, "d": 10, "r": "r", "j": true })).await;
    app.ok(REFLECT, json!({ "l": l, "d": 25, "r": "r2" })).await;
    let got = app.ok(query, json!({ "l": l })).await;
    assert_eq!(
        got["learner"]["activitySummary"],
        json!({ "chatSessions": 1, "chatMessages": 2, "journalEntries": 2, "meditationSessions": 2, "meditationMinutes": 35, "lastActiveAt": "2026-05-02T08:00:00+00:00" })
    );
}

const ONE: &str = "query($l: ID!, $n: Int!) { learner(id: $l) {
  journalEntries(first: $n) { edges { node { content followUps(first: 2) { question synthesizedEntry { id } } synthesizedFrom { id } } } }
  chatSessions(first: $n) { edges { node { messages(first: 3) { content session { id } } mentorSelections(first: 2) { mentorId } reflection { id } } } }
  meditationReflections(first: $n) { edges { node { reflection session { id } journalEntry { id } } } }
  conversationState { version } conversationStates { sessionKey } activitySummary { chatMessages journalEntries }
} }";

const PAGE: &str = "query($n: Int!) { learners(first: $n) { edges { node {
  conversationState { version } conversationStates { sessionKey } activitySummary { chatMessages journalEntries }
} } } }";

async fn a_page_of_learners_loads_wellbeing_lists_in_constant_statements(b: Backend) {
    let app = TestApp::spawn(b).await;
    let mut ids = Vec::new();
    for i in 0..12 {
        let l = app.learner(&format!("w{i}")).await;
        seed_wellbeing(&app, &l).await;
        ids.push(l);
    }
    let heavy = &ids[0];
    for i in 0..6 {
        seed_wellbeing(&app, heavy).await;
        create(&app, heavy, &format!("more {i}"), json!(["x"]), Value::Null).await;
    }
    // One learner's lists, at two page sizes: every relation under them is one statement.
    // Four entries already reach every relation: the newest are an entry without follow-ups, a
    // meditation entry and a synthesis, and a relation without keys issues nothing.
    let small = statements(&app, ONE, json!({ "l": heavy, "n": 4 })).await;
    let large = statements(&app, ONE, json!({ "l": heavy, "n": 20 })).await;
    assert_eq!(small, large, "one learner's wellbeing view at pages of 4 and 20");
    // learner, 3 connections, follow-ups, synthesized entries, synthesized-from, messages, mentor
    // selections, session reflections, reflection entries, state, states, activity (the sessions
    // of messages and reflections are asked only for their ids, which cost nothing).
    assert_eq!(small, 14);
    let three = statements(&app, PAGE, json!({ "n": 3 })).await;
    let twelve = statements(&app, PAGE, json!({ "n": 12 })).await;
    assert_eq!(three, twelve, "the per-learner wellbeing fields of a page of learners");
    assert_eq!(three, 4, "the page, the state, the states, the activity counts");
}
