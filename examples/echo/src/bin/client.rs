//! The echo client: depends on the protocol crate only, not on the server.
//!
//! `cargo run -p arbour-echo --bin echo-client -- <server address>`

use arbour::{Node, Remote, Service};
use arbour_echo::{Count, Echo, Next, Reset, NAME, SECRET};
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr: std::net::SocketAddr = std::env::args()
        .nth(1)
        .ok_or("usage: echo-client <server address>")?
        .parse()?;
    let outcome = Node::builder("client")
        .secret(SECRET)
        .workers(1)
        .peer("server", addr)
        .run(|node| async move {
            let echo: Remote<Echo> = node
                .lookup::<Service<Echo>>("server", NAME, Duration::from_secs(10))
                .await?;
            let mut n = 0;
            for _ in 0..3 {
                n = echo.ask(Next(n)).await?;
            }
            println!("next: {n}");
            println!("count: {}", echo.ask(Count).await?);
            echo.tell(Reset);
            println!("count after reset: {}", echo.ask(Count).await?);
            Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
        })?;
    match outcome {
        Some(Ok(())) => Ok(()),
        Some(Err(e)) => Err(e.to_string().into()),
        None => Err("interrupted".into()),
    }
}
