//! What `check-config` warns about: a file that is valid but does something an operator
//! almost certainly does not mean (printed after `OK`, exit 0). Pure: the instant the
//! cutover is compared with is passed in.

use chrono::{DateTime, Utc};

use super::GatewayConfig;
use crate::diary::config::SignInMode;
use crate::policy::Access;

/// Every warning for `cfg` at `now`, one sentence each with what to do.
pub fn warnings(cfg: &GatewayConfig, now: DateTime<Utc>) -> Vec<String> {
    let mut out = cfg.pages.warnings.clone();
    if cfg.esia.is_some() && !cfg.listen.names_known() {
        out.push(
            "listen.public_url: not set, so the gateway answers to any Host and builds its \
             redirects from it; set public_url (and listen.hosts for aliases) so browsers that \
             come by an address or another name are sent to the name ESIA returns to"
                .to_owned(),
        );
    }
    let Some(cutover) = &cfg.cutover else {
        return out;
    };
    let policy = &cutover.policy;
    let cutover_at = policy.calendar.cutover_at();
    let local = cutover_at
        .with_timezone(&policy.calendar.time_zone)
        .date_naive();
    if cfg.esia.is_none() {
        out.push(format!(
            "calendar: [calendar] is on but [esia] is not configured: from {local} the protected \
             route groups are closed with no way in (no «Войти через Госуслуги»); configure [esia] \
             or remove the calendar"
        ));
    }
    let protected = policy
        .groups
        .iter()
        .any(|g| !g.public && g.access.after_cutover != Access::Any);
    if protected && policy.default_access.after_cutover == Access::Any {
        out.push(
            "default_route.after_cutover: \"any\" opens every page no route group names to \
             everyone after the cutover (a forgotten grade page, an export, /print.php?module=marks); \
             \"session\" closes them to anonymous visitors"
                .to_owned(),
        );
    }
    let linking =
        cfg.esia.is_some() && (cfg.vault.is_some() || !matches!(cfg.diary.mode, SignInMode::Form));
    if cutover_at <= now && !linking {
        out.push(format!(
            "calendar.esia_only_from: the cutover ({local}) is past and linking is off (no [esia], \
             or form mode without a [vault] key): users cannot link their diary accounts"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> GatewayConfig {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("gateway.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        // The shipped file names certificates that do not exist here; only the policy
        // matters for these warnings.
        let mut cfg = crate::config::load_str(&text, &path).unwrap_or_else(|_| {
            let mut c = GatewayConfig::new(
                "127.0.0.1:8443".parse().unwrap(),
                "c.pem".into(),
                "k.pem".into(),
                "http://127.0.0.1:8080".parse().unwrap(),
            );
            c.cutover = Some(crate::cutover::CutoverConfig::seed_004());
            c
        });
        cfg.esia = None;
        cfg
    }

    #[test]
    fn esia_without_a_public_name_is_warned_about() {
        let mut cfg = shipped();
        cfg.cutover = None;
        let now = "2026-12-05T00:00:00Z".parse().unwrap();
        assert!(warnings(&cfg, now).is_empty());
        let esia: crate::esia::config::EsiaFile = toml::from_str(
            r#"
            base_url = "https://esia.example"
            client_id = "DNEVNIK76"
            redirect_uri = "https://dnevnik.example.ru/esia/callback"
            certificate_hash = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
            token_keys = ["/k.pem"]
            signer = { kind = "demo", key = "/k.pem" }
            "#,
        )
        .unwrap();
        cfg.esia = Some(esia.validate().unwrap());
        let w = warnings(&cfg, now);
        assert!(
            w.iter().any(|w| w.starts_with("listen.public_url: ")),
            "{w:?}"
        );
        cfg.listen.hosts = vec!["dnevnik.example.ru".into()];
        assert!(warnings(&cfg, now).is_empty());
    }

    #[test]
    fn the_shipped_calendar_without_esia_is_warned_about() {
        let cfg = shipped();
        let now = "2026-12-05T00:00:00Z".parse().unwrap();
        let w = warnings(&cfg, now);
        assert!(w.iter().any(|w| w.starts_with("calendar: ")), "{w:?}");
        assert!(
            w.iter().any(|w| w.starts_with("calendar.esia_only_from")),
            "{w:?}"
        );
        // Before the cutover the "past" warning is not given.
        let before = "2017-01-01T00:00:00Z".parse().unwrap();
        assert!(
            !warnings(&cfg, before)
                .iter()
                .any(|w| w.starts_with("calendar.esia_only_from"))
        );
        // Shipped default-deny: no warning; `any` on unmatched routes is warned about.
        assert!(!w.iter().any(|w| w.starts_with("default_route")), "{w:?}");
        let mut open = cfg.clone();
        if let Some(c) = open.cutover.as_mut() {
            c.policy.default_access.after_cutover = Access::Any;
        }
        assert!(
            warnings(&open, now)
                .iter()
                .any(|w| w.starts_with("default_route"))
        );
        // No calendar, nothing to warn about.
        let mut plain = cfg.clone();
        plain.cutover = None;
        assert!(warnings(&plain, now).is_empty());
    }
}
