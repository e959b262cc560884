//! Career profiling: the question bank, its validation, and the scoring of a finished session.
//! Everything here is a pure function of a bank, a skill map and the answers; the store keeps
//! their results.
//!
//! Scoring rules (also in the README):
//! - **Technical exposure** (0–100): the mean `score` of the answered `technical_exposure`
//!   options, rounded half away from zero.
//! - **Module scores**: for every module, the mean `score` of its answered options that carry one.
//!   A module whose score is below the skill map's `weakBelow` is *weak*.
//! - **Work-style cluster**: the `cluster` chosen most often among `work_style` answers; a tie
//!   goes to the cluster that appears first in the bank.
//! - **Scenario choices**: the chosen option values of `scenario_preference` questions, in bank
//!   order. **Difficulty**: the chosen value of the first answered `difficulty` question.
//! - **Alignment**: every answered option adds its `weights` to the five tracks; a track's
//!   percentage is its share of the total, rounded to one decimal by the largest-remainder method,
//!   so the five always sum to exactly 100.0 (with no weight at all, 20.0 each). The primary
//!   track is the largest raw total; ties go to the first in `TRACKS` order.
//! - **Suspicious timing**: the median response time (for an even count, the lower of the two
//!   middle values) is under `SUSPICIOUS_MEDIAN_MS`, faster than a question and its options can
//!   be read.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

/// The five career tracks, in the order that breaks ties.
pub const TRACKS: [&str; 5] = ["defender", "offensive", "innovation", "leadership", "grc"];

/// The modules of a bank; a session must answer at least one question of each to complete.
pub const MODULES: [&str; 6] =
    ["technical_exposure", "work_style", "scenario_preference", "difficulty", "identity_value", "reflection"];

/// A median response time under this many milliseconds marks a session's timing as suspicious.
pub const SUSPICIOUS_MEDIAN_MS: i32 = 1_000;

/// Most questions in a bank (and so most responses in a session).
pub const MAX_QUESTIONS: usize = 200;
/// Most options of one question.
pub const MAX_OPTIONS: usize = 12;
const MAX_ID_CHARS: usize = 64;
const MAX_PROMPT_CHARS: usize = 1_000;
const MAX_LABEL_CHARS: usize = 500;
const MAX_WEIGHT: f64 = 10.0;

/// A question bank, as published (JSON, camelCase keys; unknown keys are refused).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bank {
    pub questions: Vec<Question>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub id: String,
    pub module: String,
    pub prompt: String,
    pub options: Vec<Choice>,
}

/// One option of a question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    pub value: String,
    pub label: String,
    /// Weight added to each track when chosen (0..=10; tracks left out add nothing).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub weights: BTreeMap<String, f64>,
    /// 0..=100; required on `technical_exposure` options, optional elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// The work-style cluster it stands for; required on `work_style` options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// A first-person sentence for the Value Statement (`identity_value` and `reflection`); the
    /// label is used without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<String>,
}

fn is_key(s: &str) -> bool {
    !s.is_empty()
        && s.chars().count() <= MAX_ID_CHARS
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

fn is_text(s: &str, max: usize) -> bool {
    !s.trim().is_empty() && s.chars().count() <= max && !s.contains('\0')
}

impl Bank {
    /// Parses and validates a bank; every problem found is listed.
    pub fn parse(json: serde_json::Value) -> Result<Bank, Vec<String>> {
        let bank: Bank = serde_json::from_value(json).map_err(|e| vec![e.to_string()])?;
        let problems = bank.problems();
        if problems.is_empty() { Ok(bank) } else { Err(problems) }
    }

    /// `parse` for a file's text.
    pub fn parse_str(text: &str) -> Result<Bank, Vec<String>> {
        let json: serde_json::Value = serde_json::from_str(text).map_err(|e| vec![e.to_string()])?;
        Bank::parse(json)
    }

    /// What breaks the bank's rules, one line per problem.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.questions.is_empty() || self.questions.len() > MAX_QUESTIONS {
            out.push(format!("a bank has 1..={MAX_QUESTIONS} questions, this one has {}", self.questions.len()));
        }
        let mut ids = HashSet::new();
        for (i, q) in self.questions.iter().enumerate() {
            let at = format!("question {} (`{}`)", i + 1, q.id);
            if !is_key(&q.id) {
                out.push(format!("{at}: id must be 1..={MAX_ID_CHARS} of a-z, 0-9, `_`, `-`"));
            }
            if !ids.insert(q.id.as_str()) {
                out.push(format!("{at}: id is used twice"));
            }
            if !MODULES.contains(&q.module.as_str()) {
                out.push(format!("{at}: unknown module `{}` (one of {})", q.module, MODULES.join(", ")));
            }
            if !is_text(&q.prompt, MAX_PROMPT_CHARS) {
                out.push(format!("{at}: prompt must be 1..={MAX_PROMPT_CHARS} characters"));
            }
            if !(2..=MAX_OPTIONS).contains(&q.options.len()) {
                out.push(format!("{at}: needs 2..={MAX_OPTIONS} options, has {}", q.options.len()));
            }
            let mut values = HashSet::new();
            for o in &q.options {
                let at = format!("{at}, option `{}`", o.value);
                if !is_key(&o.value) {
                    out.push(format!("{at}: value must be 1..={MAX_ID_CHARS} of a-z, 0-9, `_`, `-`"));
                }
                if !values.insert(o.value.as_str()) {
                    out.push(format!("{at}: value is used twice"));
                }
                if !is_text(&o.label, MAX_LABEL_CHARS) {
                    out.push(format!("{at}: label must be 1..={MAX_LABEL_CHARS} characters"));
                }
                if o.statement.as_deref().is_some_and(|s| !is_text(s, MAX_LABEL_CHARS)) {
                    out.push(format!("{at}: statement must be 1..={MAX_LABEL_CHARS} characters"));
                }
                for (track, w) in &o.weights {
                    if !TRACKS.contains(&track.as_str()) {
                        out.push(format!("{at}: unknown track `{track}` (one of {})", TRACKS.join(", ")));
                    }
                    if !(w.is_finite() && (0.0..=MAX_WEIGHT).contains(w)) {
                        out.push(format!("{at}: weight of `{track}` must be 0..={MAX_WEIGHT}"));
                    }
                }
                match o.score {
                    Some(s) if !(s.is_finite() && (0.0..=100.0).contains(&s)) => {
                        out.push(format!("{at}: score must be 0..=100"));
                    }
                    None if q.module == "technical_exposure" => {
                        out.push(format!("{at}: technical_exposure options need a score"));
                    }
                    _ => {}
                }
                match &o.cluster {
                    Some(c) if !is_key(c) => {
                        out.push(format!("{at}: cluster must be 1..={MAX_ID_CHARS} of a-z, 0-9, `_`, `-`"))
                    }
                    None if q.module == "work_style" => out.push(format!("{at}: work_style options need a cluster")),
                    _ => {}
                }
            }
        }
        let missing: Vec<&str> =
            MODULES.iter().copied().filter(|m| !self.questions.iter().any(|q| q.module == *m)).collect();
        if !missing.is_empty() {
            out.push(format!("no questions for module(s): {}", missing.join(", ")));
        }
        out
    }

    pub fn question(&self, id: &str) -> Option<&Question> {
        self.questions.iter().find(|q| q.id == id)
    }
}

impl Question {
    pub fn option(&self, value: &str) -> Option<&Choice> {
        self.options.iter().find(|o| o.value == value)
    }
}

/// One stored answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub question_id: String,
    pub selected_option: String,
    pub response_time_ms: i32,
}

/// A track's share of the alignment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackShare {
    pub track: String,
    pub percentage: f64,
}

/// A module's mean option score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModuleScore {
    pub module: String,
    pub score: f64,
}

/// What completion computes; stored with the session as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Telemetry {
    pub technical_exposure_score: i32,
    pub work_style_cluster: String,
    pub scenario_choices: Vec<String>,
    pub difficulty_selection: String,
    /// The five tracks, in `TRACKS` order.
    pub alignment: Vec<TrackShare>,
    pub primary_track: String,
    pub suspicious_timing: bool,
    pub median_response_time_ms: i32,
    pub module_scores: Vec<ModuleScore>,
    pub weak_modules: Vec<String>,
    pub answered: i32,
}

/// Why a session cannot be scored.
#[derive(Debug, Clone, PartialEq)]
pub enum ScoreError {
    /// Modules with no answer, in `MODULES` order.
    MissingModules(Vec<&'static str>),
    /// An answer names a question or option the bank does not have (a stored row the bank
    /// version never allowed: a fault of ours, not the client's).
    UnknownAnswer(String),
}

/// The answers joined to their questions and options, in bank order.
fn resolve<'b>(bank: &'b Bank, answers: &[Answer]) -> Result<Vec<(&'b Question, &'b Choice)>, ScoreError> {
    let mut out = Vec::with_capacity(answers.len());
    for q in &bank.questions {
        if let Some(a) = answers.iter().find(|a| a.question_id == q.id) {
            let choice =
                q.option(&a.selected_option).ok_or_else(|| ScoreError::UnknownAnswer(a.question_id.clone()))?;
            out.push((q, choice));
        }
    }
    if let Some(a) = answers.iter().find(|a| bank.question(&a.question_id).is_none()) {
        return Err(ScoreError::UnknownAnswer(a.question_id.clone()));
    }
    Ok(out)
}

/// Scores a session's answers against its bank. `weak_below` comes from the skill map.
pub fn score(bank: &Bank, answers: &[Answer], weak_below: f64) -> Result<Telemetry, ScoreError> {
    let chosen = resolve(bank, answers)?;
    let missing: Vec<&'static str> =
        MODULES.iter().copied().filter(|m| !chosen.iter().any(|(q, _)| q.module == *m)).collect();
    if !missing.is_empty() {
        return Err(ScoreError::MissingModules(missing));
    }
    let in_module = |m: &'static str| chosen.iter().filter(move |(q, _)| q.module == m).map(|(_, c)| *c);

    let module_scores: Vec<ModuleScore> = MODULES
        .iter()
        .filter_map(|m| {
            let scores: Vec<f64> = in_module(m).filter_map(|c| c.score).collect();
            (!scores.is_empty()).then(|| ModuleScore {
                module: (*m).to_owned(),
                score: scores.iter().sum::<f64>() / scores.len() as f64,
            })
        })
        .collect();
    let technical_exposure_score = module_scores
        .iter()
        .find(|s| s.module == "technical_exposure")
        .map_or(0, |s| s.score.round().clamp(0.0, 100.0) as i32);
    let weak_modules = module_scores.iter().filter(|s| s.score < weak_below).map(|s| s.module.clone()).collect();

    let work_style_cluster = majority_cluster(bank, in_module("work_style").filter_map(|c| c.cluster.as_deref()));
    let scenario_choices = in_module("scenario_preference").map(|c| c.value.clone()).collect();
    let difficulty_selection = in_module("difficulty").next().map(|c| c.value.clone()).unwrap_or_default();

    let mut totals = [0.0f64; 5];
    for (_, c) in &chosen {
        for (i, track) in TRACKS.iter().enumerate() {
            totals[i] += c.weights.get(*track).copied().unwrap_or(0.0);
        }
    }
    let alignment = shares(&totals);
    let primary = (0..TRACKS.len()).fold(0, |best, i| if totals[i] > totals[best] { i } else { best });

    let mut times: Vec<i32> = answers.iter().map(|a| a.response_time_ms).collect();
    times.sort_unstable();
    let median_response_time_ms = times.get(times.len().saturating_sub(1) / 2).copied().unwrap_or(0);

    Ok(Telemetry {
        technical_exposure_score,
        work_style_cluster,
        scenario_choices,
        difficulty_selection,
        alignment,
        primary_track: TRACKS[primary].to_owned(),
        suspicious_timing: median_response_time_ms < SUSPICIOUS_MEDIAN_MS,
        median_response_time_ms,
        module_scores,
        weak_modules,
        answered: i32::try_from(chosen.len()).unwrap_or(i32::MAX),
    })
}

/// The most chosen cluster; ties go to the cluster that appears first in the bank.
fn majority_cluster<'a>(bank: &Bank, chosen: impl Iterator<Item = &'a str>) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for c in chosen {
        *counts.entry(c).or_default() += 1;
    }
    let first_seen = |c: &str| {
        bank.questions.iter().flat_map(|q| &q.options).position(|o| o.cluster.as_deref() == Some(c)).unwrap_or(0)
    };
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| first_seen(b.0).cmp(&first_seen(a.0))))
        .map(|(c, _)| c.to_owned())
        .unwrap_or_default()
}

/// Percentages of `totals`, in tenths by the largest-remainder method: they sum to exactly 100.0.
/// Equal remainders go to the first track in `TRACKS` order.
fn shares(totals: &[f64; 5]) -> Vec<TrackShare> {
    let sum: f64 = totals.iter().sum();
    let raw: Vec<f64> =
        if sum > 0.0 { totals.iter().map(|t| t / sum * 1000.0).collect() } else { vec![200.0; TRACKS.len()] };
    let mut tenths: Vec<i64> = raw.iter().map(|r| r.floor() as i64).collect();
    let short = 1000 - tenths.iter().sum::<i64>();
    let mut order: Vec<usize> = (0..TRACKS.len()).collect();
    order.sort_by(|&a, &b| (raw[b] - raw[b].floor()).total_cmp(&(raw[a] - raw[a].floor())).then(a.cmp(&b)));
    for &i in order.iter().take(usize::try_from(short.max(0)).unwrap_or(0)) {
        tenths[i] += 1;
    }
    TRACKS.iter().zip(tenths).map(|(t, n)| TrackShare { track: (*t).to_owned(), percentage: n as f64 / 10.0 }).collect()
}

/// The Value Statement: the statements (or labels) of the chosen `identity_value` options, then
/// of the chosen `reflection` options, in bank order, one per line.
pub fn value_statement(bank: &Bank, answers: &[Answer]) -> Result<String, ScoreError> {
    let chosen = resolve(bank, answers)?;
    let lines: Vec<&str> = ["identity_value", "reflection"]
        .iter()
        .flat_map(|m| chosen.iter().filter(move |(q, _)| q.module == *m))
        .map(|(_, c)| c.statement.as_deref().unwrap_or(&c.label))
        .collect();
    Ok(lines.join("\n"))
}

/// The mapping from profiling outcome to skills and coaching focus (`data/profiling/skill-map.json`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SkillMap {
    /// A module whose score is below this is weak.
    pub weak_below: f64,
    pub tracks: BTreeMap<String, Area>,
    pub modules: BTreeMap<String, Area>,
}

/// What a track or a weak module calls for.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Area {
    pub focus: String,
    pub skills: Vec<String>,
}

/// A skill code: 1..=32 of A-Z, 0-9 and `-`.
pub fn is_skill_code(s: &str) -> bool {
    !s.is_empty() && s.len() <= 32 && s.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
}

impl SkillMap {
    pub fn parse_str(text: &str) -> Result<SkillMap, Vec<String>> {
        let map: SkillMap = serde_json::from_str(text).map_err(|e| vec![e.to_string()])?;
        let mut out = Vec::new();
        if !(map.weak_below.is_finite() && (0.0..=100.0).contains(&map.weak_below)) {
            out.push("weakBelow must be 0..=100".to_owned());
        }
        for t in TRACKS {
            if !map.tracks.contains_key(t) {
                out.push(format!("track `{t}` has no entry"));
            }
        }
        let areas = map.tracks.iter().map(|(k, a)| (k, a, TRACKS.contains(&k.as_str()), "track"));
        let modules = map.modules.iter().map(|(k, a)| (k, a, MODULES.contains(&k.as_str()), "module"));
        for (key, area, known, what) in areas.chain(modules) {
            if !known {
                out.push(format!("unknown {what} `{key}`"));
            }
            if area.focus.trim().is_empty() {
                out.push(format!("{what} `{key}`: focus must not be empty"));
            }
            if let Some(bad) = area.skills.iter().find(|s| !is_skill_code(s)) {
                out.push(format!("{what} `{key}`: `{bad}` is not a skill code (A-Z, 0-9, `-`)"));
            }
        }
        if out.is_empty() { Ok(map) } else { Err(out) }
    }
}

/// Where a gap skill comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GapSource {
    Track(String),
    WeakModule(String),
}

/// A skill the learner should build, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    pub skill: String,
    pub source: GapSource,
}

/// The gap skills of an outcome: the primary track's skills, then each weak module's, in
/// `MODULES` order. A skill named twice is listed under each source (each is a reason).
pub fn gaps(map: &SkillMap, primary_track: &str, weak_modules: &[String]) -> Vec<Gap> {
    let track = map
        .tracks
        .get(primary_track)
        .into_iter()
        .flat_map(|a| &a.skills)
        .map(|s| Gap { skill: s.clone(), source: GapSource::Track(primary_track.to_owned()) });
    let modules = MODULES
        .iter()
        .filter(|m| weak_modules.iter().any(|w| w == *m))
        .flat_map(|m| map.modules.get(*m).map(|a| (m, a)))
        .flat_map(|(m, a)| {
            a.skills.iter().map(|s| Gap { skill: s.clone(), source: GapSource::WeakModule((*m).to_owned()) })
        });
    track.chain(modules).collect()
}

/// Why a recipe with these skill codes is recommended: one reason per matching gap, in gap order.
pub fn reasons(gaps: &[Gap], skill_codes: &[String]) -> Vec<String> {
    gaps.iter()
        .filter(|g| skill_codes.contains(&g.skill))
        .map(|g| match &g.source {
            GapSource::Track(t) => format!("matches gap skill {} from track {t}", g.skill),
            GapSource::WeakModule(m) => format!("matches gap skill {} from weak module {m}", g.skill),
        })
        .collect()
}

/// A coaching focus area and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Focus {
    pub area: String,
    pub reason: String,
    pub skill_codes: Vec<String>,
}

/// A track within this many percentage points of the primary one is a secondary focus.
pub const SECONDARY_WITHIN: f64 = 5.0;

/// Coaching focus: the primary track, any track within `SECONDARY_WITHIN` points of it (in
/// `TRACKS` order), then each weak module (in `MODULES` order) with its score.
pub fn coaching_focus(
    map: &SkillMap,
    alignment: &[TrackShare],
    primary_track: &str,
    weak: &[ModuleScore],
) -> Vec<Focus> {
    let mut out = Vec::new();
    let top = alignment.iter().find(|s| s.track == primary_track).map_or(0.0, |s| s.percentage);
    let track = |s: &TrackShare, why: String| {
        map.tracks.get(&s.track).map(|a| Focus { area: a.focus.clone(), reason: why, skill_codes: a.skills.clone() })
    };
    if let Some(s) = alignment.iter().find(|s| s.track == primary_track) {
        out.extend(track(s, format!("primary track {} at {:.1}% alignment", s.track, s.percentage)));
    }
    for s in alignment.iter().filter(|s| s.track != primary_track && top - s.percentage <= SECONDARY_WITHIN) {
        out.extend(track(
            s,
            format!(
                "track {} at {:.1}% is within {SECONDARY_WITHIN} points of the primary track",
                s.track, s.percentage
            ),
        ));
    }
    for m in MODULES {
        if let Some(w) = weak.iter().find(|w| w.module == m)
            && let Some(a) = map.modules.get(m)
        {
            out.push(Focus {
                area: a.focus.clone(),
                reason: format!("{m} score {:.0} is below {:.0}", w.score, map.weak_below),
                skill_codes: a.skills.clone(),
            });
        }
    }
    out
}

/// The bank and skill map that ship with the binary.
pub const DEFAULT_BANK: &str = include_str!("../../data/profiling/question-bank.json");
pub const DEFAULT_SKILL_MAP: &str = include_str!("../../data/profiling/skill-map.json");

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A small bank with hand-computable weights: one question per module, two for work style.
    fn bank() -> Bank {
        Bank::parse(json!({ "questions": [
            { "id": "te1", "module": "technical_exposure", "prompt": "p", "options": [
                { "value": "low", "label": "Low", "score": 20, "weights": { "grc": 1 } },
                { "value": "high", "label": "High", "score": 90, "weights": { "defender": 2, "offensive": 1 } } ] },
            { "id": "te2", "module": "technical_exposure", "prompt": "p", "options": [
                { "value": "low", "label": "Low", "score": 0 },
                { "value": "high", "label": "High", "score": 75, "weights": { "offensive": 1 } } ] },
            { "id": "ws1", "module": "work_style", "prompt": "p", "options": [
                { "value": "a", "label": "A", "cluster": "analyst", "score": 30 },
                { "value": "b", "label": "B", "cluster": "builder", "score": 80, "weights": { "innovation": 1 } } ] },
            { "id": "ws2", "module": "work_style", "prompt": "p", "options": [
                { "value": "b", "label": "B", "cluster": "builder" },
                { "value": "a", "label": "A", "cluster": "analyst" } ] },
            { "id": "sp1", "module": "scenario_preference", "prompt": "p", "options": [
                { "value": "soc", "label": "SOC", "weights": { "defender": 3 } },
                { "value": "ctf", "label": "CTF", "weights": { "offensive": 3 } } ] },
            { "id": "df1", "module": "difficulty", "prompt": "p", "options": [
                { "value": "gentle", "label": "Gentle" }, { "value": "hard", "label": "Hard" } ] },
            { "id": "iv1", "module": "identity_value", "prompt": "p", "options": [
                { "value": "protect", "label": "Protect", "statement": "I protect people.", "weights": { "leadership": 1 } },
                { "value": "create", "label": "Create" } ] },
            { "id": "rf1", "module": "reflection", "prompt": "p", "options": [
                { "value": "grow", "label": "Grow in depth" }, { "value": "lead", "label": "Lead", "statement": "I lead." } ] }
        ]}))
        .expect("valid bank")
    }

    fn answers(pairs: &[(&str, &str, i32)]) -> Vec<Answer> {
        pairs
            .iter()
            .map(|(q, o, t)| Answer { question_id: (*q).into(), selected_option: (*o).into(), response_time_ms: *t })
            .collect()
    }

    fn full() -> Vec<Answer> {
        answers(&[
            ("te1", "high", 4000),
            ("te2", "low", 3000),
            ("ws1", "a", 5000),
            ("ws2", "b", 2500),
            ("sp1", "soc", 6000),
            ("df1", "hard", 1500),
            ("iv1", "protect", 7000),
            ("rf1", "grow", 800),
        ])
    }

    #[test]
    fn scores_hand_computed_answers() {
        let t = score(&bank(), &full(), 40.0).expect("scored");
        // (90 + 0) / 2 = 45.
        assert_eq!(t.technical_exposure_score, 45);
        // analyst 1, builder 1: the tie goes to analyst, first in the bank.
        assert_eq!(t.work_style_cluster, "analyst");
        assert_eq!(t.scenario_choices, vec!["soc"]);
        assert_eq!(t.difficulty_selection, "hard");
        // defender 2 + 3 = 5, offensive 1, innovation 0, leadership 1, grc 0: total 7.
        // 71.428.. / 14.285.. / 0 / 14.285.. / 0 -> tenths 714, 142, 0, 142, 0 = 998; the two
        // largest remainders (.857 of offensive and leadership) get one tenth each.
        let pct: Vec<f64> = t.alignment.iter().map(|s| s.percentage).collect();
        assert_eq!(pct, vec![71.4, 14.3, 0.0, 14.3, 0.0]);
        assert_eq!(t.primary_track, "defender");
        // Times sorted: 800 1500 2500 3000 4000 5000 6000 7000; lower middle = 3000.
        assert_eq!(t.median_response_time_ms, 3000);
        assert!(!t.suspicious_timing);
        // Module scores: technical 45, work style 30 (only ws1 has a score).
        assert_eq!(
            t.module_scores,
            vec![
                ModuleScore { module: "technical_exposure".into(), score: 45.0 },
                ModuleScore { module: "work_style".into(), score: 30.0 }
            ]
        );
        assert_eq!(t.weak_modules, vec!["work_style"]);
        assert_eq!(t.answered, 8);
    }

    #[test]
    fn alignment_sums_to_exactly_one_hundred() {
        for totals in
            [[1.0, 1.0, 1.0, 0.0, 0.0], [1.0; 5], [0.0; 5], [3.0, 7.0, 11.0, 13.0, 17.0], [1e-9, 0.0, 0.0, 0.0, 2.0]]
        {
            let s = shares(&totals);
            let tenths: i64 = s.iter().map(|x| (x.percentage * 10.0).round() as i64).sum();
            assert_eq!(tenths, 1000, "{totals:?} -> {s:?}");
        }
        // Thirds: 333.3 each; the one spare tenth goes to the first track.
        let s = shares(&[1.0, 1.0, 1.0, 0.0, 0.0]);
        assert_eq!(s.iter().map(|x| x.percentage).collect::<Vec<_>>(), vec![33.4, 33.3, 33.3, 0.0, 0.0]);
        // No weights: 20 each.
        assert!(shares(&[0.0; 5]).iter().all(|x| x.percentage == 20.0));
    }

    #[test]
    fn ties_for_primary_track_follow_the_fixed_order() {
        // ws1 b (innovation 1) + te1 low (grc 1) + iv1 create + sp1 ... choose equal leadership/grc.
        let a = answers(&[
            ("te1", "low", 2000),
            ("te2", "low", 2000),
            ("ws1", "a", 2000),
            ("ws2", "a", 2000),
            ("sp1", "soc", 2000),
            ("df1", "gentle", 2000),
            ("iv1", "protect", 2000),
            ("rf1", "grow", 2000),
        ]);
        // grc 1, leadership 1, defender 3: defender wins outright.
        assert_eq!(score(&bank(), &a, 40.0).expect("scored").primary_track, "defender");
        let mut b = bank();
        // Make sp1 soc weigh nothing: grc 1 and leadership 1 tie; leadership comes first.
        b.questions[4].options[0].weights.clear();
        assert_eq!(score(&b, &a, 40.0).expect("scored").primary_track, "leadership");
    }

    #[test]
    fn fast_answers_are_suspicious() {
        let mut a = full();
        for x in &mut a {
            x.response_time_ms = 400;
        }
        a[0].response_time_ms = 9000;
        let t = score(&bank(), &a, 40.0).expect("scored");
        assert_eq!(t.median_response_time_ms, 400);
        assert!(t.suspicious_timing);
        // Exactly the threshold is not suspicious.
        for x in &mut a {
            x.response_time_ms = SUSPICIOUS_MEDIAN_MS;
        }
        assert!(!score(&bank(), &a, 40.0).expect("scored").suspicious_timing);
    }

    #[test]
    fn missing_modules_are_listed() {
        let a = answers(&[("te1", "high", 2000), ("ws1", "a", 2000)]);
        assert_eq!(
            score(&bank(), &a, 40.0),
            Err(ScoreError::MissingModules(vec!["scenario_preference", "difficulty", "identity_value", "reflection"]))
        );
    }

    #[test]
    fn value_statement_uses_statements_then_labels() {
        assert_eq!(value_statement(&bank(), &full()).expect("ok"), "I protect people.\nGrow in depth");
    }

    #[test]
    fn broken_banks_list_every_problem() {
        let broken = json!({ "questions": [
            { "id": "Bad Id", "module": "astrology", "prompt": "", "options": [
                { "value": "x", "label": "X", "weights": { "wizard": 1, "grc": -1 } } ] },
            { "id": "te", "module": "technical_exposure", "prompt": "p", "options": [
                { "value": "a", "label": "A" }, { "value": "a", "label": "A", "score": 101 } ] }
        ]});
        let problems = Bank::parse(broken).expect_err("broken");
        let text = problems.join("\n");
        for needle in [
            "id must be",
            "unknown module `astrology`",
            "prompt must be",
            "needs 2..=12 options",
            "unknown track `wizard`",
            "weight of `grc`",
            "need a score",
            "value is used twice",
            "score must be 0..=100",
            "no questions for module(s): work_style, scenario_preference, difficulty, identity_value, reflection",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
        }
        assert!(Bank::parse(json!({ "questions": [], "extra": 1 })).is_err(), "unknown keys are refused");
    }

    #[test]
    fn gaps_reasons_and_focus() {
        let map = SkillMap::parse_str(DEFAULT_SKILL_MAP).expect("shipped map");
        let weak = vec!["technical_exposure".to_owned()];
        let g = gaps(&map, "defender", &weak);
        let skills: Vec<&str> = g.iter().map(|g| g.skill.as_str()).collect();
        assert_eq!(skills, vec!["NET-101", "SOC-110", "IR-120", "FND-101", "NET-101", "PRG-101"]);
        assert_eq!(
            reasons(&g, &["NET-101".into(), "XYZ-1".into()]),
            vec![
                "matches gap skill NET-101 from track defender",
                "matches gap skill NET-101 from weak module technical_exposure"
            ]
        );
        let alignment = shares(&[30.0, 27.0, 10.0, 20.0, 13.0]);
        let focus = coaching_focus(
            &map,
            &alignment,
            "defender",
            &[ModuleScore { module: "technical_exposure".into(), score: 25.0 }],
        );
        let reasons: Vec<&str> = focus.iter().map(|f| f.reason.as_str()).collect();
        assert_eq!(
            reasons,
            vec![
                "primary track defender at 30.0% alignment",
                "track offensive at 27.0% is within 5 points of the primary track",
                "technical_exposure score 25 is below 40",
            ]
        );
    }

    #[test]
    fn the_shipped_bank_and_map_are_valid() {
        let bank = Bank::parse_str(DEFAULT_BANK).expect("shipped bank");
        assert!(bank.questions.len() >= MODULES.len());
        SkillMap::parse_str(DEFAULT_SKILL_MAP).expect("shipped map");
        assert!(
            SkillMap::parse_str(
                r#"{"weakBelow": 40, "tracks": {}, "modules": {"x": {"focus": "", "skills": ["bad code"]}}}"#
            )
            .expect_err("broken")
            .join("\n")
            .contains("track `defender` has no entry")
        );
    }
}
