//! Requests per second through the REST door, in one run: straight to the
//! mock (plain HTTP, and HTTPS as an app reaches api.resend.com), through
//! `record` in front of the HTTPS mock (each exchange redacted and written to
//! its tape before the answer leaves), and `replay --loop` of a tape of one
//! exchange. Cases interleaved, 3 rounds, medians with min–max.
//!
//! ```sh
//! cargo run --release --example rest_bench              # 4,000 requests a case, 16 at once
//! cargo run --release --example rest_bench -- 2000 8
//! ```
//!
//! Everything runs in this process on one runtime (servers and load
//! generator share the machine's cores), with HTTP/1.1 keep-alive
//! connections, `POST /emails` of a small JSON email, scenario `unlimited`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use mailtape::{MockServer, RecordServer, ReplayServer};

const KEY: &str = "re_Bench1234_abcdEFGH";
const BODY: &str = r#"{"from":"Acme <billing@acme.com>","to":["delivered@resend.dev"],"subject":"Bench","html":"<p>Hi</p>"}"#;

async fn run(
    client: &Arc<mailtape::HttpClient>,
    base: &str,
    n: usize,
    conc: usize,
) -> (f64, Duration, Duration) {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conc {
        let client = client.clone();
        let url = format!("{base}/emails");
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(n / conc);
            for _ in 0..n / conc {
                let t = Instant::now();
                let req = hyper::Request::post(&url)
                    .header("Authorization", format!("Bearer {KEY}"))
                    .header("Content-Type", "application/json")
                    .body(Full::new(Bytes::from_static(BODY.as_bytes())))
                    .expect("request");
                let resp = client.request(req).await.expect("answer");
                assert_eq!(resp.status(), 200, "{url}");
                let _ = resp.into_body().collect().await;
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    let secs = start.elapsed().as_secs_f64();
    all.sort();
    let p = |q: f64| all[((all.len() as f64 - 1.0) * q) as usize];
    (all.len() as f64 / secs, p(0.5), p(0.99))
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(4000);
    let conc: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(16);
    let dir = tempfile::tempdir().expect("temp dir");
    let plain = MockServer::builder()
        .scenario("unlimited")
        .certs_dir(dir.path())
        .rest()
        .start()
        .await
        .expect("mock");
    let tls = MockServer::builder()
        .scenario("unlimited")
        .certs_dir(dir.path())
        .rest_tls()
        .start()
        .await
        .expect("mock over HTTPS");
    let ca = tls.ca_path().expect("ca").to_path_buf();
    let upstream = tls.rest_url().expect("https door");
    let rec = RecordServer::builder()
        .rest_upstream(&upstream)
        .rest_upstream_ca(&ca)
        .certs_dir(dir.path())
        .tape_file(dir.path().join("bench.tape"))
        .start()
        .await
        .expect("record");
    // A tape of one exchange, recorded the same way, for replay --loop.
    let one = dir.path().join("one.tape");
    let rec1 = RecordServer::builder()
        .rest_upstream(&upstream)
        .rest_upstream_ca(&ca)
        .certs_dir(dir.path())
        .tape_file(&one)
        .start()
        .await
        .expect("record one");
    let client =
        Arc::new(mailtape::http_client(Some(&ca), Duration::from_secs(10), false).expect("client"));
    run(&client, &rec1.rest_url().expect("rest"), 1, 1).await;
    rec1.shutdown().await;
    let replay = ReplayServer::builder(one.display().to_string())
        .rest()
        .looped(true)
        .start()
        .await
        .expect("replay");
    let cases = [
        ("mock, plain HTTP", plain.rest_url().expect("rest")),
        ("mock, HTTPS", upstream.clone()),
        ("record → mock (HTTPS)", rec.rest_url().expect("rest")),
        ("replay --loop", replay.rest_url().expect("rest")),
    ];
    let mut results: Vec<Vec<(f64, Duration, Duration)>> = vec![Vec::new(); cases.len()];
    // warm-up
    for (_, base) in &cases {
        run(&client, base, 200, conc.min(8)).await;
    }
    for _round in 0..3 {
        for (i, (_, base)) in cases.iter().enumerate() {
            results[i].push(run(&client, base, n, conc).await);
        }
    }
    println!("{n} requests a case, {conc} at once, 3 rounds (median, min–max):");
    println!(
        "{:<24} {:>22} {:>10} {:>10}",
        "case", "req/s", "p50 ms", "p99 ms"
    );
    let mut medians = Vec::new();
    for (i, (name, _)) in cases.iter().enumerate() {
        let mut r = results[i].clone();
        r.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (lo, med, hi) = (r[0], r[1], r[2]);
        medians.push(med.0);
        println!(
            "{:<24} {:>8.0} ({:>5.0}–{:>5.0}) {:>10.2} {:>10.2}",
            name,
            med.0,
            lo.0,
            hi.0,
            med.1.as_secs_f64() * 1000.0,
            med.2.as_secs_f64() * 1000.0
        );
    }
    println!(
        "record / mock over HTTPS: {:.2}×; replay / mock over plain HTTP: {:.2}×",
        medians[2] / medians[1],
        medians[3] / medians[0]
    );
    replay.shutdown().await;
    rec.shutdown().await;
    tls.shutdown().await;
    plain.shutdown().await;
}
