//! One SSH session per host and the stream channels over it (Docker socket, loopback ports). Knows nothing about Docker.
