//! The echo protocol: all a client of the echo service depends on (no
//! server code). The server binary serves it; the client binary calls it.

/// Ask: the number after this one.
#[derive(Debug)]
#[arbour::message(tag = "echo.next.v1", reply = u64)]
pub struct Next(pub u64);

/// Ask: how many asks the server has answered.
#[derive(Debug)]
#[arbour::message(tag = "echo.count.v1", reply = u64)]
pub struct Count;

/// Tell: start the count over.
#[derive(Debug)]
#[arbour::message(tag = "echo.reset.v1")]
pub struct Reset;

arbour::protocol! {
    /// The echo service, exposed as [`NAME`].
    pub Echo { Next, Count, Reset }
}

/// The name the server exposes the service under.
pub const NAME: &str = "echo";

/// The cluster secret both sides use unless told otherwise.
pub const SECRET: &str = "echo-example";
