//! Fault injection: the ways a real ESIA misbehaves, switched on by config or at run
//! time (`RunningMock::set_faults`, `POST /mock/faults`). Each fault fires "always" or for
//! the next N requests it applies to, then switches itself off.
//!
//! JSON / TOML shape (every key optional):
//! ```toml
//! [faults]
//! te_delay = { ms = 3000, times = 1 }     # /te answers late, once
//! rs_status = { status = 503 }            # /rs always answers 503
//! wrong_state = { times = 2 }             # /te echoes a wrong state twice
//! alg_none = {}                           # tokens with `alg: none`, always
//! kids_forbidden = { times = 1 }          # /kids answers 403 (kid_* not granted), once
//! ```

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How long a fault stays on: every matching request, or only the next N.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Times {
    #[default]
    Always,
    Next(u32),
}

impl Serialize for Times {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Times::Always => s.serialize_str("always"),
            Times::Next(n) => s.serialize_u32(*n),
        }
    }
}

impl<'de> Deserialize<'de> for Times {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Count(u32),
            Word(String),
        }
        match Raw::deserialize(d)? {
            Raw::Count(n) => Ok(Times::Next(n)),
            Raw::Word(w) if w == "always" => Ok(Times::Always),
            Raw::Word(w) => Err(serde::de::Error::custom(format!(
                "times must be a count or \"always\", not {w:?}"
            ))),
        }
    }
}

/// Something that can fire a limited number of times.
pub trait Limited {
    fn times_mut(&mut self) -> &mut Times;
}

/// Answer late by `ms` milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delay {
    pub ms: u64,
    #[serde(default)]
    pub times: Times,
}

/// Answer with this HTTP status (5xx) and a short text body instead of the real answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Status {
    pub status: u16,
    #[serde(default)]
    pub times: Times,
}

/// A fault without parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Switch {
    #[serde(default)]
    pub times: Times,
}

macro_rules! limited {
    ($($t:ty),*) => {$(
        impl Limited for $t {
            fn times_mut(&mut self) -> &mut Times {
                &mut self.times
            }
        }
    )*};
}
limited!(Delay, Status, Switch);

/// Every fault the mock knows. `None` means off.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// Slow token endpoint.
    pub te_delay: Option<Delay>,
    /// Slow person endpoints (`/rs/...`).
    pub rs_delay: Option<Delay>,
    /// Token endpoint answers this status without processing the request.
    pub te_status: Option<Status>,
    /// Person endpoints answer this status.
    pub rs_status: Option<Status>,
    /// Token endpoint answers 200 with broken JSON (the code is used up).
    pub te_malformed_json: Option<Switch>,
    /// Person endpoints answer 200 with broken JSON.
    pub rs_malformed_json: Option<Switch>,
    /// Person endpoints answer 200 with well-formed JSON of the wrong shape (`[]`).
    pub rs_wrong_shape: Option<Switch>,
    /// /te echoes a state other than the one it was sent.
    pub wrong_state: Option<Switch>,
    /// Tokens are already expired when issued (and refused by /rs).
    pub expired_tokens: Option<Switch>,
    /// Tokens are signed with a key other than the published one.
    pub bad_token_signature: Option<Switch>,
    /// Tokens carry another `iss`.
    pub wrong_iss: Option<Switch>,
    /// The id_token carries another `aud` (and the access token another `client_id`).
    pub wrong_aud: Option<Switch>,
    /// Tokens have `alg: none` and no signature.
    pub alg_none: Option<Switch>,
    /// `/rs/prns/{oid}/kids` answers 403, as when the person did not grant the `kid_*`
    /// scopes.
    pub kids_forbidden: Option<Switch>,
}

/// Fires the fault in `slot` if it is on, counting it down; returns a copy when it fired.
pub fn fire<F: Limited + Clone>(slot: &mut Option<F>) -> Option<F> {
    let fault = slot.as_mut()?;
    let fired = fault.clone();
    match fault.times_mut() {
        Times::Always => {}
        Times::Next(0) => {
            *slot = None;
            return None;
        }
        Times::Next(n) => {
            *n -= 1;
            if *n == 0 {
                *slot = None;
            }
        }
    }
    Some(fired)
}

/// The token-shaping faults that fired for one /te answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenFaults {
    pub expired: bool,
    pub bad_signature: bool,
    pub wrong_iss: bool,
    pub wrong_aud: bool,
    pub alg_none: bool,
}

impl Faults {
    /// Takes the token-shaping faults for one issuance.
    pub fn take_token_faults(&mut self) -> TokenFaults {
        TokenFaults {
            expired: fire(&mut self.expired_tokens).is_some(),
            bad_signature: fire(&mut self.bad_token_signature).is_some(),
            wrong_iss: fire(&mut self.wrong_iss).is_some(),
            wrong_aud: fire(&mut self.wrong_aud).is_some(),
            alg_none: fire(&mut self.alg_none).is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counted_fault_fires_n_times_then_switches_off() {
        let mut slot = Some(Switch {
            times: Times::Next(2),
        });
        assert!(fire(&mut slot).is_some());
        assert!(fire(&mut slot).is_some());
        assert!(fire(&mut slot).is_none());
        assert!(slot.is_none());
    }

    #[test]
    fn zero_times_never_fires_and_always_keeps_firing() {
        let mut zero = Some(Switch {
            times: Times::Next(0),
        });
        assert!(fire(&mut zero).is_none());
        let mut always = Some(Switch::default());
        for _ in 0..5 {
            assert!(fire(&mut always).is_some());
        }
    }

    #[test]
    fn parses_from_toml_and_json_and_refuses_unknown_keys() {
        let f: Faults = toml::from_str(
            "te_delay = { ms = 10, times = 1 }\nrs_status = { status = 503, times = \"always\" }\nalg_none = {}",
        )
        .unwrap();
        assert_eq!(f.te_delay.unwrap().times, Times::Next(1));
        assert_eq!(f.rs_status.unwrap().times, Times::Always);
        assert!(f.alg_none.is_some());
        let j: Faults = serde_json::from_str(r#"{"wrong_state":{"times":3}}"#).unwrap();
        assert_eq!(j.wrong_state.unwrap().times, Times::Next(3));
        assert!(serde_json::from_str::<Faults>(r#"{"wrong_sate":{}}"#).is_err());
        assert!(serde_json::from_str::<Faults>(r#"{"wrong_state":{"times":"often"}}"#).is_err());
        assert!(serde_json::from_str::<Faults>(r#"{"te_delay":{"ms":1,"extra":1}}"#).is_err());
    }
}
