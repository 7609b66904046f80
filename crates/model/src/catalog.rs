//! The event-sourced catalog of activity types.
//!
//! Commands (`create_type`, `approve`, ...) validate against the current state and return
//! the [`CatalogEvent`] to persist without changing anything; the engine writes the event
//! to the catalog log and then calls [`Catalog::apply`]. Replaying the log through `apply`
//! rebuilds the same state, and `apply` re-checks every event so a log that does not fit
//! is reported instead of producing a catalog that breaks its invariants. Commands take
//! the time as a parameter so the catalog is deterministic.

use crate::activity_type::{
    check_api_name, ActivityType, Attribute, AttributeDefinition, TypeDefinition, TypeOrigin,
    TypeStatus, TypeVersion, Versions, ATTRIBUTES_MAX,
};
use crate::error::{Error, Result};
use crate::ids::{AttributeId, TypeId};
use crate::standard::standard_types;
use crate::value::DataType;
use std::collections::{BTreeMap, HashMap};

/// A change to the catalog, as persisted in the catalog log.
#[derive(Clone, Debug, PartialEq)]
pub enum CatalogEvent {
    /// A custom type was created as a draft.
    TypeCreated {
        /// The new type's id.
        type_id: TypeId,
        /// Its API name.
        api_name: String,
        /// Its first definition.
        draft: TypeVersion,
        /// Its attribute id counter after creation.
        next_attribute_id: AttributeId,
        /// When, in ms since the epoch.
        at_ms: i64,
    },
    /// A type's draft was created or changed; holds the whole new draft.
    DraftChanged {
        /// The type.
        type_id: TypeId,
        /// The whole new draft.
        draft: TypeVersion,
        /// The attribute id counter after the change.
        next_attribute_id: AttributeId,
        /// When, in ms since the epoch.
        at_ms: i64,
    },
    /// The draft became the approved version.
    Approved {
        /// The type.
        type_id: TypeId,
        /// When, in ms since the epoch.
        at_ms: i64,
    },
    /// The draft was dropped; the approved version stays.
    DraftDiscarded {
        /// The type.
        type_id: TypeId,
        /// When, in ms since the epoch.
        at_ms: i64,
    },
    /// The type was deleted.
    Deleted {
        /// The type.
        type_id: TypeId,
        /// When, in ms since the epoch.
        at_ms: i64,
    },
}

impl CatalogEvent {
    /// The type the event is about.
    pub fn type_id(&self) -> TypeId {
        match self {
            CatalogEvent::TypeCreated { type_id, .. }
            | CatalogEvent::DraftChanged { type_id, .. }
            | CatalogEvent::Approved { type_id, .. }
            | CatalogEvent::DraftDiscarded { type_id, .. }
            | CatalogEvent::Deleted { type_id, .. } => *type_id,
        }
    }

    /// When the event happened, in ms since the epoch.
    pub fn at_ms(&self) -> i64 {
        match self {
            CatalogEvent::TypeCreated { at_ms, .. }
            | CatalogEvent::DraftChanged { at_ms, .. }
            | CatalogEvent::Approved { at_ms, .. }
            | CatalogEvent::DraftDiscarded { at_ms, .. }
            | CatalogEvent::Deleted { at_ms, .. } => *at_ms,
        }
    }
}

/// Changes to a type's own fields (Marketo's update-type body); `None` keeps a field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TypeChanges {
    /// New display name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New trigger name.
    pub trigger_name: Option<String>,
    /// New filter name.
    pub filter_name: Option<String>,
    /// Changes to the primary attribute.
    pub primary_attribute: Option<AttributeChanges>,
}

/// Changes to one attribute; `None` keeps a field. In [`Catalog::update_attributes`] the
/// `api_name` names the attribute; in [`TypeChanges::primary_attribute`] it renames the
/// primary attribute (allowed only before the first approval).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttributeChanges {
    /// The attribute's API name.
    pub api_name: Option<String>,
    /// New display name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New data type (refused for attributes that were ever approved).
    pub data_type: Option<DataType>,
    /// New indexed flag (ignored for the primary attribute, which is always indexed;
    /// refused for attributes that were ever approved, as the index would hold the
    /// values of only part of their activities).
    pub indexed: Option<bool>,
}

/// Catalog limits. `Default` follows Marketo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogOptions {
    /// Most live (not deleted) custom types. Default = 10, Marketo's usual allocation
    /// (error 1027 beyond it). Only commands enforce it, so lowering it never makes an
    /// existing catalog log unreadable.
    pub custom_types_max: usize,
}

impl Default for CatalogOptions {
    fn default() -> Self {
        CatalogOptions {
            custom_types_max: 10,
        }
    }
}

/// The activity types, standard and custom, and their lifecycle.
#[derive(Clone, Debug)]
pub struct Catalog {
    types: BTreeMap<TypeId, ActivityType>,
    by_api_name: HashMap<String, TypeId>,
    next_custom_id: u32,
    options: CatalogOptions,
}

impl Default for Catalog {
    fn default() -> Self {
        Catalog::new()
    }
}

fn attribute_from(def: AttributeDefinition, id: AttributeId, is_primary: bool) -> Attribute {
    Attribute {
        id,
        api_name: def.api_name,
        name: def.name,
        description: def.description,
        data_type: def.data_type,
        is_primary,
        indexed: is_primary || def.indexed,
    }
}

fn take_id(type_id: TypeId, next: &mut AttributeId) -> Result<AttributeId> {
    let id = *next;
    next.0 = next
        .0
        .checked_add(1)
        .ok_or(Error::AttributeIdsExhausted(type_id))?;
    Ok(id)
}

fn same_name(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

impl Catalog {
    /// A catalog holding the standard types, with Marketo's limits.
    pub fn new() -> Self {
        Catalog::with_options(CatalogOptions::default())
    }

    /// A catalog holding the standard types, with the given limits.
    pub fn with_options(options: CatalogOptions) -> Self {
        let mut catalog = Catalog {
            types: BTreeMap::new(),
            by_api_name: HashMap::new(),
            next_custom_id: TypeId::FIRST_CUSTOM.0,
            options,
        };
        for t in standard_types() {
            catalog.by_api_name.insert(t.api_name.clone(), t.id);
            catalog.types.insert(t.id, t);
        }
        catalog
    }

    /// The type with this id.
    pub fn get(&self, id: TypeId) -> Option<&ActivityType> {
        self.types.get(&id)
    }

    /// The type with this API name (deleted types keep theirs).
    pub fn by_api_name(&self, api_name: &str) -> Option<&ActivityType> {
        self.by_api_name
            .get(api_name)
            .and_then(|id| self.types.get(id))
    }

    /// Every type, deleted ones included, in id order.
    pub fn list(&self) -> impl Iterator<Item = &ActivityType> {
        self.types.values()
    }

    /// The type with this id, or [`Error::UnknownType`].
    pub fn type_or_err(&self, id: TypeId) -> Result<&ActivityType> {
        self.types.get(&id).ok_or(Error::UnknownType(id))
    }

    /// A custom type that is not deleted: the only kind commands may change.
    fn changeable(&self, id: TypeId) -> Result<&ActivityType> {
        let t = self.type_or_err(id)?;
        if t.origin == TypeOrigin::Standard {
            return Err(Error::StandardType(id));
        }
        if t.deleted {
            return Err(Error::TypeDeleted(id));
        }
        Ok(t)
    }

    /// Trigger and filter names identify a type in smart lists, so no two live types
    /// share one (compared ignoring case).
    fn check_unique_names(&self, id: TypeId, v: &TypeVersion) -> Result<()> {
        for other in self.types.values().filter(|t| t.id != id && !t.deleted) {
            for ov in [other.approved(), other.draft()].into_iter().flatten() {
                if same_name(&ov.trigger_name, &v.trigger_name) {
                    return Err(Error::TriggerNameTaken(v.trigger_name.clone()));
                }
                if same_name(&ov.filter_name, &v.filter_name) {
                    return Err(Error::FilterNameTaken(v.filter_name.clone()));
                }
            }
        }
        Ok(())
    }

    /// Validates a new custom type and returns its [`CatalogEvent::TypeCreated`].
    ///
    /// # Errors
    ///
    /// Invalid names, an API, trigger or filter name already used, more than
    /// [`ATTRIBUTES_MAX`] attributes, duplicate attribute names, or the custom type limit.
    pub fn create_type(&self, def: TypeDefinition, at_ms: i64) -> Result<CatalogEvent> {
        let live_custom = self
            .types
            .values()
            .filter(|t| t.origin == TypeOrigin::Custom && !t.deleted)
            .count();
        if live_custom >= self.options.custom_types_max {
            return Err(Error::TooManyCustomTypes {
                max: self.options.custom_types_max,
            });
        }
        let type_id = TypeId(self.next_custom_id);
        if self.next_custom_id == u32::MAX {
            return Err(Error::TypeIdsExhausted);
        }
        check_api_name(&def.api_name)?;
        if self.by_api_name.contains_key(&def.api_name) {
            return Err(Error::ApiNameTaken(def.api_name));
        }
        if def.attributes.len() > ATTRIBUTES_MAX {
            return Err(Error::TooManyAttributes {
                type_id,
                count: def.attributes.len(),
                max: ATTRIBUTES_MAX,
            });
        }
        let mut next = AttributeId(1);
        let primary = attribute_from(def.primary_attribute, take_id(type_id, &mut next)?, true);
        let mut attributes = Vec::with_capacity(def.attributes.len());
        for a in def.attributes {
            attributes.push(attribute_from(a, take_id(type_id, &mut next)?, false));
        }
        let draft = TypeVersion {
            name: def.name,
            description: def.description,
            trigger_name: def.trigger_name,
            filter_name: def.filter_name,
            primary,
            attributes,
        };
        draft.check(type_id)?;
        self.check_unique_names(type_id, &draft)?;
        Ok(CatalogEvent::TypeCreated {
            type_id,
            api_name: def.api_name,
            draft,
            next_attribute_id: next,
            at_ms,
        })
    }

    /// Runs `edit` on a copy of the latest version and returns the resulting
    /// [`CatalogEvent::DraftChanged`] if the new draft is valid.
    fn change_draft(
        &self,
        id: TypeId,
        at_ms: i64,
        edit: impl FnOnce(&ActivityType, &mut TypeVersion, &mut AttributeId) -> Result<()>,
    ) -> Result<CatalogEvent> {
        let t = self.changeable(id)?;
        let mut draft = t.latest().clone();
        let mut next = t.next_attribute_id;
        edit(t, &mut draft, &mut next)?;
        draft.check(id)?;
        self.check_unique_names(id, &draft)?;
        t.check_successor(&draft, next)?;
        Ok(CatalogEvent::DraftChanged {
            type_id: id,
            draft,
            next_attribute_id: next,
            at_ms,
        })
    }

    /// Changes a type's names, description or primary attribute in its draft (creating
    /// the draft from the approved version if there is none).
    ///
    /// # Errors
    ///
    /// Unknown, standard or deleted type; invalid or taken names; a change of the primary
    /// attribute's API name or data type after the first approval.
    pub fn update_type(
        &self,
        id: TypeId,
        changes: TypeChanges,
        at_ms: i64,
    ) -> Result<CatalogEvent> {
        self.change_draft(id, at_ms, |t, draft, _| {
            if let Some(name) = changes.name {
                draft.name = name;
            }
            if let Some(d) = changes.description {
                draft.description = Some(d);
            }
            if let Some(n) = changes.trigger_name {
                draft.trigger_name = n;
            }
            if let Some(n) = changes.filter_name {
                draft.filter_name = n;
            }
            if let Some(p) = changes.primary_attribute {
                let locked = t.ever_approved();
                let primary = &mut draft.primary;
                if let Some(api_name) = p.api_name {
                    if locked && api_name != primary.api_name {
                        return Err(Error::PrimaryLocked {
                            type_id: id,
                            field: "apiName",
                        });
                    }
                    primary.api_name = api_name;
                }
                if let Some(data_type) = p.data_type {
                    if locked && data_type != primary.data_type {
                        return Err(Error::PrimaryLocked {
                            type_id: id,
                            field: "dataType",
                        });
                    }
                    primary.data_type = data_type;
                }
                if let Some(name) = p.name {
                    primary.name = name;
                }
                if let Some(d) = p.description {
                    primary.description = Some(d);
                }
            }
            Ok(())
        })
    }

    /// Adds secondary attributes to a type's draft; each gets a new, never used id.
    ///
    /// # Errors
    ///
    /// Unknown, standard or deleted type; an API or display name already used in the type;
    /// more than [`ATTRIBUTES_MAX`] attributes in all.
    pub fn add_attributes(
        &self,
        id: TypeId,
        attributes: Vec<AttributeDefinition>,
        at_ms: i64,
    ) -> Result<CatalogEvent> {
        self.change_draft(id, at_ms, |_, draft, next| {
            let count = draft.attributes.len() + attributes.len();
            if count > ATTRIBUTES_MAX {
                return Err(Error::TooManyAttributes {
                    type_id: id,
                    count,
                    max: ATTRIBUTES_MAX,
                });
            }
            for a in attributes {
                let attr_id = take_id(id, next)?;
                draft.attributes.push(attribute_from(a, attr_id, false));
            }
            Ok(())
        })
    }

    /// Changes attributes in a type's draft, each named by its API name (which cannot
    /// change). The primary attribute may be named too, for its name and description.
    ///
    /// # Errors
    ///
    /// Unknown, standard or deleted type; an unknown attribute; a display name used twice;
    /// a data type change of an attribute that was ever approved.
    pub fn update_attributes(
        &self,
        id: TypeId,
        changes: Vec<AttributeChanges>,
        at_ms: i64,
    ) -> Result<CatalogEvent> {
        self.change_draft(id, at_ms, |t, draft, _| {
            for c in changes {
                let api_name = c.api_name.unwrap_or_default();
                let attr = if draft.primary.api_name == api_name {
                    &mut draft.primary
                } else {
                    draft
                        .attributes
                        .iter_mut()
                        .find(|a| a.api_name == api_name)
                        .ok_or_else(|| Error::UnknownAttribute {
                            type_id: id,
                            api_name: api_name.clone(),
                        })?
                };
                if let Some(data_type) = c.data_type {
                    if let Some(was) = t.known.get(&attr.id) {
                        if was.data_type != data_type {
                            return Err(if attr.is_primary {
                                Error::PrimaryLocked {
                                    type_id: id,
                                    field: "dataType",
                                }
                            } else {
                                Error::DataTypeLocked {
                                    type_id: id,
                                    api_name,
                                    was: was.data_type,
                                }
                            });
                        }
                    }
                    attr.data_type = data_type;
                }
                if let Some(name) = c.name {
                    attr.name = name;
                }
                if let Some(d) = c.description {
                    attr.description = Some(d);
                }
                if let Some(indexed) = c.indexed {
                    let indexed = attr.is_primary || indexed;
                    if let Some(was) = t.known.get(&attr.id) {
                        if was.indexed != indexed {
                            return Err(Error::IndexedLocked {
                                type_id: id,
                                api_name: attr.api_name.clone(),
                                was: was.indexed,
                            });
                        }
                    }
                    attr.indexed = indexed;
                }
            }
            Ok(())
        })
    }

    /// Removes secondary attributes, named by API name, from a type's draft. Their ids
    /// stay retired; recorded activities still render them by their last approved name.
    ///
    /// # Errors
    ///
    /// Unknown, standard or deleted type; an unknown attribute; the primary attribute.
    pub fn remove_attributes(
        &self,
        id: TypeId,
        api_names: &[String],
        at_ms: i64,
    ) -> Result<CatalogEvent> {
        self.change_draft(id, at_ms, |_, draft, _| {
            for api_name in api_names {
                if *api_name == draft.primary.api_name {
                    return Err(Error::CannotRemovePrimary {
                        type_id: id,
                        api_name: api_name.clone(),
                    });
                }
                let before = draft.attributes.len();
                draft.attributes.retain(|a| a.api_name != *api_name);
                if draft.attributes.len() == before {
                    return Err(Error::UnknownAttribute {
                        type_id: id,
                        api_name: api_name.clone(),
                    });
                }
            }
            Ok(())
        })
    }

    /// Makes a type's draft its approved version.
    ///
    /// # Errors
    ///
    /// Unknown, standard or deleted type; [`Error::NoDraft`] if there is no draft.
    pub fn approve(&self, id: TypeId, at_ms: i64) -> Result<CatalogEvent> {
        let t = self.changeable(id)?;
        if t.draft().is_none() {
            return Err(Error::NoDraft {
                type_id: id,
                status: t.status(),
            });
        }
        Ok(CatalogEvent::Approved { type_id: id, at_ms })
    }

    /// Drops a type's draft, keeping its approved version.
    ///
    /// # Errors
    ///
    /// Unknown, standard or deleted type; [`Error::NoDraft`] if there is no draft;
    /// [`Error::NeverApproved`] if the draft is all the type has.
    pub fn discard_draft(&self, id: TypeId, at_ms: i64) -> Result<CatalogEvent> {
        let t = self.changeable(id)?;
        match t.status() {
            TypeStatus::ApprovedWithDraft => {
                Ok(CatalogEvent::DraftDiscarded { type_id: id, at_ms })
            }
            TypeStatus::Draft => Err(Error::NeverApproved(id)),
            status => Err(Error::NoDraft {
                type_id: id,
                status,
            }),
        }
    }

    /// Deletes a type: it accepts no new activities and no changes; its API name stays
    /// reserved and its recorded activities stay readable.
    ///
    /// # Errors
    ///
    /// Unknown, standard or already deleted type.
    pub fn delete(&self, id: TypeId, at_ms: i64) -> Result<CatalogEvent> {
        self.changeable(id)?;
        Ok(CatalogEvent::Deleted { type_id: id, at_ms })
    }

    /// Applies an event, after a command or during replay, checking that it fits.
    ///
    /// Two rules are left to the commands: the custom type limit and the uniqueness of
    /// trigger and filter names across types. Both may change between versions or
    /// configurations, and a catalog log written under the old rules must still replay.
    ///
    /// # Errors
    ///
    /// The event does not fit the current state (the type is unknown or in the wrong
    /// state, an id is reused, a definition is invalid); the catalog is then unchanged.
    pub fn apply(&mut self, event: &CatalogEvent) -> Result<()> {
        match event {
            CatalogEvent::TypeCreated {
                type_id,
                api_name,
                draft,
                next_attribute_id,
                at_ms,
            } => {
                let id = *type_id;
                let invalid = |reason: &str| Error::InvalidEvent {
                    type_id: id,
                    reason: reason.to_owned(),
                };
                if !id.is_custom() {
                    return Err(invalid("a created type must have a custom id"));
                }
                if self.types.contains_key(&id) {
                    return Err(invalid("the type id is already used"));
                }
                check_api_name(api_name)?;
                if self.by_api_name.contains_key(api_name) {
                    return Err(Error::ApiNameTaken(api_name.clone()));
                }
                draft.check(id)?;
                if draft.all_attributes().any(|a| a.id >= *next_attribute_id) {
                    return Err(invalid("an attribute id is not below the counter"));
                }
                self.by_api_name.insert(api_name.clone(), id);
                self.types.insert(
                    id,
                    ActivityType {
                        id,
                        api_name: api_name.clone(),
                        origin: TypeOrigin::Custom,
                        versions: Versions::DraftOnly(draft.clone()),
                        deleted: false,
                        created_at_ms: *at_ms,
                        updated_at_ms: *at_ms,
                        next_attribute_id: *next_attribute_id,
                        known: BTreeMap::new(),
                    },
                );
                self.next_custom_id = self.next_custom_id.max(id.0.saturating_add(1));
                Ok(())
            }
            CatalogEvent::DraftChanged {
                type_id,
                draft,
                next_attribute_id,
                at_ms,
            } => {
                let t = self.changeable(*type_id)?;
                draft.check(*type_id)?;
                t.check_successor(draft, *next_attribute_id)?;
                let t = self.changeable_mut(*type_id)?;
                t.versions =
                    match std::mem::replace(&mut t.versions, Versions::DraftOnly(draft.clone())) {
                        Versions::DraftOnly(_) => Versions::DraftOnly(draft.clone()),
                        Versions::Approved(approved)
                        | Versions::ApprovedWithDraft { approved, .. } => {
                            Versions::ApprovedWithDraft {
                                approved,
                                draft: draft.clone(),
                            }
                        }
                    };
                t.next_attribute_id = *next_attribute_id;
                t.updated_at_ms = *at_ms;
                Ok(())
            }
            CatalogEvent::Approved { type_id, at_ms } => {
                self.approve(*type_id, *at_ms)?;
                let t = self.changeable_mut(*type_id)?;
                let placeholder = Versions::Approved(t.latest().clone());
                t.versions = match std::mem::replace(&mut t.versions, placeholder) {
                    Versions::DraftOnly(draft) | Versions::ApprovedWithDraft { draft, .. } => {
                        Versions::Approved(draft)
                    }
                    approved @ Versions::Approved(_) => approved,
                };
                if let Versions::Approved(v) = &t.versions {
                    for a in v.all_attributes() {
                        t.known.insert(a.id, a.clone());
                    }
                }
                t.updated_at_ms = *at_ms;
                Ok(())
            }
            CatalogEvent::DraftDiscarded { type_id, at_ms } => {
                self.discard_draft(*type_id, *at_ms)?;
                let t = self.changeable_mut(*type_id)?;
                let placeholder = Versions::Approved(t.latest().clone());
                t.versions = match std::mem::replace(&mut t.versions, placeholder) {
                    Versions::ApprovedWithDraft { approved, .. } => Versions::Approved(approved),
                    other => other,
                };
                t.updated_at_ms = *at_ms;
                Ok(())
            }
            CatalogEvent::Deleted { type_id, at_ms } => {
                let t = self.changeable_mut(*type_id)?;
                t.deleted = true;
                t.updated_at_ms = *at_ms;
                Ok(())
            }
        }
    }

    fn changeable_mut(&mut self, id: TypeId) -> Result<&mut ActivityType> {
        let t = self.types.get_mut(&id).ok_or(Error::UnknownType(id))?;
        if t.origin == TypeOrigin::Standard {
            return Err(Error::StandardType(id));
        }
        if t.deleted {
            return Err(Error::TypeDeleted(id));
        }
        Ok(t)
    }
}
