//! The JSON shapes of Marketo's activity API (reference §3.4, §3.7-3.9, §4), shared by
//! the CLI and the HTTP server: activities in and out, type definitions in and out.

use crate::activity::{Activity, AttrRef, NewActivity, SkipReason, TypeRef};
use crate::activity_type::{
    ActivityType, Attribute, AttributeDefinition, TypeDefinition, TypeStatus, TypeVersion,
};
use crate::catalog::{AttributeChanges, Catalog, TypeChanges};
use crate::error::{shorten, Error, Result};
use crate::ids::{PersonId, TypeId};
use crate::time;
use crate::value::{DataType, Value};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Error {
    Error::InvalidInput {
        field: field.into(),
        reason: reason.into(),
    }
}

/// An unsigned id given as a JSON number or a string of digits (Marketo clients do both).
fn unsigned(field: &str, v: &Json) -> Result<u64> {
    match v {
        Json::Number(n) => n
            .as_u64()
            .ok_or_else(|| invalid(field, format!("expected a non-negative integer, got {n}"))),
        Json::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s
            .parse()
            .map_err(|_| invalid(field, format!("'{}' is out of range", shorten(s)))),
        other => Err(invalid(
            field,
            format!("expected an integer, got {}", shorten(&other.to_string())),
        )),
    }
}

fn opt_string(obj: &Map<String, Json>, field: &str) -> Result<Option<String>> {
    match obj.get(field) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(invalid(
            field,
            format!("expected a string, got {}", shorten(&other.to_string())),
        )),
    }
}

/// Reads one activity in Marketo's add-custom-activity shape: `leadId`, `activityDate`,
/// `activityTypeId` or `apiName`, `primaryAttributeValue`, `attributes: [{apiName or
/// name, value}]`, and (an actlog extension) `idempotencyKey`. Unknown fields are
/// ignored, as Marketo clients send a few (`id`, `status`).
///
/// # Errors
///
/// [`Error::InvalidInput`] naming the field and what is wrong with it. Values are only
/// checked against their types later, by [`Catalog::validate`].
pub fn parse_activity(input: &Json) -> Result<NewActivity> {
    let obj = input
        .as_object()
        .ok_or_else(|| invalid("(activity)", "expected a JSON object"))?;
    let lead = obj
        .get("leadId")
        .ok_or_else(|| invalid("leadId", "missing"))?;
    let person = PersonId(unsigned("leadId", lead)?);
    let date = match obj.get("activityDate") {
        Some(Json::String(s)) => s,
        Some(_) => return Err(invalid("activityDate", "expected an ISO 8601 string")),
        None => return Err(invalid("activityDate", "missing")),
    };
    let occurred_at_ms = time::parse_datetime(date).map_err(|e| match e {
        Error::InvalidTime { input, reason } => {
            invalid("activityDate", format!("'{input}': {reason}"))
        }
        other => other,
    })?;
    let activity_type = match (obj.get("activityTypeId"), opt_string(obj, "apiName")?) {
        (Some(id), _) if !id.is_null() => {
            let id = unsigned("activityTypeId", id)?;
            TypeRef::Id(TypeId(
                u32::try_from(id).map_err(|_| invalid("activityTypeId", "out of range"))?,
            ))
        }
        (_, Some(api_name)) => TypeRef::ApiName(api_name),
        _ => {
            return Err(invalid(
                "activityTypeId",
                "missing (give activityTypeId or apiName)",
            ))
        }
    };
    let primary = obj
        .get("primaryAttributeValue")
        .filter(|v| !v.is_null())
        .cloned();
    let mut attributes = Vec::new();
    match obj.get("attributes") {
        None | Some(Json::Null) => {}
        Some(Json::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let field = |f: &str| format!("attributes[{i}].{f}");
                let a = item
                    .as_object()
                    .ok_or_else(|| invalid(format!("attributes[{i}]"), "expected a JSON object"))?;
                let attr_ref = match (opt_string(a, "apiName")?, opt_string(a, "name")?) {
                    (Some(api), _) => AttrRef::ApiName(api),
                    (None, Some(name)) => AttrRef::Name(name),
                    (None, None) => {
                        return Err(invalid(field("apiName"), "missing (give apiName or name)"))
                    }
                };
                let value = a
                    .get("value")
                    .ok_or_else(|| invalid(field("value"), "missing"))?;
                attributes.push((attr_ref, value.clone()));
            }
        }
        Some(_) => return Err(invalid("attributes", "expected an array")),
    }
    Ok(NewActivity {
        person,
        activity_type,
        occurred_at_ms,
        primary,
        attributes,
        idempotency_key: opt_string(obj, "idempotencyKey")?,
    })
}

/// [`parse_activity`] on JSON text (one line of an ingest file).
///
/// # Errors
///
/// [`Error::InvalidInput`] for malformed JSON (with line and column) or a bad shape.
pub fn parse_activity_str(text: &str) -> Result<NewActivity> {
    let json: Json = serde_json::from_str(text).map_err(|e| invalid("(json)", e.to_string()))?;
    parse_activity(&json)
}

/// One attribute of an activity in Marketo's output shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttributeValueJson {
    /// The attribute's display name.
    pub name: String,
    /// The value (numbers and booleans as JSON, dates as text).
    pub value: Json,
    /// The attribute's API name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_name: Option<String>,
}

/// An activity in Marketo's output shape (Get Lead Activities).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivityJson {
    /// The activity id.
    pub id: u64,
    /// The id again, as a string (Marketo's replacement for `id`).
    #[serde(rename = "marketoGUID")]
    pub marketo_guid: String,
    /// The person.
    pub lead_id: u64,
    /// `YYYY-MM-DDTHH:MM:SSZ`.
    pub activity_date: String,
    /// The type.
    pub activity_type_id: u32,
    /// The primary value when it is an id (an integer primary attribute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_attribute_value_id: Option<i64>,
    /// The primary value as text.
    pub primary_attribute_value: String,
    /// The secondary values, by display name.
    pub attributes: Vec<AttributeValueJson>,
}

/// Renders an activity in Marketo's output shape, naming attributes from the catalog: the
/// approved version's names, or the last approved name of a removed attribute.
pub fn render_activity(catalog: &Catalog, activity: &Activity) -> ActivityJson {
    let ty = catalog.get(activity.type_id);
    let attributes = activity
        .attributes
        .iter()
        .map(|(id, v)| {
            let attr = ty.and_then(|t| t.attribute_for_render(*id));
            AttributeValueJson {
                name: attr.map_or_else(|| format!("Attribute {id}"), |a| a.name.clone()),
                value: v.to_json(),
                api_name: attr.map(|a| a.api_name.clone()),
            }
        })
        .collect();
    ActivityJson {
        id: activity.id.0,
        marketo_guid: activity.id.0.to_string(),
        lead_id: activity.person.0,
        activity_date: time::format_datetime_utc(activity.occurred_at_ms),
        activity_type_id: activity.type_id.0,
        primary_attribute_value_id: match activity.primary {
            Value::Integer(i) => Some(i64::from(i)),
            _ => None,
        },
        primary_attribute_value: activity.primary.to_string(),
        attributes,
    }
}

/// A record-level error, `{"code": "1006", "message": "..."}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasonJson {
    /// Marketo error code, a quoted integer.
    pub code: String,
    /// Human-readable message.
    pub message: String,
}

impl From<&SkipReason> for ReasonJson {
    fn from(r: &SkipReason) -> Self {
        ReasonJson {
            code: r.code().to_owned(),
            message: r.message(),
        }
    }
}

/// An attribute in Marketo's type-definition shape, as sent to create or update
/// attributes. `name` and `dataType` are required when creating.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttributeJson {
    /// API name (the key in updates and deletes).
    pub api_name: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Data type name (`string`, `integer`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_type: Option<String>,
    /// Marketo's primary flag; only the type's primary attribute has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_primary: Option<bool>,
    /// actlog extension: whether the attribute's values are indexed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indexed: Option<bool>,
}

fn data_type(field: &str, name: Option<&str>) -> Result<Option<DataType>> {
    match name {
        None => Ok(None),
        Some(n) => DataType::from_name(n).map(Some).ok_or_else(|| {
            let all: Vec<_> = DataType::ALL.iter().map(|t| t.as_str()).collect();
            invalid(
                field,
                format!(
                    "unknown data type '{}'; expected one of {}",
                    shorten(n),
                    all.join(", ")
                ),
            )
        }),
    }
}

impl AttributeJson {
    /// A new secondary attribute (attributes/create.json). `dataType` is required, as in
    /// Marketo, except for the primary attribute, which defaults to `string`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] if `name` or `dataType` is missing or the type is unknown,
    /// or the attribute claims to be primary (change the primary with the type update).
    pub fn into_definition(self, field: &str) -> Result<AttributeDefinition> {
        if self.is_primary == Some(true) {
            return Err(invalid(
                format!("{field}.isPrimary"),
                "a new attribute cannot be primary; change the type's primaryAttribute instead",
            ));
        }
        let data_type = data_type(&format!("{field}.dataType"), self.data_type.as_deref())?
            .ok_or_else(|| invalid(format!("{field}.dataType"), "missing"))?;
        Ok(AttributeDefinition {
            name: self
                .name
                .ok_or_else(|| invalid(format!("{field}.name"), "missing"))?,
            api_name: self.api_name,
            description: self.description,
            data_type,
            indexed: self.indexed.unwrap_or(false),
        })
    }

    fn into_primary_definition(self) -> Result<AttributeDefinition> {
        let field = "primaryAttribute";
        Ok(AttributeDefinition {
            name: self
                .name
                .ok_or_else(|| invalid(format!("{field}.name"), "missing"))?,
            data_type: data_type(&format!("{field}.dataType"), self.data_type.as_deref())?
                .unwrap_or(DataType::String),
            api_name: self.api_name,
            description: self.description,
            indexed: true,
        })
    }

    /// Changes to an existing attribute (attributes/update.json), keyed by `apiName`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an unknown data type.
    pub fn into_changes(self, field: &str) -> Result<AttributeChanges> {
        Ok(AttributeChanges {
            data_type: data_type(&format!("{field}.dataType"), self.data_type.as_deref())?,
            api_name: Some(self.api_name),
            name: self.name,
            description: self.description,
            indexed: self.indexed,
        })
    }
}

/// A new custom type in Marketo's create-type shape.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypeDefinitionJson {
    /// API name.
    pub api_name: String,
    /// Display name.
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Trigger name.
    pub trigger_name: String,
    /// Filter name.
    pub filter_name: String,
    /// The primary attribute; `dataType` defaults to `string`.
    pub primary_attribute: AttributeJson,
    /// Secondary attributes (an actlog convenience; Marketo adds them separately).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<AttributeJson>,
}

impl TypeDefinitionJson {
    /// The definition to pass to [`Catalog::create_type`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a missing attribute name or an unknown data type.
    pub fn into_definition(self) -> Result<TypeDefinition> {
        let attributes = self
            .attributes
            .into_iter()
            .enumerate()
            .map(|(i, a)| a.into_definition(&format!("attributes[{i}]")))
            .collect::<Result<_>>()?;
        Ok(TypeDefinition {
            api_name: self.api_name,
            name: self.name,
            description: self.description,
            trigger_name: self.trigger_name,
            filter_name: self.filter_name,
            primary_attribute: self.primary_attribute.into_primary_definition()?,
            attributes,
        })
    }
}

/// The primary attribute part of an update, where every field is optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrimaryChangesJson {
    /// New API name (only before the first approval).
    #[serde(default)]
    pub api_name: Option<String>,
    /// New display name.
    #[serde(default)]
    pub name: Option<String>,
    /// New description.
    #[serde(default)]
    pub description: Option<String>,
    /// New data type (only before the first approval).
    #[serde(default)]
    pub data_type: Option<String>,
}

/// A partial update of a type in Marketo's update-type shape.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypeChangesJson {
    /// New display name.
    #[serde(default)]
    pub name: Option<String>,
    /// New description.
    #[serde(default)]
    pub description: Option<String>,
    /// New trigger name.
    #[serde(default)]
    pub trigger_name: Option<String>,
    /// New filter name.
    #[serde(default)]
    pub filter_name: Option<String>,
    /// Changes to the primary attribute.
    #[serde(default)]
    pub primary_attribute: Option<PrimaryChangesJson>,
}

impl TypeChangesJson {
    /// The changes to pass to [`Catalog::update_type`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an unknown data type.
    pub fn into_changes(self) -> Result<TypeChanges> {
        let primary_attribute = match self.primary_attribute {
            None => None,
            Some(p) => Some(AttributeChanges {
                data_type: data_type("primaryAttribute.dataType", p.data_type.as_deref())?,
                api_name: p.api_name,
                name: p.name,
                description: p.description,
                indexed: None,
            }),
        };
        Ok(TypeChanges {
            name: self.name,
            description: self.description,
            trigger_name: self.trigger_name,
            filter_name: self.filter_name,
            primary_attribute,
        })
    }
}

/// An attribute as types are described.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttributeOutJson {
    /// API name.
    pub api_name: String,
    /// Display name.
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Data type.
    pub data_type: DataType,
    /// Whether the attribute's values are indexed (an actlog extension).
    pub indexed: bool,
}

impl From<&Attribute> for AttributeOutJson {
    fn from(a: &Attribute) -> Self {
        AttributeOutJson {
            api_name: a.api_name.clone(),
            name: a.name.clone(),
            description: a.description.clone(),
            data_type: a.data_type,
            indexed: a.indexed,
        }
    }
}

/// A type in Marketo's describe shape.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivityTypeJson {
    /// Type id.
    pub id: u32,
    /// API name.
    pub api_name: String,
    /// Display name.
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Trigger name.
    pub trigger_name: String,
    /// Filter name.
    pub filter_name: String,
    /// `YYYY-MM-DDTHH:MM:SSZ`.
    pub created_at: String,
    /// `YYYY-MM-DDTHH:MM:SSZ`.
    pub updated_at: String,
    /// Lifecycle status.
    pub status: TypeStatus,
    /// The primary attribute.
    pub primary_attribute: AttributeOutJson,
    /// The secondary attributes.
    pub attributes: Vec<AttributeOutJson>,
}

/// Which version of a type to describe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TypeView {
    /// The approved version (Marketo's default), or the draft of a never-approved type.
    Approved,
    /// The draft (Marketo's `draft=true`), or the approved version if there is no draft.
    Draft,
}

/// Describes a type in Marketo's shape.
pub fn render_type(t: &ActivityType, view: TypeView) -> ActivityTypeJson {
    let v: &TypeVersion = match view {
        TypeView::Approved => t.approved().unwrap_or_else(|| t.latest()),
        TypeView::Draft => t.latest(),
    };
    ActivityTypeJson {
        id: t.id().0,
        api_name: t.api_name().to_owned(),
        name: v.name.clone(),
        description: v.description.clone(),
        trigger_name: v.trigger_name.clone(),
        filter_name: v.filter_name.clone(),
        created_at: time::format_datetime_utc(t.created_at_ms()),
        updated_at: time::format_datetime_utc(t.updated_at_ms()),
        status: t.status(),
        primary_attribute: (&v.primary).into(),
        attributes: v.attributes.iter().map(Into::into).collect(),
    }
}
