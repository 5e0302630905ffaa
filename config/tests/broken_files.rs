//! Broken cluster files, each with the exact problem it must report. None
//! panics, and every message names the file, the field and what was
//! expected.

use arbour_config::ClusterFile;

const GOOD_NODES: &str = r#"
[[node]]
name = "alpha"
listen = "127.0.0.1:7100"

[[node]]
name = "beta"
listen = "127.0.0.1:7101"
roles = ["worker"]
"#;

fn with_cluster(rest: &str) -> String {
    format!("[cluster]\nname = \"demo\"\nsecret = \"s\"\n{GOOD_NODES}{rest}")
}

/// A file whose `[cluster.split_brain]` table holds `body`.
fn sbr(body: &str) -> String {
    format!("[cluster]\nname = \"demo\"\nsecret = \"s\"\n[cluster.split_brain]\n{body}{GOOD_NODES}")
}

fn problems(text: &str) -> Vec<String> {
    match ClusterFile::parse("c.toml", text) {
        Ok(f) => panic!("accepted a broken file: {f:?}"),
        Err(e) => {
            assert_eq!(e.file, "c.toml");
            e.to_string().lines().map(str::to_owned).collect()
        }
    }
}

#[test]
fn a_good_file_is_accepted_with_its_defaults() {
    let f = ClusterFile::parse(
        "c.toml",
        &with_cluster("[[deploy]]\nname = \"fib\"\nkind = \"fib_worker\"\n"),
    )
    .expect("valid");
    assert_eq!(f.nodes.len(), 2);
    let d = &f.deploy[0];
    assert_eq!(d.instances, 1);
    assert_eq!(d.on, arbour_config::Placement::Any);
    assert_eq!(d.supervise_on, "alpha");
    assert_eq!(d.intensity, 3);
    assert_eq!(d.period, std::time::Duration::from_secs(5));
    assert_eq!(f.membership.on_downed, arbour_config::OnDowned::Rejoin);
    let exit = ClusterFile::parse(
        "c.toml",
        &format!("[cluster]\nname = \"demo\"\nsecret = \"s\"\n[cluster.membership]\non_downed = \"exit\"\n{GOOD_NODES}"),
    )
    .expect("valid");
    assert_eq!(exit.membership.on_downed, arbour_config::OnDowned::Exit);
    assert_eq!(f.split_brain, arbour_config::SplitBrain::default());
    let quorum = ClusterFile::parse(
        "c.toml",
        &sbr("strategy = \"static-quorum\"\nquorum = 2\nstable_after = \"3s\"\n"),
    )
    .expect("valid");
    assert_eq!(
        quorum.split_brain,
        arbour_config::SplitBrain {
            strategy: arbour_config::SplitBrainStrategy::StaticQuorum(2),
            stable_after: Some(std::time::Duration::from_secs(3)),
            down_all_when_unstable: Some(arbour_config::UnstableAfter::Default),
        }
    );
    let oldest = ClusterFile::parse("c.toml", &sbr("strategy = \"keep-oldest\"\n")).expect("valid");
    assert_eq!(
        oldest.split_brain.strategy,
        arbour_config::SplitBrainStrategy::KeepOldest {
            down_if_alone: true
        }
    );
    for (value, want) in [
        ("\"on\"", Some(arbour_config::UnstableAfter::Default)),
        ("\"off\"", None),
        (
            "\"7s\"",
            Some(arbour_config::UnstableAfter::After(
                std::time::Duration::from_secs(7),
            )),
        ),
    ] {
        let f = ClusterFile::parse(
            "c.toml",
            &sbr(&format!("down_all_when_unstable = {value}\n")),
        )
        .expect("valid");
        assert_eq!(f.split_brain.down_all_when_unstable, want, "{value}");
    }
}

#[test]
fn each_broken_file_says_exactly_what_is_wrong() {
    let cases: Vec<(String, &str)> = vec![
        ("this is = not toml =".into(), "c.toml: expected `.`, `=`"),
        (
            GOOD_NODES.to_string(),
            "c.toml: [cluster]: missing (expected a [cluster] table with a name)",
        ),
        (
            format!("[cluster]\nsecret = \"s\"\n{GOOD_NODES}"),
            "c.toml: cluster.name: missing (expected the cluster's name)",
        ),
        (
            format!("[cluster]\nname = \"demo\"\n{GOOD_NODES}"),
            "c.toml: cluster: no security (expected secret = \"...\" or a [cluster.tls] table)",
        ),
        (
            format!("[cluster]\nname = \"demo\"\nsecret = \"\"\n{GOOD_NODES}"),
            "c.toml: cluster.secret: empty (expected a shared secret)",
        ),
        (
            format!("[cluster]\nname = \"demo\"\nsecret = \"s\"\n[cluster.tls]\nca = \"ca.pem\"\ncert_dir = \"certs\"\n{GOOD_NODES}"),
            "c.toml: cluster: both secret and [cluster.tls] (expected one of them)",
        ),
        (
            format!("[cluster]\nname = \"demo\"\n[cluster.tls]\nca = \"ca.pem\"\n{GOOD_NODES}"),
            "c.toml: cluster.tls.cert_dir: missing (expected the directory of node certificates)",
        ),
        (
            "[cluster]\nname = \"demo\"\nsecret = \"s\"\n".into(),
            "c.toml: [[node]]: none (expected at least one node)",
        ),
        (
            "[cluster]\nname = \"demo\"\nsecret = \"s\"\n[[node]]\nname = \"alpha\"\nlisten = \"localhost\"\n".into(),
            "c.toml: node \"alpha\".listen: \"localhost\" is not an address (expected IP:PORT, like \"127.0.0.1:7100\")",
        ),
        (
            "[cluster]\nname = \"demo\"\nsecret = \"s\"\n[[node]]\nname = \"alpha\"\nlisten = \"127.0.0.1:0\"\n".into(),
            "c.toml: node \"alpha\".listen: \"127.0.0.1:0\" has port 0 (expected a fixed port: the other nodes join through it)",
        ),
        (
            "[cluster]\nname = \"demo\"\nsecret = \"s\"\n[[node]]\nname = \"a\"\nlisten = \"127.0.0.1:1\"\n[[node]]\nname = \"a\"\nlisten = \"127.0.0.1:2\"\n".into(),
            "c.toml: node[1].name: \"a\" is used by another node (expected unique names)",
        ),
        (
            "[cluster]\nname = \"demo\"\nsecret = \"s\"\n[[node]]\nname = \"a\"\nlisten = \"127.0.0.1:1\"\n[[node]]\nname = \"b\"\nlisten = \"127.0.0.1:1\"\n".into(),
            "c.toml: node \"b\".listen: \"127.0.0.1:1\" is used by another node (expected unique addresses)",
        ),
        (
            "[cluster]\nname = \"demo\"\nsecret = \"s\"\n[[node]]\nname = \"al pha\"\nlisten = \"127.0.0.1:1\"\n".into(),
            "c.toml: node[0].name: \"al pha\" is not a valid node name (expected letters, digits, '-', '_' or '.', at most 64)",
        ),
        (
            "[cluster]\nname = \"demo\"\nsecret = \"s\"\n[[node]]\nname = \"a\"\nlisten = \"127.0.0.1:1\"\nlisen = \"x\"\n".into(),
            "c.toml: unknown field `lisen`, expected one of `name`, `listen`, `roles`, `workers`",
        ),
        (
            with_cluster("[[deploy]]\nname = \"fib\"\n"),
            "c.toml: deploy \"fib\".kind: missing (expected an actor kind compiled into the node binary)",
        ),
        (
            with_cluster("[[deploy]]\nname = \"fib\"\nkind = \"k\"\ninstances = 0\n"),
            "c.toml: deploy \"fib\".instances: 0 (expected 1 to 100000)",
        ),
        (
            with_cluster("[[deploy]]\nname = \"fib\"\nkind = \"k\"\non = { role = \"gpu\" }\n"),
            "c.toml: deploy \"fib\".on: no node has role \"gpu\"",
        ),
        (
            with_cluster("[[deploy]]\nname = \"fib\"\nkind = \"k\"\non = { node = \"gamma\" }\n"),
            "c.toml: deploy \"fib\".on: no node \"gamma\" in the file",
        ),
        (
            with_cluster("[[deploy]]\nname = \"fib\"\nkind = \"k\"\non = \"everywhere\"\n"),
            "c.toml: deploy \"fib\".on: \"everywhere\" (expected \"any\", { node = \"NAME\" } or { role = \"ROLE\" })",
        ),
        (
            with_cluster("[[deploy]]\nname = \"fib\"\nkind = \"k\"\nrestart = \"sometimes\"\n"),
            "c.toml: deploy \"fib\".restart: \"sometimes\" (expected \"permanent\", \"transient\" or \"temporary\")",
        ),
        (
            with_cluster("[[deploy]]\nname = \"fib\"\nkind = \"k\"\nsupervisor = { strategy = \"one_for_none\" }\n"),
            "c.toml: deploy \"fib\".supervisor.strategy: \"one_for_none\" (expected \"one_for_one\", \"one_for_all\" or \"rest_for_one\")",
        ),
        (
            with_cluster("[[deploy]]\nname = \"fib\"\nkind = \"k\"\nsupervisor = { period = \"soon\" }\n"),
            "c.toml: deploy \"fib\".supervisor.period: \"soon\" is not a duration (expected a number and a unit, like \"500ms\" or \"10s\")",
        ),
        (
            with_cluster("[[deploy]]\nname = \"fib\"\nkind = \"k\"\n[[deploy]]\nname = \"fib\"\nkind = \"k\"\n"),
            "c.toml: deploy[1].name: \"fib\" is used by another deployment (expected unique names)",
        ),
        (
            format!("[cluster]\nname = \"demo\"\nsecret = \"s\"\n[cluster.membership]\nprobe_period = \"100ms\"\nprobe_rtt = \"200ms\"\n{GOOD_NODES}"),
            "c.toml: cluster.membership.probe_rtt: 200ms is not shorter than probe_period 100ms (expected a shorter one)",
        ),
        (
            format!("[cluster]\nname = \"demo\"\nsecret = \"s\"\n[cluster.membership]\non_downed = \"restart\"\n{GOOD_NODES}"),
            "c.toml: cluster.membership.on_downed: \"restart\" (expected \"rejoin\" or \"exit\")",
        ),
        (
            sbr("strategy = \"static-quorum\"\nquorum = 3\n"),
            "c.toml: cluster.split_brain.quorum: 3 cannot work with 2 nodes in the file (expected more than half of them and at most all: 2 to 2)",
        ),
        (
            sbr("strategy = \"static-quorum\"\nquorum = 1\n"),
            "c.toml: cluster.split_brain.quorum: 1 is not more than half of the 2 nodes (two sides of a partition could both hold it; expected 2 to 2)",
        ),
        (
            sbr("strategy = \"static-quorum\"\n"),
            "c.toml: cluster.split_brain.quorum: missing (expected the members a side needs to go on, with strategy \"static-quorum\")",
        ),
        (
            sbr("stable_after = \"500ms\"\n"),
            "c.toml: cluster.split_brain.stable_after: 500ms is not longer than failure detection (800ms: probe_period + probe_rtt + suspect_to_down_after)",
        ),
        (
            sbr("strategy = \"keep-majority\"\nquorum = 2\n"),
            "c.toml: cluster.split_brain.quorum: only for strategy \"static-quorum\" (the strategy is \"keep-majority\")",
        ),
        (
            sbr("down_all_when_unstable = \"sometimes\"\n"),
            "c.toml: cluster.split_brain.down_all_when_unstable: \"sometimes\" (expected \"on\", \"off\" or a positive duration, like \"4s\")",
        ),
        (
            sbr("strategy = \"keep-the-big-one\"\n"),
            "c.toml: cluster.split_brain.strategy: \"keep-the-big-one\" (expected \"keep-majority\", \"static-quorum\", \"keep-oldest\" or \"down-all\")",
        ),
        (
            with_cluster("[[deploy]]\nname = \"fib\"\nkind = \"k\"\nsupervise_on = \"zeta\"\n"),
            "c.toml: deploy \"fib\".supervise_on: no node \"zeta\" in the file",
        ),
    ];
    assert!(cases.len() >= 15);
    for (text, expected) in &cases {
        let got = problems(text);
        if std::env::var_os("SHOW").is_some() {
            println!("{got:?}");
        }
        // every problem is placed: `FILE: line L, column C: MESSAGE`
        let (file, message) = expected.split_once(": ").expect("file: message");
        let placed = |p: &String| {
            p.strip_prefix(&format!("{file}: line "))
                .and_then(|rest| rest.split_once(": "))
                .is_some_and(|(at, msg)| at.contains(", column ") && msg.starts_with(message))
        };
        assert!(
            got.iter().any(placed),
            "for\n{text}\nexpected a problem {message:?} with its line and column, got {got:?}"
        );
    }
}

#[test]
fn problems_name_the_line_and_column_of_what_is_wrong() {
    let text = "[cluster]\nname = \"demo\"\nsecret = \"s\"\n\n[[node]]\nname = \"alpha\"\nlisten = \"nowhere\"\n\n[[node]]\nlisten = \"127.0.0.1:9\"\n\n[[deploy]]\nname = \"fib\"\nkind = \"k\"\ninstances = 0\n";
    let got = problems(text);
    assert_eq!(
        got,
        [
            // the value's own position
            "c.toml: line 7, column 10: node \"alpha\".listen: \"nowhere\" is not an address (expected IP:PORT, like \"127.0.0.1:7100\")",
            // a missing field: where its table begins
            "c.toml: line 9, column 1: node[1].name: missing (expected the node's name)",
            "c.toml: line 15, column 13: deploy \"fib\".instances: 0 (expected 1 to 100000)",
        ]
    );
}

#[test]
fn certificate_files_the_file_names_must_exist() {
    let dir = std::env::temp_dir().join(format!("arbour-config-certs-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("certs")).expect("dir");
    std::fs::write(dir.join("certs/ca.crt"), "x").expect("ca");
    std::fs::write(dir.join("certs/alpha.crt"), "x").expect("crt");
    std::fs::write(dir.join("certs/alpha.key"), "x").expect("key");
    let text = "[cluster]\nname = \"demo\"\n[cluster.tls]\nca = \"certs/ca.crt\"\ncert_dir = \"certs\"\n[[node]]\nname = \"alpha\"\nlisten = \"127.0.0.1:1\"\n[[node]]\nname = \"beta\"\nlisten = \"127.0.0.1:2\"\n";
    let path = dir.join("c.toml");
    let err = ClusterFile::parse(&path, text).expect_err("beta has no certificate");
    let p = err.to_string();
    assert!(
        p.contains("line 9, column 1: node \"beta\": ")
            && p.contains("beta.crt is missing from the certificate directory"),
        "{p}"
    );
    assert!(!p.contains("alpha"), "alpha's files are there: {p}");
    std::fs::write(dir.join("certs/beta.crt"), "x").expect("crt");
    std::fs::write(dir.join("certs/beta.key"), "x").expect("key");
    let f = ClusterFile::parse(&path, text).expect("all files there");
    assert!(matches!(f.security, arbour_config::Security::Tls { .. }));
    let missing_ca = text.replace("certs/ca.crt", "certs/nope.crt");
    let p = ClusterFile::parse(&path, &missing_ca)
        .expect_err("no CA")
        .to_string();
    assert!(p.contains("line 4, column 6: cluster.tls.ca: "), "{p}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_supervisor_backoff_is_read_and_checked() {
    let f = ClusterFile::parse(
        "c.toml",
        &with_cluster("[[deploy]]\nname = \"fib\"\nkind = \"k\"\nsupervisor = { backoff = { initial = \"100ms\", max = \"5s\" } }\n"),
    )
    .expect("valid");
    assert_eq!(
        f.deploy[0].backoff,
        Some((
            std::time::Duration::from_millis(100),
            std::time::Duration::from_secs(5)
        ))
    );
    let got = problems(&with_cluster(
        "[[deploy]]\nname = \"fib\"\nkind = \"k\"\nsupervisor = { backoff = { initial = \"5s\", max = \"1s\" } }\n",
    ));
    assert!(got[0].ends_with("deploy \"fib\".supervisor.backoff: initial 5s is longer than max 1s (expected initial <= max)"), "{got:?}");
}

#[test]
fn several_problems_are_all_reported() {
    let got = problems(
        "[cluster]\nname = \"demo\"\n[[node]]\nname = \"a\"\nlisten = \"nowhere\"\n[[deploy]]\nname = \"d\"\ninstances = -1\n",
    );
    assert_eq!(got.len(), 4, "{got:?}");
}
