//! The people a tester can log in as. The shipped list ([`DEFAULT_PERSONAS`]) has fixed
//! OIDs and gives each account level the signals real ESIA gives (`trusted`, a verified
//! passport behind `rIdDoc`, `lvl` in the id_token); a config may replace it.

use serde::Deserialize;

/// The shipped personas file, embedded so the mock runs from the binary alone.
pub const DEFAULT_PERSONAS: &str = include_str!("personas.toml");

/// Reserved on the login form for the «Отказаться» button.
pub const DECLINE: &str = "decline";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Level {
    /// Confirmed account ("PR").
    #[serde(rename = "PR")]
    Confirmed,
    /// Simplified or standard ("P").
    #[serde(rename = "P")]
    Person,
    /// Child account ("KD").
    #[serde(rename = "KD")]
    Child,
}

impl Level {
    pub fn code(self) -> &'static str {
        match self {
            Level::Confirmed => "PR",
            Level::Person => "P",
            Level::Child => "KD",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    #[default]
    Registered,
    Deleted,
}

impl Status {
    pub fn code(self) -> &'static str {
        match self {
            Status::Registered => "REGISTERED",
            Status::Deleted => "DELETED",
        }
    }
}

/// An identity document, `/rs/prns/{oid}/docs/{id}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Doc {
    pub id: u64,
    #[serde(rename = "type")]
    pub kind: String,
    pub vrf_stu: String,
    #[serde(default)]
    pub series: Option<String>,
    #[serde(default)]
    pub number: Option<String>,
    #[serde(default)]
    pub issue_date: Option<String>,
    #[serde(default)]
    pub issue_id: Option<String>,
    #[serde(default)]
    pub issued_by: Option<String>,
}

/// A child of the persona, `/rs/prns/{oid}/kids/{id}` (scopes `kid_fullname`,
/// `kid_birthdate`). Only what the gateway compares; no documents.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kid {
    pub id: u64,
    pub last_name: String,
    pub first_name: String,
    #[serde(default)]
    pub middle_name: Option<String>,
    /// DD.MM.YYYY, as ESIA sends it.
    pub birth_date: String,
    pub gender: String,
}

/// A contact, `/rs/prns/{oid}/ctts/{id}`; `kind` is EML or MBT.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    pub id: u64,
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
    pub vrf_stu: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Persona {
    /// The value of the login form's `persona` field.
    pub id: String,
    /// Shown on the login page.
    pub title: String,
    pub oid: u64,
    pub last_name: String,
    pub first_name: String,
    #[serde(default)]
    pub middle_name: Option<String>,
    /// DD.MM.YYYY, as ESIA sends it.
    pub birth_date: String,
    pub gender: String,
    #[serde(default)]
    pub snils: Option<String>,
    pub trusted: bool,
    #[serde(default)]
    pub verifying: bool,
    pub lvl: Level,
    #[serde(default)]
    pub status: Status,
    #[serde(default)]
    pub r_id_doc: Option<u64>,
    #[serde(default)]
    pub docs: Vec<Doc>,
    #[serde(default)]
    pub contacts: Vec<Contact>,
    #[serde(default)]
    pub kids: Vec<Kid>,
}

impl Persona {
    pub fn full_name(&self) -> String {
        match &self.middle_name {
            Some(m) => format!("{} {} {m}", self.last_name, self.first_name),
            None => format!("{} {}", self.last_name, self.first_name),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    persona: Vec<Persona>,
}

/// Parses and checks a personas file; every problem is reported at once.
pub fn parse(text: &str) -> Result<Vec<Persona>, String> {
    let file: File = serde_path_to_error::deserialize(toml::Deserializer::new(text))
        .map_err(|e| format!("{}: {}", e.path(), e.inner().message()))?;
    let mut problems = Vec::new();
    if file.persona.is_empty() {
        problems.push("no [[persona]] entries".to_string());
    }
    for (i, p) in file.persona.iter().enumerate() {
        let at = format!("persona[{i}] ({})", p.id);
        if p.id.is_empty() || p.id == DECLINE {
            problems.push(format!("{at}: id must be non-empty and not {DECLINE:?}"));
        }
        if file.persona[..i].iter().any(|q| q.id == p.id) {
            problems.push(format!("{at}: duplicate id"));
        }
        if file.persona[..i].iter().any(|q| q.oid == p.oid) {
            problems.push(format!("{at}: duplicate oid {}", p.oid));
        }
        if p.trusted != (p.lvl == Level::Confirmed) {
            problems.push(format!("{at}: trusted = true exactly when lvl = \"PR\""));
        }
        if let Some(r) = p.r_id_doc.filter(|r| !p.docs.iter().any(|d| d.id == *r)) {
            problems.push(format!("{at}: r_id_doc {r} is not among docs"));
        }
        for (j, k) in p.kids.iter().enumerate() {
            if p.kids[..j].iter().any(|q| q.id == k.id) {
                problems.push(format!("{at}: duplicate kid id {}", k.id));
            }
        }
    }
    if problems.is_empty() {
        Ok(file.persona)
    } else {
        Err(problems.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_personas_parse_with_the_required_ids_and_signals() {
        let ps = parse(DEFAULT_PERSONAS).unwrap();
        let get = |id: &str| ps.iter().find(|p| p.id == id).unwrap();
        for id in [
            "confirmed",
            "confirmed-2",
            "standard",
            "simplified",
            "child",
            "child-2",
            "deleted",
        ] {
            get(id);
        }
        assert_eq!(get("confirmed").full_name(), "Иванова Мария Ивановна");
        assert!(get("confirmed").trusted);
        let std = get("standard");
        assert!(!std.trusted);
        let doc = std
            .docs
            .iter()
            .find(|d| Some(d.id) == std.r_id_doc)
            .unwrap();
        assert_eq!(
            (doc.kind.as_str(), doc.vrf_stu.as_str()),
            ("RF_PASSPORT", "VERIFIED")
        );
        assert!(get("simplified").docs.is_empty());
        assert_eq!(get("child").lvl, Level::Child);
        // The demo's linking story: Мария's son is the pupil of the diary's `parent`
        // account; Сергей's son has his own child account (the diary's `student`).
        let kid = &get("confirmed").kids[0];
        assert_eq!(
            (kid.last_name.as_str(), kid.birth_date.as_str()),
            ("Иванов", "12.04.2015")
        );
        let son = &get("confirmed-2").kids[0];
        let own = get("child-2");
        assert_eq!(own.lvl, Level::Child);
        assert_eq!(
            (
                &son.last_name,
                &son.first_name,
                &son.middle_name,
                &son.birth_date
            ),
            (
                &own.last_name,
                &own.first_name,
                &own.middle_name,
                &own.birth_date
            )
        );
        assert_eq!(get("deleted").status, Status::Deleted);
    }

    #[test]
    fn refuses_inconsistent_personas() {
        let base = r#"
[[persona]]
id = "a"
title = "A"
oid = 1
last_name = "X"
first_name = "Y"
birth_date = "01.01.2000"
gender = "M"
trusted = true
lvl = "PR"
"#;
        parse(base).unwrap();
        let dup = format!("{base}{}", base.replace("id = \"a\"", "id = \"b\""));
        assert!(parse(&dup).unwrap_err().contains("duplicate oid"));
        assert!(parse(&base.replace("lvl = \"PR\"", "lvl = \"P\"")).is_err());
        assert!(parse(&base.replace("id = \"a\"", "id = \"decline\"")).is_err());
        assert!(parse(&base.replace("gender", "sex")).is_err());
        let bad_doc = base.replace("trusted", "r_id_doc = 5\ntrusted");
        assert!(parse(&bad_doc).unwrap_err().contains("r_id_doc"));
        let kid = "{ id = 7, last_name = \"X\", first_name = \"Z\", birth_date = \"01.01.2020\", gender = \"M\" }";
        let twins = base.replace("trusted", &format!("kids = [{kid}, {kid}]\ntrusted"));
        assert!(parse(&twins).unwrap_err().contains("duplicate kid id 7"));
        assert!(parse("persona = []").is_err());
    }
}
