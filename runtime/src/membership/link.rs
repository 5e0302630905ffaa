//! Probe timing that follows the links: SWIM's timeouts stretched to the
//! round trips QUIC measures on the members' connections, so a WAN of
//! 200 ms round trips raises no suspicion while a LAN keeps the configured
//! sub-second timing (adaptivity as Akka's and Orleans' phi-accrual
//! detectors have it, from a measure the transport already keeps).
//!
//! foca fixes its probe period and probe timeout when it is made; the
//! timers it asks for are stretched here instead, on their way out of the
//! machine. Sans-IO: told the round trips, it answers with durations.

use super::MemberId;
use foca::Timer;
use std::collections::BTreeMap;
use std::time::Duration;

/// Added to a timeout made of round trips: jitter, and the time a member
/// takes to answer.
const MARGIN: Duration = Duration::from_millis(25);

/// Round trips a probe's answer may take: one, and one more for QUIC to
/// resend a lost packet (SWIM rides a reliable stream: a loss is a delay).
const RTTS_PER_TIMEOUT: u32 = 3;

/// The configured timing and each member's measured round trip.
#[derive(Debug)]
pub(crate) struct LinkTiming {
    probe_period: Duration,
    probe_rtt: Duration,
    suspect_to_down_after: Duration,
    /// Smoothed round trip to each member, by name.
    rtts: BTreeMap<String, Duration>,
}

impl LinkTiming {
    /// The configured timing, for links not measured yet.
    pub(crate) fn new(probe_period: Duration, probe_rtt: Duration, suspect: Duration) -> Self {
        Self {
            probe_period,
            probe_rtt,
            suspect_to_down_after: suspect,
            rtts: BTreeMap::new(),
        }
    }

    /// The round trips measured now (members without a connection are left
    /// out).
    pub(crate) fn set_rtts(&mut self, rtts: BTreeMap<String, Duration>) {
        self.rtts = rtts;
    }

    /// How long a probe of a member whose round trip is `rtt` waits.
    fn probe_timeout(&self, rtt: Duration) -> Duration {
        self.probe_rtt.max(rtt * RTTS_PER_TIMEOUT + MARGIN)
    }

    fn worst_rtt(&self) -> Duration {
        self.rtts.values().max().copied().unwrap_or_default()
    }

    /// The probe period: the direct probe's timeout and then time for the
    /// indirect probes (two round trips each: through a helper and back).
    pub(crate) fn probe_period(&self) -> Duration {
        let worst = self.worst_rtt();
        self.probe_period
            .max(self.probe_timeout(worst) + 2 * (worst * RTTS_PER_TIMEOUT + MARGIN))
    }

    /// How long a suspect has to refute: the configured time, and at least
    /// two probe periods (a refutation travels by gossip).
    pub(crate) fn suspect_to_down_after(&self) -> Duration {
        self.suspect_to_down_after.max(self.probe_period() * 2)
    }

    /// `after`, the delay foca asked for `timer`, stretched to the links.
    pub(crate) fn stretch(&self, after: Duration, timer: &Timer<MemberId>) -> Duration {
        let scaled = |configured: Duration, now: Duration| {
            if now <= configured || configured.is_zero() {
                after
            } else {
                after.mul_f64(now.as_secs_f64() / configured.as_secs_f64())
            }
        };
        match timer {
            Timer::ProbeRandomMember(_) => scaled(self.probe_period, self.probe_period()),
            Timer::SendIndirectProbe { probed_id, .. } => {
                let rtt = self
                    .rtts
                    .get(&probed_id.name)
                    .copied()
                    .unwrap_or_else(|| self.worst_rtt());
                scaled(self.probe_rtt, self.probe_timeout(rtt))
            }
            Timer::ChangeSuspectToDown { .. } => {
                scaled(self.suspect_to_down_after, self.suspect_to_down_after())
            }
            _ => after,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str) -> MemberId {
        MemberId {
            name: name.to_owned(),
            incarnation: 1,
            addr: std::net::SocketAddr::from(([127, 0, 0, 1], 1)),
            roles: Vec::new(),
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_lan_keeps_the_configured_timing_and_a_wan_stretches_it() {
        let mut t = LinkTiming::new(ms(200), ms(100), ms(500));
        let probe = Timer::ProbeRandomMember(0);
        let indirect = Timer::SendIndirectProbe {
            probed_id: member("far"),
            token: 0,
        };
        // not measured yet, and a LAN: as configured
        assert_eq!(t.stretch(ms(200), &probe), ms(200));
        t.set_rtts([("near".to_owned(), Duration::from_micros(300))].into());
        assert_eq!(t.stretch(ms(200), &probe), ms(200));
        assert_eq!(t.stretch(ms(100), &indirect), ms(100));
        assert_eq!(t.suspect_to_down_after(), ms(500));
        // a 200 ms link: its probe waits 3 round trips and a margin; the
        // period leaves room for the indirect probes, the suspicion for two
        // periods
        t.set_rtts([("near".to_owned(), ms(1)), ("far".to_owned(), ms(200))].into());
        assert_eq!(t.stretch(ms(100), &indirect), ms(625));
        assert_eq!(t.probe_period(), ms(625 + 2 * 625));
        assert_eq!(t.stretch(ms(200), &probe), ms(1875));
        assert_eq!(t.suspect_to_down_after(), ms(3750));
        // a near member's probe still waits only what its link needs
        let near = Timer::SendIndirectProbe {
            probed_id: member("near"),
            token: 0,
        };
        assert_eq!(t.stretch(ms(100), &near), ms(100));
        // other timers are left alone
        assert_eq!(t.stretch(ms(30), &Timer::PeriodicGossip(0)), ms(30));
    }
}
