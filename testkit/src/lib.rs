//! `arbour-testkit`: small remote actors that exercise a deployment's
//! network. The `arbour serve` command exposes them, and the integration
//! tests, the simulator and the benchmarks talk to them from another node
//! (in the same process or another one). Not the CLI's: nothing here needs
//! `arbour-node`.

use actix::prelude::*;
use arbour::{ActorRef, ContextExt, ExitReason};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Answers pings, keeps per-sender order statistics, holds a ref, crashes
/// on request.
#[derive(Debug, Default)]
pub struct Echo {
    /// Per sender: the last sequence number seen.
    last: HashMap<u32, u64>,
    received: u64,
    out_of_order: u64,
    gaps: u64,
    held: Option<ActorRef<Echo>>,
}

impl Actor for Echo {
    type Context = Context<Self>;
}

/// Ask: answers with the number plus one.
#[derive(Clone, Debug, Message, Serialize, Deserialize)]
#[rtype(result = "u64")]
pub struct Ping(pub u64);
arbour::remote_message!(Ping => "probe.ping.v1");

/// Tell: message `seq` from sender `sender` (sequence numbers start at 1).
#[derive(Clone, Debug, Message, Serialize, Deserialize)]
#[rtype(result = "()")]
pub struct Tally {
    /// Who sent it.
    pub sender: u32,
    /// Its position in that sender's stream.
    pub seq: u64,
}
arbour::remote_message!(Tally => "probe.tally.v1");

/// Ask: what [`Tally`] messages arrived.
#[derive(Clone, Debug, Message, Serialize, Deserialize)]
#[rtype(result = "TallyReport")]
pub struct Report;
arbour::remote_message!(Report => "probe.report.v1");

/// The answer to [`Report`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TallyReport {
    /// Tally messages received.
    pub received: u64,
    /// Messages whose sequence number was not above the sender's previous
    /// one (reordered or duplicated).
    pub out_of_order: u64,
    /// Messages whose sequence number skipped some (the ones between were
    /// lost: allowed only when the link broke, as in Erlang).
    pub gaps: u64,
    /// Per sender, the last sequence number seen.
    pub last: Vec<(u32, u64)>,
}

/// Tell: panic now (with this message).
#[derive(Clone, Debug, Message, Serialize, Deserialize)]
#[rtype(result = "()")]
pub struct Crash(pub String);
arbour::remote_message!(Crash => "probe.crash.v1");

/// Tell: stop with this error reason.
#[derive(Clone, Debug, Message, Serialize, Deserialize)]
#[rtype(result = "()")]
pub struct Fail(pub String);
arbour::remote_message!(Fail => "probe.fail.v1");

/// Ask: keep this ref; answers with the one held before, if any.
#[derive(Debug, Message, Serialize, Deserialize)]
#[rtype(result = "Option<ActorRef<Echo>>")]
pub struct Hold(pub ActorRef<Echo>);
arbour::remote_message!(Hold => "probe.hold.v1");

/// Ask: ping the held ref with this number and answer with its reply.
#[derive(Clone, Debug, Message, Serialize, Deserialize)]
#[rtype(result = "Option<u64>")]
pub struct PingHeld(pub u64);
arbour::remote_message!(PingHeld => "probe.ping_held.v1");

/// Ask: answers with the number after waiting this many milliseconds
/// (the actor keeps serving meanwhile).
#[derive(Clone, Debug, Message, Serialize, Deserialize)]
#[rtype(result = "u64")]
pub struct Delay(pub u64);
arbour::remote_message!(Delay => "probe.delay.v1");

/// Ask: keeps the actor's worker thread busy computing for this many
/// milliseconds, as a CPU-bound handler does (nothing else runs on that
/// worker meanwhile); answers with the rounds computed.
#[derive(Clone, Debug, Message, Serialize, Deserialize)]
#[rtype(result = "u64")]
pub struct Spin(pub u64);
arbour::remote_message!(Spin => "probe.spin.v1");

/// Ask: a large payload (sent on a stream of its own when over 64 KiB);
/// answers with the number, having checked nothing but its arrival.
#[derive(Clone, Debug, Message, Serialize, Deserialize)]
#[rtype(result = "u64")]
pub struct Blob(pub String, pub u64);
arbour::remote_message!(Blob => "probe.blob.v1");

/// Ask: the name of the thread (the node's worker) the actor runs on.
#[derive(Clone, Debug, Message, Serialize, Deserialize)]
#[rtype(result = "String")]
pub struct WhereAreYou;
arbour::remote_message!(WhereAreYou => "probe.where.v1");

arbour::remote_actor!(Echo {
    Ping,
    Delay,
    Spin,
    Blob,
    WhereAreYou,
    Tally,
    Report,
    Crash,
    Fail,
    Hold,
    PingHeld
});

impl Handler<Ping> for Echo {
    type Result = u64;
    fn handle(&mut self, Ping(n): Ping, _: &mut Context<Self>) -> u64 {
        n.wrapping_add(1)
    }
}

impl Handler<Blob> for Echo {
    type Result = u64;
    fn handle(&mut self, Blob(_, n): Blob, _: &mut Context<Self>) -> u64 {
        n
    }
}

impl Handler<WhereAreYou> for Echo {
    type Result = String;
    fn handle(&mut self, _: WhereAreYou, _: &mut Context<Self>) -> String {
        std::thread::current()
            .name()
            .unwrap_or("unnamed")
            .to_owned()
    }
}

impl Handler<Delay> for Echo {
    type Result = ResponseFuture<u64>;
    fn handle(&mut self, Delay(ms): Delay, _: &mut Context<Self>) -> Self::Result {
        Box::pin(async move {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            ms
        })
    }
}

impl Handler<Spin> for Echo {
    type Result = u64;
    fn handle(&mut self, Spin(ms): Spin, _: &mut Context<Self>) -> u64 {
        let until = std::time::Instant::now() + std::time::Duration::from_millis(ms);
        let (mut rounds, mut x) = (0u64, 1u64);
        while std::time::Instant::now() < until {
            for _ in 0..1_000 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
            rounds += 1;
        }
        rounds
    }
}

impl Handler<Tally> for Echo {
    type Result = ();
    fn handle(&mut self, t: Tally, _: &mut Context<Self>) {
        self.received += 1;
        let last = self.last.entry(t.sender).or_insert(0);
        if t.seq <= *last {
            self.out_of_order += 1;
        } else {
            if t.seq != *last + 1 {
                self.gaps += 1;
            }
            *last = t.seq;
        }
    }
}

impl Handler<Report> for Echo {
    type Result = MessageResult<Report>;
    fn handle(&mut self, _: Report, _: &mut Context<Self>) -> Self::Result {
        let mut last: Vec<(u32, u64)> = self.last.iter().map(|(k, v)| (*k, *v)).collect();
        last.sort();
        MessageResult(TallyReport {
            received: self.received,
            out_of_order: self.out_of_order,
            gaps: self.gaps,
            last,
        })
    }
}

impl Handler<Crash> for Echo {
    type Result = ();
    fn handle(&mut self, Crash(why): Crash, _: &mut Context<Self>) {
        panic!("{why}");
    }
}

impl Handler<Fail> for Echo {
    type Result = ();
    fn handle(&mut self, Fail(why): Fail, ctx: &mut Context<Self>) {
        ctx.stop_with(ExitReason::Error(why));
    }
}

impl Handler<Hold> for Echo {
    type Result = MessageResult<Hold>;
    fn handle(&mut self, Hold(r): Hold, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.held.replace(r))
    }
}

impl Handler<PingHeld> for Echo {
    type Result = ResponseFuture<Option<u64>>;
    fn handle(&mut self, PingHeld(n): PingHeld, _: &mut Context<Self>) -> Self::Result {
        let held = self.held.clone();
        Box::pin(async move {
            match held {
                Some(r) => r.ask(Ping(n)).await.ok(),
                None => None,
            }
        })
    }
}

/// The name under which `arbour serve` exposes its [`Echo`].
pub const ECHO: &str = "echo";

/// Spawns an [`Echo`] on `node` and exposes it as [`ECHO`].
pub fn serve_echo(node: &arbour::Node) -> ActorRef<Echo> {
    let echo = node.spawn(Echo::default());
    node.expose(ECHO, &echo)
        .unwrap_or_else(|e| panic!("expose {ECHO}: {e}"));
    echo
}

/// Dials node `peer` at `addr` from `node` and looks up the [`Echo`] it
/// exposes as [`ECHO`].
pub async fn dial_echo(
    node: &arbour::Node,
    peer: &str,
    addr: std::net::SocketAddr,
    timeout: std::time::Duration,
) -> Result<ActorRef<Echo>, arbour::NodeError> {
    node.net().connect(peer, addr).await?;
    node.lookup(peer, ECHO, timeout).await
}

/// `senders` senders each `send` `per_sender` [`Tally`] messages to `echo`,
/// interleaved with one another; returns once all are sent, or at the first
/// refusal.
pub async fn send_tallies(
    echo: &ActorRef<Echo>,
    senders: u32,
    per_sender: u64,
) -> Result<(), arbour::TellError<Tally>> {
    futures_util::future::try_join_all((0..senders).map(|sender| async move {
        for seq in 1..=per_sender {
            // `tell_when_room` waits while the lane is full
            echo.tell_when_room(Tally { sender, seq }).await?;
            if seq % 64 == 0 {
                tokio::task::yield_now().await;
            }
        }
        Ok(())
    }))
    .await
    .map(drop)
}

/// What beta believes alpha's `Echo` accepts: one message alpha does not
/// accept, and one whose payload alpha cannot decode (same tag as `Ping`,
/// another shape) — what a version skew between nodes looks like. Look it
/// up under [`ECHO`] to send these to an `Echo`.
#[derive(Debug)]
pub struct SkewedEcho;
impl Actor for SkewedEcho {
    type Context = Context<Self>;
}

/// A message no `Echo` accepts.
#[derive(Debug, Message, Serialize, Deserialize)]
#[rtype(result = "u64")]
pub struct Unknown(pub u64);
arbour::remote_message!(Unknown => "probe.nobody_accepts_this.v1");

/// `Ping`'s tag with a payload of another shape.
#[derive(Debug, Message, Serialize, Deserialize)]
#[rtype(result = "u64")]
pub struct WrongShape(pub String, pub String);
arbour::remote_message!(WrongShape => "probe.ping.v1");

arbour::remote_actor!(SkewedEcho {
    Unknown,
    WrongShape
});

impl Handler<Unknown> for SkewedEcho {
    type Result = u64;
    fn handle(&mut self, m: Unknown, _: &mut Context<Self>) -> u64 {
        m.0
    }
}

impl Handler<WrongShape> for SkewedEcho {
    type Result = u64;
    fn handle(&mut self, _: WrongShape, _: &mut Context<Self>) -> u64 {
        0
    }
}

/// Other nodes may start an `Echo` by kind name ([`ECHO_KIND`]).
impl arbour::cluster::Kind for Echo {
    type Args = ();
    fn from_args((): ()) -> Self {
        Echo::default()
    }
}

/// The process group `arbour serve` members put their [`Echo`] in.
pub const ECHOES: &str = "echoes";

/// The kind name `arbour serve` registers [`Echo`] under.
pub const ECHO_KIND: &str = "echo";
