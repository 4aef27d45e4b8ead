//! The `scimform` binary: everything lives in the library; this only maps its result to an exit
//! code.

// A plan of a large directory allocates millions of small JSON and YAML nodes; mimalloc spends
// far less time on them than the system allocator (see docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    scimform::run()
}
