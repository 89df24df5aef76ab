//! The pagination shape of list operations.

use super::schema::Schemas;
use crate::model::{DefKind, Field, PageShape, Pagination, Param, ParamLocation, RType, Response};

/// Operations taking `per_page` in the query are paginated. Their 200 body is the array of items (`Array`), an object
/// wrapping one array (`Wrapper`, with its key), or an object whose items are a map keyed by subject (`Map`,
/// cursor-paginated bulk lists). A body that is one of several array shapes (`anyOf` of arrays) is an `Array` of a
/// new untagged item enum.
pub fn shape(
    schemas: &mut Schemas,
    params: &[Param],
    responses: &[Response],
) -> Option<Pagination> {
    if !params
        .iter()
        .any(|p| p.name == "per_page" && p.location == ParamLocation::Query)
    {
        return None;
    }
    let cursor = params
        .iter()
        .any(|p| p.name == "after" || p.name == "before");
    let ok = responses.iter().find(|r| r.status == 200)?;
    let (shape, item) = match ok.ty.as_ref()?.unwrap_option() {
        RType::Vec(item) => (PageShape::Array, (**item).clone()),
        RType::Named(id) => match schemas.defs[*id].kind.clone() {
            DefKind::Struct(fields) => wrapper(&fields)?,
            DefKind::Untagged(variants) => (PageShape::Array, union_item(schemas, *id, &variants)?),
            _ => return None,
        },
        _ => return None,
    };
    Some(Pagination {
        shape,
        item,
        cursor,
    })
}

/// The one array field of a wrapper (the required one when there are several), or else its map field.
fn wrapper(fields: &[Field]) -> Option<(PageShape, RType)> {
    let arrays: Vec<&Field> = fields
        .iter()
        .filter(|f| matches!(f.ty, RType::Vec(_)))
        .collect();
    let f = match arrays.as_slice() {
        [one] => *one,
        [] => {
            let m = fields
                .iter()
                .find(|f| matches!(f.ty, RType::Map(_) | RType::Object))?;
            let shape = PageShape::Map {
                items_key: m.json.clone(),
            };
            return Some((shape, m.ty.clone()));
        }
        many => many.iter().find(|f| f.required).copied()?,
    };
    let RType::Vec(item) = &f.ty else {
        return None;
    };
    let shape = PageShape::Wrapper {
        items_key: f.json.clone(),
    };
    Some((shape, (**item).clone()))
}

/// For a body that is one of several arrays: an untagged enum of their item types.
fn union_item(
    schemas: &mut Schemas,
    id: usize,
    variants: &[crate::model::Variant],
) -> Option<RType> {
    let mut items = Vec::new();
    for v in variants {
        let RType::Vec(item) = &v.ty else {
            return None;
        };
        let name = match &**item {
            RType::Named(d) => schemas.defs[*d].name.clone(),
            _ => v.name.clone(),
        };
        items.push((name, (**item).clone()));
    }
    let name = format!("{}-item", schemas.defs[id].name);
    Some(schemas.untagged_of(&name, items.into_iter()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn per_page() -> Param {
        Param {
            name: "per_page".into(),
            rust: "per_page".into(),
            location: ParamLocation::Query,
            required: false,
            ty: RType::I64,
            doc: None,
            explode: true,
        }
    }

    fn ok(ty: RType) -> Response {
        Response {
            status: 200,
            content_type: Some("application/json".into()),
            ty: Some(ty),
            error_slot: None,
            alternates: Vec::new(),
        }
    }

    #[test]
    fn arrays_wrappers_and_unions_of_arrays() {
        let spec = json!({"components": {"schemas": {"a": {"type": "object", "properties": {"x": {"type": "string"}}},
            "b": {"type": "object", "properties": {"y": {"type": "integer"}}}}}});
        let mut s = Schemas::new(&spec);
        let array = shape(
            &mut s,
            &[per_page()],
            &[ok(RType::Vec(Box::new(RType::I64)))],
        )
        .unwrap();
        assert_eq!((array.shape, array.item), (PageShape::Array, RType::I64));

        let wrapped = s.ty(&json!({"type": "object", "required": ["items"], "properties": {
            "total_count": {"type": "integer"}, "items": {"type": "array", "items": {"type": "string"}}}}), "search");
        let p = shape(&mut s, &[per_page()], &[ok(wrapped)]).unwrap();
        assert_eq!(
            p.shape,
            PageShape::Wrapper {
                items_key: "items".into()
            }
        );
        assert_eq!(p.item, RType::String);

        let union = s.ty(
            &json!({"anyOf": [
            {"type": "array", "items": {"$ref": "#/components/schemas/a"}},
            {"type": "array", "items": {"$ref": "#/components/schemas/b"}}]}),
            "mixed",
        );
        let p = shape(&mut s, &[per_page()], &[ok(union)]).unwrap();
        let RType::Named(item) = p.item else {
            panic!("a new item type")
        };
        assert_eq!(s.defs[item].name, "MixedItem");
        let DefKind::Untagged(vs) = &s.defs[item].kind else {
            panic!("untagged")
        };
        assert_eq!(
            vs.iter().map(|v| v.name.as_str()).collect::<Vec<_>>(),
            vec!["A", "B"]
        );
    }

    #[test]
    fn without_per_page_there_is_no_pagination() {
        let spec = json!({});
        let mut s = Schemas::new(&spec);
        assert!(shape(&mut s, &[], &[ok(RType::Vec(Box::new(RType::I64)))]).is_none());
    }
}
