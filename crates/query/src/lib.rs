//! Filter language, planner, streaming executor and smart-list people queries for actlog.
