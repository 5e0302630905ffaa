//! The cluster across OS processes: three `arbour serve` nodes join
//! through one seed; one is SIGKILLed and the others declare it down, its
//! names, group entries and kind vanish, asks pending to it fail, a
//! supervisor restarts its remote children on the survivors; it comes back
//! under a new incarnation and refs to its old life are dead. Every wait is
//! bounded.

use arbour_tests::{arbour_bin, LIMIT};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Instant;

/// An `arbour serve` member, its stdout lines on a channel; killed on drop.
struct Member {
    child: Child,
    lines: Receiver<String>,
    addr: String,
}

impl Drop for Member {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Member {
    fn start(name: &str, join: Option<&str>) -> Self {
        Self::start_with(name, join, &[])
    }

    /// [`Member::start`] with more `arbour serve` arguments.
    fn start_with(name: &str, join: Option<&str>, more: &[&str]) -> Self {
        let mut cmd = Command::new(arbour_bin());
        cmd.args([
            "serve",
            "--name",
            name,
            "--cluster",
            "test",
            "--secret",
            "s3cret",
        ])
        .args(["--idle-timeout-ms", "60000", "--membership"])
        .env("RUST_LOG", "error")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
        if let Some(seed) = join {
            cmd.args(["--join", &format!("alpha={seed}")]);
        }
        cmd.args(more);
        let mut child = cmd.spawn().expect("spawn arbour serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let first = lines.recv_timeout(LIMIT).expect("a line");
        let addr = first
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("expected the address, got {first:?}"))
            .to_owned();
        Self { child, lines, addr }
    }

    /// Waits (bounded) for a line starting with `prefix`; returns it.
    fn wait_for(&self, prefix: &str) -> String {
        let deadline = Instant::now() + LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(_) => {}
                Err(e) => panic!("no line {prefix:?} ({e})"),
            }
        }
    }
}

#[test]
fn members_in_three_processes_join_a_killed_one_is_down_and_a_restarted_one_returns() {
    let _one = arbour_tests::one_cluster_at_a_time();
    let alpha = Member::start("alpha", None);
    let beta = Member::start("beta", Some(&alpha.addr));
    let mut gamma = Member::start("gamma", Some(&alpha.addr));
    // every node sees the other two up
    for (node, others) in [
        (&alpha, ["beta", "gamma"]),
        (&beta, ["alpha", "gamma"]),
        (&gamma, ["alpha", "beta"]),
    ] {
        let mut seen = Vec::new();
        while seen.len() < 2 {
            let line = node.wait_for("member up ");
            let name = line.split(' ').nth(2).expect("name").to_owned();
            if !seen.contains(&name) {
                seen.push(name);
            }
        }
        seen.sort();
        assert_eq!(seen, others);
    }
    // SIGKILL gamma: its connections would take a minute to time out; the
    // membership declares it down
    gamma.child.kill().expect("kill");
    let _ = gamma.child.wait();
    for node in [&alpha, &beta] {
        let line = node.wait_for("member down gamma");
        assert!(line.starts_with("member down gamma "), "{line}");
    }
    // it comes back under a new incarnation
    let gamma = Member::start("gamma", Some(&alpha.addr));
    for node in [&alpha, &beta] {
        let line = loop {
            let line = node.wait_for("member ");
            if line.contains(" gamma ")
                && (line.starts_with("member up") || line.starts_with("member replaced"))
            {
                break line;
            }
        };
        assert!(
            line.starts_with("member up gamma") || line.starts_with("member replaced gamma"),
            "{line}"
        );
    }
    drop(gamma);
}

/// The test's own node: a member joining through `seed`, whose connections
/// would take a minute to notice a silent peer (so membership is what
/// notices).
async fn observer(seed: &str) -> arbour::Node {
    arbour_tests::test_node("observer")
        .idle_timeout(std::time::Duration::from_secs(60))
        .keep_alive(std::time::Duration::from_secs(1))
        .seed_node("alpha", seed.parse().expect("seed address"))
        .start()
        .await
        .expect("observer starts")
}

/// Waits (bounded) for `node`'s member event matching `f`.
async fn member_event(
    what: &str,
    events: &mut tokio::sync::broadcast::Receiver<arbour::cluster::MemberEvent>,
    f: impl Fn(&arbour::cluster::MemberEvent) -> bool,
) -> arbour::cluster::MemberEvent {
    arbour_tests::bounded(what, async {
        loop {
            match events.recv().await {
                Ok(e) if f(&e) => return e,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("member events: {e}"),
            }
        }
    })
    .await
}

/// Waits (bounded) until `cond` holds, re-checking on each registry event.
async fn registry_until(
    what: &str,
    events: &mut tokio::sync::broadcast::Receiver<arbour::cluster::RegistryEvent>,
    cond: impl Fn() -> bool,
) {
    arbour_tests::bounded(what, async {
        while !cond() {
            let _ = events.recv().await;
        }
    })
    .await
}

#[test]
fn a_killed_process_takes_its_names_groups_and_children_and_returns_as_a_new_life() {
    let _one = arbour_tests::one_cluster_at_a_time();
    use arbour::{
        cluster::{MemberEvent, Placement},
        ChildSpec, SupervisorSpec,
    };
    use arbour_testkit::{Delay, Echo, Ping, ECHOES, ECHO_KIND};
    use arbour_tests::bounded;
    use std::future::IntoFuture;
    use std::time::Duration;
    let alpha = Member::start("alpha", None);
    let beta = Member::start("beta", Some(&alpha.addr));
    let mut gamma = Member::start("gamma", Some(&alpha.addr));
    let seed = alpha.addr.clone();
    arbour_tests::run_local(|| async move {
        let me = observer(&seed).await;
        let cluster = me.global();
        let mut registry = cluster.events().expect("events");
        let mut members = me.membership().events().expect("membership");
        registry_until(
            "every process's echo, group entry and kind",
            &mut registry,
            || {
                cluster.group_ids(ECHOES).len() == 3
                    && cluster.nodes_with_kind(ECHO_KIND).len() == 3
                    && ["alpha", "beta", "gamma"]
                        .iter()
                        .all(|n| cluster.whereis_id(&format!("echo@{n}")).is_some())
            },
        )
        .await;
        let old_gamma = cluster.whereis::<Echo>("echo@gamma").expect("gamma's echo");
        assert_eq!(bounded("ask gamma", old_gamma.ask(Ping(1))).await, Ok(2));
        // a supervisor here with six children spread over the processes
        let sup = (0..6)
            .fold(SupervisorSpec::one_for_one().intensity(20), |s, i| {
                s.child(ChildSpec::remote::<Echo>(
                    format!("w{i}"),
                    Placement::Any,
                    ECHO_KIND,
                    (),
                ))
            })
            .start(&me)
            .await
            .expect("supervisor");
        let child = |i: usize| sup.child::<Echo>(&format!("w{i}")).expect("child");
        let on_gamma: Vec<usize> = (0..6)
            .filter(|i| &*child(*i).id().node.name == "gamma")
            .collect();
        assert_eq!(on_gamma.len(), 2, "two of six children on each process");
        // an ask pending on gamma for a minute
        let pending = tokio::task::spawn_local(
            old_gamma
                .ask(Delay(60_000))
                .timeout(Duration::from_secs(60))
                .into_future(),
        );
        gamma.child.kill().expect("SIGKILL gamma");
        let _ = gamma.child.wait();
        let killed = std::time::Instant::now();
        member_event(
            "gamma is declared down",
            &mut members,
            |e| matches!(e, MemberEvent::Down(m) if m.name == "gamma"),
        )
        .await;
        eprintln!("gamma down after {:?}", killed.elapsed());
        let failed = bounded("the pending ask fails", pending)
            .await
            .expect("task");
        assert!(
            matches!(failed, Err(arbour::AskError::NodeDown(_))),
            "{failed:?}"
        );
        registry_until(
            "gamma's name, group entry and kind are gone",
            &mut registry,
            || {
                cluster.whereis_id("echo@gamma").is_none()
                    && cluster.group_ids(ECHOES).len() == 2
                    && cluster.nodes_with_kind(ECHO_KIND).len() == 2
            },
        )
        .await;
        // gamma's children run again, on the survivors
        bounded("gamma's children are restarted elsewhere", async {
            loop {
                let moved = on_gamma
                    .iter()
                    .all(|i| &*child(*i).id().node.name != "gamma");
                if moved && child(on_gamma[0]).ask(Ping(1)).await == Ok(2) {
                    return;
                }
                let _ = sup.count_children().await;
            }
        })
        .await;
        for i in &on_gamma {
            assert_eq!(
                bounded("a moved child answers", child(*i).ask(Ping(3))).await,
                Ok(4)
            );
        }
        // gamma restarts: a new life, seen by all; old refs to it are dead
        let gamma = Member::start("gamma", Some(&seed));
        let back = member_event("gamma is back", &mut members, |e| match e {
            MemberEvent::Up(m) | MemberEvent::Replaced { new: m, .. } => m.name == "gamma",
            _ => false,
        })
        .await;
        eprintln!("gamma back: {back:?}");
        registry_until("gamma's new echo is registered", &mut registry, || {
            cluster.whereis_id("echo@gamma").is_some()
        })
        .await;
        let new_gamma = cluster.whereis::<Echo>("echo@gamma").expect("new echo");
        assert!(new_gamma.id().node.incarnation > old_gamma.id().node.incarnation);
        assert_eq!(
            bounded("ask the new gamma", new_gamma.ask(Ping(5))).await,
            Ok(6)
        );
        assert!(
            matches!(
                bounded("ask the old gamma", old_gamma.ask(Ping(5))).await,
                Err(arbour::AskError::NodeDown(_))
            ),
            "a ref to the old life is dead"
        );
        drop(gamma);
    });
    drop(beta);
}

/// Actors that keep every worker of a node busy (CPU-bound handlers, as a
/// user's inline tasks) never get that node suspected: its network, SWIM
/// and control services run on a thread of their own where no actor runs
/// (`NodeBuilder::network_thread`, on by default), so probes are answered
/// on time however long the handlers compute.
#[test]
fn a_member_whose_every_worker_computes_for_ten_seconds_is_never_suspected() {
    let _one = arbour_tests::one_cluster_at_a_time();
    use arbour::cluster::{MemberEvent, Placement};
    use arbour_testkit::{Echo, Ping, Spin, WhereAreYou, ECHO_KIND};
    use arbour_tests::bounded;
    use std::collections::BTreeSet;
    use std::future::IntoFuture;
    use std::time::Duration;
    const BUSY_MS: u64 = 10_000;
    let alpha = Member::start("alpha", None);
    let beta = Member::start_with("beta", Some(&alpha.addr), &["--workers", "2"]);
    let gamma = Member::start("gamma", Some(&alpha.addr));
    for node in [&alpha, &gamma] {
        node.wait_for("member up beta");
    }
    let seed = alpha.addr.clone();
    let (threads, rounds, suspicions) = arbour_tests::run_local(|| async move {
        let me = observer(&seed).await;
        let mut members = me.membership().events().expect("membership");
        member_event(
            "beta is up here",
            &mut members,
            |e| matches!(e, MemberEvent::Up(m) if m.name == "beta"),
        )
        .await;
        // actors on each of beta's workers (remote spawns go round-robin)
        let mut busy = Vec::new();
        let mut threads = BTreeSet::new();
        while threads.len() < 2 {
            let echo = bounded(
                "spawn on beta",
                me.spawn_kind::<Echo>(Placement::Node("beta".into()), ECHO_KIND, &())
                    .into_future(),
            )
            .await
            .expect("spawned");
            threads.insert(bounded("where", echo.ask(WhereAreYou)).await.expect("ask"));
            busy.push(echo);
            assert!(busy.len() <= 8, "round-robin reached only {threads:?}");
        }
        eprintln!("actors on {threads:?}");
        // every worker of beta computes for ten seconds
        let spins: Vec<_> = busy
            .iter()
            .map(|echo| {
                tokio::task::spawn_local(
                    echo.ask(Spin(BUSY_MS))
                        .timeout(Duration::from_millis(BUSY_MS * 4))
                        .into_future(),
                )
            })
            .collect();
        let mut rounds = Vec::new();
        for spin in spins {
            rounds.push(
                bounded("a spin ends", spin)
                    .await
                    .expect("task")
                    .expect("spin"),
            );
        }
        // beta answers again, and nothing here ever doubted it
        let echo = busy.first().expect("an echo");
        assert_eq!(bounded("ping beta", echo.ask(Ping(1))).await, Ok(2));
        let mut suspicions = Vec::new();
        while let Ok(e) = members.try_recv() {
            if e.member().name == "beta"
                && matches!(e, MemberEvent::Suspect(_) | MemberEvent::Down(_))
            {
                suspicions.push(format!("observer: {}", e.name()));
            }
        }
        me.shutdown().await;
        (threads, rounds, suspicions)
    });
    let mut suspicions = suspicions;
    for (name, node) in [("alpha", &alpha), ("gamma", &gamma)] {
        while let Ok(line) = node.lines.try_recv() {
            if line.starts_with("member suspect beta") || line.starts_with("member down beta") {
                suspicions.push(format!("{name}: {line}"));
            }
        }
    }
    eprintln!("beta's workers {threads:?} computed {rounds:?} rounds");
    assert_eq!(
        threads,
        BTreeSet::from(["beta-w0".to_owned(), "beta-w1".to_owned()]),
        "an actor on each of beta's workers"
    );
    assert!(
        rounds.iter().all(|r| *r > 0),
        "every handler computed: {rounds:?}"
    );
    assert!(suspicions.is_empty(), "beta was suspected: {suspicions:?}");
    drop(beta);
}
