//! The generator behind `cargo xtask`. `cargo xtask regen` runs its stages in order, data flowing one way:
//!
//! 1. [`spec`]: load the pinned description and verify its sha256;
//! 2. [`patches`]: apply the documented fixes of upstream defects;
//! 3. [`normalize`]: the passes that apply to a class of constructs;
//! 4. [`lower`]: the description becomes the typed [`model`];
//! 5. [`passes`]: shape sharing, feature marking, cycles, availability;
//! 6. [`emit`]: types, endpoints, errors, lib, manifest and the fidelity test as tokens and text;
//! 7. [`layout`]: formatting, file names, the runtime copied in; [`regen`] writes or checks the files.
//!
//! # Crate organisation
//!
//! - The stages above, one module each, and the data between them: [`spec::Spec`] (the loaded description) and
//!   [`model::Model`] (operations and types); [`names`] turns spec names into Rust names for every stage;
//!   [`examples`] collects the description's response examples for the fidelity test and the normalisation passes.
//! - One module per other `cargo xtask` command: [`check_all`] (`check-all`), [`diff`] (`diff A B`),
//!   [`example_ghes`] (`example-ghes`), [`semver`] (`semver-check`), [`bench`](mod@bench) (`bench-compile`) and [`test_cmd`]
//!   (`test`); `fetch-spec` and `fetch-reference` are in [`spec`].
//! - `main.rs` reads the command line and calls into these; the generated crate's runtime is the separate crate
//!   `xtask/runtime`, whose files [`layout`] copies in.

pub mod bench;
pub mod check_all;
pub mod diff;
pub mod emit;
pub mod example_ghes;
pub mod examples;
pub mod layout;
pub mod lower;
pub mod model;
pub mod names;
pub mod normalize;
pub mod passes;
pub mod patches;
pub mod regen;
pub mod semver;
pub mod spec;
pub mod test_cmd;
