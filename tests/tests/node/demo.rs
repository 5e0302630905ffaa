//! The demos as real OS processes. `arbour demo`: a 3-process cluster from
//! the embedded file, a Fibonacci job through a pool on two nodes, one of
//! them SIGKILLed; every result correct, the pool restarted on the
//! survivor. `arbour chaos`: one node with worker threads, supervised fib
//! pools, a client and a chaos monkey; every task is answered or fails with
//! a precise error; crashed workers are restarted.

use arbour_tests::{figure, run_arbour};
use std::time::Duration;

#[test]
fn the_cluster_demo_survives_a_killed_node_with_every_result_correct() {
    let _one = arbour_tests::one_cluster_at_a_time();
    let out = run_arbour(
        &["demo", "--tasks", "2000", "--figures"],
        Duration::from_secs(120),
    );
    let (stdout, stderr) = (&out.stdout, &out.stderr);
    assert!(out.status.success(), "demo failed:\n{stdout}\n{stderr}");
    assert_eq!(figure(stdout, "demo.tasks_ok"), Some(2000), "{stdout}");
    assert_eq!(figure(stdout, "demo.results_wrong"), Some(0));
    assert_eq!(figure(stdout, "demo.tasks_failed"), Some(0));
    let restarts = figure(stdout, "demo.restarts_on_survivor").expect("restarts");
    assert!(restarts >= 1, "the pool moved to the survivor: {stdout}");
    assert!(stdout.contains("demo: killed gamma"), "{stdout}");
    assert!(
        stdout.contains("(beta=4)"),
        "the whole pool on the survivor: {stdout}"
    );
}

#[test]
fn the_demo_prints_its_embedded_cluster_file_and_it_checks() {
    let out = run_arbour(&["demo", "--print-config"], Duration::from_secs(30));
    assert!(out.status.success());
    assert!(
        out.stdout.contains("kind = \"fib_worker\""),
        "{}",
        out.stdout
    );
    let dir = std::env::temp_dir().join(format!("arbour-demo-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("demo.toml");
    let text = out
        .stdout
        .replace("{PORT_ALPHA}", "7100")
        .replace("{PORT_BETA}", "7101")
        .replace("{PORT_GAMMA}", "7102");
    std::fs::write(&path, text).expect("write");
    let check = run_arbour(
        &["check", path.to_str().expect("path")],
        Duration::from_secs(30),
    );
    assert!(check.status.success(), "{}{}", check.stdout, check.stderr);
    assert!(
        check
            .stdout
            .contains("ok: cluster demo, 3 nodes, 1 deployments"),
        "{}",
        check.stdout
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_chaos_node_survives_its_chaos_monkey() {
    let _one = arbour_tests::one_cluster_at_a_time();
    let out = run_arbour(
        &[
            "chaos",
            "--seconds",
            "1.5",
            "--workers",
            "2",
            "--crash-every",
            "50",
        ],
        Duration::from_secs(60),
    );
    let (stdout, stderr) = (&out.stdout, &out.stderr);
    assert!(out.status.success(), "chaos failed:\n{stdout}\n{stderr}");
    let ok = figure(stdout, "chaos.tasks_ok").expect("tasks_ok");
    let crashes = figure(stdout, "chaos.crashes_injected").expect("crashes");
    let restarts = figure(stdout, "chaos.restarts").expect("restarts");
    assert!(ok > 100, "tasks answered: {ok}");
    assert!(crashes > 0, "the monkey crashed something");
    assert!(
        restarts >= crashes.min(1),
        "restarts {restarts} for {crashes} crashes"
    );
    assert_eq!(figure(stdout, "chaos.wrong_answers"), Some(0));
    assert_eq!(figure(stdout, "chaos.other_errors"), Some(0));
    // logs carry UTC timestamps and the node id
    assert!(stderr.contains("Z "), "UTC timestamps in logs:\n{stderr}");
    assert!(stderr.contains("alpha#"), "node id in logs:\n{stderr}");
}

#[test]
fn bad_arguments_get_a_clear_error_and_a_failing_exit_code() {
    for (args, needle) in [
        (vec!["chaos", "--seconds=-1"], "--seconds must be in"),
        (vec!["chaos", "--seconds", "0"], "--seconds must be in"),
        (
            vec!["chaos", "--workers", "0"],
            "--workers must be at least 1",
        ),
        (vec!["chaos", "--pool", "zero"], "invalid value 'zero'"),
        (vec!["demo", "--tasks", "0"], "--tasks must be at least 1"),
        (
            vec!["run", "--config", "/nonexistent/c.toml", "--node", "a"],
            "/nonexistent/c.toml: cannot read the file",
        ),
        (vec!["nonsense"], "unrecognized subcommand"),
    ] {
        let out = run_arbour(&args, Duration::from_secs(30));
        let stderr = &out.stderr;
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(
            stderr.contains(needle),
            "{args:?}: expected {needle:?} in:\n{stderr}"
        );
        assert!(
            !stderr.contains("panicked"),
            "{args:?} must not panic:\n{stderr}"
        );
    }
}
