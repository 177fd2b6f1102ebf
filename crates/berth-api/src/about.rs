//! Which Berth this is: the release and the commit it was built from (`build.rs`), for
//! `berth --version` and the window's About.

use berth_engine::relay::RELAY_ARCHES;
use berth_model::view::About;

/// The release.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The commit this build came from (12 hex digits), or `unknown`.
pub const COMMIT: &str = env!("BERTH_COMMIT");

/// `0.1.0 (commit 0123456789ab)`: what `berth --version` prints after the name.
pub const VERSION_LINE: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("BERTH_COMMIT"),
    ")"
);

/// This build, where it runs, and which server architectures it has a relay for.
pub fn about() -> About {
    About {
        version: VERSION.to_owned(),
        commit: COMMIT.to_owned(),
        platform: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        relay_arches: RELAY_ARCHES
            .iter()
            .filter(|arch| crate::relay::relay_binary(arch).is_ok())
            .map(|arch| (*arch).to_owned())
            .collect(),
    }
}
