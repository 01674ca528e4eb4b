//! Thin binary: everything lives in the library so tests can start it in-process.

fn main() -> std::process::ExitCode {
    esia_gateway::cli::main()
}
