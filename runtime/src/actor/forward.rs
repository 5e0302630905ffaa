//! Events to actors: a broadcast of events (membership, the registry)
//! delivered to an actor's `Recipient` until either is gone.

use super::NodeId;

/// Forwards `events` to `to` until either is gone.
pub(crate) async fn forward<M>(
    mut events: tokio::sync::broadcast::Receiver<M>,
    to: actix::Recipient<M>,
    node: NodeId,
) where
    M: actix::Message<Result = ()> + Clone + Send + 'static,
{
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match events.recv().await {
            Ok(e) => {
                if !to.connected() {
                    return;
                }
                to.do_send(e);
            }
            Err(RecvError::Lagged(n)) => {
                tracing::warn!(node = %node, dropped = n, "a slow subscriber missed events")
            }
            Err(RecvError::Closed) => return,
        }
    }
}
