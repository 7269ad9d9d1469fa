use super::{Problems, Validate, ValidationErrors};
use crate::api::{ClusterResourceSupervisor, ResourceSupervisor, SleepSchedule};
use crate::hibernation::schedule::Cron;

fn validate_schedule(schedule: &SleepSchedule, problems: &mut Problems) {
    if !schedule.sleep_schedule.trim().is_empty()
        && let Err(e) = Cron::parse(&schedule.sleep_schedule)
    {
        problems.push(
            "spec.schedule.sleepSchedule",
            e.to_string(),
            "use standard 5-field cron, e.g. \"0 20 * * 1-5\"",
        );
    }
    if let Some(wake) = schedule
        .wake_schedule
        .as_deref()
        .filter(|w| !w.trim().is_empty())
        && let Err(e) = Cron::parse(wake)
    {
        problems.push(
            "spec.schedule.wakeSchedule",
            e.to_string(),
            "use standard 5-field cron, e.g. \"0 8 * * 1-5\"",
        );
    }
    if let Some(tz) = &schedule.time_zone
        && tz.parse::<chrono_tz::Tz>().is_err()
    {
        problems.push(
            "spec.schedule.timeZone",
            format!("{tz:?} is not an IANA time zone"),
            "use a name like \"Europe/Berlin\" or \"UTC\"",
        );
    }
}

impl Validate for ResourceSupervisor {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut problems = Problems::default();
        validate_schedule(&self.spec.schedule, &mut problems);
        problems.finish()
    }
}

impl Validate for ClusterResourceSupervisor {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut problems = Problems::default();
        validate_schedule(&self.spec.schedule, &mut problems);
        for (i, name) in self.spec.namespaces.names.iter().enumerate() {
            if let Some(p) = crate::names::dns_label_problem(name) {
                problems.push(
                    format!("spec.namespaces.names[{i}]"),
                    format!("{name:?} {p}"),
                    "use a namespace name",
                );
            }
        }
        if let Some(sel) = &self.spec.namespaces.label_selector {
            crate::selector::validate(sel, "spec.namespaces.labelSelector", &mut problems);
        }
        if let Some(argocd) = &self.spec.argocd {
            let namespace_problem = (!argocd.app_projects.is_empty())
                .then(|| crate::names::dns_label_problem(&argocd.namespace))
                .flatten();
            if let Some(p) = namespace_problem {
                problems.push(
                    "spec.argocd.namespace",
                    format!("{:?} {p}", argocd.namespace),
                    "name the namespace Argo CD runs in, such as argocd",
                );
            }
            for (i, project) in argocd.app_projects.iter().enumerate() {
                if let Some(p) = crate::names::dns_subdomain_problem(project) {
                    problems.push(
                        format!("spec.argocd.appProjects[{i}]"),
                        format!("{project:?} {p}"),
                        "use the AppProject's name",
                    );
                }
            }
        }
        problems.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ResourceSupervisorSpec;

    #[test]
    fn bad_cron_and_zone_are_refused() {
        let rs = ResourceSupervisor::new(
            "night",
            ResourceSupervisorSpec {
                schedule: SleepSchedule {
                    sleep_schedule: "0 25 * * *".into(),
                    wake_schedule: Some("0 8 * * 1-5".into()),
                    time_zone: Some("Mars/Olympus".into()),
                },
            },
        );
        let err = rs.validate().unwrap_err();
        let paths: Vec<_> = err.errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            ["spec.schedule.sleepSchedule", "spec.schedule.timeZone"]
        );
    }
}
