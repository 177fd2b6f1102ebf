//! How times, durations, sizes and states read on screen: the formatter every front end shares.

pub use berth_model::format::*;
