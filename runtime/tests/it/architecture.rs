//! The house's rules, checked against the code (ARCHITECTURE.md): every
//! `crate::<room>` path on a code line of a room's files names a room that
//! room may use; the sans-IO machines touch neither tokio nor a clock;
//! rooms below `node` name their neighbours' items by room, not through the
//! crate root's re-exports (which would hide an arrow from this test).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each room and the rooms it may use (ARCHITECTURE.md's table).
const ALLOWED: &[(&str, &[&str])] = &[
    ("platform", &[]),
    ("wire", &[]),
    ("actor", &["wire", "platform"]),
    ("monitor", &["remote", "actor", "wire"]),
    ("supervision", &["actor", "monitor", "wire", "platform"]),
    ("transport", &["wire", "platform"]),
    ("remote", &["transport", "actor", "wire", "platform"]),
    ("membership", &["remote", "actor", "wire", "platform"]),
    (
        "registry",
        &["remote", "transport", "actor", "wire", "platform"],
    ),
    ("spawn", &["remote", "actor", "wire", "platform"]),
    (
        "node",
        &[
            "platform",
            "wire",
            "actor",
            "monitor",
            "supervision",
            "transport",
            "remote",
            "membership",
            "registry",
            "spawn",
        ],
    ),
    (
        "singleton",
        &["node", "actor", "membership", "registry", "platform"],
    ),
];

/// Files that hold a sans-IO machine: told the time, never reading it.
const MACHINES: &[&str] = &[
    "membership/link.rs",
    "membership/machine.rs",
    "membership/resolver.rs",
    "registry/global.rs",
    "supervision/decision.rs",
    "wire",
];

/// What a machine must not touch.
const IO_OR_TIME: &[&str] = &[
    "tokio::",
    "quinn",
    "platform::now",
    "Instant::now",
    "SystemTime",
    "spawn_local",
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code lines of a file (comments and doc comments left out), with
/// their numbers.
fn code_lines(path: &Path) -> Vec<(usize, String)> {
    let text = std::fs::read_to_string(path).expect("a source file reads");
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
        .map(|(i, l)| (i + 1, l.to_owned()))
        .collect()
}

/// The rooms `line` names as `crate::<room>`.
fn rooms_named(line: &str, rooms: &BTreeSet<&str>) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        let before = &rest[..i];
        rest = &rest[i + "crate::".len()..];
        if before.ends_with('$') {
            continue; // a macro's `$crate::`, expanded in the user's crate
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if rooms.contains(name.as_str()) {
            found.push(name);
        }
    }
    found
}

/// Every file of a room, with its room.
fn files_by_room() -> BTreeMap<String, Vec<PathBuf>> {
    let mut by_room = BTreeMap::new();
    for (room, _) in ALLOWED {
        let mut files = Vec::new();
        rust_files(&src().join(room), &mut files);
        files.sort();
        assert!(!files.is_empty(), "room {room} has no files");
        by_room.insert((*room).to_owned(), files);
    }
    by_room
}

#[test]
fn every_arrow_between_rooms_is_one_the_table_allows() {
    let rooms: BTreeSet<&str> = ALLOWED.iter().map(|(r, _)| *r).collect();
    let mut wrong = Vec::new();
    for (room, files) in files_by_room() {
        let allowed = ALLOWED
            .iter()
            .find(|(r, _)| *r == room)
            .map(|(_, a)| *a)
            .unwrap_or_default();
        for file in files {
            for (n, line) in code_lines(&file) {
                for used in rooms_named(&line, &rooms) {
                    if used != room && !allowed.contains(&used.as_str()) {
                        wrong.push(format!("{}:{n}: {room} -> {used}", file.display()));
                    }
                }
            }
        }
    }
    assert!(wrong.is_empty(), "forbidden arrows:\n{}", wrong.join("\n"));
}

#[test]
fn rooms_below_node_name_items_by_room_not_by_the_root() {
    let mut wrong = Vec::new();
    for (room, files) in files_by_room() {
        if room == "node" {
            continue;
        }
        for file in files {
            for (n, line) in code_lines(&file) {
                let mut rest = line.as_str();
                while let Some(i) = rest.find("crate::") {
                    let macro_path = rest[..i].ends_with('$');
                    rest = &rest[i + "crate::".len()..];
                    if !macro_path && rest.starts_with(|c: char| c.is_ascii_uppercase()) {
                        wrong.push(format!("{}:{n}: {}", file.display(), line.trim()));
                    }
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "root re-exports used below node (name the room):\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_sans_io_machines_touch_neither_tokio_nor_a_clock() {
    let mut wrong = Vec::new();
    for machine in MACHINES {
        let path = src().join(machine);
        let mut files = Vec::new();
        if path.is_dir() {
            rust_files(&path, &mut files);
        } else {
            files.push(path);
        }
        assert!(!files.is_empty(), "machine {machine} has no files");
        for file in files {
            let text = std::fs::read_to_string(&file).expect("reads");
            // unit tests may drive a machine with whatever they like
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            for (n, line) in code.lines().enumerate() {
                if line.trim_start().starts_with("//") {
                    continue;
                }
                for bad in IO_OR_TIME {
                    if line.contains(bad) {
                        wrong.push(format!("{}:{}: {bad}", file.display(), n + 1));
                    }
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "I/O or time in a machine:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_checker_sees_an_arrow_when_there_is_one() {
    // the test above must be able to fail
    let rooms: BTreeSet<&str> = ALLOWED.iter().map(|(r, _)| *r).collect();
    assert_eq!(
        rooms_named("use crate::node::Node; crate::remote::x", &rooms),
        ["node", "remote"]
    );
    assert!(rooms_named("impl $crate::RemoteActor for X", &rooms).is_empty());
    assert!(rooms_named("use crate::nodes::X", &rooms).is_empty());
}
