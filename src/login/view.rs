//! The session as the authorize phase sees it: [`crate::policy::SessionView`], derived
//! from the live session record. Anything unknown or missing falls to the weaker side
//! (fail closed): an unknown auth method is anonymous, an unknown level is the weakest.

use super::ports::ActiveSession;
use crate::policy::{AccountLevel, Role, SessionView};

/// The view of the request's session (`None` = no live session).
pub fn session_view(session: Option<&ActiveSession>) -> SessionView {
    let Some(s) = session else {
        return SessionView::Anonymous;
    };
    let role = s.diary_role.as_deref().and_then(Role::parse);
    match s.auth_method {
        "legacy" => SessionView::Legacy { role },
        "esia" => {
            let level = s
                .account_level
                .as_deref()
                .and_then(AccountLevel::parse)
                .unwrap_or(AccountLevel::Child);
            if s.diary_login.is_some() {
                SessionView::EsiaLinked { level, role }
            } else {
                SessionView::EsiaUnlinked { level }
            }
        }
        _ => SessionView::Anonymous,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(method: &'static str, level: Option<&str>, login: Option<&str>) -> ActiveSession {
        ActiveSession {
            cookie: String::new(),
            auth_method: method,
            authenticated_at: chrono::Utc::now(),
            esia_oid: Some(1),
            account_level: level.map(str::to_owned),
            diary_login: login.map(str::to_owned),
            diary_role: login.map(|_| "parent".to_owned()),
            public_computer: false,
            csrf_token: String::new(),
            diary_accounts: 1,
        }
    }

    #[test]
    fn views_by_method_level_and_binding() {
        assert_eq!(session_view(None), SessionView::Anonymous);
        assert_eq!(
            session_view(Some(&session("esia", Some("confirmed"), None))),
            SessionView::EsiaUnlinked {
                level: AccountLevel::Confirmed
            }
        );
        assert_eq!(
            session_view(Some(&session("esia", Some("standard"), Some("ivanova")))),
            SessionView::EsiaLinked {
                level: AccountLevel::Standard,
                role: Role::parse("parent"),
            }
        );
        assert_eq!(
            session_view(Some(&session("legacy", None, Some("ivanova")))),
            SessionView::Legacy {
                role: Role::parse("parent")
            }
        );
    }

    #[test]
    fn unknown_values_fail_closed() {
        assert_eq!(
            session_view(Some(&session("esia", Some("super"), None))),
            SessionView::EsiaUnlinked {
                level: AccountLevel::Child
            }
        );
        assert_eq!(
            session_view(Some(&session("esia", None, None))),
            SessionView::EsiaUnlinked {
                level: AccountLevel::Child
            }
        );
        assert_eq!(
            session_view(Some(&session("sso", Some("confirmed"), None))),
            SessionView::Anonymous
        );
    }
}
