//! Which ESIA account level each diary role needs (seed 000: a Student may use a
//! simplified account; Parent, Teacher, Class teacher, Head teacher/Administrator and
//! Director need a confirmed one).
//!
//! Kept behind [`LevelTable::allows`] so the cutover policy's own role table can take
//! its place later without touching the callers.

use std::collections::BTreeMap;

/// ESIA account levels, weakest first. `child` (a minor's account) is below simplified.
const ORDER: [&str; 4] = ["child", "simplified", "standard", "confirmed"];

/// The rank of a level name; unknown names rank lowest (fail closed).
pub fn rank(level: &str) -> usize {
    ORDER.iter().position(|l| *l == level).unwrap_or(0)
}

/// True for the names ESIA levels are known by.
pub fn is_level(level: &str) -> bool {
    ORDER.contains(&level)
}

/// Canonical role → the weakest ESIA level that may open the diary with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelTable {
    minimum: BTreeMap<String, String>,
    /// For roles the table does not name (and sessions whose role is unknown).
    fallback: String,
}

impl Default for LevelTable {
    fn default() -> Self {
        let mut minimum = BTreeMap::new();
        minimum.insert("student".to_owned(), "simplified".to_owned());
        for role in [
            "parent",
            "teacher",
            "class_teacher",
            "head_teacher",
            "director",
            "admin",
        ] {
            minimum.insert(role.to_owned(), "confirmed".to_owned());
        }
        Self {
            minimum,
            fallback: "confirmed".to_owned(),
        }
    }
}

impl LevelTable {
    /// Overrides entries of the default table (validated by the config layer).
    pub fn with(mut self, role: &str, level: &str) -> Self {
        self.minimum.insert(role.to_owned(), level.to_owned());
        self
    }

    /// The level `role` needs; unknown roles need the fallback (confirmed).
    pub fn required(&self, role: Option<&str>) -> &str {
        role.and_then(|r| self.minimum.get(r))
            .unwrap_or(&self.fallback)
    }

    /// May an account of `level` use the diary as `role`?
    pub fn allows(&self, role: Option<&str>, level: Option<&str>) -> bool {
        let Some(level) = level.filter(|l| is_level(l)) else {
            return false;
        };
        rank(level) >= rank(self.required(role))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_000_defaults() {
        let t = LevelTable::default();
        assert!(t.allows(Some("student"), Some("simplified")));
        assert!(t.allows(Some("student"), Some("confirmed")));
        assert!(!t.allows(Some("student"), Some("child")));
        for role in [
            "parent",
            "teacher",
            "class_teacher",
            "head_teacher",
            "director",
            "admin",
        ] {
            assert!(!t.allows(Some(role), Some("simplified")), "{role}");
            assert!(!t.allows(Some(role), Some("standard")), "{role}");
            assert!(t.allows(Some(role), Some("confirmed")), "{role}");
        }
    }

    #[test]
    fn unknown_inputs_fail_closed() {
        let t = LevelTable::default();
        assert!(!t.allows(None, Some("standard")));
        assert!(t.allows(None, Some("confirmed")));
        assert!(!t.allows(Some("student"), None));
        assert!(!t.allows(Some("student"), Some("CONFIRMED")));
        assert!(!t.allows(Some("student"), Some("")));
        assert!(!t.allows(Some("superuser"), Some("standard")));
    }

    #[test]
    fn table_entries_can_be_changed() {
        let t = LevelTable::default().with("student", "confirmed");
        assert!(!t.allows(Some("student"), Some("simplified")));
        assert_eq!(t.required(Some("student")), "confirmed");
    }
}
