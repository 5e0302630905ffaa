//! `#[arbour::message]`: a remote message declared in one place (tag, reply
//! type, encoding), used locally and across two nodes.

use actix::prelude::*;
use arbour::{Node, RemoteMessage};
use std::time::Duration;

#[arbour::message(tag = "test.add.v1", reply = u64)]
struct Add(u64);

/// A message with fields, generics and the default reply `()`.
#[arbour::message(tag = "test.note.v1")]
struct Note<T: Clone + Send + 'static> {
    text: String,
    extra: T,
}

#[derive(Default)]
struct Counter(u64);
impl Actor for Counter {
    type Context = Context<Self>;
}
impl Handler<Add> for Counter {
    type Result = u64;
    fn handle(&mut self, Add(n): Add, _: &mut Context<Self>) -> u64 {
        self.0 += n;
        self.0
    }
}
impl Handler<Note<u8>> for Counter {
    type Result = ();
    fn handle(&mut self, note: Note<u8>, _: &mut Context<Self>) {
        self.0 += u64::from(note.extra) + note.text.len() as u64;
    }
}
arbour::remote_actor!(Counter { Add, Note<u8> });

#[test]
fn a_message_declared_once_has_its_tag_reply_and_encoding() {
    assert_eq!(<Add as RemoteMessage>::TAG, "test.add.v1");
    assert_eq!(<Note<u8> as RemoteMessage>::TAG, "test.note.v1");
    let note = Note {
        text: "hi".into(),
        extra: 1u8,
    };
    let _ = note.clone_fields();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(tokio::task::LocalSet::new().run_until(async {
            let alpha = Node::builder("alpha")
                .secret("s")
                .start()
                .await
                .expect("alpha");
            alpha
                .expose("counter", &alpha.spawn(Counter::default()))
                .expect("expose");
            let beta = Node::builder("beta")
                .secret("s")
                .peer("alpha", alpha.net().local_addr().expect("addr"))
                .start()
                .await
                .expect("beta");
            let counter = beta
                .lookup::<Counter>("alpha", "counter", Duration::from_secs(10))
                .await
                .expect("lookup");
            counter.tell(Note {
                text: "abc".into(),
                extra: 4u8,
            });
            assert_eq!(counter.ask(Add(1)).await, Ok(8), "3 + 4 + 1, in order");
        }));
}

impl<T: Clone + Send + 'static> Note<T> {
    fn clone_fields(&self) -> (String, T) {
        (self.text.clone(), self.extra.clone())
    }
}
