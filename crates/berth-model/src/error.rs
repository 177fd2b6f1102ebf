//! The error shape that crosses every front-end boundary (CLI JSON, Tauri commands, relay).

use serde::{Deserialize, Serialize};

/// A machine-readable `code` (stable, kebab-case, e.g. `app-not-found`) and a message a user
/// can act on. Front ends branch on `code`, never on the message text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDto {
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for ErrorDto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}
