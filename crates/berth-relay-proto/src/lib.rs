//! The webhook relay's control protocol, apart from the daemon: the messages Berth and the
//! relay exchange over the relay's control socket ([`proto`]) and the client Berth calls them
//! with ([`client`], over byte streams someone else opens — a stream channel of the SSH
//! session). `berth-api` links this crate, not the relay daemon (its SQLite queue and HTTP
//! server stay on the server).

pub mod client;
pub mod proto;
