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
