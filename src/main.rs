//! Thin binary: everything lives in the library so tests can start it in-process.

// A proxy allocates and frees many small buffers per request (headers, frames);
// mimalloc's thread-local free lists measured faster than the system allocator in
// bench/run.sh.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    esia_gateway::cli::main()
}
