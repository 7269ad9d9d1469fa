//! The offline commands of `mto`: each command's work, apart from parsing
//! its arguments.

pub mod admit;
pub mod crds;
pub mod files;
pub mod plan;
pub mod webhooks;
