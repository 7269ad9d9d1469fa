//! The API gateway under load, over HTTP, as browsers and API clients call it.
//!
//!     cargo run --release -p mto-benches --bin gateway_load [-- SECONDS CONNECTIONS]
//!
//! Starts an OpenID Connect issuer of its own (discovery and keys; tokens
//! signed with a fresh ES256 key) and a gateway process (`gateway_load
//! serve ISSUER`), the real server of `mto run --gateway-address` with a
//! view of 1,000 tenants (5,000 namespaces) listed, and sends it requests
//! from CONNECTIONS kept-alive connections for SECONDS (default 10 s, 16
//! connections), every one with a bearer token checked against the keys:
//! a tenant owner listing her tenants and getting one, and a platform
//! admin listing a page of 100 and getting any. Prints the requests per
//! second, the latency percentiles per request as the client sees them,
//! and the server's memory: resident before the load and its peak.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt as _, Empty};
use mto_model::view::{Kind, Object};
use mto_runtime::gateway::{Gateway, OidcConfig, serve};
use serde_json::json;

const TENANTS: usize = 1_000;
const NAMESPACES: usize = 5;
const AUDIENCE: &str = "mto";
const ADMINS: &str = "platform-admins";

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    if args.first().map(String::as_str) == Some("serve") {
        let (Some(issuer), Some(objects)) = (args.get(1), args.get(2)) else {
            return Err("serve ISSUER OBJECTS".into());
        };
        return runtime.block_on(serve_forever(issuer.clone(), std::path::Path::new(objects)));
    }
    let seconds: u64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(10);
    let connections: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(16);
    runtime.block_on(load(seconds, connections))
}

/// The server side: a view of the cluster, listed, and the gateway.
async fn serve_forever(issuer: String, objects: &std::path::Path) -> Result<(), String> {
    // The objects arrive as a watch brings them: read, each its own, and
    // slimmed as the view keeps them.
    let text = std::fs::read_to_string(objects).map_err(|e| e.to_string())?;
    let mut by_kind: BTreeMap<Kind, Vec<Object>> = BTreeMap::new();
    for line in text.lines() {
        let value: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
        let object = Object::from_json(value).map_err(|e| e.to_string())?;
        by_kind.entry(object.kind()).or_default().push(object);
    }
    drop(text);
    let by_kind = std::sync::Mutex::new(by_kind);
    let (shared, kube) = mto_benches::listed_shared(|kind| {
        by_kind
            .lock()
            .ok()
            .and_then(|mut m| m.remove(kind))
            .unwrap_or_default()
    })?;
    let gateway = Gateway::new(
        shared,
        OidcConfig {
            issuer,
            audience: AUDIENCE.into(),
            username_claim: "preferred_username".into(),
            groups_claim: "groups".into(),
        },
        kube,
        None,
        None,
        vec![ADMINS.into()],
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    drop(listener);
    println!("{address}");
    serve(address, gateway, std::future::pending())
        .await
        .map_err(|e| e.to_string())
}

fn base64url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// An issuer serving its discovery document and one ES256 key; a token
/// maker for it.
async fn issuer() -> Result<(String, impl Fn(&str, &[&str]) -> Result<String, String>), String> {
    let pair = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    let point = pair.public_key_raw().to_vec();
    let der = pair.serialize_der();
    let jwk = json!({"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": "load",
                     "x": base64url(&point[1..33]), "y": base64url(&point[33..65])});
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let base = format!(
        "http://{}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let jwks_uri = format!("{base}/keys");
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            axum::routing::get(move || {
                let jwks_uri = jwks_uri.clone();
                async move { axum::Json(json!({ "jwks_uri": jwks_uri })) }
            }),
        )
        .route(
            "/keys",
            axum::routing::get(move || {
                let jwk = jwk.clone();
                async move { axum::Json(json!({ "keys": [jwk] })) }
            }),
        );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let iss = base.clone();
    let token = move |user: &str, groups: &[&str]| {
        let now = mto_model::Timestamp::now().as_second();
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some("load".into());
        let claims = json!({"iss": iss, "aud": AUDIENCE, "exp": now + 3600, "iat": now,
                            "preferred_username": user, "groups": groups});
        jsonwebtoken::encode(
            &header,
            &claims,
            &jsonwebtoken::EncodingKey::from_ec_der(&der),
        )
        .map_err(|e| e.to_string())
    };
    Ok((base, token))
}

/// One kind of request: its name, path and bearer token.
struct Call {
    name: &'static str,
    path: String,
    token: String,
}

async fn load(seconds: u64, connections: usize) -> Result<(), String> {
    let (issuer, token) = issuer().await?;
    // The cluster, made here: the gateway lists it from a file, as from
    // a watch, and holds only what it keeps of it.
    let objects =
        std::env::temp_dir().join(format!("mto-gateway-load-{}.jsonl", std::process::id()));
    {
        use std::io::Write as _;
        let cluster = mto_benches::converged_cluster(TENANTS, NAMESPACES);
        let mut file =
            std::io::BufWriter::new(std::fs::File::create(&objects).map_err(|e| e.to_string())?);
        for kind in Kind::watched_kinds() {
            for object in cluster.list(kind) {
                let json = object.to_json().map_err(|e| e.to_string())?;
                writeln!(file, "{json}").map_err(|e| e.to_string())?;
            }
        }
        file.flush().map_err(|e| e.to_string())?;
    }
    let mut server =
        std::process::Command::new(std::env::current_exe().map_err(|e| e.to_string())?)
            .args(["serve", &issuer, &objects.display().to_string()])
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
    let mut tries = 0;
    while tokio::net::TcpStream::connect(address).await.is_err() {
        tries += 1;
        if tries > 600 {
            let _ = server.kill();
            return Err("the gateway did not listen".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (at_rest, _) = mto_benches::memory(pid);
    let owner = token("t00042-user0@example.com", &["developers"])?;
    let admin = token("root@example.com", &[ADMINS])?;
    let calls = Arc::new(vec![
        Call {
            name: "list tenants, owner",
            path: "/api/v1/tenants".into(),
            token: owner.clone(),
        },
        Call {
            name: "get tenant, owner",
            path: "/api/v1/tenants/t00042".into(),
            token: owner,
        },
        Call {
            name: "list tenants, admin (page of 100)",
            path: "/api/v1/tenants?limit=100".into(),
            token: admin.clone(),
        },
        Call {
            name: "get tenant, admin",
            path: "/api/v1/tenants/t00777".into(),
            token: admin,
        },
    ]);
    let warmup = Duration::from_secs(1);
    let started = Instant::now();
    let until = started + warmup + Duration::from_secs(seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..connections {
        let calls = calls.clone();
        tasks.spawn(async move { connection(c, address, calls, started + warmup, until).await });
    }
    let mut latencies: BTreeMap<usize, Vec<u32>> = BTreeMap::new();
    while let Some(joined) = tasks.join_next().await {
        for (call, mut l) in joined.map_err(|e| e.to_string())?? {
            latencies.entry(call).or_default().append(&mut l);
        }
    }
    let (after, peak) = mto_benches::memory(pid);
    let _ = server.kill();
    let _ = server.wait();
    std::fs::remove_file(&objects).ok();
    let total: usize = latencies.values().map(Vec::len).sum();
    if total == 0 {
        return Err("no request answered".into());
    }
    println!(
        "{total} requests in {seconds} s over {connections} connections: {:.0} requests/s, every one with a verified token",
        total as f64 / seconds as f64
    );
    for (call, l) in &mut latencies {
        l.sort_unstable();
        println!(
            "{:<36} p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            calls[*call].name,
            mto_benches::percentile_ms(l, 0.50),
            mto_benches::percentile_ms(l, 0.99),
            mto_benches::percentile_ms(l, 1.0)
        );
    }
    println!(
        "gateway memory: {:.1} MiB resident with 1,000 tenants listed, {:.1} MiB at peak under load, {:.1} MiB after",
        at_rest as f64 / 1024.0,
        peak as f64 / 1024.0,
        after as f64 / 1024.0
    );
    Ok(())
}

/// One kept-alive connection sending the calls in turn; the latencies
/// (µs) of each call answered after `from`. A call not answered 200 stops
/// the run.
async fn connection(
    c: usize,
    address: std::net::SocketAddr,
    calls: Arc<Vec<Call>>,
    from: Instant,
    until: Instant,
) -> Result<BTreeMap<usize, Vec<u32>>, String> {
    let tcp = tokio::net::TcpStream::connect(address)
        .await
        .map_err(|e| e.to_string())?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Empty<hyper::body::Bytes>>(
        hyper_util::rt::TokioIo::new(tcp),
    )
    .await
    .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let mut latencies: BTreeMap<usize, Vec<u32>> = BTreeMap::new();
    let mut i = c;
    while Instant::now() < until {
        let n = i % calls.len();
        let call = &calls[n];
        i += 1;
        let request = http::Request::get(call.path.as_str())
            .header("host", "localhost")
            .header("authorization", format!("Bearer {}", call.token))
            .body(Empty::new())
            .map_err(|e| e.to_string())?;
        let sent = Instant::now();
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        let took = sent.elapsed();
        if status != http::StatusCode::OK {
            return Err(format!(
                "{} answered {status}: {}",
                call.path,
                String::from_utf8_lossy(&bytes)
            ));
        }
        if sent >= from {
            latencies
                .entry(n)
                .or_default()
                .push(u32::try_from(took.as_micros()).unwrap_or(u32::MAX));
        }
    }
    Ok(latencies)
}
