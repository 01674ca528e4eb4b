//! What ESIA said about a person, kept from the login until the identity check at
//! linking (issue 12): the normalised name, the birth date and, when `[esia] children`
//! is on, the children's names and birth dates — or why the children are unknown.
//!
//! The login callback has ESIA's access token; the link form is posted minutes later,
//! maybe to another replica. So the facts travel with the session (a JSON column of the
//! session row, gone with the session) instead of the token. Only what the comparison
//! needs is kept: names already normalised, dates as ISO strings, no documents, no SNILS.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::names::PersonName;

/// A normalised name as stored: the parts of a [`PersonName`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameParts {
    pub last: String,
    pub first: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middle: Option<String>,
}

impl From<&PersonName> for NameParts {
    fn from(n: &PersonName) -> Self {
        Self {
            last: n.last.clone(),
            first: n.first.clone(),
            middle: n.middle.clone(),
        }
    }
}

impl NameParts {
    /// Back to a comparable name; `None` when a stored part is empty (a corrupt row).
    pub fn name(&self) -> Option<PersonName> {
        PersonName::from_parts(&self.last, &self.first, self.middle.as_deref()).ok()
    }
}

/// One child of the person, as ESIA listed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildFacts {
    /// `None` when ESIA gave no name (`kid_fullname` not granted).
    #[serde(default)]
    pub name: Option<NameParts>,
    /// ISO `YYYY-MM-DD`.
    #[serde(default)]
    pub birth_date: Option<String>,
}

/// The person's children, or why they are unknown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum Children {
    /// ESIA's list (possibly empty).
    Listed { children: Vec<ChildFacts> },
    /// Not asked (`[esia] children = false`) or not answered; `reason` is the stable
    /// kind of [`crate::esia::KidsError`] (`esia-kids-not-granted` …) for the audit note.
    Unknown { reason: String },
}

/// The ESIA side of the identity check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EsiaPerson {
    /// `None` when ESIA gave no last or first name (scope `fullname` missing).
    #[serde(default)]
    pub name: Option<NameParts>,
    /// ISO `YYYY-MM-DD`.
    #[serde(default)]
    pub birth_date: Option<String>,
    pub children: Children,
    /// The name as ESIA wrote it («Иванова Мария Петровна»), only to show the person
    /// whom a binding would name (never compared).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

impl EsiaPerson {
    pub fn new(
        name: Option<&PersonName>,
        birth_date: Option<NaiveDate>,
        children: Children,
    ) -> Self {
        Self {
            name: name.map(NameParts::from),
            birth_date: birth_date.map(|d| d.to_string()),
            children,
            display_name: None,
        }
    }

    /// With the name as ESIA wrote it (blank: none).
    pub fn with_display_name(mut self, name: &str) -> Self {
        let name = name.trim();
        self.display_name = (!name.is_empty()).then(|| name.to_owned());
        self
    }

    /// The JSON stored with the session.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// `None` for anything unreadable: the check then treats the ESIA side as unknown.
    pub fn from_json(s: &str) -> Option<Self> {
        serde_json::from_str(s).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_form_reads_back_and_garbage_is_unknown() {
        let mother = PersonName::from_parts("Иванова", "Мария", Some("Ивановна")).unwrap();
        let son = PersonName::from_parts("Иванов", "Дмитрий", None).unwrap();
        let p = EsiaPerson::new(
            Some(&mother),
            NaiveDate::from_ymd_opt(1984, 3, 14),
            Children::Listed {
                children: vec![ChildFacts {
                    name: Some(NameParts::from(&son)),
                    birth_date: Some("2015-04-12".into()),
                }],
            },
        );
        let json = p.to_json();
        assert!(json.contains("ИВАНОВА"), "{json}");
        assert!(!json.contains("Ивановна"), "only normalised names: {json}");
        let back = EsiaPerson::from_json(&json).unwrap();
        assert_eq!(back, p);
        assert_eq!(back.name.unwrap().name(), Some(mother));
        let unknown = EsiaPerson::new(
            None,
            None,
            Children::Unknown {
                reason: "esia-kids-not-granted".into(),
            },
        );
        assert_eq!(EsiaPerson::from_json(&unknown.to_json()), Some(unknown));
        for bad in [
            "",
            "{}",
            "[]",
            "{\"children\":{\"state\":\"maybe\"}}",
            "null",
        ] {
            assert_eq!(EsiaPerson::from_json(bad), None, "{bad}");
        }
    }
}
