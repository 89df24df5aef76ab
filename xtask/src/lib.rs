//! The generator behind `cargo xtask`: pinned spec → patches → normalisation → models and endpoints → files.

pub mod bench;
pub mod check_all;
pub mod diff;
pub mod endpoints;
pub mod examples;
pub mod manifest;
pub mod names;
pub mod normalize;
pub mod overlay;
pub mod regen;
pub mod spec;
pub mod split;
pub mod test_cmd;
pub mod types;
