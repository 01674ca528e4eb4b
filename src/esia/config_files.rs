//! The signer's files, checked by `check-config` after their paths were resolved
//! against the config's folder: a wrong `program` or key path is an error at load, not
//! a failure at the first sign-in.

use super::{ConfigProblem, SignerConfig, problem};

/// Check-config's look at the files the signer needs, after its paths were resolved
/// against the config's folder (a `program` with a `/` is a path; a bare name is looked
/// up in `PATH`, as the signer will run it): the program must be an executable file, the
/// demo key a file. Without this a wrong path is found at the first sign-in.
pub fn check_signer_files(signer: &SignerConfig) -> Vec<ConfigProblem> {
    check_signer_files_in(signer, std::env::var_os("PATH").as_deref())
}

/// [`check_signer_files`] with the `PATH` to search given (tests).
pub fn check_signer_files_in(
    signer: &SignerConfig,
    path_var: Option<&std::ffi::OsStr>,
) -> Vec<ConfigProblem> {
    let mut errs = Vec::new();
    match signer {
        SignerConfig::Command { program, .. } if program.components().count() > 1 => {
            if let Err(why) = executable(program) {
                errs.push(problem(
                    "signer.program",
                    format!("{}: {why}", program.display()),
                    "an absolute path, a path relative to the config file, or a program name found in PATH",
                ));
            }
        }
        SignerConfig::Command { program, .. } => {
            let found = path_var
                .map(std::env::split_paths)
                .into_iter()
                .flatten()
                .any(|dir| executable(&dir.join(program)).is_ok());
            if !found {
                errs.push(problem(
                    "signer.program",
                    format!("{} is not found in PATH", program.display()),
                    "install it, or give its full path, e.g. \"/usr/bin/openssl\"",
                ));
            }
        }
        SignerConfig::Demo { key } => match std::fs::metadata(key) {
            Ok(m) if m.is_file() => {}
            Ok(_) => errs.push(problem(
                "signer.key",
                format!("{} is not a file", key.display()),
                "PKCS#8 Ed25519 key file (demo only)",
            )),
            Err(e) => errs.push(problem(
                "signer.key",
                format!("{}: {e}", key.display()),
                "PKCS#8 Ed25519 key file (demo only), relative to the config file",
            )),
        },
    }
    errs
}

fn executable(path: &std::path::Path) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a file".into());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o111 == 0 {
            return Err("not executable".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::time::Duration;

    fn command(program: &str) -> SignerConfig {
        SignerConfig::Command {
            program: PathBuf::from(program),
            args: Vec::new(),
            timeout: Duration::from_secs(5),
            reverse_bytes: false,
            output_base64: false,
        }
    }

    #[test]
    fn signer_files_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let exe = bin.join("gost-sign");
        std::fs::write(&exe, "#!/bin/sh\n").unwrap();
        let plain = dir.path().join("plain");
        std::fs::write(&plain, "not a program").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
            std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        let key = dir.path().join("rp.key");
        std::fs::write(&key, "key").unwrap();
        let path_var = std::ffi::OsString::from(bin.as_os_str());
        let s = |p: &std::path::Path| p.display().to_string();
        // (signer, the problem's message contains; "" = no problem)
        let table = [
            (command(&s(&exe)), ""),
            (command("gost-sign"), ""),
            (command("no-such-signer"), "not found in PATH"),
            (command(&s(&dir.path().join("missing"))), "No such file"),
            (command(&s(dir.path())), "not a file"),
            #[cfg(unix)]
            (command(&s(&plain)), "not executable"),
            (SignerConfig::Demo { key: key.clone() }, ""),
            (
                SignerConfig::Demo {
                    key: dir.path().join("nokey"),
                },
                "No such file",
            ),
            (
                SignerConfig::Demo {
                    key: dir.path().to_path_buf(),
                },
                "not a file",
            ),
        ];
        for (signer, want) in table {
            let problems = check_signer_files_in(&signer, Some(&path_var));
            if want.is_empty() {
                assert!(problems.is_empty(), "{signer:?}: {problems:?}");
            } else {
                assert_eq!(problems.len(), 1, "{signer:?}: {problems:?}");
                assert!(problems[0].1.contains(want), "{signer:?}: {problems:?}");
                assert!(problems[0].0.starts_with("esia.signer."), "{problems:?}");
            }
        }
        assert!(!check_signer_files_in(&command("gost-sign"), None).is_empty());
    }
}
