//! The `arbour` binary's command line (also makes `cargo test --workspace`
//! build the binary for the black-box tests in `arbour-tests`).

use std::process::Command;

#[test]
fn help_lists_the_demo() {
    let out = Command::new(env!("CARGO_BIN_EXE_arbour"))
        .arg("--help")
        .output()
        .expect("run arbour --help");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("demo"), "{text}");
}

#[test]
fn fib_is_right() {
    assert_eq!(arbour_node::fib::fib(0), 0);
    assert_eq!(arbour_node::fib::fib(1), 1);
    assert_eq!(arbour_node::fib::fib(10), 55);
    assert_eq!(arbour_node::fib::fib(90), 2_880_067_194_370_816_120);
}
