//! The admission webhook under load, over HTTPS, as the apiserver calls it.
//!
//!     cargo run --release -p mto-benches --bin webhook_load [-- SECONDS CONNECTIONS]
//!
//! Starts a webhook process of its own (`webhook_load serve`), the real
//! server of `mto run` with a view of 10,000 tenants (50,000 namespaces)
//! listed, and sends it AdmissionReviews from CONNECTIONS kept-alive TLS
//! connections for SECONDS (default 10 s, 32 connections): namespaces
//! created by owners (allowed) and by outsiders (refused), pods in tenant
//! namespaces, role bindings. Prints the reviews per second, the latency
//! percentiles as the client sees them, and the server's memory: resident
//! before the load and its peak during it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt as _, Full};
use mto_runtime::operator::webhook::{Admission, serve, tls_config};
use serde_json::{Value, json};

const TENANTS: usize = 10_000;
const NAMESPACES: usize = 5;

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    if args.first().map(String::as_str) == Some("serve") {
        let dir = args.get(1).ok_or("serve DIR")?;
        return runtime.block_on(serve_forever(std::path::Path::new(dir)));
    }
    let seconds: u64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(10);
    let connections: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(32);
    runtime.block_on(load(seconds, connections))
}

/// The server side: a view of the cluster, listed, and the webhook.
async fn serve_forever(dir: &std::path::Path) -> Result<(), String> {
    let cluster =
        mto_model::apiserver::ApiServer::from(mto_benches::converged_cluster(TENANTS, NAMESPACES));
    let (shared, _) = mto_benches::listed_shared(|kind| cluster.list(kind))?;
    drop(cluster);
    let tls = tls_config(&dir.join("tls.crt"), &dir.join("tls.key")).map_err(|e| e.to_string())?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    drop(listener);
    // The parent reads the address, then the memory of a server at rest.
    println!("{address}");
    serve(
        address,
        tls,
        Admission::new(shared, "mto-system".into()),
        std::future::pending(),
    )
    .await
    .map_err(|e| e.to_string())
}

/// The reviews sent, in turn: a third refused.
fn reviews() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for i in 0..64usize {
        let tenant = format!("t{:05}", (i * 157) % TENANTS);
        let owner = format!("{tenant}-user0@example.com");
        let namespace = format!("{tenant}-ns{}", i % NAMESPACES);
        let (user, object, kind, operation) = match i % 4 {
            0 => (
                owner,
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": format!("{tenant}-x{i}"), "labels": {"stakater.com/tenant": tenant}}}),
                json!({"group": "", "version": "v1", "kind": "Namespace"}),
                "CREATE",
            ),
            1 => (
                "outsider@example.com".to_owned(),
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": format!("{tenant}-y{i}"), "labels": {"stakater.com/tenant": tenant}}}),
                json!({"group": "", "version": "v1", "kind": "Namespace"}),
                "CREATE",
            ),
            2 => (
                owner,
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": format!("web-{i}"), "namespace": namespace},
                       "spec": {"containers": [{"name": "web", "image": "registry.example.com/web:1", "resources": {"requests": {"cpu": "100m"}}}]}}),
                json!({"group": "", "version": "v1", "kind": "Pod"}),
                "CREATE",
            ),
            _ => (
                owner,
                json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": format!("b{i}"), "namespace": namespace},
                       "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
                       "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": if i % 8 == 3 { "outsider@example.com".to_owned() } else { format!("{tenant}-user1@example.com") }}]}),
                json!({"group": "rbac.authorization.k8s.io", "version": "v1", "kind": "RoleBinding"}),
                "CREATE",
            ),
        };
        let review = json!({
            "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {
                "uid": format!("00000000-0000-0000-0000-{i:012}"),
                "kind": kind, "operation": operation,
                "name": object["metadata"]["name"], "namespace": object["metadata"]["namespace"],
                "userInfo": {"username": user, "groups": ["system:authenticated"]},
                "object": object, "dryRun": false
            }
        });
        out.push(review.to_string().into_bytes());
    }
    out
}

async fn load(seconds: u64, connections: usize) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("mto-webhook-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned()]).map_err(|e| e.to_string())?;
    params
        .subject_alt_names
        .push(rcgen::SanType::IpAddress([127, 0, 0, 1].into()));
    let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("tls.crt"), cert.pem()).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("tls.key"), key.serialize_pem()).map_err(|e| e.to_string())?;

    let mut server =
        std::process::Command::new(std::env::current_exe().map_err(|e| e.to_string())?)
            .args(["serve", &dir.display().to_string()])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
    let pid = server.id();
    let mut line = String::new();
    {
        use std::io::BufRead as _;
        let out = server.stdout.take().ok_or("no stdout")?;
        std::io::BufReader::new(out)
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
    }
    let address: std::net::SocketAddr =
        line.trim().parse().map_err(|e| format!("{line:?}: {e}"))?;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der().clone()).map_err(|e| e.to_string())?;
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(tls));
    // Wait for the listener.
    let mut tries = 0;
    while tokio::net::TcpStream::connect(address).await.is_err() {
        tries += 1;
        if tries > 600 {
            let _ = server.kill();
            return Err("the server did not listen".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (at_rest, _) = mto_benches::memory(pid);
    let reviews = Arc::new(reviews());
    let warmup = Duration::from_secs(1);
    let started = Instant::now();
    let until = started + warmup + Duration::from_secs(seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..connections {
        let (connector, reviews) = (connector.clone(), reviews.clone());
        tasks.spawn(async move {
            connection(c, address, connector, reviews, started + warmup, until).await
        });
    }
    let mut latencies: Vec<u32> = Vec::new();
    let mut denied = 0u64;
    while let Some(joined) = tasks.join_next().await {
        let (mut l, d) = joined.map_err(|e| e.to_string())??;
        latencies.append(&mut l);
        denied += d;
    }
    let (after, peak) = mto_benches::memory(pid);
    let _ = server.kill();
    let _ = server.wait();
    std::fs::remove_dir_all(&dir).ok();
    latencies.sort_unstable();
    let n = latencies.len();
    if n == 0 {
        return Err("no review answered".into());
    }
    let at = |q: f64| mto_benches::percentile_ms(&latencies, q);
    println!(
        "{n} reviews in {seconds} s over {connections} connections: {:.0} reviews/s ({denied} refused)",
        n as f64 / seconds as f64
    );
    println!(
        "latency: p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
        at(0.50),
        at(0.99),
        at(0.999),
        at(1.0)
    );
    println!(
        "server memory: {:.1} MiB resident with 10,000 tenants listed, {:.1} MiB at peak under load (+{:.1} MiB), {:.1} MiB after",
        at_rest as f64 / 1024.0,
        peak as f64 / 1024.0,
        peak.saturating_sub(at_rest) as f64 / 1024.0,
        after as f64 / 1024.0
    );
    Ok(())
}

/// One kept-alive connection sending reviews one after another; the
/// latencies (µs) of those answered after `from`, and how many refused.
async fn connection(
    c: usize,
    address: std::net::SocketAddr,
    connector: tokio_rustls::TlsConnector,
    reviews: Arc<Vec<Vec<u8>>>,
    from: Instant,
    until: Instant,
) -> Result<(Vec<u32>, u64), String> {
    let tcp = tokio::net::TcpStream::connect(address)
        .await
        .map_err(|e| e.to_string())?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    let name = rustls::pki_types::ServerName::try_from("localhost").map_err(|e| e.to_string())?;
    let tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Full<hyper::body::Bytes>>(
        hyper_util::rt::TokioIo::new(tls),
    )
    .await
    .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let mut latencies = Vec::new();
    let mut denied = 0;
    let mut i = c;
    while Instant::now() < until {
        let body = reviews[i % reviews.len()].clone();
        i += 1;
        let request = http::Request::post("/validate")
            .header("host", "localhost")
            .header("content-type", "application/json")
            .body(Full::new(hyper::body::Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let sent = Instant::now();
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        let took = sent.elapsed();
        let answer: Value = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
        if answer["response"]["allowed"] != true {
            denied += 1;
        }
        if sent >= from {
            latencies.push(u32::try_from(took.as_micros()).unwrap_or(u32::MAX));
        }
    }
    Ok((latencies, denied))
}
