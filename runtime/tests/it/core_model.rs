//! Property test: the supervisor's pure restart-decision core against a
//! reference model of the OTP `supervisor` rules written here, independently
//! and as plainly as possible (a vector of children, a list of restart times).
//!
//! For random supervisors (strategy, intensity, period, auto_shutdown,
//! children with random restart types and significance) and random event
//! sequences (exits with normal/shutdown/abnormal reasons at random times,
//! starts that fail and are retried), every decision must match: which
//! children are terminated and in what order, which are started and in what
//! order, and when the supervisor gives up.

use arbour::supervision::decision::{Core, CoreFlags, Plan, ShutdownCause};
use arbour::{supervision::AutoShutdown, ExitReason, Restart, Strategy};
use proptest::prelude::*;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Life {
    Up,
    Down,
    /// Restarting: the child a restart is for, or whose start failed.
    Pending,
    /// Not running, to be started by the restart in progress after the
    /// child it is for (OTP shows it `undefined`, not restarting).
    Queued,
}

#[derive(Clone, Debug)]
struct MChild {
    id: String,
    restart: Restart,
    significant: bool,
    life: Life,
}

/// What the model expects the supervisor to do.
#[derive(Clone, Debug, PartialEq)]
enum Expect {
    Nothing,
    Restart(Vec<String>, Vec<String>),
    GiveUp(Vec<String>, ShutdownCause),
}

struct Model {
    strategy: Strategy,
    intensity: usize,
    period_ms: u64,
    auto: AutoShutdown,
    kids: Vec<MChild>,
    history_ms: Vec<u64>,
}

impl Model {
    fn pos(&self, id: &str) -> Option<usize> {
        self.kids.iter().position(|k| k.id == id)
    }

    fn up_reversed(&self, range: std::ops::Range<usize>, except: Option<usize>) -> Vec<String> {
        let mut v = Vec::new();
        for i in range.rev() {
            if Some(i) != except && self.kids[i].life == Life::Up {
                v.push(self.kids[i].id.clone());
            }
        }
        v
    }

    fn give_up(&mut self, cause: ShutdownCause) -> Expect {
        let n = self.kids.len();
        let t = self.up_reversed(0..n, None);
        for k in &mut self.kids {
            k.life = Life::Down;
        }
        Expect::GiveUp(t, cause)
    }

    fn exit(&mut self, id: &str, reason: &ExitReason, now: u64) -> Expect {
        let Some(i) = self.pos(id) else {
            return Expect::Nothing;
        };
        if self.kids[i].life != Life::Up {
            return Expect::Nothing;
        }
        self.kids[i].life = Life::Down;
        let normal = matches!(reason, ExitReason::Normal | ExitReason::Shutdown);
        let restart = match self.kids[i].restart {
            Restart::Permanent => true,
            Restart::Transient => !normal,
            Restart::Temporary => false,
        };
        if restart {
            return self.restart(id, now);
        }
        let significant = self.kids[i].significant;
        if self.kids[i].restart == Restart::Temporary {
            self.kids.remove(i);
        }
        if !significant {
            return Expect::Nothing;
        }
        match self.auto {
            AutoShutdown::Never => Expect::Nothing,
            AutoShutdown::AnySignificant => self.give_up(ShutdownCause::Significant),
            AutoShutdown::AllSignificant => {
                if self
                    .kids
                    .iter()
                    .any(|k| k.significant && matches!(k.life, Life::Up | Life::Pending))
                {
                    Expect::Nothing
                } else {
                    self.give_up(ShutdownCause::Significant)
                }
            }
        }
    }

    fn try_again(&mut self, id: &str, now: u64) -> Expect {
        match self.pos(id) {
            Some(i) if self.kids[i].life == Life::Pending => self.restart(id, now),
            _ => Expect::Nothing,
        }
    }

    fn restart(&mut self, id: &str, now: u64) -> Expect {
        let period = self.period_ms;
        self.history_ms.retain(|&t| now - t <= period);
        self.history_ms.push(now);
        if self.history_ms.len() > self.intensity {
            return self.give_up(ShutdownCause::IntensityExceeded);
        }
        let i = self.pos(id).expect("restarting child exists");
        let n = self.kids.len();
        let (terminated, first) = match self.strategy {
            Strategy::OneForOne | Strategy::SimpleOneForOne => {
                self.kids[i].life = Life::Pending;
                return Expect::Restart(vec![], vec![id.to_owned()]);
            }
            Strategy::OneForAll => (self.up_reversed(0..n, Some(i)), None),
            Strategy::RestForOne => (self.up_reversed(i + 1..n, None), Some(id.to_owned())),
        };
        self.kids
            .retain(|k| !(k.restart == Restart::Temporary && terminated.contains(&k.id)));
        let from = first.and_then(|f| self.pos(&f)).unwrap_or(0);
        let mut started = Vec::new();
        for k in &mut self.kids[from..] {
            k.life = if k.id == id {
                Life::Pending
            } else {
                Life::Queued
            };
            started.push(k.id.clone());
        }
        Expect::Restart(terminated, started)
    }
}

fn strs(v: Vec<arbour::supervision::decision::ChildKey>) -> Vec<String> {
    v.into_iter().map(|k| k.id.to_string()).collect()
}

fn to_expect(p: Plan) -> Expect {
    match p {
        Plan::None => Expect::Nothing,
        Plan::Restart {
            terminate, start, ..
        } => Expect::Restart(strs(terminate), strs(start)),
        Plan::Shutdown { terminate, cause } => Expect::GiveUp(strs(terminate), cause),
    }
}

#[derive(Clone, Debug)]
struct Event {
    child: usize,
    reason: u8,
    dt_ms: u64,
    /// Index in the resulting start list whose start fails, if any.
    fail_at: Option<usize>,
    /// With a retry due, whether an exit queued earlier is handled first (the
    /// driver's mailbox may hold exits ahead of its own retry message).
    exit_before_retry: bool,
}

fn reason(r: u8) -> ExitReason {
    match r {
        0 => ExitReason::Normal,
        1 => ExitReason::Shutdown,
        2 => ExitReason::Killed,
        _ => ExitReason::Panic("boom".into()),
    }
}

fn strategy() -> impl proptest::strategy::Strategy<Value = arbour::Strategy> {
    prop_oneof![
        Just(arbour::Strategy::OneForOne),
        Just(arbour::Strategy::OneForAll),
        Just(arbour::Strategy::RestForOne),
        Just(arbour::Strategy::SimpleOneForOne),
    ]
}

fn restart_type() -> impl proptest::strategy::Strategy<Value = Restart> {
    prop_oneof![
        Just(Restart::Permanent),
        Just(Restart::Transient),
        Just(Restart::Temporary)
    ]
}

fn auto() -> impl proptest::strategy::Strategy<Value = AutoShutdown> {
    prop_oneof![
        Just(AutoShutdown::Never),
        Just(AutoShutdown::AnySignificant),
        Just(AutoShutdown::AllSignificant)
    ]
}

use proptest::strategy::Strategy as _;

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn core_matches_the_otp_reference_model(
        strategy in strategy(),
        intensity in 0u32..5,
        period_s in 1u64..10,
        auto in auto(),
        kids in proptest::collection::vec((restart_type(), any::<bool>()), 1..7),
        events in proptest::collection::vec(
            (0usize..7, 0u8..4, prop_oneof![0u64..4000, (0u64..9).prop_map(|x| x * 500)], proptest::option::weighted(0.2, 0usize..4), any::<bool>())
                .prop_map(|(child, reason, dt_ms, fail_at, exit_before_retry)| Event { child, reason, dt_ms, fail_at, exit_before_retry }),
            1..60),
    ) {
        let base = tokio::time::Instant::now();
        let mut core = Core::<()>::new(CoreFlags {
            strategy,
            intensity,
            period: Duration::from_secs(period_s),
            auto_shutdown: auto,
            backoff_reset: Duration::from_secs(period_s),
        });
        let mut model = Model {
            strategy,
            intensity: intensity as usize,
            period_ms: period_s * 1000,
            auto,
            kids: Vec::new(),
            history_ms: Vec::new(),
        };
        for (i, (restart, sig)) in kids.iter().enumerate() {
            let significant = *sig && *restart != Restart::Permanent && auto != AutoShutdown::Never;
            let id = format!("c{i}");
            prop_assert!(core.add_child(id.as_str(), *restart, significant));
            core.mark_running(&id, base);
            model.kids.push(MChild { id, restart: *restart, significant, life: Life::Up });
        }
        let mut now = 0u64;
        let mut retry: Option<String> = None;
        for ev in events {
            now += ev.dt_ms;
            let at = base + Duration::from_millis(now);
            let due = if ev.exit_before_retry { None } else { retry.take() };
            let (got, want) = match due {
                Some(id) => (to_expect(core.try_again(&id, at)), model.try_again(&id, now)),
                None => {
                    let id = format!("c{}", ev.child);
                    let r = reason(ev.reason);
                    (to_expect(core.on_exit(&id, &r, at)), model.exit(&id, &r, now))
                }
            };
            prop_assert_eq!(&got, &want, "at {} ms", now);
            match got {
                Expect::GiveUp(..) => return Ok(()),
                Expect::Restart(_, start) => {
                    // The driver starts children in order; one may fail.
                    for (k, id) in start.iter().enumerate() {
                        if ev.fail_at == Some(k) {
                            core.mark_start_failed(id);
                            let i = model.pos(id).expect("model child");
                            model.kids[i].life = Life::Pending;
                            if let Some(old) = retry.replace(id.clone()) {
                                // two retries queued: the older one runs (a
                                // no-op if that child is no longer pending)
                                let g = to_expect(core.try_again(&old, at));
                                let w = model.try_again(&old, now);
                                prop_assert_eq!(&g, &w);
                                if matches!(g, Expect::GiveUp(..)) {
                                    return Ok(());
                                }
                            }
                            break;
                        }
                        core.mark_running(id, at);
                        let i = model.pos(id).expect("model child");
                        model.kids[i].life = Life::Up;
                    }
                }
                Expect::Nothing => {}
            }
            let core_ids: Vec<String> = core.children().map(|c| c.id.to_string()).collect();
            let model_ids: Vec<_> = model.kids.iter().map(|k| k.id.clone()).collect();
            prop_assert_eq!(core_ids, model_ids, "specs kept");
        }
    }
}

#[test]
fn the_model_itself_can_disagree() {
    // Guard against a vacuous property: a deliberately wrong core input
    // (intensity off by one) must produce a different decision.
    let base = tokio::time::Instant::now();
    let flags = |intensity| CoreFlags {
        strategy: arbour::Strategy::OneForOne,
        intensity,
        period: Duration::from_secs(5),
        auto_shutdown: AutoShutdown::Never,
        backoff_reset: Duration::from_secs(5),
    };
    let mut a = Core::<()>::new(flags(1));
    let mut b = Core::<()>::new(flags(2));
    for c in [&mut a, &mut b] {
        c.add_child("x", Restart::Permanent, false);
        c.mark_running("x", base);
        let _ = c.on_exit("x", &ExitReason::Killed, base);
        c.mark_running("x", base);
    }
    let pa = to_expect(a.on_exit("x", &ExitReason::Killed, base));
    let pb = to_expect(b.on_exit("x", &ExitReason::Killed, base));
    assert!(matches!(pa, Expect::GiveUp(..)));
    assert!(matches!(pb, Expect::Restart(..)));
}

#[test]
fn all_significant_counts_a_child_awaiting_restart_as_alive() {
    let base = tokio::time::Instant::now();
    let mut core = Core::<()>::new(CoreFlags {
        strategy: arbour::Strategy::OneForOne,
        intensity: 5,
        period: Duration::from_secs(5),
        auto_shutdown: AutoShutdown::AllSignificant,
        backoff_reset: Duration::from_secs(5),
    });
    for id in ["a", "b"] {
        core.add_child(id, Restart::Transient, true);
        core.mark_running(id, base);
    }
    // a crashes; its restart fails, so it waits for a retry
    assert!(matches!(
        core.on_exit("a", &ExitReason::Killed, base),
        Plan::Restart { .. }
    ));
    core.mark_start_failed("a");
    // b finishes normally: a still counts, so no shutdown yet (OTP)
    assert_eq!(core.on_exit("b", &ExitReason::Normal, base), Plan::None);
}

#[test]
fn a_restart_exactly_one_period_later_still_counts() {
    let base = tokio::time::Instant::now();
    let mut core = Core::<()>::new(CoreFlags {
        strategy: arbour::Strategy::OneForOne,
        intensity: 1,
        period: Duration::from_secs(5),
        auto_shutdown: AutoShutdown::Never,
        backoff_reset: Duration::from_secs(5),
    });
    core.add_child("x", Restart::Permanent, false);
    core.mark_running("x", base);
    assert!(matches!(
        core.on_exit("x", &ExitReason::Killed, base),
        Plan::Restart { .. }
    ));
    let t = base + Duration::from_secs(5);
    core.mark_running("x", t);
    assert!(
        matches!(
            core.on_exit("x", &ExitReason::Killed, t),
            Plan::Shutdown { .. }
        ),
        "OTP keeps restarts with Now - T =< Period"
    );
}
