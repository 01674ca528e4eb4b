//! `esia-gateway keys generate|rotate|status`: the vault keys' life cycle.
//!
//! 1. `keys generate NEW.key` writes a fresh key file (0600, never over an existing file);
//! 2. the operator makes it `[vault] key`, moves the previous key to `old_keys` and
//!    restarts the gateway, which then seals new entries and jars with it;
//! 3. `keys rotate` re-seals every vault entry and every session jar still under an
//!    old key. Each entry is its own compare-and-swap statement (committed on its own),
//!    so a crash loses nothing and running it again continues where it stopped; an
//!    entry the gateway rewrote meanwhile is left as written;
//! 4. `keys status` counts what each key id still seals; an old key sealing nothing
//!    is reported as ready to retire (drop it from `old_keys`, destroy the file).

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use chrono::Utc;
use clap::{Args, Subcommand};

use super::{OpsError, keys_jars, load_config, run};
use crate::clock::SystemClock;
use crate::diary::vault::{Keyring, Vault, VaultKey, generate_key_file};
use crate::store::{AuditEvent, AuditKind, SessionKey, SharedStore};

/// Session jars read per store query.
const JAR_PAGE: u32 = 200;
/// Without a terminal, one progress line per this many entries.
const LINE_EVERY: usize = 100;

#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(flatten)]
    pub config: super::OpsConfig,
    #[command(subcommand)]
    pub command: KeysCommand,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Write a new random vault key file (mode 0600; never overwrites a file).
    Generate {
        /// Where; default: `[vault] key` of the configuration, if that file does not
        /// exist yet (the first key of a new installation).
        #[arg(value_name = "PATH")]
        path: Option<PathBuf>,
    },
    /// Re-seal every vault entry and session jar under `[vault] key`; resumable.
    Rotate,
    /// How many vault entries and session jars each key id still seals.
    Status,
}

/// `esia-gateway keys …`
pub fn main(a: KeysArgs) -> ExitCode {
    match a.command {
        KeysCommand::Generate { path } => run(async move { generate(&a.config.path, path) }),
        KeysCommand::Rotate => run(rotate(a.config.path)),
        KeysCommand::Status => run(status(a.config.path)),
    }
}

fn generate(config: &Path, path: Option<PathBuf>) -> Result<(), OpsError> {
    let path = match path {
        Some(p) => p,
        None => configured_key_path(config)?,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| OpsError::runtime(&parent.display().to_string(), &e))?;
    }
    let id = generate_key_file(&path).map_err(|e| match e {
        crate::diary::vault::VaultError::KeyFileExists(_) => OpsError::Usage(e.to_string()),
        other => OpsError::runtime("key file", &other),
    })?;
    println!("wrote vault key {id} to {} (mode 0600)", path.display());
    println!(
        "next: make it [vault] key (the previous key goes to old_keys), restart the gateway, \
         then run `esia-gateway keys rotate`"
    );
    Ok(())
}

/// `[vault] key` read from the file without validating the rest: the key it names may
/// not exist yet, which full validation refuses.
fn configured_key_path(config: &Path) -> Result<PathBuf, OpsError> {
    let from_env = std::env::var(format!("{}VAULT__KEY", crate::config::ENV_PREFIX)).ok();
    let key = match from_env {
        Some(k) => k,
        None => {
            let text = std::fs::read_to_string(config).map_err(|e| {
                OpsError::Usage(format!(
                    "cannot read {}: {e}; give the new key's PATH",
                    config.display()
                ))
            })?;
            let table: toml::Table = toml::from_str(&text)
                .map_err(|e| OpsError::Usage(format!("{}: {e}", config.display())))?;
            table
                .get("vault")
                .and_then(|v| v.get("key"))
                .and_then(|k| k.as_str())
                .map(str::to_owned)
                .ok_or_else(|| {
                    OpsError::Usage(format!(
                        "{} has no [vault] key; give the new key's PATH",
                        config.display()
                    ))
                })?
        }
    };
    let base = config.parent().unwrap_or(Path::new(""));
    Ok(base.join(key))
}

/// The keyring and store of a configuration that has `[vault]`.
async fn vault_of(config: &Path) -> Result<(Vault, SharedStore, Vec<(String, PathBuf)>), OpsError> {
    let cfg = load_config(config)?;
    let Some(paths) = &cfg.vault else {
        return Err(OpsError::Usage(format!(
            "{} has no [vault]: there are no vault keys",
            config.display()
        )));
    };
    let keys = Keyring::from_files(&paths.active, &paths.older)
        .map_err(|e| OpsError::runtime("vault key", &e))?;
    let mut files = Vec::new();
    for p in std::iter::once(&paths.active).chain(&paths.older) {
        let k = VaultKey::load(p).map_err(|e| OpsError::runtime("vault key", &e))?;
        files.push((k.id().to_owned(), p.clone()));
    }
    let store = crate::services::open_store(&cfg.store).await?;
    let vault = Vault::new(store.clone(), keys, Arc::new(SystemClock));
    Ok((vault, store, files))
}

/// Progress on stdout: a live counter on a terminal, a line per 100 entries in a log.
struct Progress {
    label: &'static str,
    total: Option<usize>,
    done: usize,
    tty: bool,
}

impl Progress {
    fn new(label: &'static str, total: Option<usize>) -> Self {
        Self {
            label,
            total,
            done: 0,
            tty: std::io::stdout().is_terminal(),
        }
    }

    fn text(&self) -> String {
        match self.total {
            Some(t) => format!("{}: {}/{t}", self.label, self.done),
            None => format!("{}: {}", self.label, self.done),
        }
    }

    fn tick(&mut self) {
        self.done += 1;
        let mut out = std::io::stdout().lock();
        if self.tty {
            let _ = write!(out, "\r{}", self.text());
            let _ = out.flush();
        } else if self.done.is_multiple_of(LINE_EVERY) {
            let _ = writeln!(out, "{}", self.text());
        }
    }

    fn finish(&self) {
        if self.tty {
            println!();
        } else if !self.done.is_multiple_of(LINE_EVERY) {
            println!("{}", self.text());
        }
    }
}

/// What one rotation run did.
#[derive(Debug, Default)]
struct Tally {
    rotated: usize,
    current: usize,
    raced: usize,
    unreadable: Vec<String>,
}

async fn rotate(config: PathBuf) -> Result<(), OpsError> {
    let (vault, store, files) = vault_of(&config).await?;
    let active = vault.keyring().active().id().to_owned();
    println!("active key: {active}");

    let mut entries = Tally::default();
    let all = store.list_vault_entries().await?;
    let (current, todo): (Vec<_>, Vec<_>) = all.into_iter().partition(|e| e.key_id == active);
    entries.current = current.len();
    let mut progress = Progress::new("vault entries", Some(todo.len()));
    for entry in todo {
        match vault.open(&entry) {
            Ok(password) => {
                let fresh = vault
                    .seal(&entry.diary_login, &password)
                    .map_err(|e| OpsError::runtime("seal", &e))?;
                if store.replace_vault_entry(&entry.nonce, &fresh).await? {
                    entries.rotated += 1;
                } else {
                    entries.raced += 1;
                }
            }
            Err(e) => entries
                .unreadable
                .push(format!("{}: {e}", entry.diary_login)),
        }
        progress.tick();
    }
    progress.finish();

    let mut jars = Tally::default();
    let mut progress = Progress::new("session jars", None);
    let mut after: Option<SessionKey> = None;
    loop {
        let page = store.session_jars_after(after.as_ref(), JAR_PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.key);
        for jar in &page {
            if keys_jars::key_id(&jar.sealed) == Some(active.as_str()) {
                jars.current += 1;
                continue;
            }
            match keys_jars::reseal(&vault, &jar.key, &jar.sealed) {
                Ok(fresh) => {
                    if store
                        .replace_session_jar(&jar.key, &jar.sealed, &fresh)
                        .await?
                    {
                        jars.rotated += 1;
                    } else {
                        jars.raced += 1;
                    }
                }
                // The session signs in to the diary again; nothing is lost.
                Err(e) => jars.unreadable.push(format!("{:?}: {e}", jar.key)),
            }
            progress.tick();
        }
    }
    progress.finish();

    println!(
        "vault entries: {} re-sealed, {} already under {active}, {} changed meanwhile, {} unreadable",
        entries.rotated,
        entries.current,
        entries.raced,
        entries.unreadable.len()
    );
    println!(
        "session jars: {} re-sealed, {} already under {active}, {} changed meanwhile, {} unreadable",
        jars.rotated,
        jars.current,
        jars.raced,
        jars.unreadable.len()
    );
    for u in &entries.unreadable {
        eprintln!("unreadable vault entry {u}");
    }
    let mut event = AuditEvent::new(Utc::now(), AuditKind::KeyRotated);
    event.detail = serde_json::json!({
        "active": active,
        "entries_rotated": entries.rotated,
        "jars_rotated": jars.rotated,
        "unreadable": entries.unreadable.len(),
        "operator": super::operator(),
    });
    store.append_audit(&event).await?;
    let usage = usage(&store).await?;
    print_usage(&usage, &files, &active);
    if entries.unreadable.is_empty() {
        Ok(())
    } else {
        Err(OpsError::Runtime(format!(
            "{} vault entries do not open with any key of [vault]; they were left as they are",
            entries.unreadable.len()
        )))
    }
}

/// Vault entries and session jars per key id (`"?"` for malformed jars).
async fn usage(store: &SharedStore) -> Result<BTreeMap<String, (usize, usize)>, OpsError> {
    let mut by_key: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for e in store.list_vault_entries().await? {
        by_key.entry(e.key_id).or_default().0 += 1;
    }
    let mut after: Option<SessionKey> = None;
    loop {
        let page = store.session_jars_after(after.as_ref(), JAR_PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.key);
        for jar in &page {
            let id = keys_jars::key_id(&jar.sealed).unwrap_or("?").to_owned();
            by_key.entry(id).or_default().1 += 1;
        }
    }
    Ok(by_key)
}

fn print_usage(
    usage: &BTreeMap<String, (usize, usize)>,
    files: &[(String, PathBuf)],
    active: &str,
) {
    println!(
        "{:<18}{:<8}{:>9}{:>8}  file",
        "key id", "role", "entries", "jars"
    );
    for (id, path) in files {
        let (entries, jars) = usage.get(id).copied().unwrap_or_default();
        let role = if id == active { "active" } else { "old" };
        let mut line = format!("{id:<18}{role:<8}{entries:>9}{jars:>8}  {}", path.display());
        if role == "old" && entries + jars == 0 {
            line.push_str("  (seals nothing: can be retired — remove it from old_keys)");
        }
        println!("{line}");
    }
    for (id, (entries, jars)) in usage {
        if !files.iter().any(|(f, _)| f == id) {
            println!(
                "{id:<18}{:<8}{entries:>9}{jars:>8}  (not in [vault]: these do not open)",
                "missing"
            );
        }
    }
}

async fn status(config: PathBuf) -> Result<(), OpsError> {
    let (vault, store, files) = vault_of(&config).await?;
    let active = vault.keyring().active().id().to_owned();
    print_usage(&usage(&store).await?, &files, &active);
    Ok(())
}
