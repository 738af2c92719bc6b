//! `deployer` binary: everything happens in [`deployer::cli`].

fn main() -> std::process::ExitCode {
    deployer::cli::main(std::env::args_os())
}
