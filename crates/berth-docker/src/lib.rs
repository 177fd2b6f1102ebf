//! Typed Docker Engine API calls Berth needs, over whatever endpoint the transport provides.
