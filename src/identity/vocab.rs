//! The identity vocabulary, one of each: the diary [`Role`] a session acts as, the ESIA
//! [`AccountLevel`] it proved, how it signed in ([`AuthMethod`]), and the one table of
//! the weakest level each role may use ([`RoleLevels`], `[roles] min_level`). The policy,
//! the link service, the store and the pages all speak these types.

/// Diary roles (from the diary's role probe, kept with the binding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Student,
    Parent,
    Teacher,
    ClassTeacher,
    HeadTeacher,
    Director,
    Admin,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::Student,
        Role::Parent,
        Role::Teacher,
        Role::ClassTeacher,
        Role::HeadTeacher,
        Role::Director,
        Role::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Student => "student",
            Role::Parent => "parent",
            Role::Teacher => "teacher",
            Role::ClassTeacher => "class_teacher",
            Role::HeadTeacher => "head_teacher",
            Role::Director => "director",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// ESIA account levels, weakest first. `child` is ESIA's child account (`lvl: KD`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum AccountLevel {
    Child,
    Simplified,
    Standard,
    Confirmed,
}

impl AccountLevel {
    pub const ALL: [AccountLevel; 4] = [
        AccountLevel::Child,
        AccountLevel::Simplified,
        AccountLevel::Standard,
        AccountLevel::Confirmed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AccountLevel::Child => "child",
            AccountLevel::Simplified => "simplified",
            AccountLevel::Standard => "standard",
            AccountLevel::Confirmed => "confirmed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        AccountLevel::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

/// `[roles] min_level`: the weakest ESIA account each role may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleLevels {
    levels: Vec<(Role, AccountLevel)>,
}

impl Default for RoleLevels {
    /// Seed 000: a student may use a simplified account, every other role a confirmed one.
    fn default() -> Self {
        let levels = Role::ALL
            .into_iter()
            .map(|r| match r {
                Role::Student => (r, AccountLevel::Simplified),
                _ => (r, AccountLevel::Confirmed),
            })
            .collect();
        Self { levels }
    }
}

impl RoleLevels {
    pub fn set(&mut self, role: Role, level: AccountLevel) {
        self.levels.retain(|(r, _)| *r != role);
        self.levels.push((role, level));
    }

    /// Unknown role (the probe found none): the strictest level in the table.
    pub fn min_level(&self, role: Option<Role>) -> AccountLevel {
        let strictest = self.levels.iter().map(|(_, l)| *l).max();
        role.and_then(|r| self.levels.iter().find(|(x, _)| *x == r).map(|(_, l)| *l))
            .or(strictest)
            .unwrap_or(AccountLevel::Confirmed)
    }
}

/// How a session proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    Esia,
    Legacy,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Esia => "esia",
            Self::Legacy => "legacy",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "esia" => Some(Self::Esia),
            "legacy" => Some(Self::Legacy),
            _ => None,
        }
    }
}

impl RoleLevels {
    /// May an account of `level` act as `role` (names as stored with sessions and
    /// bindings)? An unknown or missing level may not; an unknown role needs the
    /// strictest level (fail closed).
    pub fn allows(&self, role: Option<&str>, level: Option<&str>) -> bool {
        let Some(level) = level.and_then(AccountLevel::parse) else {
            return false;
        };
        level.meets(self.min_level(role.and_then(Role::parse)))
    }

    /// The level `role` needs, by name.
    pub fn required(&self, role: Option<&str>) -> &'static str {
        self.min_level(role.and_then(Role::parse)).as_str()
    }
}

impl AccountLevel {
    /// Is this level enough where `needed` is required?
    pub fn meets(self, needed: AccountLevel) -> bool {
        self >= needed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        for l in AccountLevel::ALL {
            assert_eq!(AccountLevel::parse(l.as_str()), Some(l));
        }
        for m in [AuthMethod::Esia, AuthMethod::Legacy] {
            assert_eq!(AuthMethod::parse(m.as_str()), Some(m));
        }
        assert_eq!(Role::parse("pupil"), None);
    }

    #[test]
    fn seed_000_levels_and_unknown_roles_fail_closed() {
        let t = RoleLevels::default();
        assert_eq!(t.min_level(Some(Role::Student)), AccountLevel::Simplified);
        assert_eq!(t.min_level(Some(Role::Parent)), AccountLevel::Confirmed);
        assert_eq!(t.min_level(None), AccountLevel::Confirmed);
        assert!(AccountLevel::Confirmed.meets(AccountLevel::Standard));
        assert!(!AccountLevel::Child.meets(AccountLevel::Simplified));
        assert!(t.allows(Some("student"), Some("simplified")));
        assert!(!t.allows(Some("parent"), Some("standard")));
        assert!(!t.allows(Some("parent"), None));
        assert!(!t.allows(Some("student"), Some("gold")));
        assert!(!t.allows(Some("superuser"), Some("standard")));
        assert_eq!(t.required(Some("teacher")), "confirmed");
    }
}
