//! The `scimform` binary: everything lives in the library; this only maps its result to an exit
//! code, and picks the allocator (see `Cargo.toml`).

#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    scimform::run()
}
