//! A rolling restart under load: five `arbour run` nodes of one file, a
//! pool of five fib workers over them; a client (not a member) asks the
//! pool through the registry's group every 2 ms while each node in turn
//! gets SIGTERM and is started again once it exited. Leaving drains (the
//! node's instances start elsewhere first) and hands the supervisor over,
//! so: every ask is answered, right, or fails with a precise error at once
//! (none waits out its timeout); no member is ever reported `down` (each
//! left); the pool ends with its five instances.

use super::paused::signal;
use super::singleton::{run_node, Killed};
use super::up::{free_port, wait_for};
use arbour::AskError;
use arbour_node::fib::{fib, Fib, FibWorker};
use arbour_tests::LIMIT;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::channel;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const NODES: [&str; 5] = ["n1", "n2", "n3", "n4", "n5"];

/// What the client's asks came to.
#[derive(Default, Debug)]
struct Tally {
    ok: u64,
    wrong: u64,
    /// Failures by error, as `AskError`'s debug name.
    failed: BTreeMap<String, u64>,
    /// Asks that waited out their timeout (lost without an error).
    timed_out: u64,
    /// Ticks with no instance in the group to ask.
    empty: u64,
}

/// The client: connects to every node, asks the pool's group round-robin
/// until `stop`; returns its tally and the group's size at the end.
fn client(
    ports: Vec<(String, u16)>,
    stop: Arc<AtomicBool>,
    tally: Arc<Mutex<Tally>>,
) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        arbour_tests::with_client("client", ("rolling", "s3cret"), None, |node| async move {
            for (name, port) in &ports {
                let addr = format!("127.0.0.1:{port}").parse().expect("addr");
                let _ = node.net().connect(name, addr).await;
            }
            let mut tick = tokio::time::interval(Duration::from_millis(2));
            let mut i = 0usize;
            while !stop.load(Ordering::Acquire) {
                tick.tick().await;
                let pool = node.global().group::<FibWorker>("fib");
                if pool.is_empty() {
                    tally.lock().expect("tally").empty += 1;
                    continue;
                }
                i += 1;
                let worker = pool[i % pool.len()].clone();
                let n = 20 + (i % 20) as u32;
                let tally = tally.clone();
                tokio::task::spawn_local(async move {
                    let got = worker.ask(Fib(n)).timeout(Duration::from_secs(5)).await;
                    let mut t = tally.lock().expect("tally");
                    match got {
                        Ok(v) if v == fib(n) => t.ok += 1,
                        Ok(_) => t.wrong += 1,
                        Err(AskError::Timeout(_)) => t.timed_out += 1,
                        Err(e) => {
                            let name = format!("{e:?}");
                            let name = name.split('(').next().unwrap_or("?").to_owned();
                            *t.failed.entry(name).or_default() += 1;
                        }
                    }
                });
            }
            // the asks still in flight finish (each within its timeout)
            tokio::time::sleep(Duration::from_secs(6)).await;
            node.global().group_ids("fib").len()
        })
    })
}

#[test]
fn a_rolling_restart_under_load_loses_no_ask_and_downs_no_member() {
    let _one = arbour_tests::one_cluster_at_a_time();
    let dir = std::env::temp_dir().join(format!("arbour-rolling-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("cluster.toml");
    let ports: Vec<(String, u16)> = NODES.iter().map(|n| (n.to_string(), free_port())).collect();
    let mut file = "[cluster]\nname = \"rolling\"\nsecret = \"s3cret\"\n".to_owned();
    for (name, port) in &ports {
        file.push_str(&format!(
            "\n[[node]]\nname = \"{name}\"\nlisten = \"127.0.0.1:{port}\"\nroles = [\"worker\"]\nworkers = 1\n"
        ));
    }
    file.push_str(
        "\n[[deploy]]\nname = \"fib\"\nkind = \"fib_worker\"\non = { role = \"worker\" }\ninstances = 5\n",
    );
    std::fs::write(&path, file).expect("write the file");
    let (tx, lines) = channel();
    let mut nodes = Killed(NODES.iter().map(|n| run_node(&path, n, &tx)).collect());
    let started = wait_for(&lines, "deploy fib started");
    eprintln!("{started}");
    let (stop, tally) = (Arc::new(AtomicBool::new(false)), Arc::default());
    let load = client(ports.clone(), stop.clone(), Arc::clone(&tally));
    let mut seen: Vec<String> = Vec::new();
    // the load runs before the first restart
    let warm = Instant::now() + Duration::from_secs(2);
    while Instant::now() < warm {
        if let Ok(l) = lines.recv_timeout(Duration::from_millis(50)) {
            seen.push(l);
        }
    }
    for (i, name) in NODES.iter().enumerate() {
        signal("-TERM", nodes.0[i].id());
        let began = Instant::now();
        let exited = loop {
            if let Some(code) = nodes.0[i].try_wait().expect("wait") {
                break code;
            }
            assert!(
                began.elapsed() < LIMIT,
                "{name} still runs {LIMIT:?} after SIGTERM"
            );
            if let Ok(l) = lines.recv_timeout(Duration::from_millis(20)) {
                seen.push(l);
            }
        };
        assert!(exited.success(), "{name} exited with {exited:?}");
        eprintln!("{name}: SIGTERM -> exited in {:?}", began.elapsed());
        nodes.0[i] = run_node(&path, name, &tx);
        // every other node sees its new life (then the pool may use it)
        let mut up: Vec<&str> = Vec::new();
        let deadline = Instant::now() + LIMIT;
        while up.len() < NODES.len() - 1 {
            assert!(
                Instant::now() < deadline,
                "{name} not back everywhere: {up:?}"
            );
            let Ok(l) = lines.recv_timeout(Duration::from_millis(50)) else {
                continue;
            };
            for other in NODES.iter().filter(|o| *o != name) {
                let back = l.starts_with(&format!("[{other}] member up {name} "))
                    || l.starts_with(&format!("[{other}] member replaced {name} "));
                if back && !up.contains(other) {
                    up.push(other);
                }
            }
            seen.push(l);
        }
    }
    // a last quiet second under load, then the tally
    let quiet = Instant::now() + Duration::from_secs(1);
    while Instant::now() < quiet {
        if let Ok(l) = lines.recv_timeout(Duration::from_millis(50)) {
            seen.push(l);
        }
    }
    stop.store(true, Ordering::Release);
    let size = load.join().expect("client");
    while let Ok(l) = lines.try_recv() {
        seen.push(l);
    }
    let t = tally.lock().expect("tally");
    eprintln!("asks: {t:?}; pool at the end: {size}");
    let downs: Vec<&String> = seen
        .iter()
        .filter(|l| l.contains("] member down "))
        .collect();
    assert!(
        downs.is_empty(),
        "every node left, none was downed: {downs:?}"
    );
    assert_eq!(t.wrong, 0, "wrong answers");
    assert_eq!(t.timed_out, 0, "asks lost without an error: {t:?}");
    assert!(t.ok > 1000, "the load ran: {t:?}");
    assert_eq!(size, 5, "the pool ends with its five instances");
    drop(nodes);
    let _ = std::fs::remove_dir_all(&dir);
}
