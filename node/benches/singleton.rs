//! Deployment supervisor failover (the cluster issue's
//! `cluster.singleton.failover_ms.*`): four `arbour run` processes on
//! loopback from one file, a pool of four on the two `worker` nodes; the
//! node supervising the pool is SIGKILLed ten times in turn (and started
//! again, as a new life, after each takeover).
//!
//! - `cluster.singleton.failover_ms.p50` / `p99`: SIGKILL → another node
//!   printed `deploy pool taken over by …` (its supervisor runs, having
//!   adopted the instances still running) or, when none was left to adopt
//!   (the supervising node held them all), `deploy pool started`.
//! - `cluster.singleton.detect_ms.p50` / `p99`: SIGKILL → the first survivor
//!   reports the node down (the floor the failover is measured against);
//!   `cluster.singleton.after_detect_ms.p99`: failover minus detection,
//!   per kill (target: at most 1,000 ms).
//!
//! - `cluster.drain_ms.p50` / `p99`: SIGTERM of a worker node → its
//!   process exited, having drained: each of its instances was started
//!   on the other worker, then stopped on it (ten SIGTERMs, beta and gamma
//!   in turn, each started again after); `cluster.drain.floor_ms.p50`:
//!   SIGTERM → exit of a node with nothing to move (delta), the floor;
//!   `cluster.drain.ratio`: the two p50s.
//!
//! `cargo bench -p arbour-node --bench singleton`

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::time::{Duration, Instant};

const KILLS: usize = 10;
const DRAINS: usize = 10;
const WAIT: Duration = Duration::from_secs(60);

fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("a free port")
        .port()
}

fn run_node(path: &std::path::Path, name: &str, tx: &Sender<(String, String, Instant)>) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_arbour"))
        .args(["run", "--config"])
        .arg(path)
        .args(["--node", name, "--stdin-eof"])
        .env("RUST_LOG", "error")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("arbour run");
    let out = child.stdout.take().expect("stdout");
    let (tx, name) = (tx.clone(), name.to_owned());
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send((name.clone(), line, Instant::now())).is_err() {
                return;
            }
        }
    });
    child
}

/// The next line matching `want`, within [`WAIT`].
fn next(
    lines: &Receiver<(String, String, Instant)>,
    want: impl Fn(&str, &str) -> bool,
) -> (String, String, Instant) {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let (who, line, at) = lines.recv_timeout(left).expect("a line in time");
        if line.starts_with("deploy") || line.starts_with("node") {
            eprintln!("[{who}] {line}");
        }
        if want(&who, &line) {
            return (who, line, at);
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("arbour-failover-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("cluster.toml");
    let names = ["alpha", "beta", "gamma", "delta"];
    let mut file = "[cluster]\nname = \"failover\"\nsecret = \"bench\"\n".to_owned();
    for n in names {
        let roles = if n == "beta" || n == "gamma" {
            "[\"worker\"]"
        } else {
            "[]"
        };
        file += &format!(
            "\n[[node]]\nname = \"{n}\"\nlisten = \"127.0.0.1:{}\"\nroles = {roles}\nworkers = 1\n",
            free_port()
        );
    }
    file += "\n[[deploy]]\nname = \"pool\"\nkind = \"fib_worker\"\non = { role = \"worker\" }\ninstances = 4\n";
    std::fs::write(&path, file).expect("write");
    let (tx, lines) = channel();
    let mut procs: std::collections::BTreeMap<String, Child> = names
        .iter()
        .map(|n| (n.to_string(), run_node(&path, n, &tx)))
        .collect();
    let (mut holder, _, _) = next(&lines, |_, l| l.starts_with("deploy pool started"));
    let (mut failover, mut detect, mut after) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..KILLS {
        let killed = Instant::now();
        let mut p = procs.remove(&holder).expect("holder");
        p.kill().expect("SIGKILL");
        let _ = p.wait();
        let (mut down, mut taken) = (None, None);
        while down.is_none() || taken.is_none() {
            let victim = holder.clone();
            let (who, line, at) = next(&lines, |_, l| {
                l.starts_with(&format!("member down {victim} "))
                    || l.starts_with("deploy pool taken over by")
                    // (a node's first supervisor, with nothing left to adopt)
                    || l.starts_with("deploy pool started")
            });
            if line.starts_with("member down") {
                down.get_or_insert(at);
            } else {
                taken = Some((who, line, at));
            }
        }
        let (down, (who, line, at)) = (down.expect("down"), taken.expect("taken"));
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        failover.push(ms(at - killed));
        detect.push(ms(down - killed));
        after.push(ms(at.saturating_duration_since(down)));
        eprintln!(
            "kill {i} {holder}: down after {:.0} ms, {line} after {:.0} ms",
            ms(down - killed),
            ms(at - killed)
        );
        // the killed node comes back as a new life; the pool stays put
        let back = holder.clone();
        procs.insert(back.clone(), run_node(&path, &back, &tx));
        next(&lines, |w, l| {
            w == who && l.starts_with(&format!("member up {back} "))
        });
        holder = who;
    }
    // drains: a worker node leaves (its instances move to the other one);
    // and the floor: a node with nothing to move leaves
    let (mut drain, mut floor) = (Vec::new(), Vec::new());
    for i in 0..DRAINS * 2 {
        let victim = match i % 4 {
            0 => "beta",
            2 => "gamma",
            _ => "delta",
        };
        let mut p = procs.remove(victim).expect("victim");
        let began = Instant::now();
        let sent = Command::new("kill")
            .args(["-TERM", &p.id().to_string()])
            .status()
            .expect("kill");
        assert!(sent.success());
        let code = p.wait().expect("wait");
        let ms = began.elapsed().as_secs_f64() * 1000.0;
        assert!(code.success(), "{victim} exited with {code:?}");
        if victim == "delta" {
            floor.push(ms);
        } else {
            drain.push(ms);
        }
        eprintln!("drain {i} {victim}: exited {ms:.1} ms after SIGTERM");
        next(&lines, |_, l| {
            l.starts_with(&format!("member left {victim} "))
        });
        procs.insert(victim.to_owned(), run_node(&path, victim, &tx));
        let others: Vec<&str> = names.iter().copied().filter(|n| *n != victim).collect();
        let mut up = std::collections::BTreeSet::new();
        while up.len() < others.len() {
            let (who, _, _) = next(&lines, |w, l| {
                others.contains(&w) && l.starts_with(&format!("member up {victim} "))
            });
            up.insert(who);
        }
    }
    let status = Command::new(env!("CARGO_BIN_EXE_arbour"))
        .args(["status", "--config"])
        .arg(&path)
        .env("RUST_LOG", "error")
        .output()
        .expect("arbour status");
    let status = String::from_utf8_lossy(&status.stdout).to_string();
    eprintln!("{status}");
    assert!(
        status.contains("deploy pool (fib_worker): 4 of 4 instances"),
        "the pool has its four after the drains: {status}"
    );
    for (_, mut p) in procs {
        let _ = p.kill();
        let _ = p.wait();
    }
    let _ = std::fs::remove_dir_all(&dir);
    for v in [
        &mut failover,
        &mut detect,
        &mut after,
        &mut drain,
        &mut floor,
    ] {
        v.sort_by(f64::total_cmp);
    }
    println!(
        "cluster.singleton.failover_ms.p50 {:.0} ms",
        percentile(&failover, 0.5)
    );
    println!(
        "cluster.singleton.failover_ms.p99 {:.0} ms (of {KILLS} kills of the supervising node)",
        percentile(&failover, 0.99)
    );
    println!(
        "cluster.singleton.detect_ms.p50 {:.0} ms",
        percentile(&detect, 0.5)
    );
    println!(
        "cluster.singleton.detect_ms.p99 {:.0} ms",
        percentile(&detect, 0.99)
    );
    println!(
        "cluster.singleton.after_detect_ms.p99 {:.0} ms (target: at most 1000)",
        percentile(&after, 0.99)
    );
    println!("cluster.drain_ms.p50 {:.1} ms", percentile(&drain, 0.5));
    println!(
        "cluster.drain_ms.p99 {:.1} ms (of {DRAINS} SIGTERMs of a worker node holding the pool's instances)",
        percentile(&drain, 0.99)
    );
    println!(
        "cluster.drain.floor_ms.p50 {:.1} ms (SIGTERM of a node with nothing to move)",
        percentile(&floor, 0.5)
    );
    println!(
        "cluster.drain.ratio {:.2}",
        percentile(&drain, 0.5) / percentile(&floor, 0.5)
    );
}
