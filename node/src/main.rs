//! `arbour`: the cluster runtime's command line, with the example kinds
//! (`fib_worker`, `echo`) compiled in. A user's own node binary is built
//! the same way, with its own kinds.

fn main() {
    arbour_node::App::new().with_examples().main()
}
