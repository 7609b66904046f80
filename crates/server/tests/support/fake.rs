//! An in-memory [`Backend`] with the engine's lifecycle rules, for testing the HTTP layer.

use actlog_server::backend::*;
use actlog_server::{ApiError, ErrorCode};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

pub const CUSTOM_TYPES_MAX: usize = 10;
pub const ATTRIBUTES_MAX: usize = 20;

#[derive(Clone, Debug)]
struct Def {
    api_name: String,
    name: String,
    description: Option<String>,
    trigger_name: String,
    filter_name: String,
    primary: AttributeView,
    attributes: Vec<AttributeView>,
}

#[derive(Clone, Debug)]
struct CustomType {
    id: u32,
    live: Option<Def>,
    draft: Option<Def>,
    deleted: bool,
    created_at_ms: i64,
}

#[derive(Default)]
struct State {
    types: Vec<CustomType>,
    activities: Vec<ActivityView>,
    keys: HashMap<String, u64>,
}

#[derive(Default)]
pub struct Fake {
    state: Mutex<State>,
    pub syncs: AtomicUsize,
}

fn not_found(api: &str) -> ApiError {
    ApiError::new(
        ErrorCode::ObjectNotFound,
        format!("Activity type not found: {api}"),
    )
}

fn standard_types() -> Vec<TypeView> {
    let attr = |name: &str, dt: &str| AttributeView {
        api_name: String::new(),
        name: name.into(),
        description: None,
        data_type: dt.into(),
    };
    vec![
        TypeView {
            id: 1,
            api_name: "visitWebpage".into(),
            name: "Visit Webpage".into(),
            description: Some("User visits a web page".into()),
            trigger_name: None,
            filter_name: None,
            primary_attribute: Some(attr("Webpage ID", "integer")),
            attributes: vec![
                attr("Client IP Address", "string"),
                attr("Webpage URL", "string"),
            ],
            status: TypeStatus::Approved,
            custom: false,
            created_at_ms: None,
            updated_at_ms: None,
        },
        TypeView {
            id: 37,
            api_name: "deleteLead".into(),
            name: "Delete Lead".into(),
            description: None,
            trigger_name: None,
            filter_name: None,
            primary_attribute: None,
            attributes: vec![],
            status: TypeStatus::Approved,
            custom: false,
            created_at_ms: None,
            updated_at_ms: None,
        },
    ]
}

impl CustomType {
    fn view(&self, def: &Def) -> TypeView {
        let status = match (&self.live, &self.draft, self.deleted) {
            (_, _, true) => TypeStatus::Deleted,
            (Some(_), Some(_), _) => TypeStatus::ApprovedWithDraft,
            (Some(_), None, _) => TypeStatus::Approved,
            (None, _, _) => TypeStatus::Draft,
        };
        TypeView {
            id: self.id,
            api_name: def.api_name.clone(),
            name: def.name.clone(),
            description: def.description.clone(),
            trigger_name: Some(def.trigger_name.clone()),
            filter_name: Some(def.filter_name.clone()),
            primary_attribute: Some(def.primary.clone()),
            attributes: def.attributes.clone(),
            status,
            custom: true,
            created_at_ms: Some(self.created_at_ms),
            updated_at_ms: Some(self.created_at_ms),
        }
    }

    fn current(&self) -> TypeView {
        match (&self.draft, &self.live) {
            (Some(d), _) | (None, Some(d)) => self.view(d),
            (None, None) => unreachable!("a type always has a version"),
        }
    }

    /// The draft, created from the live version when there is none.
    fn draft_mut(&mut self) -> &mut Def {
        if self.draft.is_none() {
            self.draft = self.live.clone();
        }
        self.draft.as_mut().expect("draft or live exists")
    }
}

fn check_type(dt: &str) -> Result<(), ApiError> {
    const TYPES: [&str; 11] = [
        "string", "boolean", "integer", "float", "link", "email", "currency", "date", "datetime",
        "phone", "text",
    ];
    if TYPES.contains(&dt) {
        Ok(())
    } else {
        Err(ApiError::invalid_value(dt, "dataType"))
    }
}

impl Fake {
    pub fn new() -> Fake {
        Fake::default()
    }

    pub fn activities(&self) -> Vec<ActivityView> {
        self.state.lock().unwrap().activities.clone()
    }

    fn with_type<T>(
        &self,
        api: &str,
        f: impl FnOnce(&mut CustomType) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let mut s = self.state.lock().unwrap();
        let t = s
            .types
            .iter_mut()
            .find(|t| !t.deleted && t.current().api_name == api)
            .ok_or_else(|| not_found(api))?;
        f(t)
    }
}

fn matches_time(a: &ActivityView, since: i64) -> bool {
    a.occurred_at_ms >= since
}

fn sorted(mut v: Vec<ActivityView>) -> Vec<ActivityView> {
    v.sort_by_key(|a| (a.occurred_at_ms, a.id));
    v
}

fn resume_of(a: &ActivityView) -> String {
    format!("{}:{}", a.occurred_at_ms, a.id)
}

fn parse_resume(s: &str) -> Result<(i64, u64), ApiError> {
    let (a, b) = s
        .split_once(':')
        .ok_or_else(|| ApiError::invalid_value(s, "cursor"))?;
    Ok((
        a.parse()
            .map_err(|_| ApiError::invalid_value(s, "cursor"))?,
        b.parse()
            .map_err(|_| ApiError::invalid_value(s, "cursor"))?,
    ))
}

impl Backend for Fake {
    fn activity_types(&self) -> Result<Vec<TypeView>, ApiError> {
        let s = self.state.lock().unwrap();
        let mut all = standard_types();
        all.extend(
            s.types
                .iter()
                .filter(|t| !t.deleted)
                .filter_map(|t| t.live.as_ref().map(|l| t.view(l))),
        );
        Ok(all)
    }

    fn custom_types(&self) -> Result<Vec<TypeView>, ApiError> {
        let s = self.state.lock().unwrap();
        Ok(s.types
            .iter()
            .filter(|t| !t.deleted)
            .map(|t| t.live.as_ref().map_or_else(|| t.current(), |l| t.view(l)))
            .collect())
    }

    fn describe_type(&self, api_name: &str, version: TypeVersion) -> Result<TypeView, ApiError> {
        self.with_type(api_name, |t| match version {
            TypeVersion::Draft => t
                .draft
                .as_ref()
                .map(|d| t.view(d))
                .ok_or_else(|| ApiError::new(ErrorCode::BusinessRuleViolation, "No draft")),
            TypeVersion::Live => Ok(t.live.as_ref().map_or_else(|| t.current(), |l| t.view(l))),
        })
    }

    fn create_type(&self, input: TypeInput) -> Result<TypeView, ApiError> {
        check_type(&input.primary_attribute.data_type)?;
        let mut s = self.state.lock().unwrap();
        if s.types.iter().filter(|t| !t.deleted).count() >= CUSTOM_TYPES_MAX {
            return Err(ApiError::code(ErrorCode::MaxActivityTypeLimit));
        }
        if s.types
            .iter()
            .any(|t| !t.deleted && t.current().api_name == input.api_name)
        {
            return Err(ApiError::new(
                ErrorCode::BusinessRuleViolation,
                "apiName already in use",
            ));
        }
        let p = input.primary_attribute;
        let def = Def {
            api_name: input.api_name,
            name: input.name,
            description: input.description,
            trigger_name: input.trigger_name,
            filter_name: input.filter_name,
            primary: AttributeView {
                api_name: p.api_name,
                name: p.name,
                description: p.description,
                data_type: p.data_type,
            },
            attributes: vec![],
        };
        let id = 100_001 + u32::try_from(s.types.len()).unwrap();
        let t = CustomType {
            id,
            live: None,
            draft: Some(def),
            deleted: false,
            created_at_ms: 1_700_000_000_000,
        };
        let v = t.current();
        s.types.push(t);
        Ok(v)
    }

    fn update_type(&self, api_name: &str, u: TypeUpdate) -> Result<TypeView, ApiError> {
        self.with_type(api_name, |t| {
            let d = t.draft_mut();
            if let Some(v) = u.name {
                d.name = v;
            }
            if let Some(v) = u.description {
                d.description = Some(v);
            }
            if let Some(v) = u.trigger_name {
                d.trigger_name = v;
            }
            if let Some(v) = u.filter_name {
                d.filter_name = v;
            }
            if let Some(p) = u.primary_attribute {
                if let Some(v) = p.name {
                    d.primary.name = v;
                }
                if let Some(v) = p.description {
                    d.primary.description = Some(v);
                }
            }
            Ok(t.current())
        })
    }

    fn approve_type(&self, api_name: &str) -> Result<TypeView, ApiError> {
        self.with_type(api_name, |t| {
            let d = t.draft.take().ok_or_else(|| {
                ApiError::new(ErrorCode::BusinessRuleViolation, "No draft to approve")
            })?;
            t.live = Some(d);
            Ok(t.current())
        })
    }

    fn discard_draft(&self, api_name: &str) -> Result<TypeView, ApiError> {
        self.with_type(api_name, |t| {
            if t.live.is_none() || t.draft.is_none() {
                return Err(ApiError::new(
                    ErrorCode::BusinessRuleViolation,
                    "No draft to discard",
                ));
            }
            t.draft = None;
            Ok(t.current())
        })
    }

    fn delete_type(&self, api_name: &str) -> Result<TypeView, ApiError> {
        self.with_type(api_name, |t| {
            t.deleted = true;
            Ok(t.current())
        })
    }

    fn add_attributes(
        &self,
        api_name: &str,
        attrs: Vec<AttributeInput>,
    ) -> Result<TypeView, ApiError> {
        for a in &attrs {
            check_type(&a.data_type)?;
        }
        self.with_type(api_name, |t| {
            let d = t.draft_mut();
            if d.attributes.len() + attrs.len() > ATTRIBUTES_MAX {
                return Err(ApiError::code(ErrorCode::MaxFieldLimit));
            }
            for a in attrs {
                if d.attributes.iter().any(|x| x.api_name == a.api_name) {
                    return Err(ApiError::new(
                        ErrorCode::BusinessRuleViolation,
                        "attribute exists",
                    ));
                }
                d.attributes.push(AttributeView {
                    api_name: a.api_name,
                    name: a.name,
                    description: a.description,
                    data_type: a.data_type,
                });
            }
            Ok(t.current())
        })
    }

    fn update_attributes(
        &self,
        api_name: &str,
        attrs: Vec<AttributeUpdate>,
    ) -> Result<TypeView, ApiError> {
        self.with_type(api_name, |t| {
            let d = t.draft_mut();
            for a in attrs {
                let x = d
                    .attributes
                    .iter_mut()
                    .find(|x| x.api_name == a.api_name)
                    .ok_or_else(|| {
                        ApiError::new(
                            ErrorCode::FieldNotFound,
                            format!("Field '{}' not found", a.api_name),
                        )
                    })?;
                if let Some(v) = a.name {
                    x.name = v;
                }
            }
            Ok(t.current())
        })
    }

    fn remove_attributes(&self, api_name: &str, names: Vec<String>) -> Result<TypeView, ApiError> {
        self.with_type(api_name, |t| {
            let d = t.draft_mut();
            for n in names {
                let i = d
                    .attributes
                    .iter()
                    .position(|x| x.api_name == n)
                    .ok_or_else(|| ApiError::new(ErrorCode::FieldNotFound, n.clone()))?;
                d.attributes.remove(i);
            }
            Ok(t.current())
        })
    }

    fn append(&self, items: Vec<ActivityInput>) -> Result<Vec<AppendOutcome>, ApiError> {
        let mut guard = self.state.lock().unwrap();
        // Split borrows: the type definitions are read while activities and keys grow.
        let State {
            types,
            activities,
            keys,
        } = &mut *guard;
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if let Some(k) = &item.idempotency_key {
                if let Some(id) = keys.get(k) {
                    out.push(AppendOutcome::Duplicate { id: *id });
                    continue;
                }
            }
            let def = types
                .iter()
                .find(|t| t.id == item.type_id && !t.deleted)
                .and_then(|t| t.live.as_ref());
            let Some(def) = def else {
                out.push(AppendOutcome::Skipped {
                    reasons: vec![ApiError::invalid_data(format!(
                        "Activity type {} is not an approved custom type",
                        item.type_id
                    ))],
                });
                continue;
            };
            let mut attributes = Vec::new();
            let mut reasons = Vec::new();
            for a in item.attributes {
                match def.attributes.iter().find(|x| {
                    Some(&x.api_name) == a.api_name.as_ref() || Some(&x.name) == a.name.as_ref()
                }) {
                    Some(x) => attributes.push(AttributeValueView {
                        name: x.name.clone(),
                        api_name: Some(x.api_name.clone()),
                        value: a.value,
                    }),
                    None => reasons.push(ApiError::new(
                        ErrorCode::FieldNotFound,
                        format!(
                            "Field '{}' not found",
                            a.api_name.or(a.name).unwrap_or_default()
                        ),
                    )),
                }
            }
            if !reasons.is_empty() {
                out.push(AppendOutcome::Skipped { reasons });
                continue;
            }
            let id = activities.len() as u64;
            activities.push(ActivityView {
                id,
                lead_id: item.lead_id,
                occurred_at_ms: item.occurred_at_ms,
                type_id: item.type_id,
                campaign_id: item.campaign_id,
                primary_attribute_value_id: item.primary_attribute_value_id,
                primary_attribute_value: Some(item.primary_attribute_value),
                attributes,
            });
            if let Some(k) = item.idempotency_key {
                keys.insert(k, id);
            }
            out.push(AppendOutcome::Added { id });
        }
        Ok(out)
    }

    fn read(&self, r: &ReadRequest) -> Result<ReadPage, ApiError> {
        let after = r.resume.as_deref().map(parse_resume).transpose()?;
        let s = self.state.lock().unwrap();
        let all = sorted(
            s.activities
                .iter()
                .filter(|a| r.type_ids.contains(&a.type_id))
                .filter(|a| r.lead_ids.is_empty() || r.lead_ids.contains(&a.lead_id))
                .filter(|a| {
                    r.asset_ids.is_empty()
                        || a.primary_attribute_value_id
                            .is_some_and(|x| r.asset_ids.contains(&x))
                })
                .filter(|a| matches_time(a, r.since_ms))
                .filter(|a| after.is_none_or(|k| (a.occurred_at_ms, a.id) > k))
                .cloned()
                .collect(),
        );
        let more = all.len() > r.limit;
        let activities: Vec<_> = all.into_iter().take(r.limit).collect();
        Ok(ReadPage {
            resume: activities.last().map(resume_of),
            activities,
            more,
        })
    }

    fn export(
        &self,
        r: &ExportRequest,
        sink: &mut dyn FnMut(ActivityView) -> ControlFlow<()>,
    ) -> Result<(), ApiError> {
        let rows = sorted(
            self.state
                .lock()
                .unwrap()
                .activities
                .iter()
                .filter(|a| {
                    if r.type_ids.is_empty() {
                        a.type_id != 37
                    } else {
                        r.type_ids.contains(&a.type_id)
                    }
                })
                .filter(|a| a.occurred_at_ms >= r.start_ms && a.occurred_at_ms <= r.end_ms)
                .cloned()
                .collect(),
        );
        for a in rows {
            if sink(a).is_break() {
                break;
            }
        }
        Ok(())
    }

    fn query(&self, r: &QueryRequest) -> Result<QueryPage, ApiError> {
        let type_ids: Vec<u32> = match &r.filter {
            FilterSpec::Json(v) => v
                .get("typeIds")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_u64())
                        .map(|x| x as u32)
                        .collect()
                })
                .unwrap_or_default(),
            FilterSpec::Text(t) if t == "bad" => return Err(ApiError::invalid_data("bad filter")),
            FilterSpec::Text(_) => vec![],
        };
        let skip: usize = r
            .cursor
            .as_deref()
            .map_or(Ok(0), str::parse)
            .map_err(|_| ApiError::invalid_value("cursor", "cursor"))?;
        let mut all = sorted(
            self.state
                .lock()
                .unwrap()
                .activities
                .iter()
                .filter(|a| type_ids.is_empty() || type_ids.contains(&a.type_id))
                .cloned()
                .collect(),
        );
        if r.order == QueryOrder::Desc {
            all.reverse();
        }
        let activities: Vec<_> = all.into_iter().skip(skip).take(r.limit).collect();
        let cursor = (!activities.is_empty()).then(|| (skip + activities.len()).to_string());
        Ok(QueryPage { activities, cursor })
    }

    fn people(&self, _list: &FilterSpec, ids_max: usize) -> Result<PeopleView, ApiError> {
        let mut ids: Vec<u64> = self
            .state
            .lock()
            .unwrap()
            .activities
            .iter()
            .map(|a| a.lead_id)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        Ok(PeopleView {
            count: ids.len() as u64,
            person_ids: ids.into_iter().take(ids_max).collect(),
        })
    }

    fn stats(&self) -> Result<Value, ApiError> {
        Ok(json!({ "activities": self.state.lock().unwrap().activities.len() }))
    }

    fn sync(&self) -> Result<(), ApiError> {
        self.syncs.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}
