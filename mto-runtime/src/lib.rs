//! mto's runtime: runs the model's decisions against a real Kubernetes
//! cluster, and the offline commands of the `mto` binary.

pub mod cache;
pub mod clock;
pub mod crds;
pub mod execute;
pub mod files;
pub mod journal;
pub mod lease;
pub mod metrics;
pub mod observe;
pub mod operator;
pub mod plan;
pub mod serve;
