//! SeaORM entities: one module per table. The GraphQL layer wraps these models, so a table can
//! change shape without the schema changing.

pub mod access_log;
pub mod activity;
pub mod activity_head;
pub mod attempt;
pub mod badge;
pub mod chat_message;
pub mod chat_post;
pub mod cognitive_metric;
pub mod cognitive_metric_record;
pub mod conversation_state;
pub mod event;
pub mod exercise_stat;
pub mod goal;
pub mod goal_profile_version;
pub mod interest;
pub mod journal_corpus;
pub mod journal_entry;
pub mod journal_follow_up;
pub mod journal_mood_tag;
pub mod learner;
pub mod learner_progress;
pub mod meditation_reflection;
pub mod mentor_selection;
pub mod objective_progress;
pub mod portfolio_item;
pub mod practice_day;
pub mod preference;
pub mod profiling_answer_key;
pub mod profiling_outcome;
pub mod profiling_question_bank;
pub mod profiling_response;
pub mod profiling_session;
pub mod recipe;
pub mod recipe_skill;
pub mod session;
pub mod struggle;

/// Writes little-endian f32 bytes (a journal embedding) as a list of numbers, the form an export
/// reader can use.
pub fn f32_le<S: serde::Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let Some(bytes) = bytes else { return s.serialize_none() };
    let mut seq = s.serialize_seq(Some(bytes.len() / 4))?;
    for chunk in bytes.chunks_exact(4) {
        seq.serialize_element(&f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]))?;
    }
    seq.end()
}
