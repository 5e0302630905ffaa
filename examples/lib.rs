//! Runnable examples live in `examples/`: `cargo run -p arbour-examples --example supervision_tree`.
