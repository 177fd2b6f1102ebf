//! Create or edit an app: a dialog over the current page. (Placeholder: the form's fields
//! arrive with the Apps screen.)

use berth_model::App;
use leptos::prelude::*;

use crate::widgets::Modal;

/// The app form. `existing` is the app being edited, or `None` to create one; `on_done`
/// gets the saved app, or `None` when the user closed the dialog without saving.
#[component]
pub fn AppFormDialog(existing: Option<App>, on_done: Callback<Option<App>>) -> impl IntoView {
    let title = match &existing {
        Some(app) => format!("Edit {}", app.name),
        None => "New app".to_owned(),
    };
    view! {
        <Modal title testid="app-form" on_close=Callback::new(move |()| on_done.run(None))>
            <p class="muted">"Coming soon."</p>
        </Modal>
    }
}
