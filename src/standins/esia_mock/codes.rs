//! ESIA's error codes as the mock returns them: the OAuth `error` word, the
//! `error_description` ("ESIA-0070xx: …", English like the real service) and a Russian
//! explanation for the mock's own error pages. The code is always the first 11
//! characters of `error_description`, which is how relying parties classify it.

use std::fmt;

/// The ESIA error codes the mock can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// client_id (mnemonic) not registered.
    E007002,
    /// A parameter is repeated or has a value the service does not accept.
    E007003,
    /// The user declined.
    E007004,
    /// The certificate hash is not registered for this client.
    E007005,
    /// The scope is malformed (no `openid`).
    E007006,
    /// Code invalid, expired, reused or issued for another client / redirect_uri.
    E007011,
    /// response_type / grant_type not supported.
    E007012,
    /// A mandatory parameter is missing.
    E007014,
    /// The timestamp is malformed or outside the accepted window.
    E007015,
    /// redirect_uri not among the registered ones.
    E007023,
    /// client_secret does not verify.
    E007053,
    /// The relying party requires confirmed accounts and this one is not.
    E007055,
}

impl Code {
    pub fn number(self) -> &'static str {
        match self {
            Code::E007002 => "ESIA-007002",
            Code::E007003 => "ESIA-007003",
            Code::E007004 => "ESIA-007004",
            Code::E007005 => "ESIA-007005",
            Code::E007006 => "ESIA-007006",
            Code::E007011 => "ESIA-007011",
            Code::E007012 => "ESIA-007012",
            Code::E007014 => "ESIA-007014",
            Code::E007015 => "ESIA-007015",
            Code::E007023 => "ESIA-007023",
            Code::E007053 => "ESIA-007053",
            Code::E007055 => "ESIA-007055",
        }
    }

    /// The OAuth 2.0 `error` value sent next to the description.
    pub fn oauth_error(self) -> &'static str {
        match self {
            Code::E007002 | Code::E007053 => "invalid_client",
            Code::E007004 | Code::E007055 => "access_denied",
            Code::E007005 => "unauthorized_client",
            Code::E007006 => "invalid_scope",
            Code::E007011 => "invalid_grant",
            Code::E007012 => "unsupported_response_type",
            Code::E007003 | Code::E007014 | Code::E007015 | Code::E007023 => "invalid_request",
        }
    }

    fn english(self) -> &'static str {
        match self {
            Code::E007002 => "The client_id is not registered or does not match the certificate",
            Code::E007003 => "The request contains an invalid or repeated parameter",
            Code::E007004 => "The resource owner or authorization server denied the request",
            Code::E007005 => "The client is not authorized to request an access token this way",
            Code::E007006 => "The requested scope is invalid, unknown or malformed",
            Code::E007011 => {
                "The authorization code is invalid, expired, revoked, does not match the \
                 redirection URI, or was issued to another client"
            }
            Code::E007012 => {
                "The authorization server does not support this grant or response type"
            }
            Code::E007014 => "The request doesn't contain the mandatory parameter",
            Code::E007015 => "The request timestamp is invalid",
            Code::E007023 => "The redirect_uri is not among the registered ones",
            Code::E007053 => "client_secret is invalid",
            Code::E007055 => "Login with an unconfirmed account is not allowed",
        }
    }

    /// What the mock's error page tells a person, in Russian.
    pub fn russian(self) -> &'static str {
        match self {
            Code::E007002 => "Информационная система (client_id) не зарегистрирована в ЕСИА.",
            Code::E007003 => "Запрос содержит неверное значение параметра или повторяет параметр.",
            Code::E007004 => "Владелец ресурса отклонил запрос.",
            Code::E007005 => "Сертификат системы-клиента не зарегистрирован для этой системы.",
            Code::E007006 => "Запрошенная область доступа (scope) указана неверно.",
            Code::E007011 => "Авторизационный код недействителен, просрочен или уже использован.",
            Code::E007012 => "Тип запроса не поддерживается сервисом авторизации.",
            Code::E007014 => "Запрос не содержит обязательного параметра.",
            Code::E007015 => "Неверное время запроса.",
            Code::E007023 => {
                "Указанный в запросе адрес возврата (redirect_uri) отсутствует среди \
                 разрешенных для системы."
            }
            Code::E007053 => "client_secret сформирован некорректно.",
            Code::E007055 => "Вход в систему осуществляется с неподтвержденной учетной записью.",
        }
    }
}

/// One refusal: a code plus an optional detail such as the parameter's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EsiaError {
    pub code: Code,
    pub detail: Option<String>,
}

impl EsiaError {
    pub fn new(code: Code) -> Self {
        Self { code, detail: None }
    }

    /// The code with a bracketed detail, e.g. the missing parameter's name.
    pub fn with(code: Code, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: Some(detail.into()),
        }
    }

    pub fn missing(param: &str) -> Self {
        Self::with(Code::E007014, param)
    }

    pub fn invalid(param: &str) -> Self {
        Self::with(Code::E007003, param)
    }

    /// `ESIA-0070xx: text [detail]`, the wire form of `error_description`.
    pub fn description(&self) -> String {
        match &self.detail {
            Some(d) => format!("{}: {} [{d}]", self.code.number(), self.code.english()),
            None => format!("{}: {}", self.code.number(), self.code.english()),
        }
    }
}

impl fmt::Display for EsiaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.description())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn description_starts_with_the_eleven_character_code() {
        let e = EsiaError::missing("client_certificate_hash");
        let d = e.description();
        assert_eq!(&d[..11], "ESIA-007014");
        assert!(d.ends_with("[client_certificate_hash]"));
        assert_eq!(e.code.oauth_error(), "invalid_request");
        assert_eq!(
            EsiaError::new(Code::E007004).description(),
            "ESIA-007004: The resource owner or authorization server denied the request"
        );
    }
}
