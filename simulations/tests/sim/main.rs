//! The simulator's tests in one binary: its network and faults, whole
//! nodes on it (remote messaging, membership), the determinism rule, and
//! every whole-cluster scenario. (The planted-bug test flips a
//! process-global switch: it keeps a binary of its own.)

mod determinism;
mod faults;
mod membership;
mod network;
mod remote;
mod scenarios;
