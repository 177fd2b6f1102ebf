//! Typed subscriptions to the shell's live events (`window.__TAURI__.event.listen`): job
//! progress, job ends, followed log lines and log ends. A subscription made inside a component
//! is removed (unlisten) when that component is cleaned up.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use berth_model::view::{JobDone, JobProgress, LogEnd, LogLine};
use leptos::prelude::on_cleanup;
use leptos::task::spawn_local;
use send_wrapper::SendWrapper;
use serde::de::DeserializeOwned;
use wasm_bindgen::prelude::*;

/// Event names, as `src-tauri/src/notices.rs` emits them.
pub const JOB_PROGRESS: &str = "job-progress";
pub const JOB_DONE: &str = "job-done";
pub const LOG_LINE: &str = "log-line";
pub const LOG_END: &str = "log-end";
pub const ALERT: &str = "alert";

#[wasm_bindgen]
extern "C" {
    /// Resolves to the function that removes the listener.
    #[wasm_bindgen(js_namespace = ["window", "__TAURI__", "event"], js_name = listen, catch)]
    async fn tauri_listen(event: &str, handler: &js_sys::Function) -> Result<JsValue, JsValue>;
}

/// Progress of any background job.
pub fn on_job_progress(f: impl Fn(JobProgress) + 'static) {
    listen(JOB_PROGRESS, f)
}

/// The end of any background job (the window's twin of the OS notification).
pub fn on_job_done(f: impl Fn(JobDone) + 'static) {
    listen(JOB_DONE, f)
}

/// Lines of every followed log; filter on `stream`.
/// The monitor saw something (fetched from a relay by the shell).
pub fn on_alert(f: impl Fn(berth_model::Alert) + 'static) {
    listen(ALERT, f)
}

pub fn on_log_line(f: impl Fn(LogLine) + 'static) {
    listen(LOG_LINE, f)
}

/// Ends of followed logs.
pub fn on_log_end(f: impl Fn(LogEnd) + 'static) {
    listen(LOG_END, f)
}

/// Lines and ends of followed logs; `ready` runs once both listeners are in place. Start
/// following from `ready`: a stream's first lines arrive at once, and a line sent before its
/// listener exists is lost.
pub fn on_logs(
    line: impl Fn(LogLine) + 'static,
    end: impl Fn(LogEnd) + 'static,
    ready: impl FnOnce() + 'static,
) {
    let left = Rc::new(Cell::new(2u8));
    let ready = Rc::new(RefCell::new(Some(ready)));
    let one_more = move || {
        left.set(left.get().saturating_sub(1));
        if left.get() == 0
            && let Some(ready) = ready.borrow_mut().take()
        {
            ready();
        }
    };
    listen_then(LOG_LINE, line, one_more.clone());
    listen_then(LOG_END, end, one_more);
}

type Handler = Closure<dyn FnMut(JsValue)>;

/// One listener: the JS handler must live until Tauri has forgotten it.
struct Subscription {
    handler: RefCell<Option<Handler>>,
    unlisten: RefCell<Option<js_sys::Function>>,
    ended: Cell<bool>,
}

impl Subscription {
    fn end(&self) {
        self.ended.set(true);
        if let Some(unlisten) = self.unlisten.borrow_mut().take() {
            let _ = unlisten.call0(&JsValue::NULL);
            self.handler.borrow_mut().take();
        }
        // Otherwise `listen` has not resolved yet: it unlistens as soon as it does.
    }
}

fn listen<T: DeserializeOwned + 'static>(name: &'static str, f: impl Fn(T) + 'static) {
    listen_then(name, f, || {})
}

/// Listens, and calls `ready` once the listener is registered (or could not be).
fn listen_then<T: DeserializeOwned + 'static>(
    name: &'static str,
    f: impl Fn(T) + 'static,
    ready: impl FnOnce() + 'static,
) {
    let handler = Handler::new(move |event: JsValue| {
        let payload =
            js_sys::Reflect::get(&event, &JsValue::from_str("payload")).unwrap_or(JsValue::NULL);
        match serde_wasm_bindgen::from_value::<T>(payload) {
            Ok(value) => f(value),
            Err(e) => web_sys::console::warn_1(&format!("{name}: unexpected payload: {e}").into()),
        }
    });
    let function: js_sys::Function = handler.as_ref().unchecked_ref::<js_sys::Function>().clone();
    let sub = Rc::new(Subscription {
        handler: RefCell::new(Some(handler)),
        unlisten: RefCell::new(None),
        ended: Cell::new(false),
    });
    let pending = sub.clone();
    spawn_local(async move {
        match tauri_listen(name, &function).await {
            Ok(unlisten) => {
                *pending.unlisten.borrow_mut() = Some(unlisten.unchecked_into());
                if pending.ended.get() {
                    pending.end();
                } else {
                    ready();
                }
            }
            Err(e) => {
                web_sys::console::warn_2(&format!("cannot listen to {name}:").into(), &e);
                pending.handler.borrow_mut().take();
                ready();
            }
        }
    });
    let sub = SendWrapper::new(sub);
    on_cleanup(move || sub.end());
}
