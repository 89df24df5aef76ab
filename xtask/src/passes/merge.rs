//! Merging types that came out identical under one base name (`IntegerOrString`, `IntegerOrString2`): shapes the
//! JSON-level sharing in lowering could not see as equal, because they were equal only once their own members were
//! merged.

use crate::model::{DefKind, Field, Model, RType, TypeDef, Variant};
use std::collections::{HashMap, HashSet};

/// Merges, then renumbers every type the operations and the error table name.
pub fn run(model: &mut Model) {
    let map = merge_map(model, |d| {
        Some(
            d.name
                .trim_end_matches(|c: char| c.is_ascii_digit())
                .to_string(),
        )
    });
    remap(model, &map);
}

/// Webhook payload types of one shape under different names become one. The description repeats its inline payload
/// schemas for every event and action (the `pull_request` of `pull_request.assigned` and of
/// `pull_request.labeled`, the `head.repo` and `base.repo` within each), each under its own name; where the copies
/// are equal (once their own members merged) the types compiled only with the `webhooks` feature are shared under
/// the first one's name. Runs after feature marking, so types REST operations reach keep their names and shapes.
pub fn webhook_shapes(model: &mut Model) -> usize {
    let only_hooks = |d: &TypeDef| {
        !d.request && d.features.len() == 1 && d.features.contains(crate::lower::webhooks::FEATURE)
    };
    let map = merge_map(model, |d| only_hooks(d).then(String::new));
    remap(model, &map);
    let mut merged = 0;
    for (id, &kept) in map.iter().enumerate() {
        if kept != id {
            model.defs[id].features.clear();
            merged += 1;
        }
    }
    merged
}

/// Webhook-only object types that differ only in optional properties one copy has and the other lacks, or in which
/// values an open string enum lists, become one when they share at least three quarters of their properties. The
/// description repeats a user, a repository or a pull request for each event and action with small drifts
/// (`user_view_type` on some copies, `Mannequin` in some users' `type`, `has_discussions` added to some
/// repositories, `state` listing `closed` in `issues.closed` and `open` in `issues.opened`). The kept type has every
/// property of both; it decodes every delivery either copy decodes, and a property is optional in it only where it
/// was optional (or absent) in a copy. Properties both copies have must agree on requiredness, nullability and type
/// (up to such enums), so nothing becomes looser than a copy declared it. Each event and action keeps its own
/// payload type. Runs after [`webhook_shapes`]; returns how many types were folded into another.
pub fn webhook_supersets(model: &mut Model) -> usize {
    let n = model.defs.len();
    let payloads: HashSet<usize> = model
        .webhooks
        .iter()
        .filter_map(|w| match w.ty {
            RType::Named(id) => Some(id),
            _ => None,
        })
        .collect();
    let eligible: Vec<bool> = model
        .defs
        .iter()
        .enumerate()
        .map(|(id, d)| {
            !d.request
                && d.features.len() == 1
                && d.features.contains(crate::lower::webhooks::FEATURE)
                && !payloads.contains(&id)
                && matches!(d.kind, DefKind::Struct(_) | DefKind::Enum(_))
        })
        .collect();
    let mut map: Vec<usize> = (0..n).collect();
    let mut merged = 0;
    loop {
        let mut changed = false;
        let candidates: Vec<usize> = (0..n)
            .filter(|&id| map[id] == id && eligible[id])
            .filter(|&id| matches!(model.defs[id].kind, DefKind::Struct(_)))
            .collect();
        let mut kept: Vec<usize> = Vec::new();
        for id in candidates {
            if map[id] != id {
                continue;
            }
            kept.retain(|&k| map[k] == k);
            let target = kept.iter().copied().find_map(|k| {
                let (DefKind::Struct(a), DefKind::Struct(b)) =
                    (&model.defs[k].kind, &model.defs[id].kind)
                else {
                    return None;
                };
                let cx = Cx {
                    map: &map,
                    eligible: &eligible,
                    defs: &model.defs,
                    avoid: [k, id],
                };
                let mut changes = Vec::new();
                cx.superset(a, b, 0, &mut changes).map(|f| (k, f, changes))
            });
            let Some((k, fields, changes)) = target else {
                kept.push(id);
                continue;
            };
            for change in changes {
                match change {
                    Change::Widen(t, f) => model.defs[find(&map, t)].kind = DefKind::Struct(f),
                    Change::Variants(t, v) => model.defs[find(&map, t)].kind = DefKind::Untagged(v),
                    Change::Replace(gone, keep) => {
                        let (gone, keep) = (find(&map, gone), find(&map, keep));
                        if gone != keep {
                            map[gone] = keep;
                            merged += 1;
                        }
                    }
                    Change::Union(keep, gone) => {
                        let (keep, gone) = (find(&map, keep), find(&map, gone));
                        if keep == gone {
                            continue;
                        }
                        let DefKind::Enum(extra) = model.defs[gone].kind.clone() else {
                            unreachable!("only enums are unified");
                        };
                        if let DefKind::Enum(values) = &mut model.defs[keep].kind {
                            for v in extra {
                                if !values.iter().any(|(_, j)| *j == v.1) {
                                    values.push(v);
                                }
                            }
                        }
                        map[gone] = keep;
                        merged += 1;
                    }
                }
            }
            if find(&map, k) != k || find(&map, id) != id {
                continue;
            }
            model.defs[k].kind = DefKind::Struct(fields);
            map[id] = k;
            merged += 1;
            changed = true;
            for i in 0..n {
                map[i] = find(&map, i);
            }
        }
        if !changed {
            break;
        }
    }
    remap(model, &map);
    // Widened types may no longer name the types they held before (a covered user, a smaller enum): only what the
    // payloads still reach is compiled.
    let hooks = [crate::lower::webhooks::FEATURE.to_string()];
    for d in &mut model.defs {
        if !d.request && d.features.iter().eq(hooks.iter()) {
            d.features.clear();
        }
    }
    crate::passes::features::mark_webhooks(model);
    merged
}

fn find(map: &[usize], mut id: usize) -> usize {
    while map[id] != id {
        id = map[id];
    }
    id
}

/// What merging two copies needs done to the types they hold.
enum Change {
    /// The second enum's values join the first's, and the second becomes the first.
    Union(usize, usize),
    /// A webhook-only object takes these properties (its own and another copy's), so that it covers that copy.
    Widen(usize, Vec<Field>),
    /// A webhook-only union takes these variants (each covering both copies' variant).
    Variants(usize, Vec<Variant>),
    /// A webhook-only type covered by another (the second) becomes it.
    Replace(usize, usize),
}

/// The state the comparisons read: `avoid` are the two types being merged (never widened on the way).
struct Cx<'a> {
    map: &'a [usize],
    eligible: &'a [bool],
    defs: &'a [TypeDef],
    avoid: [usize; 2],
}

impl Cx<'_> {
    /// The properties of one type holding both `a`'s and `b`'s, with what that needs of the types they hold, or
    /// `None` when a property both have differs, or one has a required property the other lacks.
    fn superset(
        &self,
        a: &[Field],
        b: &[Field],
        depth: usize,
        changes: &mut Vec<Change>,
    ) -> Option<Vec<Field>> {
        // Copies of one thing share nearly all their properties; two unrelated all-optional objects must not merge.
        if depth > 3 || a.len().min(b.len()) * 4 < a.len().max(b.len()) * 3 {
            return None;
        }
        let shared = a
            .iter()
            .filter(|f| b.iter().any(|g| g.json == f.json))
            .count();
        if depth > 3 || shared * 4 < a.len().max(b.len()) * 3 {
            return None;
        }
        let mut fields = Vec::with_capacity(a.len());
        for f in a {
            match b.iter().find(|g| g.json == f.json) {
                Some(g) => {
                    if f.required != g.required || f.nullable != g.nullable || f.rust != g.rust {
                        return None;
                    }
                    let ty = self.unify(&f.ty, &g.ty, depth, changes)?;
                    fields.push(Field { ty, ..f.clone() });
                }
                None if f.required => return None,
                None => fields.push(f.clone()),
            }
        }
        for g in b {
            if !a.iter().any(|f| f.json == g.json) {
                if g.required {
                    return None;
                }
                fields.push(g.clone());
            }
        }
        Some(fields)
    }

    /// One type for two property types that are one up to open string enums and optional properties: where one
    /// covers the other it is the answer; a webhook-only one is otherwise widened to cover both (two enums by
    /// joining their values, two objects by taking the other's properties).
    fn unify(
        &self,
        a: &RType,
        b: &RType,
        depth: usize,
        changes: &mut Vec<Change>,
    ) -> Option<RType> {
        match (a, b) {
            (RType::Vec(x), RType::Vec(y)) => {
                Some(RType::Vec(Box::new(self.unify(x, y, depth, changes)?)))
            }
            (RType::Option(x), RType::Option(y)) => {
                Some(RType::Option(Box::new(self.unify(x, y, depth, changes)?)))
            }
            (RType::Map(x), RType::Map(y)) => {
                Some(RType::Map(Box::new(self.unify(x, y, depth, changes)?)))
            }
            (RType::Named(x), RType::Named(y)) => {
                let (x, y) = (find(self.map, *x), find(self.map, *y));
                if x == y {
                    return Some(RType::Named(x));
                }
                let widen = |t: usize| self.eligible[t] && !self.avoid.contains(&t);
                for (wide, narrow) in [(x, y), (y, x)] {
                    if covers_ty(
                        &RType::Named(wide),
                        &RType::Named(narrow),
                        self.map,
                        self.defs,
                        0,
                    ) {
                        if widen(narrow) {
                            changes.push(Change::Replace(narrow, wide));
                        }
                        return Some(RType::Named(wide));
                    }
                }
                match (&self.defs[x].kind, &self.defs[y].kind) {
                    (DefKind::Struct(p), DefKind::Struct(q)) => {
                        let (t, own, other) = if widen(x) {
                            (x, p, q)
                        } else if widen(y) {
                            (y, q, p)
                        } else {
                            return None;
                        };
                        let mut inner = Vec::new();
                        let fields = self.superset(own, other, depth + 1, &mut inner)?;
                        changes.extend(inner);
                        changes.push(Change::Widen(t, fields));
                        Some(RType::Named(t))
                    }
                    (DefKind::Untagged(p), DefKind::Untagged(q)) if p.len() == q.len() => {
                        let (t, own, other) = if widen(x) {
                            (x, p, q)
                        } else if widen(y) {
                            (y, q, p)
                        } else {
                            return None;
                        };
                        let mut inner = Vec::new();
                        let mut variants = Vec::with_capacity(own.len());
                        for (v, w) in own.iter().zip(other) {
                            if v.name != w.name || depth > 3 {
                                return None;
                            }
                            let ty = self.unify(&v.ty, &w.ty, depth + 1, &mut inner)?;
                            variants.push(Variant {
                                name: v.name.clone(),
                                ty,
                            });
                        }
                        changes.extend(inner);
                        changes.push(Change::Variants(t, variants));
                        Some(RType::Named(t))
                    }
                    (DefKind::Enum(p), DefKind::Enum(q)) => {
                        // Two values spelled alike in Rust but not in JSON would make one enum ambiguous.
                        let clash = q
                            .iter()
                            .any(|(r, j)| p.iter().any(|(r2, j2)| r == r2 && j != j2));
                        if clash || !self.eligible[x] || !self.eligible[y] {
                            return None;
                        }
                        changes.push(Change::Union(x, y));
                        Some(RType::Named(x))
                    }
                    _ => None,
                }
            }
            (x, y) => (x == y).then(|| x.clone()),
        }
    }
}

/// Whether the object `a` decodes everything `b` does into the same values: `b`'s properties are all in `a`, of one
/// requiredness and nullability, with a type that covers `b`'s; `a`'s others are optional.
fn covers(a: &[Field], b: &[Field], map: &[usize], defs: &[TypeDef], depth: usize) -> bool {
    depth < 4
        && b.iter().all(|g| {
            a.iter().any(|f| {
                f.json == g.json
                    && f.required == g.required
                    && f.nullable == g.nullable
                    && covers_ty(&f.ty, &g.ty, map, defs, depth)
            })
        })
        && a.iter()
            .all(|f| !f.required || b.iter().any(|g| g.json == f.json))
}

fn covers_ty(a: &RType, b: &RType, map: &[usize], defs: &[TypeDef], depth: usize) -> bool {
    match (a, b) {
        (RType::Vec(x), RType::Vec(y))
        | (RType::Option(x), RType::Option(y))
        | (RType::Map(x), RType::Map(y)) => covers_ty(x, y, map, defs, depth),
        (RType::Named(x), RType::Named(y)) => {
            let (x, y) = (find(map, *x), find(map, *y));
            x == y
                || match (&defs[x].kind, &defs[y].kind) {
                    (DefKind::Enum(p), DefKind::Enum(q)) => q.iter().all(|v| p.contains(v)),
                    (DefKind::Struct(p), DefKind::Struct(q)) => covers(p, q, map, defs, depth + 1),
                    (DefKind::Untagged(p), DefKind::Untagged(q)) => {
                        depth < 4
                            && p.len() == q.len()
                            && p.iter().zip(q).all(|(v, w)| {
                                v.name == w.name && covers_ty(&v.ty, &w.ty, map, defs, depth + 1)
                            })
                    }
                    _ => false,
                }
        }
        (x, y) => x == y,
    }
}

/// Points every reference at the kept types of `map`.
fn remap(model: &mut Model, map: &[usize]) {
    for d in &mut model.defs {
        d.kind = remap_kind(&d.kind, map, true);
    }
    for op in &mut model.operations {
        for t in op.types_mut() {
            *t = t.remap(map);
        }
    }
    for w in &mut model.webhooks {
        w.ty = w.ty.remap(map);
    }
    // Error entries that became equal share one slot.
    let old = std::mem::take(&mut model.errors.entries);
    let slots: Vec<usize> = old
        .iter()
        .map(|t| model.errors.slot(&t.remap(map)))
        .collect();
    for op in &mut model.operations {
        for r in &mut op.responses {
            r.error_slot = r.error_slot.map(|s| slots[s]);
        }
    }
}

/// old id → kept id, found by repeating until no two types of one key and one shape remain; a type whose key is
/// `None` is kept as it is.
fn merge_map(model: &Model, key: impl Fn(&TypeDef) -> Option<String>) -> Vec<usize> {
    let n = model.defs.len();
    let mut map: Vec<usize> = (0..n).collect();
    loop {
        let mut seen: HashMap<(String, String), usize> = HashMap::new();
        let mut changed = false;
        for id in 0..n {
            if map[id] != id {
                continue;
            }
            let Some(base) = key(&model.defs[id]) else {
                continue;
            };
            let sig = format!("{:?}", remap_kind(&model.defs[id].kind, &map, false));
            match seen.get(&(base.clone(), sig.clone())) {
                Some(&keep) => {
                    map[id] = keep;
                    changed = true;
                }
                None => {
                    seen.insert((base, sig), id);
                }
            }
        }
        // Follow chains so every id points at a kept one.
        for id in 0..n {
            let mut t = map[id];
            while map[t] != t {
                t = map[t];
            }
            map[id] = t;
        }
        if !changed {
            return map;
        }
    }
}

fn remap_kind(k: &DefKind, map: &[usize], keep_docs: bool) -> DefKind {
    match k {
        DefKind::Struct(fields) => DefKind::Struct(
            fields
                .iter()
                .map(|f| Field {
                    ty: f.ty.remap(map),
                    doc: if keep_docs { f.doc.clone() } else { None },
                    ..f.clone()
                })
                .collect(),
        ),
        DefKind::Untagged(v) => DefKind::Untagged(
            v.iter()
                .map(|v| Variant {
                    name: v.name.clone(),
                    ty: v.ty.remap(map),
                })
                .collect(),
        ),
        o => o.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lower::schema::Schemas;
    use crate::model::RType;
    use serde_json::json;

    #[test]
    fn types_equal_once_their_members_merge_become_one() {
        // Two `Wrapper`s differ only by which of two identical `Inner`s they hold.
        let spec = json!({});
        let mut s = Schemas::new(&spec);
        let a = s.ty(
            &json!({"type": "object", "properties": {"x": {"type": "string"}}}),
            "inner",
        );
        let b = s.ty(&json!({"type": "object", "properties": {"x": {"type": "string"}, "y": {"type": "integer"}}}), "inner");
        let mut defs = s.defs;
        // Make the second `Inner` equal to the first, as a normalisation might have.
        defs[1].kind = defs[0].kind.clone();
        let wrap = |t: &RType, name: &str| crate::model::TypeDef {
            name: name.into(),
            kind: DefKind::Struct(vec![Field {
                json: "inner".into(),
                rust: "inner".into(),
                ty: t.clone(),
                required: true,
                nullable: false,
                doc: None,
                boxed: false,
            }]),
            doc: None,
            deprecated: false,
            request: false,
            response: false,
            features: Default::default(),
        };
        defs.push(wrap(&a, "Wrapper"));
        defs.push(wrap(&b, "Wrapper2"));
        let mut model = Model {
            defs,
            ..Model::default()
        };
        model.errors.slot(&RType::Named(3));
        model.errors.slot(&RType::Named(2));
        let map = merge_map(&model, |d| {
            Some(d.name.trim_end_matches(char::is_numeric).into())
        });
        assert_eq!(map, vec![0, 0, 2, 2]);
        run(&mut model);
        assert_eq!(model.errors.entries, vec![RType::Named(2)]);
    }

    #[test]
    fn webhook_payload_copies_of_one_shape_share_a_type() {
        let spec = json!({"paths": {"/r": {"get": {"operationId": "repos/get", "tags": ["repos"],
                "responses": {"200": {"content": {"application/json": {"schema": {"type": "object",
                    "properties": {"owner": {"type": "object", "properties": {"login": {"type": "string"}}}}}}}}}}}},
            "x-webhooks": {
                "issues-opened": {"post": {"operationId": "issues/opened", "requestBody": {"content": {
                    "application/json": {"schema": {"type": "object", "properties": {
                        "action": {"type": "string", "enum": ["opened"]},
                        "issue": {"type": "object", "description": "opened", "properties": {"id": {"type": "integer"},
                            "user": {"type": "object", "properties": {"login": {"type": "string"}}}}}}}}}}}},
                "issues-closed": {"post": {"operationId": "issues/closed", "requestBody": {"content": {
                    "application/json": {"schema": {"type": "object", "properties": {
                        "action": {"type": "string", "enum": ["closed"]},
                        "issue": {"type": "object", "description": "closed", "properties": {"id": {"type": "integer"},
                            "user": {"type": "object", "properties": {"login": {"type": "string"}}}}}}}}}}}}}});
        let mut model = crate::lower::lower(&spec).unwrap();
        crate::passes::features::run(&mut model);
        let merged = webhook_shapes(&mut model);
        let names: Vec<&str> = model.emitted().map(|(_, d)| d.name.as_str()).collect();
        // The two `issue`s (whose descriptions differ) and their `user`s are one type each (lowering already shares
        // inline shapes, so this pass may find nothing left to merge); the payloads, whose actions differ, stay two.
        // The REST type of the users' shape keeps its own name.
        assert!(merged <= 2, "{names:?}");
        assert!(names.contains(&"ReposGetResponseOwner"));
        assert_eq!(model.webhooks.len(), 2);
        assert_ne!(model.webhooks[0].ty, model.webhooks[1].ty);
        assert!(
            names.contains(&"WebhookIssuesOpenedIssue")
                && !names.contains(&"WebhookIssuesClosedIssue")
        );
    }

    #[test]
    fn webhook_copies_differing_in_optional_properties_and_enum_values_become_one() {
        // `issues.opened` and `issues.closed` each carry their own `issue` and `user`: the closed one's user has an
        // optional `user_view_type`, its `type` lists `Mannequin`, and its issue's `state` lists `closed` where the
        // opened one lists `open`. A `milestone` whose `title` is required in one copy and optional in the other
        // must stay two types.
        let user = |extra: bool| {
            let mut props = json!({"login": {"type": "string"},
                "type": {"type": "string", "enum": if extra { json!(["User", "Bot", "Mannequin"]) } else { json!(["User", "Bot"]) }}});
            if extra {
                props["user_view_type"] = json!({"type": "string"});
            }
            json!({"type": "object", "required": ["login"], "properties": props})
        };
        let payload = |action: &str, state: &str, extra: bool, title_required: bool| {
            json!({"post": {"operationId": format!("issues/{action}"), "requestBody": {"content": {
                "application/json": {"schema": {"type": "object", "required": ["action", "issue"], "properties": {
                    "action": {"type": "string", "enum": [action]},
                    "issue": {"type": "object", "title": action, "required": ["id", "state", "user"], "properties": {
                        "id": {"type": "integer"},
                        "state": {"type": "string", "enum": [state]},
                        "user": user(extra)}},
                    "milestone": {"type": "object", "title": action,
                        "required": if title_required { json!(["title"]) } else { json!([]) },
                        "properties": {"title": {"type": "string"}}}}}}}}}})
        };
        let spec = json!({"paths": {}, "x-webhooks": {
            "issues-opened": payload("opened", "open", false, true),
            "issues-closed": payload("closed", "closed", true, false)}});
        let mut model = crate::lower::lower(&spec).unwrap();
        crate::passes::features::run(&mut model);
        webhook_shapes(&mut model);
        let merged = webhook_supersets(&mut model);
        let defs: Vec<&TypeDef> = model.emitted().map(|(_, d)| d).collect();
        let structs = |pat: &str| -> Vec<&TypeDef> {
            defs.iter()
                .copied()
                .filter(|d| matches!(d.kind, DefKind::Struct(_)) && d.name.contains(pat))
                .collect()
        };
        assert!(
            merged >= 2,
            "{:?}",
            defs.iter().map(|d| &d.name).collect::<Vec<_>>()
        );
        // One issue type, whose user has every property of both copies and whose state lists both values.
        let issues = structs("IssueUser");
        assert_eq!(
            issues.len(),
            1,
            "{:?}",
            issues.iter().map(|d| &d.name).collect::<Vec<_>>()
        );
        let issues: Vec<&TypeDef> = structs("Issue")
            .into_iter()
            .filter(|d| d.name.ends_with("Issue"))
            .collect();
        assert_eq!(
            issues.len(),
            1,
            "{:?}",
            issues.iter().map(|d| &d.name).collect::<Vec<_>>()
        );
        let DefKind::Struct(fields) = &issues[0].kind else {
            unreachable!()
        };
        let field =
            |fields: &[Field], name: &str| fields.iter().find(|f| f.json == name).cloned().unwrap();
        let RType::Named(state) = field(fields, "state").ty else {
            panic!()
        };
        let DefKind::Enum(values) = &model.defs[state].kind else {
            panic!()
        };
        let mut values: Vec<&str> = values.iter().map(|(_, j)| j.as_str()).collect();
        values.sort();
        assert_eq!(values, ["closed", "open"]);
        assert!(field(fields, "state").required);
        let RType::Named(user) = field(fields, "user").ty else {
            panic!()
        };
        let DefKind::Struct(user) = &model.defs[user].kind else {
            panic!()
        };
        assert!(!field(user, "user_view_type").required);
        assert!(field(user, "login").required);
        let RType::Named(kind) = field(user, "type").ty.unwrap_option().clone() else {
            panic!()
        };
        let DefKind::Enum(kinds) = &model.defs[kind].kind else {
            panic!()
        };
        assert_eq!(kinds.len(), 3);
        // The milestones disagree on whether `title` is required: nothing becomes looser, so two types stay.
        assert_eq!(structs("Milestone").len(), 2);
        // Each action keeps its own payload type.
        assert_ne!(model.webhooks[0].ty, model.webhooks[1].ty);
    }
}
