//! The storage operations the HTTP layer needs, as a trait, with plain data types.
//!
//! The server talks to storage only through [`Backend`], so the HTTP layer is tested
//! against an in-memory fake and the engine adapter is the one place that knows the
//! engine's API. Methods are blocking; the server calls them on tokio's blocking pool.

use crate::api::ApiError;
use serde::Deserialize;
use serde_json::Value;
use std::ops::ControlFlow;

/// Which version of a custom type to describe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TypeVersion {
    /// The approved (live) version.
    Live,
    /// The draft, if there is one.
    Draft,
}

/// A custom type's lifecycle state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TypeStatus {
    /// Created, never approved.
    Draft,
    /// Approved, no pending draft.
    Approved,
    /// Approved, with a pending draft.
    ApprovedWithDraft,
    /// Deleted.
    Deleted,
}

impl TypeStatus {
    /// Marketo's spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            TypeStatus::Draft => "draft",
            TypeStatus::Approved => "approved",
            TypeStatus::ApprovedWithDraft => "approved with draft",
            TypeStatus::Deleted => "deleted",
        }
    }
}

/// An attribute of an activity type, as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttributeView {
    /// API name (Marketo omits it for some standard attributes; empty then).
    pub api_name: String,
    /// Display name.
    pub name: String,
    /// Optional description.
    pub description: Option<String>,
    /// Marketo data type name (`string`, `integer`, `datetime`, ...).
    pub data_type: String,
}

/// An activity type (standard or custom), as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeView {
    /// Type id.
    pub id: u32,
    /// API name.
    pub api_name: String,
    /// Display name.
    pub name: String,
    /// Optional description.
    pub description: Option<String>,
    /// Trigger name (custom types).
    pub trigger_name: Option<String>,
    /// Filter name (custom types).
    pub filter_name: Option<String>,
    /// The primary attribute, if the type has one.
    pub primary_attribute: Option<AttributeView>,
    /// Secondary attributes.
    pub attributes: Vec<AttributeView>,
    /// Lifecycle state.
    pub status: TypeStatus,
    /// Whether the type is user-defined.
    pub custom: bool,
    /// Creation time, Unix ms.
    pub created_at_ms: Option<i64>,
    /// Last change, Unix ms.
    pub updated_at_ms: Option<i64>,
}

fn default_data_type() -> String {
    "string".to_owned()
}

/// An attribute definition in a create request (`primaryAttribute`, `attributes/create`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AttributeInput {
    /// API name.
    pub api_name: String,
    /// Display name.
    pub name: String,
    /// Optional description.
    #[serde(default)]
    pub description: Option<String>,
    /// Data type; `string` when absent (Marketo's default for primary attributes).
    #[serde(default = "default_data_type")]
    pub data_type: String,
    /// Whether this attribute becomes the primary one.
    #[serde(default)]
    pub is_primary: Option<bool>,
}

/// A partial attribute in an update request; `apiName` names the attribute to change.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AttributeUpdate {
    /// API name of an existing attribute.
    pub api_name: String,
    /// New display name.
    #[serde(default)]
    pub name: Option<String>,
    /// New description.
    #[serde(default)]
    pub description: Option<String>,
    /// New data type.
    #[serde(default)]
    pub data_type: Option<String>,
    /// Promote or demote as primary.
    #[serde(default)]
    pub is_primary: Option<bool>,
}

/// A create-custom-type request.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TypeInput {
    /// API name.
    pub api_name: String,
    /// Display name.
    pub name: String,
    /// Optional description.
    #[serde(default)]
    pub description: Option<String>,
    /// Trigger name.
    pub trigger_name: String,
    /// Filter name.
    pub filter_name: String,
    /// The primary attribute.
    pub primary_attribute: AttributeInput,
}

/// A primary attribute change inside an update-type request (every part optional).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PrimaryAttributeUpdate {
    /// API name.
    #[serde(default)]
    pub api_name: Option<String>,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Data type.
    #[serde(default)]
    pub data_type: Option<String>,
}

/// An update-custom-type request: only the members given change.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TypeUpdate {
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
    /// Primary attribute changes.
    #[serde(default)]
    pub primary_attribute: Option<PrimaryAttributeUpdate>,
}

/// One attribute value of an activity to add, named by display name or API name.
#[derive(Clone, Debug, PartialEq)]
pub struct AttributeValueInput {
    /// Display name, if given.
    pub name: Option<String>,
    /// API name, if given.
    pub api_name: Option<String>,
    /// The value as sent.
    pub value: Value,
}

/// One activity to add, already checked for presence and form of its members.
#[derive(Clone, Debug, PartialEq)]
pub struct ActivityInput {
    /// The person (lead).
    pub lead_id: u64,
    /// When it happened, Unix ms.
    pub occurred_at_ms: i64,
    /// The activity type id.
    pub type_id: u32,
    /// The primary attribute's value.
    pub primary_attribute_value: Value,
    /// Optional id of the primary attribute's asset.
    pub primary_attribute_value_id: Option<u64>,
    /// Optional campaign id.
    pub campaign_id: Option<u64>,
    /// Secondary attribute values.
    pub attributes: Vec<AttributeValueInput>,
    /// Optional idempotency key (an actlog extension): a retried add is not recorded twice.
    pub idempotency_key: Option<String>,
}

/// What happened to one activity of an append.
#[derive(Clone, Debug, PartialEq)]
pub enum AppendOutcome {
    /// Recorded, with its id.
    Added {
        /// The new activity id.
        id: u64,
    },
    /// Already recorded under this idempotency key, with the original id.
    Duplicate {
        /// The id of the earlier activity.
        id: u64,
    },
    /// Not recorded, with the reasons.
    Skipped {
        /// Record-level errors (1xxx codes).
        reasons: Vec<ApiError>,
    },
}

/// An attribute value of a recorded activity.
#[derive(Clone, Debug, PartialEq)]
pub struct AttributeValueView {
    /// Display name.
    pub name: String,
    /// API name, when the type has one for this attribute.
    pub api_name: Option<String>,
    /// The value.
    pub value: Value,
}

/// A recorded activity, as the API shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct ActivityView {
    /// Activity id.
    pub id: u64,
    /// The person.
    pub lead_id: u64,
    /// When it happened, Unix ms.
    pub occurred_at_ms: i64,
    /// Type id.
    pub type_id: u32,
    /// Campaign id, if any.
    pub campaign_id: Option<u64>,
    /// Primary attribute asset id, if any.
    pub primary_attribute_value_id: Option<u64>,
    /// Primary attribute value, if any.
    pub primary_attribute_value: Option<Value>,
    /// Secondary attributes that have a value.
    pub attributes: Vec<AttributeValueView>,
}

/// A page request of activities in ascending (occurred_at, id) order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadRequest {
    /// Types to return (1 to 10).
    pub type_ids: Vec<u32>,
    /// Persons to restrict to (empty: all).
    pub lead_ids: Vec<u64>,
    /// Primary asset ids to restrict to (empty: all).
    pub asset_ids: Vec<u64>,
    /// Activities occurring at or after this time, Unix ms.
    pub since_ms: i64,
    /// Resume strictly after this backend cursor (from an earlier [`ReadPage::resume`]).
    pub resume: Option<String>,
    /// Page size, 1 to 300.
    pub limit: usize,
}

/// One page of activities.
#[derive(Clone, Debug, PartialEq)]
pub struct ReadPage {
    /// The activities, ascending.
    pub activities: Vec<ActivityView>,
    /// Cursor after the last activity returned (`None` when nothing was returned).
    pub resume: Option<String>,
    /// Whether more activities may follow right now.
    pub more: bool,
}

/// A bulk export's selection: activities occurring in `[start_ms, end_ms]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportRequest {
    /// Types to export (empty: all but Delete Lead).
    pub type_ids: Vec<u32>,
    /// First instant included, Unix ms.
    pub start_ms: i64,
    /// Last instant included, Unix ms.
    pub end_ms: i64,
}

/// A filter or smart list, as text or as its JSON form.
#[derive(Clone, Debug, PartialEq)]
pub enum FilterSpec {
    /// The text language.
    Text(String),
    /// The JSON form.
    Json(Value),
}

/// Ordering of a query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryOrder {
    /// Oldest first.
    Asc,
    /// Newest first.
    Desc,
}

/// One page of a filter query.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryRequest {
    /// The filter.
    pub filter: FilterSpec,
    /// Resume after this cursor.
    pub cursor: Option<String>,
    /// Page size.
    pub limit: usize,
    /// Order.
    pub order: QueryOrder,
}

/// A page of query results.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryPage {
    /// The activities.
    pub activities: Vec<ActivityView>,
    /// Cursor after the last activity returned, `None` when there was nothing.
    pub cursor: Option<String>,
}

/// A smart list's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeopleView {
    /// How many persons match.
    pub count: u64,
    /// The first matching person ids, ascending (at most the limit asked for).
    pub person_ids: Vec<u64>,
}

/// Storage as the HTTP layer sees it. Implemented for `actlog::Engine` and by test fakes.
///
/// Every method is blocking and may take a while; errors are API errors with Marketo codes.
pub trait Backend: Send + Sync + 'static {
    /// All activity types (standard and approved custom, live versions), for `types.json`.
    fn activity_types(&self) -> Result<Vec<TypeView>, ApiError>;
    /// Custom types (any state but deleted), their live version or the draft if never approved.
    fn custom_types(&self) -> Result<Vec<TypeView>, ApiError>;
    /// One custom type.
    fn describe_type(&self, api_name: &str, version: TypeVersion) -> Result<TypeView, ApiError>;
    /// Creates a custom type draft.
    fn create_type(&self, input: TypeInput) -> Result<TypeView, ApiError>;
    /// Changes a type's draft (creating the draft if the type is approved).
    fn update_type(&self, api_name: &str, update: TypeUpdate) -> Result<TypeView, ApiError>;
    /// Approves the draft.
    fn approve_type(&self, api_name: &str) -> Result<TypeView, ApiError>;
    /// Discards the draft.
    fn discard_draft(&self, api_name: &str) -> Result<TypeView, ApiError>;
    /// Deletes the type.
    fn delete_type(&self, api_name: &str) -> Result<TypeView, ApiError>;
    /// Adds attributes to the draft.
    fn add_attributes(
        &self,
        api_name: &str,
        attrs: Vec<AttributeInput>,
    ) -> Result<TypeView, ApiError>;
    /// Changes attributes in the draft.
    fn update_attributes(
        &self,
        api_name: &str,
        attrs: Vec<AttributeUpdate>,
    ) -> Result<TypeView, ApiError>;
    /// Removes attributes from the draft.
    fn remove_attributes(
        &self,
        api_name: &str,
        api_names: Vec<String>,
    ) -> Result<TypeView, ApiError>;
    /// Appends a batch: one outcome per input, in order; `Err` only if nothing was recorded.
    fn append(&self, items: Vec<ActivityInput>) -> Result<Vec<AppendOutcome>, ApiError>;
    /// One page of activities.
    fn read(&self, request: &ReadRequest) -> Result<ReadPage, ApiError>;
    /// Streams every selected activity in ascending order to `sink` until it breaks.
    fn export(
        &self,
        request: &ExportRequest,
        sink: &mut dyn FnMut(ActivityView) -> ControlFlow<()>,
    ) -> Result<(), ApiError>;
    /// One page of a filter query.
    fn query(&self, request: &QueryRequest) -> Result<QueryPage, ApiError>;
    /// Evaluates a smart list, returning at most `ids_max` ids.
    fn people(&self, list: &FilterSpec, ids_max: usize) -> Result<PeopleView, ApiError>;
    /// Storage statistics as a JSON object.
    fn stats(&self) -> Result<Value, ApiError>;
    /// Makes everything appended so far durable.
    fn sync(&self) -> Result<(), ApiError>;
}
