//! Catalog events (format 1), encoded with bincode 2 through serde: they are few and
//! small, so the schema-by-derive is worth more than speed here.

use super::{config, data_type_code, data_type_from_code, EVENT_FORMAT_VERSION, RECORD_BYTES_MAX};
use crate::activity_type::{Attribute, TypeVersion, ATTRIBUTES_MAX};
use crate::catalog::CatalogEvent;
use crate::error::{Error, Result};
use crate::ids::{AttributeId, TypeId};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct AttributeV1 {
    id: u16,
    api_name: String,
    name: String,
    description: Option<String>,
    /// [`data_type_code`].
    data_type: u8,
    is_primary: bool,
    indexed: bool,
}

#[derive(Serialize, Deserialize)]
struct VersionV1 {
    name: String,
    description: Option<String>,
    trigger_name: String,
    filter_name: String,
    primary: AttributeV1,
    attributes: Vec<AttributeV1>,
}

#[derive(Serialize, Deserialize)]
enum EventRecordV1 {
    TypeCreated {
        type_id: u32,
        api_name: String,
        draft: VersionV1,
        next_attribute_id: u16,
        at_ms: i64,
    },
    DraftChanged {
        type_id: u32,
        draft: VersionV1,
        next_attribute_id: u16,
        at_ms: i64,
    },
    Approved {
        type_id: u32,
        at_ms: i64,
    },
    DraftDiscarded {
        type_id: u32,
        at_ms: i64,
    },
    Deleted {
        type_id: u32,
        at_ms: i64,
    },
}

fn attribute_to_v1(a: &Attribute) -> AttributeV1 {
    AttributeV1 {
        id: a.id.0,
        api_name: a.api_name.clone(),
        name: a.name.clone(),
        description: a.description.clone(),
        data_type: data_type_code(a.data_type),
        is_primary: a.is_primary,
        indexed: a.indexed,
    }
}

fn version_to_v1(v: &TypeVersion) -> VersionV1 {
    VersionV1 {
        name: v.name.clone(),
        description: v.description.clone(),
        trigger_name: v.trigger_name.clone(),
        filter_name: v.filter_name.clone(),
        primary: attribute_to_v1(&v.primary),
        attributes: v.attributes.iter().map(attribute_to_v1).collect(),
    }
}

fn attribute_from_v1(a: AttributeV1) -> Result<Attribute, String> {
    Ok(Attribute {
        id: AttributeId(a.id),
        data_type: data_type_from_code(a.data_type)
            .ok_or_else(|| format!("unknown data type code {}", a.data_type))?,
        api_name: a.api_name,
        name: a.name,
        description: a.description,
        is_primary: a.is_primary,
        indexed: a.indexed,
    })
}

fn version_from_v1(v: VersionV1) -> Result<TypeVersion, String> {
    if v.attributes.len() > ATTRIBUTES_MAX {
        return Err(format!("{} attributes", v.attributes.len()));
    }
    Ok(TypeVersion {
        name: v.name,
        description: v.description,
        trigger_name: v.trigger_name,
        filter_name: v.filter_name,
        primary: attribute_from_v1(v.primary)?,
        attributes: v
            .attributes
            .into_iter()
            .map(attribute_from_v1)
            .collect::<Result<_, _>>()?,
    })
}

/// Appends the encoding of a catalog event to `out`.
///
/// # Errors
///
/// [`Error::Encode`] only if bincode fails, which it does not for in-memory output.
pub fn encode_event_into(event: &CatalogEvent, out: &mut Vec<u8>) -> Result<()> {
    let record = match event {
        CatalogEvent::TypeCreated {
            type_id,
            api_name,
            draft,
            next_attribute_id,
            at_ms,
        } => EventRecordV1::TypeCreated {
            type_id: type_id.0,
            api_name: api_name.clone(),
            draft: version_to_v1(draft),
            next_attribute_id: next_attribute_id.0,
            at_ms: *at_ms,
        },
        CatalogEvent::DraftChanged {
            type_id,
            draft,
            next_attribute_id,
            at_ms,
        } => EventRecordV1::DraftChanged {
            type_id: type_id.0,
            draft: version_to_v1(draft),
            next_attribute_id: next_attribute_id.0,
            at_ms: *at_ms,
        },
        CatalogEvent::Approved { type_id, at_ms } => EventRecordV1::Approved {
            type_id: type_id.0,
            at_ms: *at_ms,
        },
        CatalogEvent::DraftDiscarded { type_id, at_ms } => EventRecordV1::DraftDiscarded {
            type_id: type_id.0,
            at_ms: *at_ms,
        },
        CatalogEvent::Deleted { type_id, at_ms } => EventRecordV1::Deleted {
            type_id: type_id.0,
            at_ms: *at_ms,
        },
    };
    out.push(EVENT_FORMAT_VERSION);
    bincode::serde::encode_into_std_write(&record, out, config())
        .map_err(|e| Error::Encode(e.to_string()))?;
    Ok(())
}

/// The encoding of a catalog event.
///
/// # Errors
///
/// See [`encode_event_into`].
pub fn encode_event(event: &CatalogEvent) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(256);
    encode_event_into(event, &mut out)?;
    Ok(out)
}

/// Decodes a catalog event. Whether it fits the catalog is [`crate::Catalog::apply`]'s
/// business.
///
/// # Errors
///
/// [`Error::CorruptEvent`] if the bytes are not a well-formed event.
pub fn decode_event(bytes: &[u8]) -> Result<CatalogEvent> {
    let corrupt = |reason: String| Error::CorruptEvent {
        len_bytes: bytes.len(),
        reason,
    };
    if bytes.len() > RECORD_BYTES_MAX {
        return Err(corrupt(format!("longer than {RECORD_BYTES_MAX} bytes")));
    }
    let Some((&version, body)) = bytes.split_first() else {
        return Err(corrupt("empty record".into()));
    };
    if version != EVENT_FORMAT_VERSION {
        return Err(corrupt(format!("unknown format version {version}")));
    }
    let (record, read): (EventRecordV1, usize) =
        bincode::serde::decode_from_slice(body, config()).map_err(|e| corrupt(e.to_string()))?;
    if read != body.len() {
        return Err(corrupt(format!("{} trailing bytes", body.len() - read)));
    }
    Ok(match record {
        EventRecordV1::TypeCreated {
            type_id,
            api_name,
            draft,
            next_attribute_id,
            at_ms,
        } => CatalogEvent::TypeCreated {
            type_id: TypeId(type_id),
            api_name,
            draft: version_from_v1(draft).map_err(corrupt)?,
            next_attribute_id: AttributeId(next_attribute_id),
            at_ms,
        },
        EventRecordV1::DraftChanged {
            type_id,
            draft,
            next_attribute_id,
            at_ms,
        } => CatalogEvent::DraftChanged {
            type_id: TypeId(type_id),
            draft: version_from_v1(draft).map_err(corrupt)?,
            next_attribute_id: AttributeId(next_attribute_id),
            at_ms,
        },
        EventRecordV1::Approved { type_id, at_ms } => CatalogEvent::Approved {
            type_id: TypeId(type_id),
            at_ms,
        },
        EventRecordV1::DraftDiscarded { type_id, at_ms } => CatalogEvent::DraftDiscarded {
            type_id: TypeId(type_id),
            at_ms,
        },
        EventRecordV1::Deleted { type_id, at_ms } => CatalogEvent::Deleted {
            type_id: TypeId(type_id),
            at_ms,
        },
    })
}
