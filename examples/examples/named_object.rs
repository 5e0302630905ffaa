//! A Pyro-style named remote object: the reference book's
//! `GreetingMaker`, registered by name on one node, looked up by that name
//! and called from another (no address, no URI: the cluster registry knows
//! where it lives).
//!
//! `cargo run -p arbour-examples --example named_object`

use actix::prelude::*;
use arbour_examples::{cluster, run, WAIT};

/// Pyro's example object.
struct GreetingMaker {
    served: u32,
}
impl Actor for GreetingMaker {
    type Context = Context<Self>;
}

/// `get_fortune(name)`.
#[arbour::message(tag = "examples.greeting.fortune.v1", reply = String)]
struct GetFortune(String);
arbour::remote_actor!(GreetingMaker { GetFortune });
impl Handler<GetFortune> for GreetingMaker {
    type Result = String;
    fn handle(&mut self, GetFortune(name): GetFortune, _: &mut Context<Self>) -> String {
        self.served += 1;
        format!(
            "Hello, {name}. Here is your fortune message (number {}): \
             Tomorrow's lucky number is 12345678.",
            self.served
        )
    }
}

fn main() {
    run(async {
        let nodes = cluster("pyro", &[("server", &[]), ("client", &[])]).await;
        let (server, client) = (&nodes[0], &nodes[1]);
        // the server registers its object by name, cluster-wide
        let maker = server.spawn(GreetingMaker { served: 0 });
        server
            .global()
            .register("example.greeting", &maker)
            .expect("register");
        // the client finds it by that name alone and calls it
        let remote = client
            .global()
            .wait_for::<GreetingMaker>("example.greeting", WAIT)
            .await
            .expect("lookup by name");
        println!("found example.greeting at {}", remote.id());
        let a = remote.ask(GetFortune("Irmen".into())).await.expect("call");
        let b = remote.ask(GetFortune("Bertha".into())).await.expect("call");
        println!("{a}\n{b}");
        let ok = remote.id().node.name.as_ref() == "server"
            && a.starts_with("Hello, Irmen.")
            && b.contains("(number 2)");
        if !ok {
            std::process::exit(1);
        }
    })
}
