//! Ping-pong across two nodes: a `Ping` actor on one node and a `Pong` on
//! the other bounce a counter back and forth by tells, each holding a ref
//! to the other that came over the wire inside a message.
//!
//! `cargo run -p arbour-examples --example ping_pong`

use actix::prelude::*;
use arbour::ActorRef;
use arbour_examples::{cluster, run, WAIT};

/// The rally ends at ping's first hit past this many.
const ROUNDS: u64 = 1_000;

struct Player {
    name: &'static str,
    /// Its own ref, to send along with the ball (given once it runs).
    me: Option<ActorRef<Player>>,
    done: Option<tokio::sync::oneshot::Sender<u64>>,
}

/// A local message: here is your own ref.
#[derive(Message)]
#[rtype(result = "()")]
struct Me(ActorRef<Player>);
impl Handler<Me> for Player {
    type Result = ();
    fn handle(&mut self, Me(me): Me, _: &mut Context<Self>) {
        self.me = Some(me);
    }
}
impl Actor for Player {
    type Context = Context<Self>;
}

/// The ball: how many times it has been hit, and who to hit it back to.
#[arbour::message(tag = "examples.ping_pong.ball.v1")]
struct Ball {
    hits: u64,
    from: ActorRef<Player>,
}
arbour::remote_actor!(Player { Ball });

impl Handler<Ball> for Player {
    type Result = ();
    fn handle(&mut self, ball: Ball, _: &mut Context<Self>) {
        // the server (ping, who holds `done`) ends the rally
        if ball.hits >= ROUNDS {
            if let Some(done) = self.done.take() {
                let _ = done.send(ball.hits);
                return;
            }
        }
        if ball.hits.is_multiple_of(250) {
            println!("{} hits the ball ({} so far)", self.name, ball.hits);
        }
        if let Some(me) = &self.me {
            ball.from.tell(Ball {
                hits: ball.hits + 1,
                from: me.clone(),
            });
        }
    }
}

fn main() {
    run(async {
        let nodes = cluster("ping-pong", &[("left", &[]), ("right", &[])]).await;
        let (left, right) = (&nodes[0], &nodes[1]);
        let (done_tx, done) = tokio::sync::oneshot::channel();
        let pong = right.spawn(Player {
            name: "pong",
            me: None,
            done: None,
        });
        pong.tell(Me(pong.clone()));
        right.global().register("pong", &pong).expect("register");
        let ping = left.spawn(Player {
            name: "ping",
            me: None,
            done: Some(done_tx),
        });
        ping.tell(Me(ping.clone()));
        let pong = left
            .global()
            .wait_for::<Player>("pong", WAIT)
            .await
            .expect("pong");
        let started = std::time::Instant::now();
        pong.tell(Ball {
            hits: 0,
            from: ping,
        });
        let hits = tokio::time::timeout(WAIT, done)
            .await
            .expect("the rally ends")
            .expect("done");
        println!(
            "{hits} hits across two nodes in {:.1} ms",
            started.elapsed().as_secs_f64() * 1000.0
        );
        if hits < ROUNDS {
            std::process::exit(1);
        }
    })
}
