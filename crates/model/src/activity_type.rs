//! Activity types: one kind of moment, its approved and draft versions and its lifecycle.

use crate::error::{shorten, Error, Result};
use crate::ids::{AttributeId, TypeId};
use crate::value::DataType;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::fmt;

/// Most secondary attributes a type may have (Marketo's limit, error 1028).
pub const ATTRIBUTES_MAX: usize = 20;
/// Longest API name, in characters.
pub const API_NAME_CHARS_MAX: usize = 255;
/// Longest display, trigger or filter name, in characters.
pub const NAME_CHARS_MAX: usize = 255;
/// Longest description, in characters.
pub const DESCRIPTION_CHARS_MAX: usize = 2_000;

/// An attribute as a user defines it, before the catalog gives it an id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttributeDefinition {
    /// API name: ASCII letters, digits and `_`, at least one letter.
    pub api_name: String,
    /// Display name: letters, digits, spaces and `_`, at least one letter.
    pub name: String,
    /// Optional description.
    pub description: Option<String>,
    /// Data type.
    pub data_type: DataType,
    /// Whether the index crate indexes this attribute's values. Primary attributes are
    /// always indexed.
    pub indexed: bool,
}

impl AttributeDefinition {
    /// A non-indexed attribute without description.
    pub fn new(api_name: impl Into<String>, name: impl Into<String>, data_type: DataType) -> Self {
        AttributeDefinition {
            api_name: api_name.into(),
            name: name.into(),
            description: None,
            data_type,
            indexed: false,
        }
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Marks the attribute as indexed.
    pub fn indexed(mut self) -> Self {
        self.indexed = true;
        self
    }
}

/// An attribute of an activity type, with its permanent id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribute {
    /// Never reused within its type.
    pub id: AttributeId,
    /// API name, the attribute's key in every command.
    pub api_name: String,
    /// Display name, which activities may also use to name the attribute.
    pub name: String,
    /// Optional description.
    pub description: Option<String>,
    /// Data type.
    pub data_type: DataType,
    /// Whether this is the type's primary attribute.
    pub is_primary: bool,
    /// Whether the index crate indexes this attribute's values (always for the primary).
    pub indexed: bool,
}

/// One version (approved or draft) of a type's definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeVersion {
    /// Display name, in the infinitive ("Attend Event").
    pub name: String,
    /// Optional description.
    pub description: Option<String>,
    /// Third-person present ("Attends Event"); unique among types.
    pub trigger_name: String,
    /// Third-person past ("Attended Event"); unique among types.
    pub filter_name: String,
    /// The primary attribute; every activity has a value for it.
    pub primary: Attribute,
    /// Up to [`ATTRIBUTES_MAX`] secondary attributes, all optional in activities.
    pub attributes: Vec<Attribute>,
}

impl TypeVersion {
    /// The primary attribute, then the secondary ones.
    pub fn all_attributes(&self) -> impl Iterator<Item = &Attribute> {
        std::iter::once(&self.primary).chain(self.attributes.iter())
    }

    /// The attribute (primary or secondary) with this id.
    pub fn attribute(&self, id: AttributeId) -> Option<&Attribute> {
        self.all_attributes().find(|a| a.id == id)
    }

    /// The attribute (primary or secondary) with this API name.
    pub fn attribute_by_api_name(&self, api_name: &str) -> Option<&Attribute> {
        self.find_attribute(|a| a.api_name == api_name)
            .map(|(_, a)| a)
    }

    /// The attribute (primary or secondary) with this display name.
    pub fn attribute_by_name(&self, name: &str) -> Option<&Attribute> {
        self.find_attribute(|a| a.name == name).map(|(_, a)| a)
    }

    /// The first attribute (primary or secondary) that `pred` picks, with its position in
    /// [`all_attributes`](Self::all_attributes).
    pub(crate) fn find_attribute(
        &self,
        pred: impl Fn(&Attribute) -> bool,
    ) -> Option<(usize, &Attribute)> {
        self.all_attributes().enumerate().find(|(_, a)| pred(a))
    }

    /// Checks everything that makes a version valid on its own: names, limits, unique
    /// attribute ids and names, exactly one primary.
    pub(crate) fn check(&self, type_id: TypeId) -> Result<()> {
        check_display_name("name", &self.name)?;
        check_free_text("triggerName", &self.trigger_name)?;
        check_free_text("filterName", &self.filter_name)?;
        check_description(self.description.as_deref())?;
        if self.attributes.len() > ATTRIBUTES_MAX {
            return Err(Error::TooManyAttributes {
                type_id,
                count: self.attributes.len(),
                max: ATTRIBUTES_MAX,
            });
        }
        let mut ids = HashSet::new();
        let mut api_names = HashSet::new();
        let mut names = HashSet::new();
        for (i, a) in self.all_attributes().enumerate() {
            check_api_name(&a.api_name)?;
            check_display_name("attribute name", &a.name)?;
            check_description(a.description.as_deref())?;
            if a.is_primary != (i == 0) {
                return Err(Error::InvalidEvent {
                    type_id,
                    reason: format!("attribute '{}' has the wrong primary flag", a.api_name),
                });
            }
            if i == 0 && !a.indexed {
                return Err(Error::InvalidEvent {
                    type_id,
                    reason: "the primary attribute is not indexed".into(),
                });
            }
            if !ids.insert(a.id) {
                return Err(Error::InvalidEvent {
                    type_id,
                    reason: format!("attribute id {} is used twice", a.id),
                });
            }
            if !api_names.insert(a.api_name.as_str()) {
                return Err(Error::DuplicateAttribute {
                    type_id,
                    field: "apiName",
                    value: a.api_name.clone(),
                });
            }
            if !names.insert(a.name.as_str()) {
                return Err(Error::DuplicateAttribute {
                    type_id,
                    field: "name",
                    value: a.name.clone(),
                });
            }
        }
        Ok(())
    }
}

fn invalid_name(field: &'static str, value: &str, reason: &'static str) -> Error {
    Error::InvalidName {
        field,
        value: shorten(value),
        reason,
    }
}

fn check_len(field: &'static str, value: &str, max: usize) -> Result<()> {
    if value.chars().take(max + 1).count() > max {
        return Err(invalid_name(field, value, "too long"));
    }
    Ok(())
}

/// API names: 1 to 255 ASCII letters, digits or `_`, at least one letter (Marketo says
/// "alphanumeric, containing at least one letter"; `_` admits the `_c` convention).
pub(crate) fn check_api_name(value: &str) -> Result<()> {
    let field = "apiName";
    if value.is_empty() {
        return Err(invalid_name(field, value, "must not be empty"));
    }
    check_len(field, value, API_NAME_CHARS_MAX)?;
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(invalid_name(
            field,
            value,
            "only ASCII letters, digits and '_' are allowed",
        ));
    }
    if !value.bytes().any(|b| b.is_ascii_alphabetic()) {
        return Err(invalid_name(field, value, "must contain a letter"));
    }
    Ok(())
}

/// Display names: "alphanumeric characters, spaces, and underscores and must contain at
/// least one letter" (reference §4.1).
fn check_display_name(field: &'static str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(invalid_name(field, value, "must not be blank"));
    }
    check_len(field, value, NAME_CHARS_MAX)?;
    if !value
        .chars()
        .all(|c| c.is_alphanumeric() || c == ' ' || c == '_')
    {
        return Err(invalid_name(
            field,
            value,
            "only letters, digits, spaces and '_' are allowed",
        ));
    }
    if !value.chars().any(char::is_alphabetic) {
        return Err(invalid_name(field, value, "must contain a letter"));
    }
    Ok(())
}

/// Trigger and filter names are human-readable sentences ("Attends an Event.").
fn check_free_text(field: &'static str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(invalid_name(field, value, "must not be blank"));
    }
    check_len(field, value, NAME_CHARS_MAX)?;
    if value.chars().any(char::is_control) {
        return Err(invalid_name(
            field,
            value,
            "control characters are not allowed",
        ));
    }
    Ok(())
}

fn check_description(value: Option<&str>) -> Result<()> {
    match value {
        Some(d) => check_len("description", d, DESCRIPTION_CHARS_MAX),
        None => Ok(()),
    }
}

/// Where a type is in its lifecycle, with Marketo's JSON names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TypeStatus {
    /// Created, never approved; accepts no activities.
    #[serde(rename = "draft")]
    Draft,
    /// Approved, accepts activities.
    #[serde(rename = "approved")]
    Approved,
    /// Approved, with pending changes in a draft.
    #[serde(rename = "approved with draft")]
    ApprovedWithDraft,
    /// Deleted: its activities stay readable, new ones are refused.
    #[serde(rename = "deleted")]
    Deleted,
}

impl TypeStatus {
    /// Marketo's name for the status.
    pub const fn as_str(self) -> &'static str {
        match self {
            TypeStatus::Draft => "draft",
            TypeStatus::Approved => "approved",
            TypeStatus::ApprovedWithDraft => "approved with draft",
            TypeStatus::Deleted => "deleted",
        }
    }
}

impl fmt::Display for TypeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a type ships with actlog or was defined by a user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TypeOrigin {
    /// One of Marketo's standard types, fixed and always approved.
    Standard,
    /// A custom type, with a lifecycle.
    Custom,
}

/// A new custom type as a user defines it (Marketo's create-type body).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeDefinition {
    /// Unique API name.
    pub api_name: String,
    /// Display name.
    pub name: String,
    /// Optional description.
    pub description: Option<String>,
    /// Trigger name.
    pub trigger_name: String,
    /// Filter name.
    pub filter_name: String,
    /// The primary attribute (its `indexed` flag is ignored: primaries are always indexed).
    pub primary_attribute: AttributeDefinition,
    /// Secondary attributes (Marketo adds them with separate calls; both ways work here).
    pub attributes: Vec<AttributeDefinition>,
}

/// The versions a type holds. Every type has at least one, so a type always has a
/// latest definition.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Versions {
    DraftOnly(TypeVersion),
    Approved(TypeVersion),
    ApprovedWithDraft {
        approved: TypeVersion,
        draft: TypeVersion,
    },
}

/// An activity type as the catalog holds it: identity, lifecycle and versions.
#[derive(Clone, Debug, PartialEq)]
pub struct ActivityType {
    pub(crate) id: TypeId,
    pub(crate) api_name: String,
    pub(crate) origin: TypeOrigin,
    pub(crate) versions: Versions,
    pub(crate) deleted: bool,
    pub(crate) created_at_ms: i64,
    pub(crate) updated_at_ms: i64,
    pub(crate) next_attribute_id: AttributeId,
    /// The last approved definition of every attribute ever approved, so that activities
    /// recorded under an older version still render after the attribute is removed.
    pub(crate) known: BTreeMap<AttributeId, Attribute>,
}

impl ActivityType {
    /// The type's id.
    pub fn id(&self) -> TypeId {
        self.id
    }

    /// The type's API name, fixed at creation.
    pub fn api_name(&self) -> &str {
        &self.api_name
    }

    /// Standard or custom.
    pub fn origin(&self) -> TypeOrigin {
        self.origin
    }

    /// Lifecycle status.
    pub fn status(&self) -> TypeStatus {
        match (&self.versions, self.deleted) {
            (_, true) => TypeStatus::Deleted,
            (Versions::DraftOnly(_), false) => TypeStatus::Draft,
            (Versions::Approved(_), false) => TypeStatus::Approved,
            (Versions::ApprovedWithDraft { .. }, false) => TypeStatus::ApprovedWithDraft,
        }
    }

    /// The approved (live) version, against which activities are validated.
    pub fn approved(&self) -> Option<&TypeVersion> {
        match &self.versions {
            Versions::DraftOnly(_) => None,
            Versions::Approved(v) | Versions::ApprovedWithDraft { approved: v, .. } => Some(v),
        }
    }

    /// The pending draft, if any.
    pub fn draft(&self) -> Option<&TypeVersion> {
        match &self.versions {
            Versions::DraftOnly(v) | Versions::ApprovedWithDraft { draft: v, .. } => Some(v),
            Versions::Approved(_) => None,
        }
    }

    /// The draft if there is one, else the approved version: what the next change edits.
    pub fn latest(&self) -> &TypeVersion {
        match &self.versions {
            Versions::DraftOnly(v)
            | Versions::Approved(v)
            | Versions::ApprovedWithDraft { draft: v, .. } => v,
        }
    }

    /// Display name of the latest version.
    pub fn name(&self) -> &str {
        &self.latest().name
    }

    /// Whether the type accepts activities: approved (possibly with a draft), not deleted.
    pub fn accepts_activities(&self) -> bool {
        !self.deleted && self.approved().is_some()
    }

    /// Creation time, ms since the epoch (0 for standard types).
    pub fn created_at_ms(&self) -> i64 {
        self.created_at_ms
    }

    /// Time of the last change, ms since the epoch.
    pub fn updated_at_ms(&self) -> i64 {
        self.updated_at_ms
    }

    /// The id the next new attribute gets; ids below it are never given again.
    pub fn next_attribute_id(&self) -> AttributeId {
        self.next_attribute_id
    }

    /// The attribute with this id as recorded activities should render it: from the
    /// approved version, else its last approved definition (a removed attribute).
    pub fn attribute_for_render(&self, id: AttributeId) -> Option<&Attribute> {
        self.approved()
            .and_then(|v| v.attribute(id))
            .or_else(|| self.known.get(&id))
    }

    /// Whether the type has ever been approved.
    pub fn ever_approved(&self) -> bool {
        !self.known.is_empty()
    }

    /// Checks that `draft` (with counter `next`) may follow this type's current state:
    /// attribute ids are never reused, approved attributes keep their API name and data
    /// type, the primary attribute keeps its identity once approved.
    pub(crate) fn check_successor(&self, draft: &TypeVersion, next: AttributeId) -> Result<()> {
        let type_id = self.id;
        if next < self.next_attribute_id {
            return Err(Error::InvalidEvent {
                type_id,
                reason: format!(
                    "attribute id counter went back from {} to {next}",
                    self.next_attribute_id
                ),
            });
        }
        if let Some(approved) = self.approved() {
            let p = &approved.primary;
            if draft.primary.id != p.id || draft.primary.api_name != p.api_name {
                return Err(Error::PrimaryLocked {
                    type_id,
                    field: "apiName",
                });
            }
            if draft.primary.data_type != p.data_type {
                return Err(Error::PrimaryLocked {
                    type_id,
                    field: "dataType",
                });
            }
        }
        let latest = self.latest();
        for a in draft.all_attributes() {
            if let Some(was) = self.known.get(&a.id) {
                if was.api_name != a.api_name {
                    return Err(Error::InvalidEvent {
                        type_id,
                        reason: format!("approved attribute {} changed its API name", a.id),
                    });
                }
                if was.data_type != a.data_type {
                    return Err(Error::DataTypeLocked {
                        type_id,
                        api_name: a.api_name.clone(),
                        was: was.data_type,
                    });
                }
            } else if a.id < self.next_attribute_id {
                if latest.attribute(a.id).is_none() {
                    return Err(Error::InvalidEvent {
                        type_id,
                        reason: format!("attribute id {} is reused", a.id),
                    });
                }
            } else if a.id >= next {
                return Err(Error::InvalidEvent {
                    type_id,
                    reason: format!("attribute id {} is not below the counter {next}", a.id),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_names() {
        for good in ["attendConference", "a", "car_c", "x1", "A_1_b"] {
            check_api_name(good).unwrap();
        }
        for bad in [
            "",
            "123",
            "_",
            "has space",
            "dash-ed",
            "é",
            &"a".repeat(256),
        ] {
            assert!(
                matches!(
                    check_api_name(bad),
                    Err(Error::InvalidName {
                        field: "apiName",
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn display_names() {
        for good in [
            "Attend Conference",
            "Fill Out Form",
            "Número 1",
            "under_score",
        ] {
            check_display_name("name", good).unwrap();
        }
        for bad in [
            "",
            "   ",
            "123",
            "Attend-Conference",
            "Attend.",
            &"a".repeat(256),
        ] {
            assert!(check_display_name("name", bad).is_err(), "{bad}");
        }
        check_free_text("triggerName", "Attends an Event.").unwrap();
        assert!(check_free_text("triggerName", "a\nb").is_err());
    }

    #[test]
    fn status_names() {
        assert_eq!(
            serde_json::to_string(&TypeStatus::ApprovedWithDraft).unwrap(),
            "\"approved with draft\""
        );
        assert_eq!(TypeStatus::Deleted.to_string(), "deleted");
    }
}
