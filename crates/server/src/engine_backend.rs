//! [`Backend`] for `actlog::Engine`: the one place that knows the engine's API.

use crate::api::{ApiError, ErrorCode};
use crate::backend::{
    ActivityInput, ActivityView, AppendOutcome, AttributeInput, AttributeUpdate,
    AttributeValueView, AttributeView, Backend, ExportRequest, FilterSpec, PeopleView, QueryOrder,
    QueryPage, QueryRequest, ReadPage, ReadRequest, TypeInput, TypeStatus, TypeUpdate, TypeVersion,
    TypeView,
};
use actlog::model::{
    self as model, AttrRef, AttributeChanges, AttributeDefinition, Catalog, TypeChanges,
    TypeDefinition, TypeOrigin,
};
use actlog::query::{DateTime, Op, Time, TypeRef as QueryTypeRef};
use actlog::{
    Activity, ActivityType, DataType, Direction, Engine, Filter, NewActivity, Outcome, PersonId,
    QueryOptions, TypeId, TypeRef,
};

/// Delete Lead, which an export of all types leaves out (Marketo's rule).
const DELETE_LEAD_TYPE_ID: u32 = 37;
use serde_json::{json, Value};
use std::ops::ControlFlow;

/// The engine behind the HTTP API.
#[derive(Clone, Debug)]
pub struct EngineBackend {
    engine: Engine,
}

impl EngineBackend {
    /// Wraps an open engine.
    pub fn new(engine: Engine) -> EngineBackend {
        EngineBackend { engine }
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

/// A Marketo code string back to our enum; 611 for codes we do not know.
fn code_of(code: &str) -> ErrorCode {
    ErrorCode::from_code(code).unwrap_or(ErrorCode::SystemError)
}

fn model_error(e: &model::Error) -> ApiError {
    let code = match e {
        // Name clashes and rule breaks are business rules for a client.
        model::Error::ApiNameTaken(_)
        | model::Error::TriggerNameTaken(_)
        | model::Error::FilterNameTaken(_) => ErrorCode::BusinessRuleViolation,
        other => other.marketo_code().map_or(ErrorCode::InvalidData, code_of),
    };
    ApiError::new(code, e.to_string())
}

fn engine_error(e: actlog::Error) -> ApiError {
    match &e {
        actlog::Error::Model(m) => model_error(m),
        actlog::Error::Query(q) => ApiError::invalid_data(q.to_string()),
        actlog::Error::BatchTooLarge { .. } => ApiError::invalid_data(e.to_string()),
        // Clients retry 713 with backoff, which is what a lagging index needs.
        actlog::Error::IndexLagging { .. } => {
            ApiError::new(ErrorCode::TransientError, e.to_string())
        }
        _ => ApiError::new(ErrorCode::SystemError, e.to_string()),
    }
}

fn data_type(name: &str) -> Result<DataType, ApiError> {
    DataType::from_name(name).ok_or_else(|| ApiError::invalid_value(name, "dataType"))
}

fn attribute_view(a: &model::Attribute) -> AttributeView {
    AttributeView {
        api_name: a.api_name.clone(),
        name: a.name.clone(),
        description: a.description.clone(),
        data_type: a.data_type.as_str().to_owned(),
    }
}

fn status_view(s: model::TypeStatus) -> TypeStatus {
    match s {
        model::TypeStatus::Draft => TypeStatus::Draft,
        model::TypeStatus::Approved => TypeStatus::Approved,
        model::TypeStatus::ApprovedWithDraft => TypeStatus::ApprovedWithDraft,
        model::TypeStatus::Deleted => TypeStatus::Deleted,
    }
}

fn type_view(t: &ActivityType, version: &model::TypeVersion) -> TypeView {
    let custom = t.origin() == TypeOrigin::Custom;
    TypeView {
        id: t.id().get(),
        api_name: t.api_name().to_owned(),
        name: version.name.clone(),
        description: version.description.clone(),
        trigger_name: custom.then(|| version.trigger_name.clone()),
        filter_name: custom.then(|| version.filter_name.clone()),
        primary_attribute: Some(attribute_view(&version.primary)),
        attributes: version.attributes.iter().map(attribute_view).collect(),
        status: status_view(t.status()),
        custom,
        created_at_ms: custom.then(|| t.created_at_ms()),
        updated_at_ms: custom.then(|| t.updated_at_ms()),
    }
}

/// The approved version, or the draft of a never-approved type.
fn live_view(t: &ActivityType) -> TypeView {
    type_view(t, t.approved().unwrap_or_else(|| t.latest()))
}

fn attribute_definition(a: AttributeInput) -> Result<AttributeDefinition, ApiError> {
    let mut d = AttributeDefinition::new(a.api_name, a.name, data_type(&a.data_type)?);
    if let Some(desc) = a.description {
        d = d.description(desc);
    }
    Ok(d)
}

/// Renders a recorded activity with the names of its type's attributes.
fn activity_view(catalog: &Catalog, a: &Activity) -> ActivityView {
    let t = catalog.get(a.type_id);
    let attributes = a
        .attributes
        .iter()
        .map(|(id, value)| {
            let attr = t.and_then(|t| t.attribute_for_render(*id));
            AttributeValueView {
                name: attr.map_or_else(|| format!("attribute {}", id.get()), |x| x.name.clone()),
                api_name: attr.map(|x| x.api_name.clone()),
                value: value.to_json(),
            }
        })
        .collect();
    ActivityView {
        id: a.id.get(),
        lead_id: a.person.get(),
        occurred_at_ms: a.occurred_at_ms,
        type_id: a.type_id.get(),
        campaign_id: None,
        primary_attribute_value_id: None,
        primary_attribute_value: Some(a.primary.to_json()),
        attributes,
    }
}

/// Activities one query round may return to the HTTP layer at most.
const EXPORT_CHUNK_ACTIVITIES: usize = 1_000;

fn query_error(e: actlog::query::Error) -> ApiError {
    ApiError::invalid_data(e.to_string())
}

fn time_at(ms: i64) -> Option<Time> {
    DateTime::from_epoch_ms(ms).map(Time::DateTime)
}

fn types_clause(type_ids: &[u32]) -> Filter {
    Filter::Type(Op::In(
        type_ids.iter().map(|id| QueryTypeRef::Id(*id)).collect(),
    ))
}

fn direction(order: QueryOrder) -> Direction {
    match order {
        QueryOrder::Asc => Direction::Ascending,
        QueryOrder::Desc => Direction::Descending,
    }
}

impl EngineBackend {
    /// At most `limit` activities of `filter` after `cursor`, and the cursor after the last.
    fn run(
        &self,
        filter: &Filter,
        cursor: Option<String>,
        limit: usize,
        direction: Direction,
    ) -> Result<(Vec<Activity>, Option<String>), ApiError> {
        let options = QueryOptions {
            limit: Some(limit),
            cursor,
            direction,
            ..QueryOptions::default()
        };
        let mut results = self.engine.query(filter, options).map_err(engine_error)?;
        let mut out = Vec::with_capacity(limit.min(EXPORT_CHUNK_ACTIVITIES));
        for a in results.by_ref() {
            out.push(a.map_err(engine_error)?);
        }
        Ok((out, results.cursor()))
    }

    fn filter(&self, spec: &FilterSpec) -> Result<Filter, ApiError> {
        match spec {
            FilterSpec::Text(t) => actlog::query::parse_filter(t).map_err(query_error),
            FilterSpec::Json(v) => Filter::from_json(&v.to_string()).map_err(query_error),
        }
    }
}

impl Backend for EngineBackend {
    fn activity_types(&self) -> Result<Vec<TypeView>, ApiError> {
        Ok(self
            .engine
            .activity_types()
            .iter()
            .filter_map(|t| t.approved().map(|v| type_view(t, v)))
            .collect())
    }

    fn custom_types(&self) -> Result<Vec<TypeView>, ApiError> {
        Ok(self
            .engine
            .activity_types()
            .iter()
            .filter(|t| t.origin() == TypeOrigin::Custom)
            .map(live_view)
            .collect())
    }

    fn describe_type(&self, api_name: &str, version: TypeVersion) -> Result<TypeView, ApiError> {
        let t = self.engine.activity_type(api_name).ok_or_else(|| {
            ApiError::new(
                ErrorCode::ObjectNotFound,
                format!("activity type '{api_name}' not found"),
            )
        })?;
        Ok(match version {
            TypeVersion::Live => live_view(&t),
            TypeVersion::Draft => type_view(&t, t.latest()),
        })
    }

    fn create_type(&self, input: TypeInput) -> Result<TypeView, ApiError> {
        let def = TypeDefinition {
            api_name: input.api_name,
            name: input.name,
            description: input.description,
            trigger_name: input.trigger_name,
            filter_name: input.filter_name,
            primary_attribute: attribute_definition(input.primary_attribute)?,
            attributes: Vec::new(),
        };
        let t = self.engine.create_type(def).map_err(engine_error)?;
        Ok(type_view(&t, t.latest()))
    }

    fn update_type(&self, api_name: &str, u: TypeUpdate) -> Result<TypeView, ApiError> {
        let primary_attribute = match u.primary_attribute {
            None => None,
            Some(p) => Some(AttributeChanges {
                api_name: p.api_name,
                name: p.name,
                description: p.description,
                data_type: p.data_type.as_deref().map(data_type).transpose()?,
                indexed: None,
            }),
        };
        let changes = TypeChanges {
            name: u.name,
            description: u.description,
            trigger_name: u.trigger_name,
            filter_name: u.filter_name,
            primary_attribute,
        };
        let t = self
            .engine
            .update_type(api_name, changes)
            .map_err(engine_error)?;
        Ok(type_view(&t, t.latest()))
    }

    fn approve_type(&self, api_name: &str) -> Result<TypeView, ApiError> {
        let t = self.engine.approve_type(api_name).map_err(engine_error)?;
        Ok(live_view(&t))
    }

    fn discard_draft(&self, api_name: &str) -> Result<TypeView, ApiError> {
        let t = self.engine.discard_draft(api_name).map_err(engine_error)?;
        Ok(live_view(&t))
    }

    fn delete_type(&self, api_name: &str) -> Result<TypeView, ApiError> {
        let t = self.engine.delete_type(api_name).map_err(engine_error)?;
        Ok(live_view(&t))
    }

    fn add_attributes(
        &self,
        api_name: &str,
        attrs: Vec<AttributeInput>,
    ) -> Result<TypeView, ApiError> {
        let defs = attrs
            .into_iter()
            .map(attribute_definition)
            .collect::<Result<Vec<_>, _>>()?;
        let t = self
            .engine
            .add_attributes(api_name, defs)
            .map_err(engine_error)?;
        Ok(type_view(&t, t.latest()))
    }

    fn update_attributes(
        &self,
        api_name: &str,
        attrs: Vec<AttributeUpdate>,
    ) -> Result<TypeView, ApiError> {
        let changes = attrs
            .into_iter()
            .map(|a| {
                Ok(AttributeChanges {
                    api_name: Some(a.api_name),
                    name: a.name,
                    description: a.description,
                    data_type: a.data_type.as_deref().map(data_type).transpose()?,
                    indexed: None,
                })
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        let t = self
            .engine
            .update_attributes(api_name, changes)
            .map_err(engine_error)?;
        Ok(type_view(&t, t.latest()))
    }

    fn remove_attributes(
        &self,
        api_name: &str,
        api_names: Vec<String>,
    ) -> Result<TypeView, ApiError> {
        let t = self
            .engine
            .remove_attributes(api_name, api_names)
            .map_err(engine_error)?;
        Ok(type_view(&t, t.latest()))
    }

    fn append(&self, items: Vec<ActivityInput>) -> Result<Vec<AppendOutcome>, ApiError> {
        let news = items
            .into_iter()
            .map(|i| {
                let mut n = NewActivity::new(
                    PersonId(i.lead_id),
                    TypeRef::Id(TypeId(i.type_id)),
                    i.occurred_at_ms,
                );
                n.primary = Some(i.primary_attribute_value);
                n.attributes = i
                    .attributes
                    .into_iter()
                    .map(|a| {
                        let r = match (a.api_name, a.name) {
                            (Some(api), _) => AttrRef::ApiName(api),
                            (None, Some(name)) => AttrRef::Name(name),
                            (None, None) => AttrRef::ApiNameOrName(String::new()),
                        };
                        (r, a.value)
                    })
                    .collect();
                n.idempotency_key = i.idempotency_key;
                n
            })
            .collect();
        let outcomes = self.engine.append_batch(news).map_err(engine_error)?;
        Ok(outcomes
            .into_iter()
            .map(|o| match o {
                Outcome::Added { id } => AppendOutcome::Added { id: id.get() },
                Outcome::Duplicate { id } => AppendOutcome::Duplicate { id: id.get() },
                Outcome::Skipped { reasons } => AppendOutcome::Skipped {
                    reasons: reasons
                        .iter()
                        .map(|r| ApiError::new(code_of(r.code()), r.message()))
                        .collect(),
                },
            })
            .collect())
    }

    fn read(&self, r: &ReadRequest) -> Result<ReadPage, ApiError> {
        let catalog = self.engine.catalog();
        for id in &r.type_ids {
            if catalog.get(TypeId(*id)).is_none() {
                return Err(ApiError::invalid_data(format!(
                    "Invalid activity type id {id}"
                )));
            }
        }
        // The engine stores no primary attribute value ids, so an assetIds filter matches nothing.
        if !r.asset_ids.is_empty() {
            return Ok(ReadPage {
                activities: Vec::new(),
                resume: None,
                more: false,
            });
        }
        let mut clauses = vec![types_clause(&r.type_ids)];
        if !r.lead_ids.is_empty() {
            clauses.push(Filter::Person(Op::In(r.lead_ids.clone())));
        }
        if let Some(t) = time_at(r.since_ms) {
            clauses.push(Filter::Occurred(Op::Ge(t)));
        }
        let (hits, cursor) = self.run(
            &Filter::And(clauses),
            r.resume.clone(),
            r.limit,
            Direction::Ascending,
        )?;
        // A full page says more may follow; a short one that the scan reached the end.
        let more = hits.len() >= r.limit;
        let resume = if hits.is_empty() { None } else { cursor };
        Ok(ReadPage {
            activities: hits.iter().map(|a| activity_view(&catalog, a)).collect(),
            resume,
            more,
        })
    }

    fn export(
        &self,
        r: &ExportRequest,
        sink: &mut dyn FnMut(ActivityView) -> ControlFlow<()>,
    ) -> Result<(), ApiError> {
        let catalog = self.engine.catalog();
        let mut clauses = Vec::new();
        if !r.type_ids.is_empty() {
            clauses.push(types_clause(&r.type_ids));
        }
        match (time_at(r.start_ms), time_at(r.end_ms)) {
            (Some(a), Some(b)) => clauses.push(Filter::Occurred(Op::Between(a, b))),
            _ => return Err(ApiError::invalid_data("createdAt is out of range")),
        }
        let filter = Filter::And(clauses);
        let options = QueryOptions {
            limit: None,
            ..QueryOptions::default()
        };
        for a in self.engine.query(&filter, options).map_err(engine_error)? {
            let a = a.map_err(engine_error)?;
            if r.type_ids.is_empty() && a.type_id.get() == DELETE_LEAD_TYPE_ID {
                continue;
            }
            if sink(activity_view(&catalog, &a)).is_break() {
                break;
            }
        }
        Ok(())
    }

    fn query(&self, r: &QueryRequest) -> Result<QueryPage, ApiError> {
        let filter = self.filter(&r.filter)?;
        let catalog = self.engine.catalog();
        let (hits, cursor) = self.run(&filter, r.cursor.clone(), r.limit, direction(r.order))?;
        let cursor = if hits.is_empty() {
            r.cursor.clone()
        } else {
            cursor
        };
        Ok(QueryPage {
            activities: hits.iter().map(|a| activity_view(&catalog, a)).collect(),
            cursor,
        })
    }

    fn people(&self, list: &FilterSpec, ids_max: usize) -> Result<PeopleView, ApiError> {
        let people = match list {
            FilterSpec::Text(t) => self.engine.people_text(t),
            FilterSpec::Json(v) => self.engine.people_json(&v.to_string()),
        }
        .map_err(engine_error)?;
        Ok(PeopleView {
            count: people.count(),
            person_ids: people.iter().take(ids_max).map(PersonId::get).collect(),
        })
    }

    fn stats(&self) -> Result<Value, ApiError> {
        let s = self.engine.stats().map_err(engine_error)?;
        Ok(json!({
            "activities": s.activities,
            "firstId": s.first_id.get(),
            "nextId": s.next_id.get(),
            "segments": s.segments,
            "logBytes": s.log_bytes,
            "types": s.types,
            "customTypes": s.custom_types,
            "indexWatermark": s.index_watermark.get(),
            "indexLag": s.index_lag,
            "indexBytes": s.index_bytes,
            "indexerError": s.indexer_error,
        }))
    }

    fn sync(&self) -> Result<(), ApiError> {
        self.engine.sync().map_err(engine_error)
    }
}
