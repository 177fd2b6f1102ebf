//! The install-proxy dialog: run Caddy as `berth-proxy` on the server, or adopt the Caddy
//! already there through its admin endpoint; ports and certificates.

use berth_model::view::ProxyInstallRequest;
use berth_model::{ErrorDto, ProxyStatus, TlsSetting};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::toast::use_toasts;
use crate::widgets::{DialogError, Field, Modal};

/// The install-proxy form as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyForm {
    /// Adopt the Caddy at `admin` instead of running one.
    pub adopt: bool,
    pub image: String,
    pub acme_email: String,
    pub http_port: String,
    pub https_port: String,
    /// `auto`, `internal` or `off`.
    pub tls: String,
    pub admin: String,
}

impl Default for ProxyForm {
    fn default() -> Self {
        ProxyForm {
            adopt: false,
            image: "caddy:2".to_owned(),
            acme_email: String::new(),
            http_port: "80".to_owned(),
            https_port: "443".to_owned(),
            tls: "auto".to_owned(),
            admin: String::new(),
        }
    }
}

/// Fields of [`ProxyForm`] that cannot be sent, with why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyFormErrors {
    pub acme_email: Option<String>,
    pub http_port: Option<String>,
    pub https_port: Option<String>,
    pub admin: Option<String>,
}

fn port_of(input: &str, which: &str) -> Result<u16, String> {
    input
        .trim()
        .parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| format!("{which} port must be a number between 1 and 65535"))
}

/// Checks the form and builds the request (the email only goes with automatic TLS).
pub fn proxy_request(form: &ProxyForm) -> Result<ProxyInstallRequest, ProxyFormErrors> {
    let mut errors = ProxyFormErrors::default();
    let tls = match form.tls.as_str() {
        "internal" => TlsSetting::Internal,
        "off" => TlsSetting::Off,
        _ => TlsSetting::Auto { email: None },
    };
    let email = form.acme_email.trim();
    let acme_email = if matches!(tls, TlsSetting::Auto { .. }) && !email.is_empty() {
        if !email.contains('@') || email.contains(char::is_whitespace) {
            errors.acme_email = Some(format!("`{email}` is not an email address"));
        }
        Some(email.to_owned())
    } else {
        None
    };
    let (mut http_port, mut https_port) = (80, 443);
    let mut admin = None;
    if form.adopt {
        let a = form.admin.trim();
        if a.is_empty() {
            errors.admin = Some(
                "enter the admin endpoint of your Caddy: 127.0.0.1:2019 or unix:/path".to_owned(),
            );
        }
        admin = Some(a.to_owned());
    } else {
        match port_of(&form.http_port, "HTTP") {
            Ok(p) => http_port = p,
            Err(e) => errors.http_port = Some(e),
        }
        match port_of(&form.https_port, "HTTPS") {
            Ok(p) => https_port = p,
            Err(e) => errors.https_port = Some(e),
        }
        if errors.http_port.is_none() && errors.https_port.is_none() && http_port == https_port {
            errors.https_port = Some("HTTP and HTTPS need different ports".to_owned());
        }
    }
    if errors != ProxyFormErrors::default() {
        return Err(errors);
    }
    let image = form.image.trim();
    Ok(ProxyInstallRequest {
        image: (!form.adopt && !image.is_empty()).then(|| image.to_owned()),
        acme_email,
        http_port,
        https_port,
        tls,
        admin,
    })
}

#[component]
pub fn ProxyInstallDialog(
    server: String,
    on_close: Callback<()>,
    on_installed: Callback<ProxyStatus>,
) -> impl IntoView {
    let toasts = use_toasts();
    let server = StoredValue::new(server);
    let form = RwSignal::new(ProxyForm::default());
    let errors = RwSignal::new(ProxyFormErrors::default());
    let error = RwSignal::new(None::<ErrorDto>);
    let busy = RwSignal::new(false);
    let submit = move || {
        if busy.get_untracked() {
            return;
        }
        error.set(None);
        let req = match proxy_request(&form.get_untracked()) {
            Ok(r) => {
                errors.set(ProxyFormErrors::default());
                r
            }
            Err(e) => {
                errors.set(e);
                return;
            }
        };
        busy.set(true);
        spawn_local(async move {
            let name = server.get_value();
            match api::proxy_install(&name, &req).await {
                Ok(st) => {
                    toasts.ok(format!(
                        "Proxy {} on {name}",
                        if req.admin.is_some() {
                            "adopted"
                        } else {
                            "installed"
                        }
                    ));
                    on_installed.run(st);
                }
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    let close = Callback::new(move |()| {
        if !busy.get_untracked() {
            on_close.run(());
        }
    });
    let text = move |get: fn(&ProxyForm) -> &String, set: fn(&mut ProxyForm, String)| {
        (
            move || get(&form.get()).clone(),
            move |ev: leptos::ev::Event| {
                let v = event_target_value(&ev);
                form.update(|f| set(f, v));
            },
        )
    };
    let (image_value, image_input) = text(|f| &f.image, |f, v| f.image = v);
    let (email_value, email_input) = text(|f| &f.acme_email, |f, v| f.acme_email = v);
    let (http_value, http_input) = text(|f| &f.http_port, |f, v| f.http_port = v);
    let (https_value, https_input) = text(|f| &f.https_port, |f, v| f.https_port = v);
    let (admin_value, admin_input) = text(|f| &f.admin, |f, v| f.admin = v);
    let adopt = move || form.get().adopt;
    let tls_is = move |t: &'static str| move || form.get().tls == t;
    let title = format!("Install a proxy on {}", server.get_value());

    let footer = move || {
        view! {
            <button class="button" type="button" disabled=move || busy.get() on:click=move |_| close.run(())>
                "Cancel"
            </button>
            <button
                class="button primary"
                type="submit"
                form="proxy-install-form"
                data-testid="proxy-install-submit"
                disabled=move || busy.get()
            >
                {move || match (busy.get(), adopt()) {
                    (true, _) => "Installing…",
                    (false, true) => "Adopt",
                    (false, false) => "Install",
                }}
            </button>
        }
        .into_any()
    };

    view! {
        <Modal title testid="proxy-install-dialog" on_close=close footer=Box::new(footer)>
            <form
                id="proxy-install-form"
                class="form-stack"
                on:submit=move |ev| {
                    ev.prevent_default();
                    submit();
                }
            >
                <p class="muted">
                    "Caddy routes your apps' domains to their containers and gets their certificates."
                </p>
                <fieldset class="choices">
                    <legend class="field-label">"Proxy"</legend>
                    <label class="choice" class:selected=move || !adopt()>
                        <input
                            type="radio"
                            name="proxy-mode"
                            data-testid="proxy-mode-managed"
                            prop:checked=move || !adopt()
                            on:change=move |_| form.update(|f| f.adopt = false)
                        />
                        <span>
                            <span class="strong">"Run Caddy for me"</span>
                            <span class="field-hint">"Berth runs it as the container berth-proxy"</span>
                        </span>
                    </label>
                    <label class="choice" class:selected=adopt>
                        <input
                            type="radio"
                            name="proxy-mode"
                            data-testid="proxy-mode-adopt"
                            prop:checked=adopt
                            on:change=move |_| form.update(|f| f.adopt = true)
                        />
                        <span>
                            <span class="strong">"Adopt my Caddy"</span>
                            <span class="field-hint">"Berth adds its routes through Caddy's admin API"</span>
                        </span>
                    </label>
                </fieldset>
                <Show
                    when=adopt
                    fallback=move || {
                        view! {
                            <div class="form-grid">
                                <Field label="Image" hint="Default caddy:2" >
                                    <input data-testid="proxy-image" spellcheck="false" prop:value=image_value on:input=image_input />
                                </Field>
                                <span></span>
                                <Field label="HTTP port" error=Signal::derive(move || errors.get().http_port)>
                                    <input data-testid="proxy-http-port" inputmode="numeric" prop:value=http_value on:input=http_input />
                                </Field>
                                <Field label="HTTPS port" error=Signal::derive(move || errors.get().https_port)>
                                    <input data-testid="proxy-https-port" inputmode="numeric" prop:value=https_value on:input=https_input />
                                </Field>
                            </div>
                        }
                    }
                >
                    <Field
                        label="Admin endpoint"
                        hint="Where your Caddy's admin API listens on the server"
                        error=Signal::derive(move || errors.get().admin)
                    >
                        <input
                            data-testid="proxy-admin"
                            placeholder="127.0.0.1:2019 or unix:/run/caddy/admin.sock"
                            spellcheck="false"
                            prop:value=admin_value
                            on:input=admin_input
                        />
                    </Field>
                </Show>
                <Field label="Certificates">
                    <select
                        data-testid="proxy-tls"
                        on:change=move |ev| {
                            let v = event_target_value(&ev);
                            form.update(|f| f.tls = v);
                        }
                    >
                        <option value="auto" prop:selected=tls_is("auto")>
                            "Automatic HTTPS (Let's Encrypt)"
                        </option>
                        <option value="internal" prop:selected=tls_is("internal")>
                            "Caddy's own CA (internal)"
                        </option>
                        <option value="off" prop:selected=tls_is("off")>
                            "Off: plain HTTP"
                        </option>
                    </select>
                </Field>
                <Show when=tls_is("auto")>
                    <Field
                        label="ACME email"
                        hint="Optional: where certificate expiry notices go"
                        error=Signal::derive(move || errors.get().acme_email)
                    >
                        <input
                            type="email"
                            data-testid="proxy-email"
                            placeholder="ops@example.com"
                            prop:value=email_value
                            on:input=email_input
                        />
                    </Field>
                </Show>
            </form>
            <DialogError error />
        </Modal>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_requests() {
        let req = proxy_request(&ProxyForm::default()).unwrap();
        assert_eq!(req.image.as_deref(), Some("caddy:2"));
        assert_eq!((req.http_port, req.https_port), (80, 443));
        assert_eq!(req.tls, TlsSetting::Auto { email: None });
        assert_eq!((req.acme_email, req.admin), (None, None));

        let form = ProxyForm {
            acme_email: "ops@example.com".into(),
            http_port: "8080".into(),
            https_port: "8443".into(),
            ..ProxyForm::default()
        };
        let req = proxy_request(&form).unwrap();
        assert_eq!(req.acme_email.as_deref(), Some("ops@example.com"));
        assert_eq!((req.http_port, req.https_port), (8080, 8443));

        // The email only goes with automatic TLS (the backend refuses it otherwise).
        let form = ProxyForm {
            tls: "internal".into(),
            acme_email: "ops@example.com".into(),
            ..ProxyForm::default()
        };
        let req = proxy_request(&form).unwrap();
        assert_eq!((req.tls, req.acme_email), (TlsSetting::Internal, None));

        let form = ProxyForm {
            adopt: true,
            admin: " 127.0.0.1:2019 ".into(),
            http_port: "nonsense".into(),
            tls: "off".into(),
            ..ProxyForm::default()
        };
        let req = proxy_request(&form).unwrap();
        assert_eq!(req.admin.as_deref(), Some("127.0.0.1:2019"));
        assert_eq!((req.image, req.tls), (None, TlsSetting::Off));
    }

    #[test]
    fn bad_proxy_fields_are_named() {
        let form = ProxyForm {
            acme_email: "ops at example".into(),
            http_port: "0".into(),
            https_port: "99999".into(),
            ..ProxyForm::default()
        };
        let e = proxy_request(&form).unwrap_err();
        assert!(e.acme_email.unwrap().contains("not an email"));
        assert!(e.http_port.unwrap().contains("between 1 and 65535"));
        assert!(e.https_port.unwrap().contains("between 1 and 65535"));
        let form = ProxyForm {
            https_port: "80".into(),
            ..ProxyForm::default()
        };
        assert!(proxy_request(&form).unwrap_err().https_port.is_some());
        let form = ProxyForm {
            adopt: true,
            ..ProxyForm::default()
        };
        assert!(proxy_request(&form).unwrap_err().admin.is_some());
    }
}
