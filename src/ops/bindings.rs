//! `esia-gateway bindings list|show|unbind|export|import`: the school's phone calls.
//! "Someone else linked my child's account" is `unbind`: the binding, its vault entry
//! and every session of that user go in one transaction — sessions are deleted in the
//! store, so every replica stops honouring them within `[session] cache_ttl`, exactly
//! as after a logout — with the operator's reason in the audit trail.
//! `export`/`import` move bindings between SQLite and PostgreSQL.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::Utc;
use clap::{Args, Subcommand};

use super::bindings_io::{self, FileFormat};
use super::{OpsError, open, operator, run};
use crate::store::{AuditEvent, AuditKind, Binding, SharedStore, StoreError};

#[derive(Debug, Args)]
pub struct BindingsArgs {
    #[command(flatten)]
    pub config: super::OpsConfig,
    #[command(subcommand)]
    pub command: BindingsCommand,
}

/// Which binding: by diary login or by ESIA OID.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct Which {
    /// The diary login (exact).
    #[arg(long, value_name = "LOGIN")]
    pub login: Option<String>,
    /// The ESIA account id.
    #[arg(long, value_name = "OID")]
    pub oid: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ListFormat {
    Text,
    Json,
    Csv,
}

#[derive(Debug, Subcommand)]
pub enum BindingsCommand {
    /// All bindings ordered by OID, optionally filtered.
    List {
        /// Only logins containing this text (case-insensitive).
        #[arg(long, value_name = "TEXT")]
        login: Option<String>,
        /// Only this ESIA account.
        #[arg(long, value_name = "OID")]
        oid: Option<i64>,
        /// Only bindings whose vaulted password the diary refused.
        #[arg(long)]
        stale: bool,
        /// Only bindings made although the ESIA person and the diary account differ
        /// (`[linking] identity_check = "warn"`).
        #[arg(long)]
        flagged: bool,
        /// text (a table), json (JSON lines) or csv.
        #[arg(long, value_enum, default_value = "text")]
        format: ListFormat,
    },
    /// One binding, with the key id of its vault entry.
    Show {
        #[command(flatten)]
        which: Which,
        #[arg(long, value_enum, default_value = "text")]
        format: ListFormat,
    },
    /// Remove a binding: its vault entry and every session of the user go too.
    Unbind {
        #[command(flatten)]
        which: Which,
        /// Why (kept in the audit trail), e.g. "parent called: not their child".
        #[arg(long, value_name = "TEXT")]
        reason: String,
    },
    /// Every binding as CSV or JSON lines (no passwords).
    Export {
        #[arg(long, value_enum, default_value = "csv")]
        format: FileFormat,
        /// Write here (created 0600) instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Add bindings from a file `export` wrote: all rows or none.
    Import {
        /// The file, or `-` for stdin.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// csv or json; default from the file name (.json/.jsonl → json), else csv.
        #[arg(long, value_enum)]
        format: Option<FileFormat>,
        /// Check every row against the file and the store; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// `esia-gateway bindings …`
pub fn main(a: BindingsArgs) -> ExitCode {
    run(async move {
        let (_cfg, store) = open(&a.config.path).await?;
        match a.command {
            BindingsCommand::List {
                login,
                oid,
                stale,
                flagged,
                format,
            } => {
                list(
                    &store,
                    login.as_deref(),
                    oid,
                    Only { stale, flagged },
                    format,
                )
                .await
            }
            BindingsCommand::Show { which, format } => show(&store, &which, format).await,
            BindingsCommand::Unbind { which, reason } => unbind(&store, &which, &reason).await,
            BindingsCommand::Export { format, out } => export(&store, format, out).await,
            BindingsCommand::Import {
                file,
                format,
                dry_run,
            } => import(&store, &file, format, dry_run).await,
        }
    })
}

/// The `--stale` / `--flagged` filters of `bindings list`.
#[derive(Debug, Clone, Copy)]
struct Only {
    stale: bool,
    flagged: bool,
}

async fn list(
    store: &SharedStore,
    login: Option<&str>,
    oid: Option<i64>,
    only: Only,
    format: ListFormat,
) -> Result<(), OpsError> {
    let needle = login.map(str::to_lowercase);
    let all = if only.flagged {
        store.list_flagged_bindings().await?
    } else {
        store.list_bindings().await?
    };
    let all: Vec<Binding> = all
        .into_iter()
        .filter(|b| oid.is_none_or(|o| b.esia_oid == o))
        .filter(|b| {
            needle
                .as_deref()
                .is_none_or(|n| b.diary_login.to_lowercase().contains(n))
        })
        .filter(|b| !only.stale || b.stale)
        .collect();
    print_bindings(&all, format)?;
    eprintln!("{} binding(s)", all.len());
    Ok(())
}

fn print_bindings(all: &[Binding], format: ListFormat) -> Result<(), OpsError> {
    let mut out = std::io::stdout().lock();
    match format {
        ListFormat::Text => out.write_all(table(all).as_bytes())?,
        ListFormat::Json => {
            for b in all {
                writeln!(out, "{}", bindings_io::to_json(b))?;
            }
        }
        ListFormat::Csv => out.write_all(&csv_bytes(all)?)?,
    }
    Ok(())
}

fn csv_bytes(all: &[Binding]) -> Result<Vec<u8>, OpsError> {
    bindings_io::to_csv(all).map_err(|e| OpsError::runtime("csv", &e))
}

/// A plain table with aligned columns (widths in characters: logins are Cyrillic too).
fn table(all: &[Binding]) -> String {
    let mut rows = vec![[
        "OID".to_owned(),
        "LOGIN".to_owned(),
        "ROLE".to_owned(),
        "LEVEL".to_owned(),
        "LINKED".to_owned(),
        "LAST USED".to_owned(),
        "STALE".to_owned(),
    ]];
    let day = |t: chrono::DateTime<Utc>| t.format("%Y-%m-%d %H:%M").to_string();
    for b in all {
        rows.push([
            b.esia_oid.to_string(),
            b.diary_login.clone(),
            b.diary_role.clone().unwrap_or_else(|| "-".into()),
            b.account_level.clone().unwrap_or_else(|| "-".into()),
            day(b.created_at),
            day(b.last_used_at),
            if b.stale { "yes" } else { "no" }.to_owned(),
        ]);
    }
    let mut widths = [0usize; 7];
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for r in &rows {
        let cells: Vec<String> = r
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
            .collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    text
}

/// The one binding `which` names: by login, or by OID when that OID has exactly one
/// (a parent's OID with two diary accounts needs `--login` to say which).
async fn find(store: &SharedStore, which: &Which) -> Result<Binding, OpsError> {
    let found = match (&which.login, which.oid) {
        (Some(login), _) => store.binding_by_login(login).await?,
        (None, Some(oid)) => {
            let mut all = store.bindings_of_oid(oid).await?;
            if all.len() > 1 {
                let logins: Vec<String> =
                    all.iter().map(|b| format!("{:?}", b.diary_login)).collect();
                return Err(OpsError::Usage(format!(
                    "ESIA OID {oid} is bound to {} diary accounts ({}): name one with --login",
                    all.len(),
                    logins.join(", ")
                )));
            }
            all.pop()
        }
        (None, None) => return Err(OpsError::Usage("give --login or --oid".into())),
    };
    found.ok_or_else(|| {
        OpsError::Usage(match (&which.login, which.oid) {
            (Some(l), _) => format!("no binding for diary login {l:?}"),
            (_, oid) => format!("no binding for ESIA OID {}", oid.unwrap_or_default()),
        })
    })
}

/// One binding by login; by OID, every diary account that ESIA account holds.
async fn show(store: &SharedStore, which: &Which, format: ListFormat) -> Result<(), OpsError> {
    let all = match (&which.login, which.oid) {
        (None, Some(oid)) => store.bindings_of_oid(oid).await?,
        _ => vec![find(store, which).await?],
    };
    if all.is_empty() {
        return Err(OpsError::Usage(format!(
            "no binding for ESIA OID {}",
            which.oid.unwrap_or_default()
        )));
    }
    if format != ListFormat::Text {
        return print_bindings(&all, format);
    }
    print!("{}", table(&all));
    for b in &all {
        let about = match store.get_vault_entry(&b.diary_login).await? {
            Some(v) => format!(
                "sealed with key {}, saved {}",
                v.key_id,
                v.updated_at.format("%Y-%m-%d %H:%M")
            ),
            None => "none (the user signs in with the diary password again)".to_owned(),
        };
        println!("vault entry of {:?}: {about}", b.diary_login);
    }
    Ok(())
}

async fn unbind(store: &SharedStore, which: &Which, reason: &str) -> Result<(), OpsError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(OpsError::Usage(
            "--reason must say why (it is kept in the audit trail)".into(),
        ));
    }
    let b = find(store, which).await?;
    let mut event = AuditEvent::new(Utc::now(), AuditKind::Unlink);
    event.esia_oid = Some(b.esia_oid);
    event.diary_login = Some(b.diary_login.clone());
    event.detail = serde_json::json!({
        "by": "operator",
        "operator": operator(),
        "reason": reason,
    });
    let Some(done) = store.unbind_user(&b.diary_login, &event).await? else {
        // Removed between the lookup and the transaction (another operator, a user).
        return Err(OpsError::Usage(format!(
            "the binding of diary login {:?} is already gone",
            b.diary_login
        )));
    };
    println!(
        "unbound ESIA OID {} from diary login {:?}: vault entry {}, {} session(s) ended",
        done.binding.esia_oid,
        done.binding.diary_login,
        if done.vault_entry_removed {
            "removed"
        } else {
            "none"
        },
        done.sessions_ended
    );
    Ok(())
}

async fn export(
    store: &SharedStore,
    format: FileFormat,
    out: Option<PathBuf>,
) -> Result<(), OpsError> {
    let all = store.list_bindings().await?;
    let bytes = match format {
        FileFormat::Csv => csv_bytes(&all)?,
        FileFormat::Json => all
            .iter()
            .map(|b| bindings_io::to_json(b) + "\n")
            .collect::<String>()
            .into_bytes(),
    };
    match out {
        None => std::io::stdout().lock().write_all(&bytes)?,
        Some(path) => {
            let mut open = std::fs::OpenOptions::new();
            open.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
            let written = open
                .open(&path)
                .and_then(|mut f| f.write_all(&bytes).and_then(|()| f.sync_all()));
            written.map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => OpsError::Usage(format!(
                    "{} already exists; not overwriting it",
                    path.display()
                )),
                _ => OpsError::runtime(&path.display().to_string(), &e),
            })?;
        }
    }
    eprintln!("exported {} binding(s)", all.len());
    Ok(())
}

async fn import(
    store: &SharedStore,
    file: &std::path::Path,
    format: Option<FileFormat>,
    dry_run: bool,
) -> Result<(), OpsError> {
    let name = file.display().to_string();
    let text = if name == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(file)
    }
    .map_err(|e| OpsError::Usage(format!("cannot read {name}: {e}")))?;
    let format = format.unwrap_or(match file.extension().and_then(|e| e.to_str()) {
        Some("json" | "jsonl" | "ndjson") => FileFormat::Json,
        _ => FileFormat::Csv,
    });
    let mut bad = match bindings_io::parse(&text, format, Utc::now()) {
        Ok(rows) => {
            let bad = against_store(store, &rows).await?;
            if bad.is_empty() {
                return commit(store, &name, rows, dry_run).await;
            }
            bad
        }
        Err(bad) => bad,
    };
    bad.sort_by_key(|b| b.line);
    for b in &bad {
        eprintln!("{name}:{}: {}", b.line, b.message);
    }
    Err(OpsError::Usage(format!(
        "{} bad row(s) in {name}; nothing imported",
        bad.len()
    )))
}

/// Rows whose login is already bound in the store (an OID may gain bindings).
async fn against_store(
    store: &SharedStore,
    rows: &[(u64, Binding)],
) -> Result<Vec<bindings_io::BadRow>, OpsError> {
    let existing = store.list_bindings().await?;
    let by_login: std::collections::HashMap<&str, &Binding> = existing
        .iter()
        .map(|b| (b.diary_login.as_str(), b))
        .collect();
    let mut bad = Vec::new();
    for (line, b) in rows {
        if let Some(e) = by_login.get(b.diary_login.as_str()) {
            bad.push(bindings_io::BadRow {
                line: *line,
                message: format!(
                    "diary login {:?} is already bound (to ESIA OID {})",
                    b.diary_login, e.esia_oid
                ),
            });
        }
    }
    Ok(bad)
}

async fn commit(
    store: &SharedStore,
    name: &str,
    rows: Vec<(u64, Binding)>,
    dry_run: bool,
) -> Result<(), OpsError> {
    let all: Vec<Binding> = rows.into_iter().map(|(_, b)| b).collect();
    if dry_run {
        println!(
            "dry run: {} binding(s) in {name} would be imported",
            all.len()
        );
        return Ok(());
    }
    match store.import_bindings(&all).await {
        Ok(()) => {}
        Err(StoreError::Conflict(c)) => {
            return Err(OpsError::Usage(format!(
                "a binding was added meanwhile ({c:?}); nothing imported, run the import again"
            )));
        }
        Err(e) => return Err(e.into()),
    }
    let mut event = AuditEvent::new(Utc::now(), AuditKind::Other("bindings_imported".into()));
    event.detail = serde_json::json!({
        "by": "operator",
        "operator": operator(),
        "count": all.len(),
        "file": name,
    });
    store.append_audit(&event).await?;
    println!("imported {} binding(s) from {name}", all.len());
    Ok(())
}
