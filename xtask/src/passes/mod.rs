//! Passes over the lowered model, in order: merge types that came out identical, mark which types each feature
//! reaches and in which direction, share webhook payload types of one shape (then copies that differ only in
//! optional properties or enum values), box the fields that would make a type
//! contain itself or hold a large struct inline, and note which targets have each operation.

pub mod cycles;
pub mod features;
pub mod merge;

use crate::model::Model;
use std::collections::BTreeSet;

/// Runs every pass. `targets` maps each target of the lock file to the operation ids its description has.
pub fn run(model: &mut Model, targets: &[(String, BTreeSet<String>)]) {
    merge::run(model);
    features::run(model);
    merge::webhook_shapes(model);
    merge::webhook_supersets(model);
    cycles::run(model);
    availability(model, targets);
}

/// Each operation lists the targets whose description has it (the rustdoc and `operations.json` say so).
pub fn availability(model: &mut Model, targets: &[(String, BTreeSet<String>)]) {
    for op in &mut model.operations {
        op.available = targets
            .iter()
            .filter(|(_, ids)| ids.contains(&op.id))
            .map(|(t, _)| t.clone())
            .collect();
    }
}
