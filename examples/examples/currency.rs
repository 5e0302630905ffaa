//! The reference book's currency-rate fetcher: many concurrent I/O-bound
//! requests, done with actors. A small local HTTP rate service (started
//! here, no internet needed) answers each request after 50 ms, as a real
//! one would take; ten `RateFetcher` actors fetch twenty rates with `ureq`
//! (each request on tokio's blocking pool, so an actor waits without
//! holding its thread), and every rate is checked.
//!
//! `cargo run -p arbour-examples --example currency`

use actix::prelude::*;
use arbour::Node;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the service answers, per pair.
fn rate(from: &str, to: &str) -> Option<f64> {
    let usd = |c: &str| match c {
        "USD" => Some(1.0),
        "EUR" => Some(0.92),
        "GBP" => Some(0.79),
        "JPY" => Some(151.3),
        "VND" => Some(25_400.0),
        _ => None,
    };
    Some(usd(to)? / usd(from)?)
}

/// The service's latency per request.
const LATENCY: Duration = Duration::from_millis(50);

/// Serves `GET /rate/FROM/TO` until the program ends.
async fn rate_service(listener: tokio::net::TcpListener) {
    while let Ok((mut sock, _)) = listener.accept().await {
        tokio::task::spawn_local(async move {
            let mut buf = vec![0u8; 1024];
            let n = sock.read(&mut buf).await.unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]);
            let path = req.split(' ').nth(1).unwrap_or("");
            let mut parts = path.trim_start_matches("/rate/").split('/');
            let (from, to) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            tokio::time::sleep(LATENCY).await;
            let (status, body) = match rate(from, to) {
                Some(r) => ("200 OK", format!("{r:.6}")),
                None => ("404 Not Found", "unknown currency".to_owned()),
            };
            let reply = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(reply.as_bytes()).await;
        });
    }
}

/// Fetches rates from the service.
struct RateFetcher {
    base: String,
    fetched: u32,
}
impl Actor for RateFetcher {
    type Context = Context<Self>;
}

/// Ask: the rate from one currency to another.
#[derive(Message)]
#[rtype(result = "Result<f64, String>")]
struct GetRate {
    from: String,
    to: String,
}

impl Handler<GetRate> for RateFetcher {
    type Result = ResponseFuture<Result<f64, String>>;
    fn handle(&mut self, GetRate { from, to }: GetRate, _: &mut Context<Self>) -> Self::Result {
        self.fetched += 1;
        let url = format!("{}/rate/{from}/{to}", self.base);
        Box::pin(async move {
            // ureq blocks: the request runs on the blocking pool
            let body = tokio::task::spawn_blocking(move || {
                ureq::get(&url)
                    .call()
                    .map_err(|e| e.to_string())?
                    .into_string()
                    .map_err(|e| e.to_string())
            })
            .await
            .map_err(|e| e.to_string())??;
            body.trim().parse::<f64>().map_err(|e| e.to_string())
        })
    }
}

fn main() {
    arbour_examples::run(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::task::spawn_local(rate_service(listener));
        let node = Node::builder("fetcher").build();
        let fetchers: Vec<_> = (0..10)
            .map(|_| {
                node.spawn(RateFetcher {
                    base: base.clone(),
                    fetched: 0,
                })
            })
            .collect();
        let currencies = ["USD", "EUR", "GBP", "JPY", "VND"];
        let pairs: Vec<(&str, &str)> = currencies
            .iter()
            .flat_map(|a| currencies.iter().map(move |b| (*a, *b)))
            .filter(|(a, b)| a != b)
            .collect();
        let started = Instant::now();
        let asks = pairs.iter().enumerate().map(|(i, (from, to))| {
            let f = fetchers[i % fetchers.len()].clone();
            async move {
                let r = f
                    .ask(GetRate {
                        from: (*from).into(),
                        to: (*to).into(),
                    })
                    .timeout(Duration::from_secs(10))
                    .await;
                ((*from, *to), r)
            }
        });
        let results: BTreeMap<(&str, &str), _> = futures_util::future::join_all(asks)
            .await
            .into_iter()
            .collect();
        let took = started.elapsed();
        let mut wrong = 0;
        for ((from, to), r) in &results {
            match r {
                Ok(Ok(v))
                    if (v - rate(from, to).unwrap_or(f64::NAN)).abs() < 1e-6 * v.abs().max(1.0) => {
                }
                other => {
                    wrong += 1;
                    println!("{from}->{to}: {other:?}");
                }
            }
        }
        println!("1 USD = {:.2} VND", rate("USD", "VND").unwrap_or(0.0));
        println!(
            "fetched {} rates with {} actors in {} ms (one at a time: at least {} ms); {wrong} wrong",
            results.len(),
            fetchers.len(),
            took.as_millis(),
            LATENCY.as_millis() * results.len() as u128
        );
        if wrong > 0 || results.len() != 20 {
            std::process::exit(1);
        }
    })
}
