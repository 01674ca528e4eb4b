//! Validators of the transport sections: `[listen]`, `[upstream]`, `[forwarding]`,
//! `[limits]`, `[timeouts]`, `[log]`, and the rules between them (`[pages]`: `pages.rs`).
//! Each returns `None` after recording its problems; defaults come from the runtime types.

use std::net::SocketAddr;
use std::time::Duration;

use ipnet::IpNet;

use super::file::{
    ForwardingFile, LimitsFile, ListenFile, LogFile, LogFormatFile, TimeoutsFile, UpstreamFile,
};
use super::validate::Ctx;
use super::{
    Forwarding, GatewayConfig, HostHeader, Limits, Listen, LogConfig, LogFormat, Timeouts,
    UpstreamConfig,
};
use crate::units::DurationValue;

const ADDR_HINT: &str = "expected an address like \"0.0.0.0:443\" or \"[::]:443\"";
const UPSTREAM_HINT: &str =
    "expected a URL like \"http://127.0.0.1:8080\" (scheme, host, port; no path)";
const PUBLIC_URL_HINT: &str = "expected an origin like \"https://dnevnik.example.ru\"";
const CIDR_HINT: &str = "expected a network like \"10.0.0.0/8\" or an address like \"192.0.2.1\"";
const LEVEL_HINT: &str = "expected trace, debug, info, warn, error or off, optionally per target: \"esia_gateway=debug,info\"";

fn addr(value: &str, path: &str, cx: &mut Ctx) -> Option<SocketAddr> {
    match value.trim().parse() {
        Ok(a) => Some(a),
        Err(_) => {
            cx.error(
                path,
                format!("{value:?} is not an IP address with a port"),
                Some(ADDR_HINT),
            );
            None
        }
    }
}

fn opt_addr(value: &Option<String>, path: &str, cx: &mut Ctx) -> Result<Option<SocketAddr>, ()> {
    match value {
        None => Ok(None),
        Some(v) => addr(v, path, cx).map(Some).ok_or(()),
    }
}

/// An origin: scheme + host + optional port, nothing else.
fn origin_url(
    value: &str,
    path: &str,
    schemes: &[&str],
    hint: &str,
    cx: &mut Ctx,
) -> Option<url::Url> {
    let url = match url::Url::parse(value.trim()) {
        Ok(u) => u,
        Err(e) => {
            cx.error(path, format!("{value:?} is not a URL: {e}"), Some(hint));
            return None;
        }
    };
    let mut wrong = Vec::new();
    if !schemes.contains(&url.scheme()) {
        wrong.push(format!("scheme must be {}", schemes.join(" or ")));
    }
    if url.host().is_none() {
        wrong.push("a host is required".to_string());
    }
    if url.path() != "/" {
        wrong.push(format!("path {:?} is not allowed", url.path()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        wrong.push("query and fragment are not allowed".to_string());
    }
    if !url.username().is_empty() || url.password().is_some() {
        wrong.push("credentials in the URL are not allowed".to_string());
    }
    if wrong.is_empty() {
        Some(url)
    } else {
        cx.error(path, format!("{value:?}: {}", wrong.join("; ")), Some(hint));
        None
    }
}

/// More worker threads than this is a typo, not a machine.
const MAX_WORKERS: u64 = 256;

pub fn listen(f: &ListenFile, cx: &mut Ctx) -> Option<Listen> {
    let https = cx
        .required(&f.https, "listen.https", ADDR_HINT)
        .and_then(|v| addr(v, "listen.https", cx));
    let http = opt_addr(&f.http, "listen.http", cx);
    let admin = opt_addr(&f.admin, "listen.admin", cx);
    let public_url = match &f.public_url {
        None => Ok(None),
        Some(v) => origin_url(v, "listen.public_url", &["https"], PUBLIC_URL_HINT, cx)
            .map(Some)
            .ok_or(()),
    };
    let public_url = public_url.ok()?;
    let hosts = allowed_hosts(f.hosts.as_deref().unwrap_or_default(), cx);
    let workers = match f.workers {
        None => Ok(None),
        Some(n) => bounded(n, 0, MAX_WORKERS, "listen.workers", cx)
            .and_then(|n| usize::try_from(n).ok())
            .map(Some)
            .ok_or(()),
    };
    Some(Listen {
        https: https?,
        http: http.ok()?,
        admin: admin.ok()?,
        public_url,
        hosts: hosts?,
        workers: workers.ok()?,
    })
}

/// `listen.hosts` checked: bare names or addresses, no scheme, port or path.
fn allowed_hosts(listed: &[String], cx: &mut Ctx) -> Option<Vec<String>> {
    let mut hosts = Vec::new();
    let mut ok = true;
    for (i, raw) in listed.iter().enumerate() {
        let name = raw.trim().to_ascii_lowercase();
        let bare = name
            .parse::<http::uri::Authority>()
            .ok()
            .filter(|a| a.port().is_none() && a.as_str() == a.host() && !a.host().is_empty());
        if bare.is_none() || name.contains(['@', '/', ' ']) {
            cx.error(
                &format!("listen.hosts[{i}]"),
                format!("{raw:?} is not a host name"),
                Some(
                    "a bare name or address such as \"dnevnik.example.ru\", without scheme or port",
                ),
            );
            ok = false;
            continue;
        }
        if !hosts.contains(&name) {
            hosts.push(name);
        }
    }
    ok.then_some(hosts)
}

pub fn upstream(f: &UpstreamFile, cx: &mut Ctx) -> Option<UpstreamConfig> {
    let url = cx
        .required(&f.url, "upstream.url", UPSTREAM_HINT)
        .and_then(|v| origin_url(v, "upstream.url", &["http", "https"], UPSTREAM_HINT, cx));
    let host_header = match f.host_header.as_deref().map(str::trim) {
        None | Some("keep") => Some(HostHeader::Keep),
        Some("upstream") => Some(HostHeader::Upstream),
        Some(fixed) if fixed.parse::<http::uri::Authority>().is_ok() && !fixed.contains('@') => {
            Some(HostHeader::Fixed(fixed.to_string()))
        }
        Some(bad) => {
            cx.error(
                "upstream.host_header",
                format!("{bad:?} is neither keep, upstream, nor a valid host"),
                Some("expected \"keep\", \"upstream\" or a host like \"dnevnik.local:8080\""),
            );
            None
        }
    };
    let pool_idle_timeout = f.pool_idle_timeout.map_or(Duration::from_secs(90), |d| d.0);
    Some(UpstreamConfig {
        url: url?,
        host_header: host_header?,
        pool_max_idle: f.pool_max_idle.unwrap_or(64),
        pool_idle_timeout,
    })
}

pub fn forwarding(f: &ForwardingFile, cx: &mut Ctx) -> Option<Forwarding> {
    let mut nets = Vec::new();
    let mut ok = true;
    for (i, text) in f.trusted_proxies.iter().enumerate() {
        let t = text.trim();
        let parsed = t
            .parse::<IpNet>()
            .or_else(|_| t.parse::<std::net::IpAddr>().map(IpNet::from));
        let path = format!("forwarding.trusted_proxies[{i}]");
        match parsed {
            // Trusting everyone lets any client forge its address in X-Forwarded-For.
            Ok(net) if net.prefix_len() == 0 => {
                ok = false;
                cx.error(
                    &path,
                    format!("{text:?} trusts every client's forwarding headers"),
                    Some("list only the addresses of your own proxies or load balancers"),
                );
            }
            // `10.1.2.3/8` means the network `10.0.0.0/8`: store the canonical form.
            Ok(net) => nets.push(net.trunc()),
            Err(_) => {
                ok = false;
                cx.error(&path, format!("{text:?} is not a network"), Some(CIDR_HINT));
            }
        }
    }
    ok.then_some(Forwarding {
        trusted_proxies: nets,
    })
}

/// `value` within `min..=max`, else a problem naming the bounds.
fn bounded(value: u64, min: u64, max: u64, path: &str, cx: &mut Ctx) -> Option<u64> {
    if (min..=max).contains(&value) {
        Some(value)
    } else {
        let hint = format!("expected a value from {min} to {max}");
        cx.error(path, format!("{value} is out of range"), Some(&hint));
        None
    }
}

pub fn limits(f: &LimitsFile, cx: &mut Ctx) -> Option<Limits> {
    let d = Limits::default();
    let header_bytes = f
        .max_header_bytes
        .map_or(Some(d.max_header_bytes as u64), |v| {
            bounded(v.0, 1024, 1 << 20, "limits.max_header_bytes", cx)
        });
    let headers = f.max_headers.map_or(Some(d.max_headers as u64), |v| {
        bounded(v as u64, 1, 10_000, "limits.max_headers", cx)
    });
    let body = f.max_body_bytes.map_or(Some(d.max_body_bytes), |v| {
        bounded(v.0, 1, u64::MAX, "limits.max_body_bytes", cx)
    });
    let connections = f
        .max_connections
        .map_or(Some(d.max_connections as u64), |v| {
            bounded(v as u64, 1, 1_000_000, "limits.max_connections", cx)
        });
    let per_client =
        f.max_connections_per_client
            .map_or(Some(d.max_connections_per_client as u64), |v| {
                bounded(
                    v as u64,
                    1,
                    1_000_000,
                    "limits.max_connections_per_client",
                    cx,
                )
            });
    let rewrites = f.max_rewrites.map_or(Some(d.max_rewrites as u64), |v| {
        bounded(v as u64, 1, 100_000, "limits.max_rewrites", cx)
    });
    Some(Limits {
        max_rewrites: usize::try_from(rewrites?).ok()?,
        max_header_bytes: usize::try_from(header_bytes?).ok()?,
        max_headers: usize::try_from(headers?).ok()?,
        max_body_bytes: body?,
        max_connections: usize::try_from(connections?).ok()?,
        max_connections_per_client: usize::try_from(per_client?).ok()?,
    })
}

fn positive(
    value: Option<DurationValue>,
    default: Duration,
    path: &str,
    cx: &mut Ctx,
) -> Option<Duration> {
    match value {
        None => Some(default),
        Some(DurationValue(d)) if d.is_zero() => {
            cx.error(
                path,
                "must be longer than zero",
                Some("expected a duration like \"30s\""),
            );
            None
        }
        Some(DurationValue(d)) => Some(d),
    }
}

pub fn timeouts(f: &TimeoutsFile, cx: &mut Ctx) -> Option<Timeouts> {
    let d = Timeouts::default();
    let header_read = positive(f.header_read, d.header_read, "timeouts.header_read", cx);
    let idle = positive(f.idle, d.idle, "timeouts.idle", cx);
    let connect = positive(
        f.upstream_connect,
        d.upstream_connect,
        "timeouts.upstream_connect",
        cx,
    );
    let response = positive(
        f.upstream_response,
        d.upstream_response,
        "timeouts.upstream_response",
        cx,
    );
    let body_read = positive(f.body_read, d.body_read, "timeouts.body_read", cx);
    Some(Timeouts {
        body_read: body_read?,
        header_read: header_read?,
        idle: idle?,
        upstream_connect: connect?,
        upstream_response: response?,
        // Zero is allowed: stop at once, without draining.
        shutdown_grace: f.shutdown_grace.map_or(d.shutdown_grace, |v| v.0),
    })
}

pub fn log(f: &LogFile, cx: &mut Ctx) -> Option<LogConfig> {
    let d = LogConfig::default();
    let level = match &f.level {
        None => Some(d.level),
        Some(level) => match check_level(level) {
            Ok(canonical) => Some(canonical),
            Err(why) => {
                cx.error("log.level", why, Some(LEVEL_HINT));
                None
            }
        },
    };
    Some(LogConfig {
        format: match f.format {
            None | Some(LogFormatFile::Pretty) => LogFormat::Pretty,
            Some(LogFormatFile::Json) => LogFormat::Json,
        },
        level: level?,
        access_log: f.access_log.unwrap_or(d.access_log),
    })
}

/// Stricter than `EnvFilter`, which takes any bare word as a target name: a typo like
/// `inof` must be an error, not a filter that silently logs nothing.
fn check_level(text: &str) -> Result<String, String> {
    const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];
    let mut directives = Vec::new();
    for directive in text.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let (target, level) = match directive.rsplit_once('=') {
            Some((target, level)) if !target.trim().is_empty() => {
                (Some(target.trim()), level.trim())
            }
            Some(_) => return Err(format!("{directive:?} has no target before '='")),
            None => (None, directive),
        };
        let level = level.to_ascii_lowercase();
        if !LEVELS.contains(&level.as_str()) {
            return Err(format!("{level:?} is not a log level"));
        }
        directives.push(match target {
            Some(t) => format!("{t}={level}"),
            None => level,
        });
    }
    if directives.is_empty() {
        return Err("empty log level".to_string());
    }
    // EnvFilter wants no spaces: keep the canonical spelling.
    let canonical = directives.join(",");
    tracing_subscriber::EnvFilter::builder()
        .parse(&canonical)
        .map(|_| canonical.clone())
        .map_err(|e| format!("{text:?}: {e}"))
}

/// Two listeners on one port conflict when their addresses are equal or one is a wildcard.
fn overlaps(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() != 0
        && a.port() == b.port()
        && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
}

pub fn cross_checks(cfg: &GatewayConfig, cx: &mut Ctx) {
    let l = &cfg.listen;
    let hint = Some("give each listener its own port");
    if let Some(http) = l.http.filter(|h| overlaps(*h, l.https)) {
        cx.error(
            "listen.http",
            format!("{http} collides with listen.https"),
            hint,
        );
    }
    if let Some(admin) = l.admin {
        if overlaps(admin, l.https) {
            cx.error(
                "listen.admin",
                format!(
                    "{admin} collides with listen.https; the admin listener must never be public"
                ),
                hint,
            );
        } else if l.http.is_some_and(|h| overlaps(admin, h)) {
            cx.error(
                "listen.admin",
                format!("{admin} collides with listen.http"),
                hint,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_levels() {
        for ok in [
            "info",
            "DEBUG",
            "esia_gateway=debug,info",
            "warn, hyper=off",
            "a::b=trace",
        ] {
            assert!(check_level(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            check_level(" warn, hyper = OFF ").as_deref(),
            Ok("warn,hyper=off")
        );
        for bad in [
            "",
            " , ",
            "inof",
            "verbose",
            "=debug",
            "esia_gateway=loud",
            "info,foo",
        ] {
            assert!(check_level(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn listener_overlap() {
        let a = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert!(overlaps(a("0.0.0.0:443"), a("127.0.0.1:443")));
        assert!(overlaps(a("127.0.0.1:9090"), a("127.0.0.1:9090")));
        assert!(!overlaps(a("127.0.0.1:443"), a("127.0.0.2:443")));
        assert!(!overlaps(a("127.0.0.1:0"), a("127.0.0.1:0")));
        assert!(!overlaps(a("0.0.0.0:443"), a("0.0.0.0:80")));
    }
}
