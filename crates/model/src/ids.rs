//! Identifier newtypes, so a person id is never passed where an activity id belongs.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident($inner:ty)) => {
        $(#[$doc])*
        #[derive(
            Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub $inner);

        impl $name {
            /// The raw number.
            pub const fn get(self) -> $inner {
                self.0
            }
        }

        impl From<$inner> for $name {
            fn from(v: $inner) -> Self {
                Self(v)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

id_type!(
    /// A person (Marketo's lead) who does things.
    PersonId(u64)
);
id_type!(
    /// An activity's id: its offset in the activities log, dense from 0.
    ActivityId(u64)
);
id_type!(
    /// An activity type. Standard types keep Marketo's ids; custom types start at
    /// [`TypeId::FIRST_CUSTOM`].
    TypeId(u32)
);
id_type!(
    /// An attribute of an activity type. Never reused within a type, so every recorded
    /// activity stays readable under every later version of its type.
    AttributeId(u16)
);

impl TypeId {
    /// The first id given to a custom activity type.
    pub const FIRST_CUSTOM: TypeId = TypeId(100_000);

    /// Whether this is a custom (user-defined) type id.
    pub const fn is_custom(self) -> bool {
        self.0 >= Self::FIRST_CUSTOM.0
    }
}
