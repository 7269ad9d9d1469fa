//! mto's runtime: runs the model's decisions against a real Kubernetes
//! cluster, and the commands of the `mto` binary.

pub mod charts;
pub mod cli;
pub mod console;
pub mod execute;
pub mod gateway;
pub mod operator;
pub mod showback;
pub mod store;
pub mod vault;
