//! The add-server dialog: a name and where Docker runs (over SSH, or this computer). For SSH,
//! the host key the server presents is shown for confirmation before anything is stored,
//! unless it is pinned already; a changed key is refused.

use berth_model::view::{AddServerRequest, HostKeyInfo};
use berth_model::{ErrorDto, ServerCheck, SshTarget, TransportKind, validate_server_name};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::toast::use_toasts;
use crate::widgets::{DialogError, Field, Modal};

/// How the new server is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    Ssh,
    Local,
}

/// The add-server form as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerForm {
    pub name: String,
    pub kind: ServerKind,
    pub ssh: String,
    pub identity: String,
    pub passphrase: String,
    pub transport: TransportKind,
}

/// Fields of [`ServerForm`] that cannot be sent, with why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerFormErrors {
    pub name: Option<String>,
    pub ssh: Option<String>,
}

/// Checks what can be checked here and builds the request; blank optional fields are left out.
pub fn server_request(form: &ServerForm) -> Result<AddServerRequest, ServerFormErrors> {
    let name = form.name.trim();
    let mut errors = ServerFormErrors {
        name: validate_server_name(name).err().map(|e| e.to_string()),
        ssh: None,
    };
    let ssh = match form.kind {
        ServerKind::Local => None,
        ServerKind::Ssh => {
            let target = form.ssh.trim();
            if target.is_empty() {
                errors.ssh = Some("enter the server's address as USER@HOST[:PORT]".to_owned());
            } else if let Err(e) = SshTarget::parse(target) {
                errors.ssh = Some(e);
            }
            Some(target.to_owned())
        }
    };
    if errors != ServerFormErrors::default() {
        return Err(errors);
    }
    let optional = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let local = form.kind == ServerKind::Local;
    Ok(AddServerRequest {
        name: name.to_owned(),
        ssh,
        transport: Some(if local {
            TransportKind::Local
        } else {
            form.transport
        }),
        identity: if local {
            None
        } else {
            optional(&form.identity)
        },
        // Passphrases are taken as typed: spaces may be part of them.
        passphrase: Some(form.passphrase.clone()).filter(|p| !local && !p.is_empty()),
        docker_socket: None,
        trusted_fingerprint: None,
    })
}

/// `host:port`, `[v6]:port`.
pub fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The public key file on the server whose fingerprint the user compares.
pub fn host_key_file(algorithm: &str) -> &'static str {
    let a = algorithm.to_ascii_lowercase();
    if a.contains("rsa") {
        "/etc/ssh/ssh_host_rsa_key.pub"
    } else if a.contains("ecdsa") {
        "/etc/ssh/ssh_host_ecdsa_key.pub"
    } else {
        "/etc/ssh/ssh_host_ed25519_key.pub"
    }
}

/// Why adding failed, shown in the dialog.
#[derive(Debug, Clone, PartialEq)]
enum AddError {
    Api(ErrorDto),
    /// Another key is pinned for this host: refused, whatever the user says.
    KeyChanged {
        host: String,
        pinned: String,
        presented: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum AddStep {
    Form,
    Confirm(HostKeyInfo),
}

#[component]
pub fn AddServerDialog(
    on_close: Callback<()>,
    on_added: Callback<(String, ServerCheck)>,
) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let kind = RwSignal::new(ServerKind::Ssh);
    let ssh = RwSignal::new(String::new());
    let identity = RwSignal::new(String::new());
    let passphrase = RwSignal::new(String::new());
    let transport = RwSignal::new(TransportKind::Embedded);
    let errors = RwSignal::new(ServerFormErrors::default());
    let error = RwSignal::new(None::<AddError>);
    let busy = RwSignal::new(None::<&'static str>);
    let step = RwSignal::new(AddStep::Form);
    let pending = StoredValue::new(None::<AddServerRequest>);
    let toasts = use_toasts();

    let add = move |req: AddServerRequest| async move {
        busy.set(Some("Adding…"));
        match api::server_add(&req).await {
            Ok(check) => on_added.run((req.name.clone(), check)),
            Err(e) => error.set(Some(AddError::Api(e))),
        }
        busy.set(None);
    };
    let submit = move || {
        if busy.get_untracked().is_some() {
            return;
        }
        error.set(None);
        let form = ServerForm {
            name: name.get_untracked(),
            kind: kind.get_untracked(),
            ssh: ssh.get_untracked(),
            identity: identity.get_untracked(),
            passphrase: passphrase.get_untracked(),
            transport: transport.get_untracked(),
        };
        let req = match server_request(&form) {
            Ok(req) => {
                errors.set(ServerFormErrors::default());
                req
            }
            Err(e) => {
                errors.set(e);
                return;
            }
        };
        spawn_local(async move {
            if req.ssh.is_none() {
                add(req).await;
                return;
            }
            busy.set(Some("Connecting…"));
            match api::host_key(&req).await {
                Ok(info) if info.known => add(req).await,
                Ok(info) => {
                    if let Some(pinned) = info.pinned.clone() {
                        error.set(Some(AddError::KeyChanged {
                            host: host_port(&info.host, info.port),
                            pinned,
                            presented: info.fingerprint,
                        }));
                    } else {
                        pending.set_value(Some(req));
                        step.set(AddStep::Confirm(info));
                    }
                }
                Err(e) => error.set(Some(AddError::Api(e))),
            }
            busy.set(None);
        });
    };
    let trust = move || {
        if busy.get_untracked().is_some() {
            return;
        }
        let (Some(mut req), AddStep::Confirm(info)) = (pending.get_value(), step.get_untracked())
        else {
            return;
        };
        error.set(None);
        req.trusted_fingerprint = Some(info.fingerprint);
        spawn_local(add(req));
    };
    let back = move || {
        error.set(None);
        step.set(AddStep::Form);
    };
    let browse = move |_| {
        spawn_local(async move {
            match api::pick_file("Choose the SSH identity file").await {
                Ok(Some(path)) => identity.set(path),
                Ok(None) => {}
                Err(e) => toasts.error(&e),
            }
        })
    };
    // Closing while a call is on its way would lose its answer: wait for it.
    let close = Callback::new(move |()| {
        if busy.get_untracked().is_none() {
            on_close.run(());
        }
    });
    let is_ssh = move || kind.get() == ServerKind::Ssh;
    let radio =
        move |value: ServerKind, testid: &'static str, label: &'static str, hint: &'static str| {
            view! {
                <label class="choice" class:selected=move || kind.get() == value>
                    <input
                        type="radio"
                        name="server-kind"
                        data-testid=testid
                        prop:checked=move || kind.get() == value
                        on:change=move |_| kind.set(value)
                    />
                    <span>
                        <span class="strong">{label}</span>
                        <span class="field-hint">{hint}</span>
                    </span>
                </label>
            }
        };

    let form = move || {
        view! {
            <form
                id="add-server-form"
                class="form-grid"
                on:submit=move |ev| {
                    ev.prevent_default();
                    submit();
                }
            >
                <div class="span-2">
                    <Field
                        label="Name"
                        hint="How Berth and you call it: lowercase letters, digits and -"
                        error=Signal::derive(move || errors.get().name)
                    >
                        <input
                            data-testid="server-name"
                            placeholder="prod"
                            autocomplete="off"
                            spellcheck="false"
                            prop:value=move || name.get()
                            on:input=move |ev| name.set(event_target_value(&ev))
                        />
                    </Field>
                </div>
                <fieldset class="choices span-2">
                    <legend class="field-label">"Where Docker runs"</legend>
                    {radio(ServerKind::Ssh, "server-kind-ssh", "Over SSH", "A Linux machine with Docker you can log in to")}
                    {radio(ServerKind::Local, "server-kind-local", "This computer", "The Docker engine running here")}
                </fieldset>
                <Show
                    when=is_ssh
                    fallback=|| {
                        view! {
                            <p class="field-hint span-2">
                                "Berth talks to this computer's Docker socket (/var/run/docker.sock) directly, without SSH."
                            </p>
                        }
                    }
                >
                    <Field
                        label="SSH target"
                        hint="USER@HOST, with :PORT when it is not 22"
                        error=Signal::derive(move || errors.get().ssh)
                    >
                        <input
                            data-testid="server-ssh"
                            placeholder="root@203.0.113.10"
                            autocomplete="off"
                            spellcheck="false"
                            prop:value=move || ssh.get()
                            on:input=move |ev| ssh.set(event_target_value(&ev))
                        />
                    </Field>
                    <Field
                        label="SSH client"
                        hint="Embedded needs no ssh binary. System is your OpenSSH, with ~/.ssh/config, ProxyJump and hardware keys."
                    >
                        <select
                            data-testid="server-transport"
                            on:change=move |ev| {
                                if let Ok(t) = event_target_value(&ev).parse() {
                                    transport.set(t);
                                }
                            }
                        >
                            <option
                                value="embedded"
                                prop:selected=move || transport.get() == TransportKind::Embedded
                            >
                                "Embedded"
                            </option>
                            <option
                                value="system"
                                prop:selected=move || transport.get() == TransportKind::System
                            >
                                "System OpenSSH"
                            </option>
                        </select>
                    </Field>
                    <div class="field">
                        <span class="field-label">"Identity file"</span>
                        <div class="input-row">
                            <input
                                data-testid="server-identity"
                                placeholder="~/.ssh/id_ed25519"
                                aria-label="Identity file"
                                spellcheck="false"
                                prop:value=move || identity.get()
                                on:input=move |ev| identity.set(event_target_value(&ev))
                            />
                            <button
                                class="button"
                                type="button"
                                data-testid="server-identity-browse"
                                on:click=browse
                            >
                                "Browse…"
                            </button>
                        </div>
                        <span class="field-hint">"Leave empty to use your ssh-agent."</span>
                    </div>
                    <Field
                        label="Key passphrase"
                        hint="Only for an encrypted key. Kept in the OS keychain."
                    >
                        <input
                            type="password"
                            data-testid="server-passphrase"
                            autocomplete="off"
                            prop:value=move || passphrase.get()
                            on:input=move |ev| passphrase.set(event_target_value(&ev))
                        />
                    </Field>
                </Show>
            </form>
        }
    };

    let confirm = move |info: HostKeyInfo| {
        let file = host_key_file(&info.algorithm);
        view! {
            <div class="host-key" data-testid="host-key">
                <p>
                    "Berth has not connected to "
                    <strong>{host_port(&info.host, info.port)}</strong>
                    " before. It presents this "
                    <strong>{info.algorithm.clone()}</strong>
                    " host key:"
                </p>
                <code class="fingerprint">{info.fingerprint.clone()}</code>
                <p class="muted">
                    "Compare it with the output of "
                    <code>{format!("ssh-keygen -lf {file}")}</code>
                    " run on the server. Trust it only if they match: a different fingerprint means you may not be talking to your server."
                </p>
            </div>
        }
    };

    let key_node = NodeRef::<leptos::html::Div>::new();
    Effect::new(move |_| {
        if let Some(el) = key_node.get() {
            el.scroll_into_view_with_bool(false);
        }
    });
    let error_view = move || {
        error.get().map(|e| match e {
            AddError::Api(e) => view! { <DialogError error=Signal::stored(Some(e)) /> }.into_any(),
            AddError::KeyChanged {
                host,
                pinned,
                presented,
            } => view! {
                <div class="dialog-error" role="alert" data-testid="dialog-error" node_ref=key_node>
                    <div class="strong">{format!("The host key of {host} has changed: Berth refuses to connect")}</div>
                    <div class="kv">
                        <span>"Trusted"</span>
                        <code>{pinned}</code>
                        <span>"Presented"</span>
                        <code>{presented}</code>
                    </div>
                    <div>
                        "The server was reinstalled, or someone is in between. Check the key on the server; if the change is expected, remove the old line for this host from Berth's known_hosts file (in its data folder) and try again."
                    </div>
                </div>
            }
            .into_any(),
        })
    };

    let footer = move || {
        view! {
            {move || match step.get() {
                AddStep::Form => {
                    view! {
                        <button class="button" type="button" disabled=move || busy.get().is_some() on:click=move |_| close.run(())>
                            "Cancel"
                        </button>
                        <button
                            class="button primary"
                            type="submit"
                            form="add-server-form"
                            data-testid="server-continue"
                            disabled=move || busy.get().is_some()
                        >
                            {move || {
                                busy.get()
                                    .unwrap_or(if is_ssh() { "Continue" } else { "Add server" })
                            }}
                        </button>
                    }
                        .into_any()
                }
                AddStep::Confirm(_) => {
                    view! {
                        <button class="button" type="button" disabled=move || busy.get().is_some() on:click=move |_| back()>
                            "Back"
                        </button>
                        <button
                            class="button primary"
                            type="button"
                            data-testid="server-trust"
                            disabled=move || busy.get().is_some()
                            on:click=move |_| trust()
                        >
                            {move || busy.get().unwrap_or("Trust and add")}
                        </button>
                    }
                        .into_any()
                }
            }}
        }
        .into_any()
    };

    view! {
        <Modal
            title="Add server"
            testid="add-server-dialog"
            wide=true
            on_close=close
            footer=Box::new(footer)
        >
            {move || match step.get() {
                AddStep::Form => form().into_any(),
                AddStep::Confirm(info) => confirm(info).into_any(),
            }}
            {error_view}
        </Modal>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ssh_form() -> ServerForm {
        ServerForm {
            name: " prod ".into(),
            kind: ServerKind::Ssh,
            ssh: " deploy@203.0.113.5:2222 ".into(),
            identity: "  ".into(),
            passphrase: String::new(),
            transport: TransportKind::Embedded,
        }
    }

    #[test]
    fn an_ssh_server_request() {
        let req = server_request(&ssh_form()).unwrap();
        assert_eq!(
            req,
            AddServerRequest {
                name: "prod".into(),
                ssh: Some("deploy@203.0.113.5:2222".into()),
                transport: Some(TransportKind::Embedded),
                identity: None,
                passphrase: None,
                docker_socket: None,
                trusted_fingerprint: None,
            }
        );
        let mut form = ssh_form();
        form.identity = "~/.ssh/id_ed25519".into();
        form.passphrase = " secret ".into();
        form.transport = TransportKind::System;
        let req = server_request(&form).unwrap();
        assert_eq!(req.identity.as_deref(), Some("~/.ssh/id_ed25519"));
        assert_eq!(req.passphrase.as_deref(), Some(" secret "));
        assert_eq!(req.transport, Some(TransportKind::System));
    }

    #[test]
    fn a_local_server_ignores_the_ssh_fields() {
        let mut form = ssh_form();
        form.kind = ServerKind::Local;
        form.ssh = "not a target".into();
        form.identity = "/k".into();
        form.passphrase = "p".into();
        let req = server_request(&form).unwrap();
        assert_eq!(req.ssh, None);
        assert_eq!(req.transport, Some(TransportKind::Local));
        assert_eq!((req.identity, req.passphrase), (None, None));
    }

    #[test]
    fn bad_fields_are_named() {
        let mut form = ssh_form();
        form.name = "My Server".into();
        form.ssh = "root@".into();
        let e = server_request(&form).unwrap_err();
        assert!(e.name.unwrap().contains("`My Server`"));
        assert!(e.ssh.unwrap().contains("has no host"));
        form.name = String::new();
        form.ssh = String::new();
        let e = server_request(&form).unwrap_err();
        assert_eq!(e.name.as_deref(), Some("server name is empty"));
        assert_eq!(
            e.ssh.as_deref(),
            Some("enter the server's address as USER@HOST[:PORT]")
        );
    }

    #[test]
    fn host_keys_read_like_ssh() {
        assert_eq!(host_port("203.0.113.5", 22), "203.0.113.5:22");
        assert_eq!(host_port("::1", 2222), "[::1]:2222");
        assert_eq!(
            host_key_file("ssh-ed25519"),
            "/etc/ssh/ssh_host_ed25519_key.pub"
        );
        assert_eq!(
            host_key_file("ecdsa-sha2-nistp256"),
            "/etc/ssh/ssh_host_ecdsa_key.pub"
        );
        assert_eq!(
            host_key_file("rsa-sha2-512"),
            "/etc/ssh/ssh_host_rsa_key.pub"
        );
    }
}
