//! `arbour serve`: one node exposing a probe [`Echo`] as "echo" (and dialing
//! any peers it is given), until its standard input closes (so a parent
//! process that dies takes it along).

use crate::probe::Echo;
use anyhow::Context as _;
use arbour::{Node, Security};
use std::io::Write as _;
use std::net::SocketAddr;

/// Runs the node on this thread until stdin reaches end of file.
pub fn run(
    name: &str,
    cluster: &str,
    security: Security,
    listen: SocketAddr,
    peers: Vec<(String, SocketAddr)>,
) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let (eof_tx, eof_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let mut line = String::new();
        while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
            line.clear();
        }
        let _ = eof_tx.send(());
    });
    tokio::task::LocalSet::new().block_on(&rt, async {
        let mut builder = Node::builder(name)
            .cluster(cluster)
            .security(security)
            .listen(listen);
        for (peer, addr) in peers {
            builder = builder.peer(peer, addr);
        }
        let node = builder.start().await.context("starting the node")?;
        let echo = node.spawn(Echo::default());
        node.expose(crate::probe::ECHO, &echo)
            .context("exposing echo")?;
        println!("listening {}", node.local_addr()?);
        std::io::stdout().flush()?;
        let _ = eof_rx.await;
        node.shutdown_network();
        Ok(())
    })
}
