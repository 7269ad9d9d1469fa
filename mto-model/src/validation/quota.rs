use super::{Problems, Validate, ValidationErrors};
use crate::api::Quota;
use crate::names::qualified_name_problem;
use crate::quantity::Quantity;

const LIMIT_TYPES: [&str; 3] = ["Container", "Pod", "PersistentVolumeClaim"];

impl Validate for Quota {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut problems = Problems::default();
        if let Some(rq) = &self.spec.resourcequota {
            for (resource, value) in rq.hard.iter().flatten() {
                // Formatted only for a problem: every decision validates.
                let at = || format!("spec.resourcequota.hard[{resource}]");
                if let Some(p) = qualified_name_problem(resource) {
                    problems.push(at(), format!("resource name {p}"), "use a resource name like `requests.cpu`, `limits.memory` or `count/deployments.apps`");
                }
                match Quantity::parse(&value.0) {
                    Ok(q) if q < Quantity::ZERO => problems.push(
                        at(),
                        format!("{:?} is negative", value.0),
                        "use zero or more",
                    ),
                    Ok(_) => {}
                    Err(e) => problems.push(
                        at(),
                        e.to_string(),
                        "write a quantity such as `4`, `500m` or `8Gi`",
                    ),
                }
            }
        }
        if let Some(lr) = &self.spec.limitrange {
            for (i, item) in lr.limits.iter().enumerate() {
                let at = format_args!("spec.limitrange.limits[{i}]");
                if !LIMIT_TYPES.contains(&item.type_.as_str()) {
                    problems.push(
                        format!("{at}.type"),
                        format!("unknown limit type {:?}", item.type_),
                        "use Container, Pod or PersistentVolumeClaim",
                    );
                }
                for (field, map) in [
                    ("default", &item.default),
                    ("defaultRequest", &item.default_request),
                    ("max", &item.max),
                    ("min", &item.min),
                    ("maxLimitRequestRatio", &item.max_limit_request_ratio),
                ] {
                    for (resource, value) in map.iter().flatten() {
                        if let Err(e) = Quantity::parse(&value.0) {
                            problems.push(
                                format!("{at}.{field}[{resource}]"),
                                e.to_string(),
                                "write a quantity such as `500m` or `1Gi`",
                            );
                        }
                    }
                }
            }
        }
        problems.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::QuotaSpec;
    use k8s_openapi::api::core::v1::{LimitRangeItem, LimitRangeSpec, ResourceQuotaSpec};
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity as Q;

    #[test]
    fn bad_quantities_and_types_are_reported() {
        let quota = Quota::new(
            "small",
            QuotaSpec {
                sharing: None,
                resourcequota: Some(
                    ResourceQuotaSpec {
                        hard: Some(
                            [
                                ("requests.cpu".to_string(), Q("2".into())),
                                ("limits.memory".to_string(), Q("8GB".into())),
                                ("pods".into(), Q("-1".into())),
                            ]
                            .into(),
                        ),
                        ..Default::default()
                    }
                    .into(),
                ),
                limitrange: Some(
                    LimitRangeSpec {
                        limits: vec![LimitRangeItem {
                            type_: "Containers".into(),
                            max: Some([("cpu".to_string(), Q("1x".into()))].into()),
                            ..Default::default()
                        }],
                    }
                    .into(),
                ),
            },
        );
        let err = quota.validate().unwrap_err();
        let paths: Vec<_> = err.errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "spec.resourcequota.hard[limits.memory]",
                "spec.resourcequota.hard[pods]",
                "spec.limitrange.limits[0].type",
                "spec.limitrange.limits[0].max[cpu]"
            ]
        );
    }
}
