//! `esia-gateway reload`: checks the configuration file the way `run` would load it and,
//! only if it is valid, sends SIGHUP to every running `esia-gateway run` of that same
//! file on this machine — found in `/proc` (command line, working directory), so no pid
//! file is needed. Under systemd `systemctl reload esia-gateway` does the same signal.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::{OpsConfig, OpsError, load_config, run};

#[derive(Debug, Args)]
pub struct ReloadArgs {
    #[command(flatten)]
    pub config: OpsConfig,
}

/// `esia-gateway reload`
pub fn main(a: ReloadArgs) -> ExitCode {
    run(async move {
        let path = &a.config.path;
        load_config(path)?;
        let ours = std::fs::canonicalize(path).map_err(|e| OpsError::runtime("config", &e))?;
        let pids = gateways_running(&ours);
        if pids.is_empty() {
            return Err(OpsError::Runtime(format!(
                "no running `esia-gateway run` uses {}; under systemd: systemctl reload esia-gateway",
                ours.display()
            )));
        }
        for pid in pids {
            let target = nix::unistd::Pid::from_raw(pid);
            nix::sys::signal::kill(target, nix::sys::signal::Signal::SIGHUP)
                .map_err(|e| OpsError::Runtime(format!("cannot signal process {pid}: {e}")))?;
            println!("{}: valid; sent SIGHUP to process {pid}", path.display());
        }
        Ok(())
    })
}

/// Processes of this binary running `run` on `config` (canonical path).
fn gateways_running(config: &Path) -> Vec<i32> {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if u32::try_from(pid).is_ok_and(|p| p == me) {
            continue;
        }
        let dir = entry.path();
        let Ok(raw) = std::fs::read(dir.join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = raw
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let Ok(cwd) = std::fs::read_link(dir.join("cwd")) else {
            continue;
        };
        if run_config(&args).is_some_and(|p| resolves_to(&cwd, &p, config)) {
            found.push(pid);
        }
    }
    found.sort_unstable();
    found
}

/// The config file of an `esia-gateway run` command line; `None` for anything else.
fn run_config(args: &[String]) -> Option<PathBuf> {
    let program = Path::new(args.first()?).file_name()?.to_str()?;
    if program != "esia-gateway" {
        return None;
    }
    let rest = &args[1..];
    let at = rest.iter().position(|a| a == "run")?;
    let mut config = PathBuf::from("gateway.toml");
    let mut i = 0;
    while i < rest.len() {
        let a = &rest[i];
        if a == "--config" || a == "-c" {
            config = PathBuf::from(rest.get(i + 1)?);
            i += 1;
        } else if let Some(v) = a.strip_prefix("--config=") {
            config = PathBuf::from(v);
        } else if let Some(v) = a.strip_prefix("-c").filter(|v| !v.is_empty() && i > at) {
            config = PathBuf::from(v);
        }
        i += 1;
    }
    Some(config)
}

fn resolves_to(cwd: &Path, candidate: &Path, config: &Path) -> bool {
    std::fs::canonicalize(cwd.join(candidate)).is_ok_and(|p| p == config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_owned).collect()
    }

    #[test]
    fn run_command_lines_name_their_config() {
        let c = |s: &str| run_config(&args(s)).map(|p| p.display().to_string());
        assert_eq!(
            c("/usr/bin/esia-gateway run --config /etc/g.toml").as_deref(),
            Some("/etc/g.toml")
        );
        assert_eq!(c("esia-gateway run -c a.toml").as_deref(), Some("a.toml"));
        assert_eq!(
            c("esia-gateway run --config=b.toml").as_deref(),
            Some("b.toml")
        );
        assert_eq!(c("esia-gateway run").as_deref(), Some("gateway.toml"));
        assert_eq!(c("esia-gateway run -cx.toml").as_deref(), Some("x.toml"));
        // Not a gateway run: another command, another program, a dangling --config.
        assert_eq!(c("esia-gateway check-config --config a.toml"), None);
        assert_eq!(c("/bin/bash run --config a.toml"), None);
        assert_eq!(c("esia-gateway run --config"), None);
    }
}
