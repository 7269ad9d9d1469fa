use proptest::prelude::*;

use super::*;

fn q(text: &str) -> Quantity {
    Quantity::parse(text).expect("quantity")
}

fn holding(cpu: &str, ram: &str) -> Holding {
    Holding {
        cpu_request: q(cpu),
        ram_request: q(ram),
        ..Holding::default()
    }
}

#[test]
fn one_core_and_one_gib_for_an_hour_cost_opencosts_default_prices() {
    let used = integrate(
        &[Interval {
            from: 0,
            to: 3600,
            holding: holding("1", "1Gi"),
        }],
        0,
        3600,
    );
    let c = cost(&used, &Prices::default());
    assert_eq!(c.cpu, 31_611, "0.031611 USD");
    assert_eq!(c.ram, 4_237, "0.004237 USD");
    assert_eq!(money(c.total()), "0.035848");
}

#[test]
fn usage_above_the_request_is_what_is_paid_for() {
    let mut h = holding("500m", "1Gi");
    h.cpu_usage = q("2");
    let used = integrate(
        &[Interval {
            from: 0,
            to: 3600,
            holding: h,
        }],
        0,
        3600,
    );
    assert_eq!(cost(&used, &Prices::default()).cpu, 2 * 31_611);
}

#[test]
fn custom_prices_read_mtos_fields_as_decimals_and_name_a_bad_one() {
    let custom = serde_json::json!({"provider": "custom", "CPU": "1.25", "RAM": 0.5, "storage": "0.00005479452", "spotCPU": "0.006655"});
    let p = Prices::from_custom(Some(&custom)).expect("prices");
    assert_eq!(p.cpu, 1_250_000_000_000);
    assert_eq!(p.ram, 500_000_000_000);
    assert_eq!(p.storage, 54_794_520);
    assert_eq!(p.gpu, Prices::default().gpu, "left at OpenCost's default");
    let bad = serde_json::json!({"CPU": "cheap"});
    let err = Prices::from_custom(Some(&bad)).expect_err("not a number");
    assert!(
        err.to_string()
            .starts_with("components.showbackOpts.custom.CPU"),
        "{err}"
    );
}

#[test]
fn a_month_of_a_pod_is_hourly_rows_and_aggregates_by_every_key() {
    let container = |tenant: &str, ns: &str, pod: &str| Container {
        tenant: Some(tenant.into()),
        namespace: ns.into(),
        pod: pod.into(),
        container: "app".into(),
        labels: [("team".to_owned(), tenant.to_owned())].into(),
        intervals: vec![Interval {
            from: 1800,
            to: 3 * 3600,
            holding: holding("250m", "512Mi"),
        }],
    };
    let all = rows(
        &[
            container("alpha", "alpha-dev", "web"),
            container("alpha", "alpha-prod", "web"),
            container("beta", "beta-dev", "db"),
        ],
        0,
        4 * 3600,
        &Prices::default(),
    );
    assert_eq!(
        all.len(),
        3 * 3,
        "a half hour, then two whole ones, per container"
    );
    let containers = [
        container("alpha", "alpha-dev", "web"),
        container("alpha", "alpha-prod", "web"),
        container("beta", "beta-dev", "db"),
    ];
    let by_tenant = aggregate(&containers, &all, &Aggregate::Tenant);
    assert_eq!(by_tenant.keys().collect::<Vec<_>>(), ["alpha", "beta"]);
    assert_eq!(
        by_tenant["alpha"].cost.total(),
        2 * by_tenant["beta"].cost.total()
    );
    assert_eq!(
        aggregate(
            &containers,
            &all,
            &Aggregate::parse("label:team").expect("aggregate")
        ),
        by_tenant
    );
    assert!(Aggregate::parse("label:").is_err());
    assert!(Aggregate::parse("cluster").is_err());
}

fn arbitrary_holding() -> impl Strategy<Value = Holding> {
    (
        0u32..4000,
        0u32..4000,
        0u32..8192,
        0u32..8192,
        0i64..3,
        0u32..100,
    )
        .prop_map(|(cpu_req, cpu_use, ram_req, ram_use, gpus, pv)| Holding {
            cpu_request: q(&format!("{cpu_req}m")),
            cpu_usage: q(&format!("{cpu_use}m")),
            ram_request: q(&format!("{ram_req}Mi")),
            ram_usage: q(&format!("{ram_use}Mi")),
            gpus,
            pv: q(&format!("{pv}Gi")),
        })
}

fn arbitrary_containers() -> impl Strategy<Value = Vec<Container>> {
    prop::collection::vec(
        (
            0usize..3,
            0usize..3,
            arbitrary_holding(),
            0i64..7200,
            1i64..14_400,
        ),
        1..12,
    )
    .prop_map(|specs| {
        specs
            .into_iter()
            .enumerate()
            .map(|(i, (t, n, holding, from, length))| Container {
                tenant: Some(format!("t{t}")),
                namespace: format!("t{t}-ns{n}"),
                pod: format!("pod{i}"),
                container: "c".into(),
                labels: BTreeMap::new(),
                intervals: vec![Interval {
                    from,
                    to: from + length,
                    holding,
                }],
            })
            .collect()
    })
}

proptest! {
    /// A tenant costs exactly the sum of its namespaces, and they the sum
    /// of their containers.
    #[test]
    fn a_tenant_costs_the_sum_of_its_namespaces_and_its_containers(containers in arbitrary_containers()) {
        let all = rows(&containers, 0, 6 * 3600, &Prices::default());
        let tenants = aggregate(&containers, &all, &Aggregate::Tenant);
        let namespaces = aggregate(&containers, &all, &Aggregate::Namespace);
        let each = aggregate(&containers, &all, &Aggregate::Container);
        for (tenant, a) in &tenants {
            let of_namespaces: Micros = namespaces
                .iter()
                .filter(|(ns, _)| ns.starts_with(&format!("{tenant}-")))
                .map(|(_, a)| a.cost.total())
                .sum();
            let of_containers: Micros = each
                .iter()
                .filter(|(c, _)| c.starts_with(&format!("{tenant}-")))
                .map(|(_, a)| a.cost.total())
                .sum();
            prop_assert_eq!(a.cost.total(), of_namespaces);
            prop_assert_eq!(a.cost.total(), of_containers);
        }
    }

    /// Idle shared over the tenants adds up to the idle cost exactly, and
    /// each share follows the tenant's cost to within one micro-unit.
    #[test]
    fn shared_idle_adds_up_to_the_idle_cost(containers in arbitrary_containers(), idle in 0i64..10_000_000) {
        let all = rows(&containers, 0, 6 * 3600, &Prices::default());
        let mut tenants = aggregate(&containers, &all, &Aggregate::Tenant);
        share_idle(&mut tenants, idle);
        let shared: Micros = tenants.values().map(|a| a.idle).sum();
        prop_assert_eq!(shared, idle);
        let total: Micros = tenants.values().map(|a| a.cost.total()).sum();
        if total > 0 {
            for a in tenants.values() {
                let exact = i128::from(idle) * i128::from(a.cost.total());
                prop_assert!((i128::from(a.idle) * i128::from(total) - exact).abs() <= i128::from(total));
            }
        }
    }

    /// Asking for or using more never costs less.
    #[test]
    fn cost_never_falls_as_requests_or_usage_grow(h in arbitrary_holding(), more in arbitrary_holding(), seconds in 1i64..3600) {
        let grown = Holding {
            cpu_request: h.cpu_request.checked_add(more.cpu_request).expect("sum"),
            cpu_usage: h.cpu_usage.checked_add(more.cpu_usage).expect("sum"),
            ram_request: h.ram_request.checked_add(more.ram_request).expect("sum"),
            ram_usage: h.ram_usage.checked_add(more.ram_usage).expect("sum"),
            gpus: h.gpus + more.gpus,
            pv: h.pv.checked_add(more.pv).expect("sum"),
        };
        let price = |h: Holding| cost(&integrate(&[Interval { from: 0, to: seconds, holding: h }], 0, 3600), &Prices::default());
        let (before, after) = (price(h), price(grown));
        prop_assert!(after.cpu >= before.cpu && after.ram >= before.ram && after.gpu >= before.gpu && after.pv >= before.pv);
    }

    /// An hour split at any instant, into the intervals a pod's events make,
    /// costs what the whole hour does.
    #[test]
    fn an_hour_split_anywhere_costs_the_same(h in arbitrary_holding(), at in 1i64..3600) {
        let whole = [Interval { from: 0, to: 3600, holding: h }];
        let split = [
            Interval { from: 0, to: at, holding: h },
            Interval { from: at, to: 3600, holding: h },
        ];
        let prices = Prices::default();
        prop_assert_eq!(
            cost(&integrate(&whole, 0, 3600), &prices),
            cost(&integrate(&split, 0, 3600), &prices)
        );
    }
}

proptest! {
    /// The rows are, hour by hour, each container's life integrated over
    /// the hour.
    #[test]
    fn rows_are_each_hour_integrated(containers in arbitrary_containers(), start in 0i64..7200, hours in 1i64..6) {
        let end = start + hours * 3600;
        let all = rows(&containers, start, end, &Prices::default());
        let first = start.div_euclid(3600) * 3600;
        let mut expected = Vec::new();
        for (i, c) in containers.iter().enumerate() {
            let mut hour = first;
            while hour < end {
                let used = integrate(&c.intervals, hour.max(start), (hour + 3600).min(end));
                if used != ResourceSeconds::default() {
                    expected.push((i as u32, hour, used));
                }
                hour += 3600;
            }
        }
        let got: Vec<(u32, i64, ResourceSeconds)> = all.iter().map(|r| (r.container, r.hour, r.used)).collect();
        prop_assert_eq!(got, expected);
    }
}

mod metering {
    use super::*;
    use crate::showback::meter::Meter;
    use crate::showback::report::{Query, Record, Usage, parse_duration, parse_window, report};
    use k8s_openapi::api::core::v1::{Node, Pod};

    const T0: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

    fn rfc3339(t: i64) -> String {
        crate::Timestamp::from_second(t).expect("time").to_string()
    }

    /// A pod scheduled at `scheduled` with one container asking for `cpu`
    /// and `ram`; finished at `finished` when given.
    fn pod(
        name: &str,
        uid: &str,
        scheduled: i64,
        cpu: &str,
        ram: &str,
        finished: Option<i64>,
    ) -> Pod {
        let mut status = serde_json::json!({
            "phase": "Running",
            "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": rfc3339(scheduled)}],
        });
        if let Some(end) = finished {
            status["phase"] = "Succeeded".into();
            status["containerStatuses"] = serde_json::json!([{
                "name": "app", "image": "app", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"terminated": {"exitCode": 0, "startedAt": rfc3339(scheduled), "finishedAt": rfc3339(end)}},
            }]);
        }
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "namespace": "alpha-dev", "uid": uid, "labels": {"app": name}},
            "spec": {"nodeName": "node-1", "containers": [{"name": "app", "resources": {"requests": {"cpu": cpu, "memory": ram}}}]},
            "status": status,
        }))
        .expect("pod")
    }

    fn total(meter: &Meter, end: i64) -> Cost {
        let containers = meter.containers(end);
        rows(&containers, T0, end, &Prices::default())
            .iter()
            .fold(Cost::default(), |sum, r| sum.plus(r.cost))
    }

    #[test]
    fn a_pod_costs_from_its_scheduling_until_it_is_deleted() {
        let mut meter = Meter::new();
        let p = pod("web", "u1", T0, "1", "1Gi", None);
        meter.observe_pod(&p, Some("alpha"), T0 + 600);
        meter.pod_gone("alpha-dev", "web", T0 + 3600);
        let c = total(&meter, T0 + 7200);
        assert_eq!(c.cpu, 31_611, "one core-hour");
        assert_eq!(c.ram, 4_237, "one GiB-hour");
        let containers = meter.containers(T0 + 7200);
        assert_eq!(containers[0].tenant.as_deref(), Some("alpha"));
        assert_eq!(
            containers[0].labels.get("app").map(String::as_str),
            Some("web")
        );
    }

    #[test]
    fn a_pod_first_seen_finished_ran_until_its_containers_stopped() {
        let mut meter = Meter::new();
        meter.observe_pod(
            &pod("job", "u1", T0, "2", "0", Some(T0 + 1800)),
            None,
            T0 + 5000,
        );
        assert_eq!(
            total(&meter, T0 + 7200).cpu,
            31_611,
            "two cores for half an hour"
        );
        // Seen again finished, nothing more.
        meter.observe_pod(
            &pod("job", "u1", T0, "2", "0", Some(T0 + 1800)),
            None,
            T0 + 6000,
        );
        assert_eq!(total(&meter, T0 + 7200).cpu, 31_611);
    }

    #[test]
    fn a_pod_made_again_under_its_name_is_a_second_life() {
        let mut meter = Meter::new();
        meter.observe_pod(&pod("db-0", "u1", T0, "1", "0", None), None, T0);
        meter.pod_gone("alpha-dev", "db-0", T0 + 1800);
        meter.observe_pod(
            &pod("db-0", "u2", T0 + 2700, "1", "0", None),
            None,
            T0 + 2700,
        );
        meter.pod_gone("alpha-dev", "db-0", T0 + 3600);
        let c = total(&meter, T0 + 3600);
        assert_eq!(c.cpu, (31_611 * 3 + 2) / 4, "three quarters of a core-hour");
    }

    #[test]
    fn a_pod_reporting_an_earlier_scheduling_is_counted_from_it() {
        let mut meter = Meter::new();
        let mut bound_at_creation = pod("web", "u1", T0, "1", "0", None);
        bound_at_creation.status = None;
        bound_at_creation.metadata.creation_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                crate::Timestamp::from_second(T0 + 1800).expect("time"),
            ));
        meter.observe_pod(&bound_at_creation, None, T0 + 1800);
        assert_eq!(
            total(&meter, T0 + 3600).cpu,
            (31_611 + 1) / 2,
            "from its creation"
        );
        meter.observe_pod(&pod("web", "u1", T0, "1", "0", None), None, T0 + 1900);
        assert_eq!(total(&meter, T0 + 3600).cpu, 31_611, "from its scheduling");
    }

    #[test]
    fn a_bound_claim_holds_its_capacity_until_unbound_or_deleted() {
        let claim = |phase: &str| -> k8s_openapi::api::core::v1::PersistentVolumeClaim {
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "data", "namespace": "alpha-dev", "creationTimestamp": rfc3339(T0)},
                "status": {"phase": phase, "capacity": {"storage": "1000Gi"}},
            }))
            .expect("claim")
        };
        let mut meter = Meter::new();
        meter.observe_claim(&claim("Pending"), Some("alpha"), T0);
        assert_eq!(total(&meter, T0 + 3600).pv, 0, "not bound: nothing held");
        meter.observe_claim(&claim("Bound"), Some("alpha"), T0 + 60);
        meter.observe_claim(&claim("Lost"), Some("alpha"), T0 + 1800);
        meter.observe_claim(&claim("Bound"), Some("alpha"), T0 + 2700);
        meter.claim_gone("alpha-dev", "data", T0 + 3600);
        // 1000 GiB for 2,700 s: 0.75 h × 1000 × 0.00005479452.
        assert_eq!(total(&meter, T0 + 7200).pv, 41_096);
        let containers = meter.containers(T0 + 7200);
        assert_eq!(containers[0].pod, "persistentvolumeclaim/data");
    }

    #[test]
    fn unscheduled_pods_cost_nothing() {
        let mut meter = Meter::new();
        let mut p = pod("pending", "u1", T0, "1", "1Gi", None);
        p.spec.as_mut().expect("spec").node_name = None;
        meter.observe_pod(&p, None, T0);
        assert!(meter.is_empty());
    }

    #[test]
    fn nodes_offer_their_allocatable_and_idle_is_what_pods_leave() {
        let mut meter = Meter::new();
        let node: Node = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "node-1", "creationTimestamp": rfc3339(T0)},
            "status": {"allocatable": {"cpu": "4", "memory": "8Gi"}},
        }))
        .expect("node");
        meter.observe_node(&node, T0 + 10);
        meter.observe_pod(&pod("web", "u1", T0, "1", "2Gi", None), Some("alpha"), T0);
        let end = T0 + 3600;
        let capacity = meter.capacity(T0, end, end);
        assert_eq!(capacity.cpu_request, 4_000 * 3600);
        let allocated = total(&meter, end);
        let idle = idle_cost(&cost(&capacity, &Prices::default()), &allocated);
        assert_eq!(idle, 3 * 31_611 + 6 * 4_237, "three cores and 6 GiB idle");
    }

    #[test]
    fn windows_and_durations_read_as_opencost_writes_them() {
        let now = T0 + 5 * 3600 + 60; // 2026-01-01T05:01:00Z, a Thursday
        assert_eq!(
            parse_window("24h", now),
            Ok((T0 - 19 * 3600, T0 + 6 * 3600))
        );
        assert_eq!(parse_window("today", now), Ok((T0, T0 + 6 * 3600)));
        assert_eq!(parse_window("yesterday", now), Ok((T0 - 86_400, T0)));
        assert_eq!(
            parse_window("week", now).map(|w| w.0),
            Ok(T0 - 4 * 86_400),
            "from Sunday"
        );
        assert_eq!(parse_window("lastmonth", now), Ok((T0 - 31 * 86_400, T0)));
        assert_eq!(
            parse_window("2026-01-01T00:00:00Z,2026-01-01T02:00:00Z", now),
            Ok((T0, T0 + 7200))
        );
        assert_eq!(
            parse_window(&format!("{T0},{}", T0 + 10), now),
            Ok((T0, T0 + 3600))
        );
        assert_eq!(parse_duration("2w"), Ok(14 * 86_400));
        let err = parse_window("fortnight", now).expect_err("not a window");
        assert!(err.contains("90m, 24h, 7d or 2w"), "{err}");
        assert!(
            parse_window(&format!("{},{T0}", T0 + 10), now).is_err(),
            "backwards"
        );
        assert!(parse_window("9223372036854775807s", now).is_err());
        assert!(parse_duration("\u{80}").is_err(), "a unit of two bytes");
        assert!(parse_duration("1\u{e9}").is_err());
        assert!(parse_duration("").is_err());
        assert!(
            parse_window("999999999999w", now).is_err(),
            "overflows: refused"
        );
        assert!(parse_window("-9223372036854775808,9223372036854775807", now).is_err());
        let many = Query::from_params("100000d", "tenant", Some("1h"), false, false, now)
            .expect_err("2.4 million steps");
        assert!(many.contains("at most 10000"), "{many}");
        assert!(Query::from_params("100000d", "tenant", Some("1h"), true, false, now).is_ok());
    }

    #[test]
    fn measured_usage_replaces_the_assumed_and_is_priced() {
        let record = Record {
            hour: T0,
            tenant: None,
            namespace: "n".into(),
            pod: "p".into(),
            container: "c".into(),
            labels: BTreeMap::new(),
            used: ResourceSeconds {
                cpu_request: 1000 * 3600,
                cpu_usage: 1000 * 3600,
                ..ResourceSeconds::default()
            },
            cost: Cost::default(),
        };
        let measured = record.with_usage(
            Usage {
                cpu: 3000 * 3600,
                ram: 0,
            },
            &Prices::default(),
        );
        assert_eq!(
            measured.cost.cpu,
            3 * 31_611,
            "usage above the request is paid"
        );
    }

    fn arbitrary_events() -> impl Strategy<Value = (Vec<i64>, i64)> {
        (proptest::collection::vec(0i64..20_000, 0..8), 0i64..20_000)
    }

    proptest! {
        /// A meter that watched a pod through any events and one that
        /// first saw it (after a restart) know the same life.
        #[test]
        fn a_pod_read_back_after_a_restart_costs_what_a_watched_one_does(
            (mut events, scheduled) in arbitrary_events(), end_after in 1i64..20_000,
        ) {
            events.sort_unstable();
            let p = pod("web", "u1", T0 + scheduled, "250m", "300Mi", None);
            let last = events.last().copied().unwrap_or(scheduled).max(scheduled);
            let end = T0 + last + end_after;
            let mut watched = Meter::new();
            for at in events.iter().filter(|at| **at >= scheduled) {
                watched.observe_pod(&p, Some("alpha"), T0 + at);
            }
            watched.observe_pod(&p, Some("alpha"), T0 + last);
            let mut restarted = Meter::new();
            restarted.observe_pod(&p, Some("alpha"), T0 + last);
            prop_assert_eq!(total(&watched, end), total(&restarted, end));
        }

        /// Requests changed in place at an event: the pieces add up to the
        /// two holdings each for its time.
        #[test]
        fn a_change_splits_the_life_at_the_event(at in 1i64..7200) {
            let mut meter = Meter::new();
            meter.observe_pod(&pod("web", "u1", T0, "1", "0", None), None, T0);
            meter.observe_pod(&pod("web", "u1", T0, "3", "0", None), None, T0 + at);
            let end = T0 + 7200;
            let used = meter.containers(end)[0]
                .intervals
                .iter()
                .map(|i| integrate(std::slice::from_ref(i), T0, end).cpu_request)
                .sum::<i64>();
            prop_assert_eq!(used, 1000 * at + 3000 * (7200 - at));
        }

        /// Any step gives sets that add up to the accumulated window, and a
        /// tenant's total is its namespaces' — idle shared exactly.
        #[test]
        fn steps_add_up_to_the_window_and_shared_idle_to_the_idle(
            containers in arbitrary_containers(), hours in 1i64..8, step in 1i64..4, spare in 0i64..50_000,
        ) {
            let mut meter = Meter::new();
            let node: Node = serde_json::from_value(serde_json::json!({
                "metadata": {"name": "node-1", "creationTimestamp": rfc3339(T0)},
                "status": {"allocatable": {"cpu": format!("{}m", 1000 + spare), "memory": "64Gi"}},
            })).expect("node");
            meter.observe_node(&node, T0);
            let end = T0 + hours * 3600;
            let records = crate::showback::records(&containers, T0, end, &Prices::default());
            let prices = Prices::default();
            let capacity: BTreeMap<i64, Cost> = (0..hours)
                .map(|h| (T0 + h * 3600, cost(&meter.capacity(T0 + h * 3600, T0 + (h + 1) * 3600, end), &prices)))
                .collect();
            let query = |aggregate: Aggregate, step: Option<i64>, accumulate: bool, share_idle: bool| Query {
                start: T0, end, step, aggregate, accumulate, share_idle,
            };
            let whole = report(&records, &capacity, &query(Aggregate::Tenant, None, false, false));
            prop_assert_eq!(whole.len(), 1);
            let stepped = report(&records, &capacity, &query(Aggregate::Tenant, Some(step * 3600), false, false));
            let sum = |sets: &[crate::showback::Set]| sets.iter().flat_map(|s| s.groups.values()).map(|a| a.cost.total()).sum::<i64>();
            prop_assert_eq!(sum(&whole), sum(&stepped));
            let accumulated = report(&records, &capacity, &query(Aggregate::Tenant, Some(step * 3600), true, false));
            prop_assert_eq!(&accumulated, &whole);
            let by_namespace = report(&records, &capacity, &query(Aggregate::Namespace, None, false, false));
            prop_assert_eq!(sum(&whole), sum(&by_namespace));
            let shared = report(&records, &capacity, &query(Aggregate::Tenant, None, false, true));
            let idle: i64 = whole[0].groups.get(IDLE).map_or(0, |a| a.idle);
            let shared_idle: i64 = shared[0].groups.values().map(|a| a.idle).sum();
            prop_assert_eq!(idle, shared_idle);
        }
    }
}
