//! `esia-gateway pages export DIR`: writes the shipped page templates and the stylesheet,
//! the reference an operator starts a region's own pages from (`[pages] templates`).
//! Never writes over a file unless `--force` is given; needs no configuration.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::{EXIT_RUNTIME, EXIT_USAGE};
use crate::config::pages::shipped;
use crate::pages::kit::STYLE;
use crate::pages::templates::STYLE as STYLE_NAME;

#[derive(Debug, Args)]
pub struct PagesArgs {
    #[command(subcommand)]
    pub command: PagesCommand,
}

#[derive(Debug, Subcommand)]
pub enum PagesCommand {
    /// Write the shipped templates and style.css into DIR (created if missing).
    Export {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// Replace files that already exist.
        #[arg(long)]
        force: bool,
    },
}

/// `esia-gateway pages`
pub fn main(a: PagesArgs) -> ExitCode {
    let PagesCommand::Export { dir, force } = a.command;
    match export(&dir, force) {
        Ok(written) => {
            println!("{}: wrote {}", dir.display(), written.join(", "));
            println!(
                "keep the files you change and delete the others (they follow upgrades), \
                 set [pages] templates = {:?}, then run check-config",
                dir.display().to_string()
            );
            ExitCode::SUCCESS
        }
        Err(Refused::Exists(files)) => {
            eprintln!(
                "error: {} already exist(s); nothing written (--force replaces them)",
                files.join(", ")
            );
            ExitCode::from(EXIT_USAGE)
        }
        Err(Refused::Io(path, e)) => {
            eprintln!("error: {}: {e}", path.display());
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

#[derive(Debug)]
enum Refused {
    /// Files that are there already (without `--force`).
    Exists(Vec<String>),
    Io(PathBuf, std::io::Error),
}

/// Writes every shipped template into `dir`; returns the names written.
fn export(dir: &Path, force: bool) -> Result<Vec<String>, Refused> {
    let mut files: Vec<(&str, &str)> = shipped();
    files.push((STYLE_NAME, STYLE));
    if !force {
        let present: Vec<String> = files
            .iter()
            .map(|(name, _)| dir.join(name))
            .filter(|p| p.symlink_metadata().is_ok())
            .map(|p| p.display().to_string())
            .collect();
        if !present.is_empty() {
            return Err(Refused::Exists(present));
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| Refused::Io(dir.to_owned(), e))?;
    let mut written = Vec::new();
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| Refused::Io(path, e))?;
        written.push(name.to_owned());
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_every_template_once_and_never_over_a_file_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("pages");
        let written = export(&out, false).unwrap();
        assert!(written.contains(&"start.html".to_owned()));
        assert!(written.contains(&"style.css".to_owned()));
        assert_eq!(
            std::fs::read_to_string(out.join("style.css")).unwrap(),
            STYLE
        );
        std::fs::write(out.join("start.html"), "mine").unwrap();
        let Err(Refused::Exists(present)) = export(&out, false) else {
            panic!("overwrote without --force");
        };
        assert_eq!(present.len(), written.len());
        assert_eq!(
            std::fs::read_to_string(out.join("start.html")).unwrap(),
            "mine"
        );
        export(&out, true).unwrap();
        assert_ne!(
            std::fs::read_to_string(out.join("start.html")).unwrap(),
            "mine"
        );
        // What is exported loads as a templates directory, unchanged and without warnings.
        let loaded = crate::pages::Templates::load(&shipped(), &out).unwrap();
        assert!(loaded.unknown.is_empty() && loaded.external.is_empty());
    }
}
