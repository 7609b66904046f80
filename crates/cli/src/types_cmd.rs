//! `actlog types`: define and inspect activity types in Marketo's JSON shape.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};

use actlog::model::marketo;
use actlog::{Engine, TypeId, TypeRef};

#[derive(Debug, clap::Subcommand)]
pub enum TypesCommand {
    /// List every activity type (standard and custom).
    List {
        /// Only custom types.
        #[arg(long)]
        custom: bool,
    },
    /// Print one type as JSON.
    Show {
        /// API name or id.
        name: String,
    },
    /// Create a custom type (a draft) from a JSON file in Marketo's shape.
    Create {
        /// The definition (`apiName`, `name`, `triggerName`, `filterName`,
        /// `primaryAttribute`, `attributes`, ...); `-` for stdin.
        #[arg(long)]
        file: PathBuf,
        /// Approve it straight away.
        #[arg(long)]
        approve: bool,
    },
    /// Approve a type's draft.
    Approve {
        /// API name or id.
        name: String,
    },
    /// Discard a type's draft.
    Discard {
        /// API name or id.
        name: String,
    },
    /// Delete a custom type (its activities stay readable).
    Delete {
        /// API name or id.
        name: String,
    },
}

/// A type named on the command line: a number is an id, anything else an API name.
pub fn type_ref(name: &str) -> TypeRef {
    match name.parse::<u32>() {
        Ok(id) => TypeRef::Id(TypeId(id)),
        Err(_) => TypeRef::ApiName(name.to_owned()),
    }
}

pub fn run(engine: &Engine, command: TypesCommand) -> Result<ExitCode> {
    let print = |t: &actlog::ActivityType| {
        let json = serde_json::to_string(&marketo::render_type(t, marketo::TypeView::Draft));
        println!("{}", json.unwrap_or_default());
    };
    match command {
        TypesCommand::List { custom } => {
            for t in engine.activity_types() {
                if !custom || t.id().is_custom() {
                    print(&t);
                }
            }
        }
        TypesCommand::Show { name } => match engine.activity_type(type_ref(&name)) {
            Some(t) => print(&t),
            None => {
                eprintln!("no activity type {name:?}");
                engine.clone().close()?;
                return Ok(ExitCode::from(1));
            }
        },
        TypesCommand::Create { file, approve } => {
            let text = if file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())?
            } else {
                std::fs::read_to_string(&file)
                    .with_context(|| format!("cannot read {}", file.display()))?
            };
            let json: marketo::TypeDefinitionJson = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a type definition", file.display()))?;
            let mut created = engine.create_type(json.into_definition()?)?;
            if approve {
                created = engine.approve_type(created.id())?;
            }
            print(&created);
        }
        TypesCommand::Approve { name } => print(&engine.approve_type(type_ref(&name))?),
        TypesCommand::Discard { name } => print(&engine.discard_draft(type_ref(&name))?),
        TypesCommand::Delete { name } => print(&engine.delete_type(type_ref(&name))?),
    }
    engine.clone().close()?;
    Ok(ExitCode::SUCCESS)
}
