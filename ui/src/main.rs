//! The wasm entry point: mounts the UI (everything lives in the library).

fn main() {
    berth_ui::start();
}
