//! ESIA's error answers, typed. ESIA reports failures as `error_description` strings
//! that start with a code, `ESIA-007004: …`; the first 11 characters are the code. Each
//! known code carries a Russian message for the person at the browser (what happened,
//! what to do) and an operator hint for the log. [`EsiaError`] is the one error type of
//! the ESIA client; its [`EsiaError::status`] tells the login page which status to show.

use http::StatusCode;

use super::signer::SignError;
use super::verify::VerifyError;

/// The ESIA codes a relying party meets; anything else keeps its text in `Other`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EsiaErrorCode {
    /// 007002: unknown client_id (mnemonic not registered).
    UnknownClient,
    /// 007004: the user declined to grant access.
    Declined,
    /// 007005: the certificate hash is not registered for this system.
    UnknownCertificate,
    /// 007011: authorization code invalid, expired or already used.
    InvalidCode,
    /// 007014: a required parameter is missing.
    MissingParameter,
    /// 007015: timestamp outside ESIA's window (clock skew).
    BadTimestamp,
    /// 007023: redirect_uri not registered.
    RedirectNotAllowed,
    /// 007053: client_secret rejected.
    BadClientSecret,
    /// 007055: unconfirmed account refused.
    UnconfirmedAccount,
    /// Any other code, e.g. `ESIA-007099`, or the raw description when no code was found.
    Other(String),
}

impl EsiaErrorCode {
    /// Reads the code from an `error_description` ("ESIA-0070xx: text").
    /// The code usually opens the text, but proxies and older ESIA versions put words
    /// before it ("Ошибка ESIA-007011 …"), so the first `ESIA-` + six digits anywhere
    /// counts; without one, the first 11 printable characters stand in for the code.
    pub fn from_description(description: &str) -> Self {
        if let Some(code) = find_code(description) {
            return Self::from_code(code);
        }
        let head: String = description
            .trim_start()
            .chars()
            .take(11)
            .map(printable)
            .collect();
        Self::from_code(&head)
    }

    /// Maps `ESIA-0070xx` (case-insensitive) to the enum.
    pub fn from_code(code: &str) -> Self {
        match code.to_ascii_uppercase().as_str() {
            "ESIA-007002" => Self::UnknownClient,
            "ESIA-007004" => Self::Declined,
            "ESIA-007005" => Self::UnknownCertificate,
            "ESIA-007011" => Self::InvalidCode,
            "ESIA-007014" => Self::MissingParameter,
            "ESIA-007015" => Self::BadTimestamp,
            "ESIA-007023" => Self::RedirectNotAllowed,
            "ESIA-007053" => Self::BadClientSecret,
            "ESIA-007055" => Self::UnconfirmedAccount,
            _ => Self::Other(sanitize(code, 11)),
        }
    }

    /// The code as ESIA writes it, for logs and metrics.
    pub fn code(&self) -> &str {
        match self {
            Self::UnknownClient => "ESIA-007002",
            Self::Declined => "ESIA-007004",
            Self::UnknownCertificate => "ESIA-007005",
            Self::InvalidCode => "ESIA-007011",
            Self::MissingParameter => "ESIA-007014",
            Self::BadTimestamp => "ESIA-007015",
            Self::RedirectNotAllowed => "ESIA-007023",
            Self::BadClientSecret => "ESIA-007053",
            Self::UnconfirmedAccount => "ESIA-007055",
            Self::Other(s) => s,
        }
    }

    /// True when the fault is in the gateway's registration or configuration, not the user.
    pub fn is_configuration_problem(&self) -> bool {
        matches!(
            self,
            Self::UnknownClient
                | Self::UnknownCertificate
                | Self::MissingParameter
                | Self::BadTimestamp
                | Self::RedirectNotAllowed
                | Self::BadClientSecret
        )
    }

    /// What the person at the browser reads (Russian).
    pub fn user_message(&self) -> &'static str {
        match self {
            Self::Declined => {
                "Вы отказались от предоставления доступа к данным учетной записи Госуслуг. \
                 Без этого вход в электронный дневник через Госуслуги невозможен. \
                 Чтобы войти, нажмите «Войти через Госуслуги» ещё раз и подтвердите предоставление доступа."
            }
            Self::UnconfirmedAccount => {
                "Для входа нужна подтвержденная учетная запись на портале Госуслуг. \
                 Войдите в кабинет портала Госуслуг, введите личные данные, пройдите проверку \
                 введенных данных и получите подтвержденную учетную запись. После этого \
                 нажмите «Войти через Госуслуги» ещё раз."
            }
            Self::InvalidCode => {
                "Время на вход истекло или ссылка уже была использована. \
                 Нажмите «Войти через Госуслуги» ещё раз."
            }
            Self::BadTimestamp => {
                "Госуслуги отклонили запрос из-за расхождения времени. \
                 Попробуйте войти ещё раз через минуту; если ошибка повторяется, сообщите администратору дневника."
            }
            Self::UnknownClient
            | Self::UnknownCertificate
            | Self::MissingParameter
            | Self::RedirectNotAllowed
            | Self::BadClientSecret => {
                "Вход через Госуслуги временно недоступен из-за ошибки настройки электронного дневника. \
                 Сообщите администратору дневника; вход заработает после исправления настроек."
            }
            Self::Other(_) => {
                "Госуслуги не смогли выполнить вход. Попробуйте ещё раз позже; \
                 если ошибка повторяется, сообщите администратору дневника."
            }
        }
    }

    /// What the operator reads in the log (English, points at the likely cause).
    pub fn operator_hint(&self) -> &'static str {
        match self {
            Self::UnknownClient => {
                "client_id unknown to ESIA: check esia.client_id (the system's mnemonic)"
            }
            Self::Declined => "the user declined the access request; nothing to fix",
            Self::UnknownCertificate => {
                "certificate hash not registered: check esia.certificate_hash against the certificate on ESIA's technology portal"
            }
            Self::InvalidCode => {
                "authorization code invalid, expired (240 s) or reused: slow callback, double submit or replay"
            }
            Self::MissingParameter => {
                "ESIA says a parameter is missing: check scope, redirect_uri and the signer output"
            }
            Self::BadTimestamp => "timestamp rejected: check the host clock (NTP) and time zone",
            Self::RedirectNotAllowed => {
                "redirect_uri not registered for this client_id: check esia.redirect_uri"
            }
            Self::BadClientSecret => {
                "client_secret rejected: usually a wrong certificate hash or signature (signer key, byte order, engine)"
            }
            Self::UnconfirmedAccount => {
                "ESIA refused an unconfirmed account (the system requires confirmed accounts)"
            }
            Self::Other(_) => "unrecognised ESIA error code; see the description",
        }
    }
}

/// Longest `error_description` kept; the callback's comes from the browser's query
/// string, i.e. from whoever crafted the link.
pub const MAX_DESCRIPTION_CHARS: usize = 300;
/// Longest `error` kept (OAuth error names are short identifiers).
pub const MAX_ERROR_CHARS: usize = 64;

/// `ESIA-` followed by six ASCII digits, the first occurrence in `text`.
fn find_code(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    (0..bytes.len()).find_map(|i| {
        let candidate = bytes.get(i..i + 11)?;
        let (prefix, digits) = candidate.split_at(5);
        (prefix.eq_ignore_ascii_case(b"ESIA-") && digits.iter().all(u8::is_ascii_digit))
            .then(|| text.get(i..i + 11))
            .flatten()
    })
}

/// Control characters (newlines that would forge log lines, escapes that would drive a
/// terminal) become U+FFFD.
fn printable(c: char) -> char {
    if c.is_control() { '\u{FFFD}' } else { c }
}

/// Bounded, printable copy of an untrusted text for errors and logs.
fn sanitize(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).map(printable).collect()
}

/// Everything that can go wrong talking to ESIA, one variant per cause.
#[derive(Debug, thiserror::Error)]
pub enum EsiaError {
    /// ESIA answered with an error (callback redirect or /te 400).
    #[error("ESIA error {} ({error}): {description}", code.code())]
    Esia {
        code: EsiaErrorCode,
        error: String,
        description: String,
    },
    #[error("ESIA did not answer in time")]
    Timeout,
    #[error("ESIA unavailable: {0}")]
    Unavailable(String),
    #[error("malformed answer from ESIA: {0}")]
    BadResponse(String),
    #[error("token response echoed a different state")]
    StateMismatch,
    #[error("token rejected: {0}")]
    Token(#[from] VerifyError),
    #[error("ESIA refused the access token for person data (HTTP {0})")]
    PersonRefused(u16),
    #[error("the ESIA account is deleted")]
    AccountDeleted,
    #[error("signing failed: {0}")]
    Sign(#[from] SignError),
}

impl EsiaError {
    /// Builds the typed error from an OAuth `error` + `error_description` pair.
    pub fn from_answer(error: &str, description: &str) -> Self {
        Self::Esia {
            code: EsiaErrorCode::from_description(description),
            error: sanitize(error, MAX_ERROR_CHARS),
            description: sanitize(description, MAX_DESCRIPTION_CHARS),
        }
    }

    /// Stable kebab-case name for logs, metrics and audit events.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Esia { .. } => "esia-error",
            Self::Timeout => "esia-timeout",
            Self::Unavailable(_) => "esia-unavailable",
            Self::BadResponse(_) => "esia-bad-response",
            Self::StateMismatch => "esia-state-mismatch",
            Self::Token(_) => "esia-token-rejected",
            Self::PersonRefused(_) => "esia-person-refused",
            Self::AccountDeleted => "esia-account-deleted",
            Self::Sign(SignError::Busy { .. }) => "esia-signer-busy",
            Self::Sign(_) => "esia-signer-failed",
        }
    }

    /// Status of the page the user sees.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Esia { code, .. } if code.is_configuration_problem() => StatusCode::BAD_GATEWAY,
            Self::Esia { .. } | Self::AccountDeleted => StatusCode::FORBIDDEN,
            Self::Timeout => StatusCode::GATEWAY_TIMEOUT,
            Self::Sign(SignError::Busy { .. }) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Sign(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_GATEWAY,
        }
    }

    /// Russian text for the user.
    pub fn user_message(&self) -> &'static str {
        match self {
            Self::Esia { code, .. } => code.user_message(),
            Self::Timeout => {
                "Госуслуги не ответили вовремя. Попробуйте войти ещё раз через несколько минут."
            }
            Self::AccountDeleted => {
                "Учетная запись на портале Госуслуг удалена. Вход с ней невозможен; \
                 зарегистрируйтесь на портале Госуслуг заново."
            }
            Self::Sign(SignError::Busy { .. }) => {
                "Сейчас очень много входов через Госуслуги. Попробуйте ещё раз через минуту."
            }
            Self::Sign(_) => {
                "Вход через Госуслуги временно недоступен из-за ошибки настройки электронного дневника. \
                 Сообщите администратору дневника."
            }
            _ => {
                "Не удалось связаться с Госуслугами или проверить их ответ. \
                 Попробуйте войти ещё раз через несколько минут."
            }
        }
    }

    /// English hint for the operator log.
    pub fn operator_hint(&self) -> &'static str {
        match self {
            Self::Esia { code, .. } => code.operator_hint(),
            Self::Timeout => "ESIA timed out: check network egress and esia.timeouts",
            Self::Unavailable(_) => {
                "cannot reach ESIA: check DNS, egress, esia.base_url and esia.ca_bundle"
            }
            Self::BadResponse(_) => {
                "ESIA answered something unparseable; check esia.base_url and paths"
            }
            Self::StateMismatch => {
                "token response state differs from the request: possible interception or a misbehaving proxy"
            }
            Self::Token(_) => {
                "token failed verification: check esia.token_keys (ESIA rotates keys), expected_issuer and the host clock"
            }
            Self::PersonRefused(_) => {
                "person data refused: check that the scope was granted (id_doc for /docs)"
            }
            Self::AccountDeleted => "ESIA reports the account as DELETED",
            Self::Sign(SignError::Busy { .. }) => {
                "every [login] signer_concurrency slot stayed busy: raise it if the signer is fast \
                 enough, or look for a flood of /esia/login"
            }
            Self::Sign(_) => {
                "the signer failed: see the signer error (program, exit status, stderr)"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_is_the_first_eleven_characters() {
        assert_eq!(
            EsiaErrorCode::from_description("ESIA-007004: Пользователь отказался"),
            EsiaErrorCode::Declined
        );
        assert_eq!(
            EsiaErrorCode::from_description("esia-007053:bad"),
            EsiaErrorCode::BadClientSecret
        );
        assert_eq!(
            EsiaErrorCode::from_description("ESIA-007099: new"),
            EsiaErrorCode::Other("ESIA-007099".into())
        );
        assert_eq!(
            EsiaErrorCode::from_description(""),
            EsiaErrorCode::Other(String::new())
        );
        // Multibyte text shorter than 11 characters must not panic.
        assert!(matches!(
            EsiaErrorCode::from_description("ошибка"),
            EsiaErrorCode::Other(_)
        ));
    }

    #[test]
    fn the_code_is_found_where_esia_and_proxies_put_it() {
        for (description, want) in [
            ("  ESIA-007011: код устарел", EsiaErrorCode::InvalidCode),
            (
                "Ошибка ESIA-007011: код устарел",
                EsiaErrorCode::InvalidCode,
            ),
            ("error (esia-007055)", EsiaErrorCode::UnconfirmedAccount),
            ("ESIA-00701", EsiaErrorCode::Other("ESIA-00701".into())),
            ("ESIA-0070x1 then ESIA-007004", EsiaErrorCode::Declined),
            ("ESIA-٠٠٧٠٠٤", EsiaErrorCode::Other("ESIA-٠٠٧٠٠٤".into())),
        ] {
            assert_eq!(
                EsiaErrorCode::from_description(description),
                want,
                "{description}"
            );
        }
    }

    #[test]
    fn hostile_callback_texts_are_bounded_and_printable() {
        let forged = "ESIA-007004\n2026-01-01 INFO login ok oid=1\u{1b}[31m";
        let e = EsiaError::from_answer("access_denied\r\nX: y", forged);
        let shown = e.to_string();
        assert!(!shown.contains(['\n', '\r', '\u{1b}']), "{shown:?}");
        assert!(matches!(
            &e,
            EsiaError::Esia {
                code: EsiaErrorCode::Declined,
                ..
            }
        ));
        let huge = "ж".repeat(1_000_000);
        match EsiaError::from_answer(&huge, &huge) {
            EsiaError::Esia {
                error,
                description,
                code,
            } => {
                assert_eq!(error.chars().count(), MAX_ERROR_CHARS);
                assert_eq!(description.chars().count(), MAX_DESCRIPTION_CHARS);
                assert_eq!(code.code().chars().count(), 11);
            }
            other => panic!("{other:?}"),
        }
        assert!(!EsiaErrorCode::from_code("a\nb").code().contains('\n'));
    }

    proptest::proptest! {
        #[test]
        fn any_description_gives_a_short_printable_code(d in "\\PC*|[\\x00-\\x1f]*ESIA-[0-9]{0,7}.*") {
            let code = EsiaErrorCode::from_description(&d);
            proptest::prop_assert!(code.code().chars().count() <= 11);
            proptest::prop_assert!(!code.code().chars().any(char::is_control));
            let e = EsiaError::from_answer(&d, &d);
            proptest::prop_assert!(!e.to_string().chars().any(char::is_control));
        }
    }

    #[test]
    fn statuses_follow_the_cause() {
        assert_eq!(EsiaError::Timeout.status(), StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(
            EsiaError::Unavailable("x".into()).status(),
            StatusCode::BAD_GATEWAY
        );
        assert_eq!(
            EsiaError::from_answer("access_denied", "ESIA-007004: no").status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            EsiaError::from_answer("invalid_client", "ESIA-007053: no").status(),
            StatusCode::BAD_GATEWAY
        );
    }
}
