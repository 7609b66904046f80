//! Marketo's standard activity types (reference §5), with Marketo's ids.
//!
//! Where the reference documents a primary attribute it is used; otherwise the primary is
//! the attribute that identifies what the activity is about (the mailing, the list, the
//! program). Attribute data types follow Marketo's examples where it shows values.

use crate::activity_type::{ActivityType, Attribute, TypeOrigin, TypeVersion, Versions};
use crate::ids::{AttributeId, TypeId};
use crate::value::DataType::{self, Boolean, Date, Datetime, Email, Integer, Text};
use std::collections::BTreeMap;

const S: DataType = DataType::String;

/// `(id, name, primary, secondary attributes)`.
type Row = (
    u32,
    &'static str,
    (&'static str, DataType),
    &'static [(&'static str, DataType)],
);

const WEB: [(&str, DataType); 4] = [
    ("Client IP Address", S),
    ("Query Parameters", S),
    ("Referrer URL", S),
    ("User Agent", S),
];

const TABLE: &[Row] = &[
    (
        1,
        "Visit Webpage",
        ("Webpage ID", Integer),
        &[WEB[0], WEB[1], WEB[2], WEB[3], ("Webpage URL", S)],
    ),
    (
        2,
        "Fill Out Form",
        ("Webform ID", Integer),
        &[
            WEB[0],
            ("Form Fields", Text),
            WEB[1],
            WEB[2],
            WEB[3],
            ("Webpage ID", Integer),
        ],
    ),
    (
        3,
        "Click Link",
        ("Link ID", Integer),
        &[WEB[0], WEB[1], WEB[2], WEB[3], ("Webpage ID", Integer)],
    ),
    (
        6,
        "Send Email",
        ("Mailing ID", Integer),
        &[("Campaign Run ID", Integer), ("Step ID", Integer)],
    ),
    (
        7,
        "Email Delivered",
        ("Mailing ID", Integer),
        &[("Choice Number", Integer), ("Campaign Run ID", Integer)],
    ),
    (
        8,
        "Email Bounced",
        ("Mailing ID", Integer),
        &[
            ("Subcategory", S),
            ("Category", S),
            ("Email", Email),
            ("Details", Text),
        ],
    ),
    (
        9,
        "Unsubscribe Email",
        ("Mailing ID", Integer),
        &[
            ("Campaign Run ID", Integer),
            WEB[0],
            WEB[1],
            WEB[2],
            WEB[3],
            ("Webpage ID", Integer),
            ("Webform ID", Integer),
            ("Form Fields", Text),
        ],
    ),
    (
        10,
        "Open Email",
        ("Mailing ID", Integer),
        &[
            ("Campaign Run ID", Integer),
            ("Platform", S),
            ("Device", S),
            ("User Agent", S),
            ("Is Mobile Device", Boolean),
        ],
    ),
    (
        11,
        "Click Email",
        ("Mailing ID", Integer),
        &[("Campaign Run ID", Integer), ("Link", S)],
    ),
    (
        12,
        "New Lead",
        ("Lead Name", S),
        &[("Created Date", Date), ("Source Type", S)],
    ),
    (
        13,
        "Change Data Value",
        ("Attribute Name", S),
        &[
            ("Reason", S),
            ("New Value", S),
            ("Old Value", S),
            ("Source", S),
            ("Campaign", S),
            ("Channel", S),
        ],
    ),
    (
        19,
        "Sync Lead to SFDC",
        ("Lead ID", Integer),
        &[("Assign To", S), ("Campaign", S)],
    ),
    (
        21,
        "Convert Lead",
        ("Lead ID", Integer),
        &[
            ("Assign To", S),
            ("Converted Status", S),
            ("Send Notification Email", Boolean),
            ("Campaign", S),
        ],
    ),
    (
        22,
        "Change Score",
        ("Score Name", S),
        &[
            ("Reason", S),
            ("Change Value", S),
            ("New Value", Integer),
            ("Old Value", Integer),
        ],
    ),
    (
        23,
        "Change Owner",
        ("Owner", S),
        &[("Old Owner", S), ("Campaign", S)],
    ),
    (24, "Add To List", ("List ID", Integer), &[("Campaign", S)]),
    (
        25,
        "Remove from List",
        ("List ID", Integer),
        &[("Campaign", S), ("Channel", S)],
    ),
    (
        26,
        "SFDC Activity",
        ("Subject", S),
        &[
            ("Is Task", Boolean),
            ("Due Date", Date),
            ("Description", Text),
            ("Priority", S),
            ("Activity Owner", S),
            ("Status", S),
        ],
    ),
    (
        27,
        "Email Bounced Soft",
        ("Mailing ID", Integer),
        &[
            ("Campaign Run ID", Integer),
            ("Subcategory", S),
            ("Category", S),
            ("Email", Email),
            ("Details", Text),
        ],
    ),
    (28, "Sync Lead Updates to SFDC", ("Lead ID", Integer), &[]),
    (29, "Delete Lead from SFDC", ("Lead ID", Integer), &[]),
    (30, "SFDC Activity Updated", ("Subject", S), &[]),
    (31, "SFDC Merge Leads", ("Lead ID", Integer), &[]),
    (
        32,
        "Merge Leads",
        ("Lead ID", Integer),
        &[("Merge IDs", S), ("Merge Fields", Text)],
    ),
    (
        34,
        "Add to Opportunity",
        ("Oppty ID", Integer),
        &[("Is Primary", Boolean), ("Role", S)],
    ),
    (37, "Delete Lead", ("Lead Name", S), &[]),
    (
        38,
        "Send Alert",
        ("Mailing ID", Integer),
        &[("Send To Owner", S), ("Send To List", S)],
    ),
    (39, "Send Sales Email", ("Email Subject", S), &[]),
    (40, "Open Sales Email", ("Email Subject", S), &[]),
    (41, "Click Sales Email", ("Email Subject", S), &[]),
    (42, "Add to SFDC Campaign", ("SFDC Campaign", S), &[]),
    (43, "Remove from SFDC Campaign", ("SFDC Campaign", S), &[]),
    (
        44,
        "Change Status in SFDC Campaign",
        ("SFDC Campaign", S),
        &[],
    ),
    (45, "Receive Sales Email", ("Email Subject", S), &[]),
    (
        46,
        "Interesting Moment",
        ("Description", S),
        &[("Source", S), ("Date", Datetime), ("Type", S)],
    ),
    (
        47,
        "Request Campaign",
        ("Campaign ID", Integer),
        &[("Source", S)],
    ),
    (48, "Sales Email Bounced", ("Email Subject", S), &[]),
    (100, "Change Lead Partition", ("New Partition", S), &[]),
    (101, "Change Revenue Stage", ("New Stage", S), &[]),
    (
        104,
        "Change Status in Progression",
        ("Program ID", Integer),
        &[
            ("Acquired By", Boolean),
            ("Old Status", S),
            ("New Status ID", Integer),
            ("Success", Boolean),
            ("New Status", S),
            ("Old Status ID", Integer),
            ("Program Member ID", Integer),
        ],
    ),
    (
        108,
        "Change Segment",
        ("Segmentation ID", Integer),
        &[("New Segment ID", Integer)],
    ),
    (
        110,
        "Call Webhook",
        ("Webhook ID", Integer),
        &[("Error Type", S)],
    ),
    (
        111,
        "Send Forward to Friend Email",
        ("Mailing ID", Integer),
        &[],
    ),
    (
        112,
        "Receive Forward to Friend Email",
        ("Mailing ID", Integer),
        &[],
    ),
    (113, "Add To Nurture", ("Program ID", Integer), &[]),
    (114, "Change Nurture Track", ("Program ID", Integer), &[]),
    (115, "Change Nurture Cadence", ("Program ID", Integer), &[]),
    (
        123,
        "Change Program Member Data",
        ("Program ID", Integer),
        &[],
    ),
    (
        131,
        "Fill Out Facebook Lead Ads Form",
        ("Form Name", S),
        &[],
    ),
    (132, "Click RTP Call to Action", ("Call to Action", S), &[]),
    (133, "Click Predictive Content", ("Content", S), &[]),
    (145, "Push Lead to Marketo", ("Source", S), &[("Reason", S)]),
    (147, "Fill Out Linked Lead Gen Form", ("Form Name", S), &[]),
    (300, "Sync Lead to Microsoft", ("Lead ID", Integer), &[]),
];

/// `"Client IP Address"` becomes `"clientIPAddress"`: the first word lowercased, the
/// others capitalised, as Marketo's API names look.
pub(crate) fn camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, word) in name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .enumerate()
    {
        if i == 0 {
            out.push_str(&word.to_ascii_lowercase());
        } else {
            let mut chars = word.chars();
            if let Some(first) = chars.next() {
                out.push(first.to_ascii_uppercase());
                out.extend(chars);
            }
        }
    }
    out
}

fn attribute(id: u16, (name, data_type): (&str, DataType), is_primary: bool) -> Attribute {
    Attribute {
        id: AttributeId(id),
        api_name: camel_case(name),
        name: name.to_owned(),
        description: None,
        data_type,
        is_primary,
        indexed: is_primary,
    }
}

/// Every standard type, approved, as the catalog starts with it.
pub(crate) fn standard_types() -> Vec<ActivityType> {
    TABLE
        .iter()
        .map(|&(id, name, primary, attrs)| {
            let version = TypeVersion {
                name: name.to_owned(),
                description: None,
                trigger_name: name.to_owned(),
                filter_name: name.to_owned(),
                primary: attribute(1, primary, true),
                attributes: attrs
                    .iter()
                    .zip(2u16..)
                    .map(|(&a, id)| attribute(id, a, false))
                    .collect(),
            };
            let known: BTreeMap<_, _> = version
                .all_attributes()
                .map(|a| (a.id, a.clone()))
                .collect();
            ActivityType {
                id: TypeId(id),
                api_name: camel_case(name),
                origin: TypeOrigin::Standard,
                next_attribute_id: AttributeId(version.attributes.len() as u16 + 2),
                versions: Versions::Approved(version),
                deleted: false,
                created_at_ms: 0,
                updated_at_ms: 0,
                known,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel() {
        assert_eq!(camel_case("Client IP Address"), "clientIPAddress");
        assert_eq!(camel_case("Visit Webpage"), "visitWebpage");
        assert_eq!(camel_case("Add To List"), "addToList");
    }

    #[test]
    fn standard_types_are_valid() {
        let types = standard_types();
        assert_eq!(types.len(), TABLE.len());
        for t in &types {
            assert!(!t.id().is_custom());
            t.latest()
                .check(t.id())
                .unwrap_or_else(|e| panic!("{}: {e}", t.name()));
            crate::activity_type::check_api_name(t.api_name()).unwrap();
        }
        let mut ids: Vec<_> = types.iter().map(|t| t.id()).collect();
        ids.dedup();
        assert_eq!(ids.len(), types.len());
    }
}
