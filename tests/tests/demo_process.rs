//! The demo as a real OS process: a node with worker threads, supervised fib
//! pools, a client and a chaos monkey. Every task is answered or fails with a
//! precise error; crashed workers are restarted.

use arbour_tests::{figure, run_arbour};
use std::time::Duration;

#[test]
fn the_demo_node_survives_its_chaos_monkey() {
    let out = run_arbour(
        &[
            "demo",
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
    assert!(out.status.success(), "demo failed:\n{stdout}\n{stderr}");
    let ok = figure(stdout, "demo.tasks_ok").expect("tasks_ok");
    let crashes = figure(stdout, "demo.crashes_injected").expect("crashes");
    let restarts = figure(stdout, "demo.restarts").expect("restarts");
    assert!(ok > 100, "tasks answered: {ok}");
    assert!(crashes > 0, "the monkey crashed something");
    assert!(
        restarts >= crashes.min(1),
        "restarts {restarts} for {crashes} crashes"
    );
    assert_eq!(figure(stdout, "demo.wrong_answers"), Some(0));
    assert_eq!(figure(stdout, "demo.other_errors"), Some(0));
    // logs carry UTC timestamps and the node id
    assert!(stderr.contains("Z "), "UTC timestamps in logs:\n{stderr}");
    assert!(stderr.contains("alpha#"), "node id in logs:\n{stderr}");
}

#[test]
fn bad_arguments_get_a_clear_error_and_a_failing_exit_code() {
    for (args, needle) in [
        (vec!["demo", "--seconds=-1"], "--seconds must be in"),
        (vec!["demo", "--seconds", "0"], "--seconds must be in"),
        (
            vec!["demo", "--workers", "0"],
            "--workers must be at least 1",
        ),
        (vec!["demo", "--pool", "zero"], "invalid value 'zero'"),
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
