//! The node-to-node control messages: lookups, monitors, exits, goodbye.
//!
//! They travel as envelopes for [`CONTROL_RECIPIENT`] (no actor has that
//! number), each with a versioned tag like any message, and a MessagePack
//! payload. The exit reason of a `Down` is the node layer's type `R` (wire
//! knows nothing of actors), encoded with serde.
//!
//! Versioning: a tag names its payload's shape (`arbour.down.v1`); a changed
//! shape is a new tag. A tag this build does not know decodes to `None`, so
//! the node can log it and answer an ask with "unknown message" instead of
//! closing the connection.

use super::codec::{decode, encode_into, CodecError};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The recipient number of control messages (actors are numbered from 1).
pub const CONTROL_RECIPIENT: u64 = 0;

/// The control messages' tags (a service registers the ones it handles
/// with the node's router).
pub mod tags {
    /// [`Control::Whereis`](super::Control::Whereis).
    pub const WHEREIS: &str = "arbour.whereis.v1";
    /// [`Control::Monitor`](super::Control::Monitor).
    pub const MONITOR: &str = "arbour.monitor.v1";
    /// [`Control::Demonitor`](super::Control::Demonitor).
    pub const DEMONITOR: &str = "arbour.demonitor.v1";
    /// [`Control::Down`](super::Control::Down).
    pub const DOWN: &str = "arbour.down.v1";
    /// [`Control::Downs`](super::Control::Downs).
    pub const DOWNS: &str = "arbour.downs.v1";
    /// [`Control::Exit`](super::Control::Exit).
    pub const EXIT: &str = "arbour.exit.v1";
    /// [`Control::Goodbye`](super::Control::Goodbye).
    pub const GOODBYE: &str = "arbour.goodbye.v1";
    /// [`Control::Swim`](super::Control::Swim).
    pub const SWIM: &str = "arbour.swim.v1";
    /// [`Control::Leaving`](super::Control::Leaving).
    pub const LEAVING: &str = "arbour.leaving.v1";
    /// [`Control::Registry`](super::Control::Registry).
    pub const REGISTRY: &str = "arbour.registry.v1";
    /// [`Control::RegistryResync`](super::Control::RegistryResync).
    pub const REGISTRY_RESYNC: &str = "arbour.registry.resync.v1";
    /// [`Control::Spawn`](super::Control::Spawn).
    pub const SPAWN: &str = "arbour.spawn.v1";
    /// [`Control::Status`](super::Control::Status).
    pub const STATUS: &str = "arbour.status.v3";
    /// [`Control::Draining`](super::Control::Draining).
    pub const DRAINING: &str = "arbour.draining.v1";
}

use tags::*;

/// A node's own message to a peer node; `R` is the exit reason type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Control<R> {
    /// An ask: which local number has the actor exposed under `name`?
    /// The reply is an `Option<u64>`.
    Whereis {
        /// The exposed name.
        name: String,
    },
    /// Watch your actor `actor` for me, under my `key`.
    Monitor {
        /// The watched actor's local number on the receiving node.
        actor: u64,
        /// The watcher's key on the sending node.
        key: u64,
    },
    /// Stop the watch `key` of your actor `actor`.
    Demonitor {
        /// The watched actor's local number.
        actor: u64,
        /// The watch's key.
        key: u64,
    },
    /// The actor you watch under `key` exited with `reason`.
    Down {
        /// The watch's key (the receiver's own).
        key: u64,
        /// Why the actor exited.
        reason: R,
    },
    /// The actor you watch under each of `keys` exited with `reason` (one
    /// message for many monitors of one actor).
    Downs {
        /// The watches' keys (the receiver's own).
        keys: Vec<u64>,
        /// Why the actor exited.
        reason: R,
    },
    /// Stop your actor `actor` (`kill`: without its stopping hooks).
    Exit {
        /// The actor's local number.
        actor: u64,
        /// Kill instead of stopping gracefully.
        kill: bool,
    },
    /// I am shutting down: nothing follows on this connection.
    Goodbye,
    /// I am leaving the cluster on purpose (sent before the membership
    /// machine says so, which reads as "down").
    Leaving,
    /// A membership (SWIM) packet, as the membership machine made it.
    Swim {
        /// The packet.
        packet: Vec<u8>,
    },
    /// A change to (or the whole of) the sender's part of the cluster
    /// registry, as the registry machine encoded it.
    Registry {
        /// The encoded update.
        update: Vec<u8>,
    },
    /// Send me your whole part of the registry again (I missed a change).
    RegistryResync,
    /// An ask: start an actor of `kind` from `args`. The reply is the
    /// node layer's encoded outcome.
    Spawn {
        /// The kind's registered name.
        kind: String,
        /// Its start arguments, MessagePack.
        args: Vec<u8>,
        /// A process group the new actor joins (on its node), if any.
        group: Option<String>,
    },
    /// An ask: how do you see the cluster? The reply is the node layer's
    /// encoded status.
    Status,
    /// An ask: I am leaving. Place nothing more here, and start elsewhere
    /// what runs here for you (your supervisors' children), then stop it
    /// here. The reply is the local numbers of my actors you will move.
    Draining,
}

impl<R: Serialize + DeserializeOwned> Control<R> {
    /// The message's wire tag.
    pub fn tag(&self) -> &'static str {
        match self {
            Control::Whereis { .. } => WHEREIS,
            Control::Monitor { .. } => MONITOR,
            Control::Demonitor { .. } => DEMONITOR,
            Control::Down { .. } => DOWN,
            Control::Downs { .. } => DOWNS,
            Control::Exit { .. } => EXIT,
            Control::Goodbye => GOODBYE,
            Control::Swim { .. } => SWIM,
            Control::Leaving => LEAVING,
            Control::Registry { .. } => REGISTRY,
            Control::RegistryResync => REGISTRY_RESYNC,
            Control::Spawn { .. } => SPAWN,
            Control::Status => STATUS,
            Control::Draining => DRAINING,
        }
    }

    /// Appends the payload to `out`.
    pub fn encode_payload(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        match self {
            Control::Whereis { name } => encode_into(out, name),
            Control::Monitor { actor, key } | Control::Demonitor { actor, key } => {
                encode_into(out, &(actor, key))
            }
            Control::Down { key, reason } => encode_into(out, &(key, reason)),
            Control::Downs { keys, reason } => encode_into(out, &(keys, reason)),
            Control::Exit { actor, kill } => encode_into(out, &(actor, kill)),
            Control::Goodbye => encode_into(out, &()),
            Control::Leaving | Control::RegistryResync | Control::Status | Control::Draining => {
                encode_into(out, &())
            }
            // the packet is the payload, as is: foca encodes it
            Control::Swim { packet: bytes } | Control::Registry { update: bytes } => {
                out.extend_from_slice(bytes);
                Ok(())
            }
            Control::Spawn { kind, args, group } => {
                encode_into(out, &(kind, serde_bytes::Bytes::new(args), group))
            }
        }
    }

    /// Decodes the payload of a control message with `tag`: `Ok(None)` for a
    /// tag this build does not know; an error for a known tag whose payload
    /// does not decode.
    pub fn decode(tag: &str, payload: &[u8]) -> Result<Option<Self>, CodecError> {
        Ok(Some(match tag {
            WHEREIS => Control::Whereis {
                name: decode(payload)?,
            },
            MONITOR => {
                let (actor, key) = decode(payload)?;
                Control::Monitor { actor, key }
            }
            DEMONITOR => {
                let (actor, key) = decode(payload)?;
                Control::Demonitor { actor, key }
            }
            DOWN => {
                let (key, reason) = decode(payload)?;
                Control::Down { key, reason }
            }
            DOWNS => {
                let (keys, reason) = decode(payload)?;
                Control::Downs { keys, reason }
            }
            EXIT => {
                let (actor, kill) = decode(payload)?;
                Control::Exit { actor, kill }
            }
            GOODBYE => {
                let () = decode(payload)?;
                Control::Goodbye
            }
            LEAVING => {
                let () = decode(payload)?;
                Control::Leaving
            }
            SWIM => Control::Swim {
                packet: payload.to_vec(),
            },
            REGISTRY => Control::Registry {
                update: payload.to_vec(),
            },
            REGISTRY_RESYNC => {
                let () = decode(payload)?;
                Control::RegistryResync
            }
            STATUS => {
                let () = decode(payload)?;
                Control::Status
            }
            DRAINING => {
                let () = decode(payload)?;
                Control::Draining
            }
            SPAWN => {
                let (kind, args, group): (String, serde_bytes::ByteBuf, Option<String>) =
                    decode(payload)?;
                Control::Spawn {
                    kind,
                    args: args.into_vec(),
                    group,
                }
            }
            _ => return Ok(None),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn control() -> impl Strategy<Value = Control<String>> {
        prop_oneof![
            ".{0,30}".prop_map(|name| Control::Whereis { name }),
            (any::<u64>(), any::<u64>()).prop_map(|(actor, key)| Control::Monitor { actor, key }),
            (any::<u64>(), any::<u64>()).prop_map(|(actor, key)| Control::Demonitor { actor, key }),
            (any::<u64>(), ".{0,30}").prop_map(|(key, reason)| Control::Down { key, reason }),
            (proptest::collection::vec(any::<u64>(), 0..20), ".{0,30}")
                .prop_map(|(keys, reason)| Control::Downs { keys, reason }),
            (any::<u64>(), any::<bool>()).prop_map(|(actor, kill)| Control::Exit { actor, kill }),
            Just(Control::Goodbye),
            Just(Control::Leaving),
            proptest::collection::vec(any::<u8>(), 0..40).prop_map(|packet| Control::Swim { packet }),
            proptest::collection::vec(any::<u8>(), 0..40)
                .prop_map(|update| Control::Registry { update }),
            Just(Control::RegistryResync),
            Just(Control::Status),
            Just(Control::Draining),
            (".{0,20}", proptest::collection::vec(any::<u8>(), 0..40), proptest::option::of(".{0,10}"))
                .prop_map(|(kind, args, group)| Control::Spawn { kind, args, group }),
        ]
    }

    proptest! {
        #[test]
        fn every_control_message_round_trips(msg in control()) {
            let mut payload = Vec::new();
            msg.encode_payload(&mut payload).expect("encode");
            prop_assert_eq!(Control::decode(msg.tag(), &payload), Ok(Some(msg)));
        }

        #[test]
        fn garbage_payloads_are_errors_not_panics(
            msg in control(),
            bytes in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let _ = Control::<String>::decode(msg.tag(), &bytes);
        }
    }

    #[test]
    fn an_unknown_tag_is_none_and_a_bad_payload_an_error() {
        assert_eq!(Control::<String>::decode("arbour.future.v9", &[]), Ok(None));
        assert!(Control::<String>::decode(MONITOR, &[0xc1]).is_err());
    }
}
