//! The echo server: serves the echo protocol until stdin closes or Ctrl-C.
//! Prints `listening <address>` once it can be reached.
//!
//! `cargo run -p arbour-echo --bin echo-server`

use actix::prelude::*;
use arbour_echo::{Count, Echo, Next, Reset, NAME, SECRET};

#[derive(Default)]
struct EchoServer {
    answered: u64,
}

impl Actor for EchoServer {
    type Context = Context<Self>;
}

impl Handler<Next> for EchoServer {
    type Result = u64;
    fn handle(&mut self, Next(n): Next, _: &mut Context<Self>) -> u64 {
        self.answered += 1;
        n + 1
    }
}

impl Handler<Count> for EchoServer {
    type Result = u64;
    fn handle(&mut self, _: Count, _: &mut Context<Self>) -> u64 {
        self.answered
    }
}

impl Handler<Reset> for EchoServer {
    type Result = ();
    fn handle(&mut self, _: Reset, _: &mut Context<Self>) {
        self.answered = 0;
    }
}

// every message of the protocol must have a handler: a missing one does not compile
arbour::serves!(EchoServer => Echo);

fn main() -> Result<(), arbour::NodeError> {
    arbour::Node::builder("server")
        .secret(SECRET)
        .workers(1)
        .run(|node| async move {
            let echo = node.spawn(EchoServer::default());
            node.expose(NAME, &echo).expect("expose");
            println!("listening {}", node.net().local_addr().expect("address"));
            // serve until stdin closes (or a signal stops the node)
            let (closed_tx, closed_rx) = tokio::sync::oneshot::channel::<()>();
            std::thread::spawn(move || {
                let mut sink = String::new();
                while std::io::stdin().read_line(&mut sink).is_ok_and(|n| n > 0) {
                    sink.clear();
                }
                let _ = closed_tx.send(());
            });
            let _ = closed_rx.await;
        })?;
    Ok(())
}
