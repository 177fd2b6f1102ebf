//! The `berth-relay` binary.

fn main() -> std::process::ExitCode {
    berth_relay::main()
}
