//! Views to Marketo's JSON shapes.

use crate::backend::{ActivityView, AttributeView, TypeView};
use crate::time::format_utc;
use serde_json::{json, Map, Value};

fn attribute_short(a: &AttributeView) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(a.name));
    m.insert("dataType".into(), json!(a.data_type));
    if !a.api_name.is_empty() {
        m.insert("apiName".into(), json!(a.api_name));
    }
    Value::Object(m)
}

fn attribute_full(a: &AttributeView) -> Value {
    let mut m = Map::new();
    m.insert("apiName".into(), json!(a.api_name));
    m.insert("name".into(), json!(a.name));
    if let Some(d) = &a.description {
        m.insert("description".into(), json!(d));
    }
    m.insert("dataType".into(), json!(a.data_type));
    Value::Object(m)
}

/// An item of `activities/types.json`.
pub(crate) fn activity_type(t: &TypeView) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(t.id));
    m.insert("name".into(), json!(t.name));
    if let Some(d) = &t.description {
        m.insert("description".into(), json!(d));
    }
    if t.custom && !t.api_name.is_empty() {
        m.insert("apiName".into(), json!(t.api_name));
    }
    if let Some(p) = &t.primary_attribute {
        m.insert("primaryAttribute".into(), attribute_short(p));
    }
    m.insert(
        "attributes".into(),
        Value::Array(t.attributes.iter().map(attribute_short).collect()),
    );
    Value::Object(m)
}

/// A `CustomActivityType` object.
pub(crate) fn custom_type(t: &TypeView) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(t.id));
    m.insert("apiName".into(), json!(t.api_name));
    m.insert("name".into(), json!(t.name));
    if let Some(d) = &t.description {
        m.insert("description".into(), json!(d));
    }
    if let Some(v) = &t.trigger_name {
        m.insert("triggerName".into(), json!(v));
    }
    if let Some(v) = &t.filter_name {
        m.insert("filterName".into(), json!(v));
    }
    if let Some(ms) = t.created_at_ms {
        m.insert("createdAt".into(), json!(format_utc(ms)));
    }
    if let Some(ms) = t.updated_at_ms {
        m.insert("updatedAt".into(), json!(format_utc(ms)));
    }
    m.insert("status".into(), json!(t.status.as_str()));
    if let Some(p) = &t.primary_attribute {
        m.insert("primaryAttribute".into(), attribute_full(p));
    }
    m.insert(
        "attributes".into(),
        Value::Array(t.attributes.iter().map(attribute_full).collect()),
    );
    Value::Object(m)
}

/// A value as the text Marketo shows for a primary attribute value.
pub(crate) fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// An activity record of `activities.json` (and of the query stream).
pub(crate) fn activity(a: &ActivityView) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(a.id));
    m.insert("marketoGUID".into(), json!(a.id.to_string()));
    m.insert("leadId".into(), json!(a.lead_id));
    m.insert("activityDate".into(), json!(format_utc(a.occurred_at_ms)));
    m.insert("activityTypeId".into(), json!(a.type_id));
    if let Some(c) = a.campaign_id {
        m.insert("campaignId".into(), json!(c));
    }
    if let Some(id) = a.primary_attribute_value_id {
        m.insert("primaryAttributeValueId".into(), json!(id));
    }
    if let Some(v) = &a.primary_attribute_value {
        m.insert("primaryAttributeValue".into(), json!(value_text(v)));
    }
    let attributes = a
        .attributes
        .iter()
        .map(|attr| {
            let mut o = Map::new();
            o.insert("name".into(), json!(attr.name));
            o.insert("value".into(), attr.value.clone());
            if let Some(api) = &attr.api_name {
                o.insert("apiName".into(), json!(api));
            }
            Value::Object(o)
        })
        .collect();
    m.insert("attributes".into(), Value::Array(attributes));
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{AttributeValueView, TypeStatus};

    #[test]
    fn activity_has_marketo_members() {
        let a = ActivityView {
            id: 7,
            lead_id: 42,
            occurred_at_ms: 1_473_936_780_000,
            type_id: 100_001,
            campaign_id: None,
            primary_attribute_value_id: Some(3),
            primary_attribute_value: Some(json!(12)),
            attributes: vec![AttributeValueView {
                name: "Size".into(),
                api_name: Some("size".into()),
                value: json!(3.5),
            }],
        };
        let v = activity(&a);
        assert_eq!(v["marketoGUID"], "7");
        assert_eq!(v["activityDate"], "2016-09-15T10:53:00Z");
        assert_eq!(v["primaryAttributeValue"], "12");
        assert_eq!(
            v["attributes"][0],
            json!({"name": "Size", "value": 3.5, "apiName": "size"})
        );
        assert!(v.get("campaignId").is_none());
    }

    #[test]
    fn custom_type_has_status_text() {
        let t = TypeView {
            id: 100_001,
            api_name: "a".into(),
            name: "A".into(),
            description: None,
            trigger_name: Some("t".into()),
            filter_name: Some("f".into()),
            primary_attribute: None,
            attributes: vec![],
            status: TypeStatus::ApprovedWithDraft,
            custom: true,
            created_at_ms: Some(0),
            updated_at_ms: None,
        };
        let v = custom_type(&t);
        assert_eq!(v["status"], "approved with draft");
        assert_eq!(v["createdAt"], "1970-01-01T00:00:00Z");
        assert_eq!(activity_type(&t)["apiName"], "a");
    }
}
