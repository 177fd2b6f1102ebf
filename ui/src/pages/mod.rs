//! One module per screen. Each page loads what it shows through `crate::api`, shows a loading
//! state first, an empty state when there is nothing, and sends failures to the toasts.

pub mod app;
pub mod app_form;
pub mod apps;
pub mod notifications;
pub mod overview;
pub mod projects;
pub mod proxy_install;
pub mod quick_deploy;
pub mod registries;
pub mod server_add;
pub mod servers;
pub mod services;
pub mod settings;
