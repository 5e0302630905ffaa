//! The server and the client, as two processes that share only the
//! protocol crate.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn a_client_that_knows_only_the_protocol_talks_to_the_server() {
    let mut server = Command::new(env!("CARGO_BIN_EXE_echo-server"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the server");
    let stdout = server.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("listening ") {
                let _ = tx.send(addr.to_owned());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the server prints its address");
    let started = Instant::now();
    let client = Command::new(env!("CARGO_BIN_EXE_echo-client"))
        .arg(&addr)
        .output()
        .expect("run the client");
    drop(server.stdin.take()); // the server ends when its stdin closes
    let stdout = String::from_utf8_lossy(&client.stdout);
    assert!(
        client.status.success(),
        "client: {stdout}{}",
        String::from_utf8_lossy(&client.stderr)
    );
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        ["next: 3", "count: 3", "count after reset: 0"]
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if server.try_wait().expect("server status").is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "the server did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}
