//! Human units in `gateway.toml`: durations (`"250ms"`, `"30s"`, `"5m"`, `"1h"`) and byte
//! sizes (`16384`, `"16KiB"`, `"10MiB"`). Both are strict: an ambiguous or overflowing value
//! is an error with a hint, never a silent guess (a bare `30` is not "30 seconds").

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserialize, Deserializer, Unexpected, Visitor};

/// What a duration must look like; serde puts it after "expected" in its messages.
pub const DURATION_EXPECTED: &str = "a duration like \"250ms\", \"30s\", \"5m\" or \"1h\"";
/// What a size must look like.
pub const SIZE_EXPECTED: &str = "a size in bytes like 16384, \"16KiB\" or \"10MiB\"";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error("empty value")]
    Empty,
    #[error("no number in {0:?}")]
    NoNumber(String),
    #[error("unknown unit {0:?}")]
    UnknownUnit(String),
    #[error("{0:?} is too large")]
    Overflow(String),
}

/// Splits `"  30 s "` into (`30`, `"s"`).
fn split_number(text: &str) -> Result<(u64, &str), UnitError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(UnitError::Empty);
    }
    let digits_end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(digits_end);
    if digits.is_empty() {
        return Err(UnitError::NoNumber(text.to_string()));
    }
    let n = digits
        .parse::<u64>()
        .map_err(|_| UnitError::Overflow(text.to_string()))?;
    Ok((n, unit.trim()))
}

/// Parses `"250ms"`, `"30s"`, `"5m"`, `"1h"`, `"365d"` (one number, one unit).
pub fn parse_duration(text: &str) -> Result<Duration, UnitError> {
    let (n, unit) = split_number(text)?;
    let millis_per_unit: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        // Retention periods (`[audit] retention = "365d"`) are counted in days.
        "d" => 86_400_000,
        "" => return Err(UnitError::UnknownUnit(String::new())),
        other => return Err(UnitError::UnknownUnit(other.to_string())),
    };
    let millis = n
        .checked_mul(millis_per_unit)
        .ok_or_else(|| UnitError::Overflow(text.to_string()))?;
    Ok(Duration::from_millis(millis))
}

/// Parses `"512"`, `"16KiB"`, `"10MiB"`, `"1GiB"` (binary) or `"10MB"` (decimal);
/// units are case-insensitive.
pub fn parse_size(text: &str) -> Result<u64, UnitError> {
    let (n, unit) = split_number(text)?;
    let factor: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => return Err(UnitError::UnknownUnit(unit.to_string())),
    };
    n.checked_mul(factor)
        .ok_or_else(|| UnitError::Overflow(text.to_string()))
}

/// A duration as written in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationValue(pub Duration);

/// A byte size as written in the file: an integer or a string with a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeValue(pub u64);

impl<'de> Deserialize<'de> for DurationValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = DurationValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(DURATION_EXPECTED)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<DurationValue, E> {
                parse_duration(s)
                    .map(DurationValue)
                    .map_err(|_| E::invalid_value(Unexpected::Str(s), &self))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Deserialize<'de> for SizeValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = SizeValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(SIZE_EXPECTED)
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<SizeValue, E> {
                u64::try_from(n)
                    .map(SizeValue)
                    .map_err(|_| E::invalid_value(Unexpected::Signed(n), &self))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<SizeValue, E> {
                Ok(SizeValue(n))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<SizeValue, E> {
                parse_size(s)
                    .map(SizeValue)
                    .map_err(|_| E::invalid_value(Unexpected::Str(s), &self))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_every_unit() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(
            parse_duration("365d"),
            Ok(Duration::from_secs(365 * 86_400))
        );
        assert_eq!(parse_duration(" 10 s "), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn durations_refused() {
        assert_eq!(parse_duration(""), Err(UnitError::Empty));
        assert_eq!(parse_duration("   "), Err(UnitError::Empty));
        assert_eq!(parse_duration("30"), Err(UnitError::UnknownUnit("".into())));
        assert_eq!(parse_duration("s"), Err(UnitError::NoNumber("s".into())));
        assert_eq!(
            parse_duration("-5s"),
            Err(UnitError::NoNumber("-5s".into()))
        );
        assert_eq!(
            parse_duration("1.5s"),
            Err(UnitError::UnknownUnit(".5s".into()))
        );
        assert_eq!(
            parse_duration("5x"),
            Err(UnitError::UnknownUnit("x".into()))
        );
        assert_eq!(
            parse_duration("5S"),
            Err(UnitError::UnknownUnit("S".into()))
        );
        assert_eq!(
            parse_duration("1h30m"),
            Err(UnitError::UnknownUnit("h30m".into()))
        );
        assert!(matches!(
            parse_duration("99999999999999999999s"),
            Err(UnitError::Overflow(_))
        ));
        assert!(matches!(
            parse_duration("18446744073709551615h"),
            Err(UnitError::Overflow(_))
        ));
        assert!(matches!(parse_duration("５s"), Err(UnitError::NoNumber(_))));
    }

    #[test]
    fn sizes_binary_and_decimal() {
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("512B"), Ok(512));
        assert_eq!(parse_size("16KiB"), Ok(16 * 1024));
        assert_eq!(parse_size("16kib"), Ok(16 * 1024));
        assert_eq!(parse_size("10MiB"), Ok(10 * 1024 * 1024));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("10MB"), Ok(10_000_000));
        assert_eq!(parse_size("2 kB"), Ok(2_000));
    }

    #[test]
    fn sizes_refused() {
        assert_eq!(parse_size(""), Err(UnitError::Empty));
        assert_eq!(parse_size("KiB"), Err(UnitError::NoNumber("KiB".into())));
        assert_eq!(
            parse_size("10 XB"),
            Err(UnitError::UnknownUnit("XB".into()))
        );
        assert_eq!(
            parse_size("1.5MiB"),
            Err(UnitError::UnknownUnit(".5MiB".into()))
        );
        assert!(matches!(
            parse_size("99999999999GiB"),
            Err(UnitError::Overflow(_))
        ));
    }

    #[derive(Debug, serde::Deserialize)]
    struct Holder {
        d: Option<DurationValue>,
        s: Option<SizeValue>,
    }

    fn holder(text: &str) -> Result<Holder, String> {
        toml::from_str::<Holder>(text).map_err(|e| e.message().to_string())
    }

    #[test]
    fn deserialize_from_toml() {
        let h = holder("d = \"5m\"\ns = 2048").unwrap();
        assert_eq!(h.d, Some(DurationValue(Duration::from_secs(300))));
        assert_eq!(h.s, Some(SizeValue(2048)));
        assert_eq!(holder("s = \"1KiB\"").unwrap().s, Some(SizeValue(1024)));
    }

    #[test]
    fn deserialize_errors_say_what_was_expected() {
        let bare = holder("d = 30").unwrap_err();
        assert!(bare.contains("invalid type: integer `30`"), "{bare}");
        assert!(bare.contains(DURATION_EXPECTED), "{bare}");
        let unit = holder("d = \"30x\"").unwrap_err();
        assert!(unit.contains("invalid value: string \"30x\""), "{unit}");
        let negative = holder("s = -1").unwrap_err();
        assert!(negative.contains(SIZE_EXPECTED), "{negative}");
        let float = holder("s = 1.5").unwrap_err();
        assert!(float.contains("invalid type: floating point"), "{float}");
    }
}
