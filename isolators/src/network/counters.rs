//! The container's network counters for `ResourceStatistics` (`net_rx_bytes`, ...): `/proc/net/dev` read
//! inside its namespace, summed over its interfaces except loopback (traffic a task sends itself is not
//! network use), as Mesos reports the counters of the container's interface.

use crate::stats::ResourceStatistics;

pub fn add(proc_net_dev: &str, stats: &mut ResourceStatistics) {
    let mut sum = [0u64; 8];
    let mut any = false;
    for line in proc_net_dev.lines().skip(2) {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        if name.trim() == "lo" {
            continue;
        }
        let f: Vec<u64> = rest
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0))
            .collect();
        if f.len() < 12 {
            continue;
        }
        any = true;
        // Receive: bytes packets errs drop; Transmit (from field 8): bytes packets errs drop.
        for (i, idx) in [0, 1, 2, 3, 8, 9, 10, 11].into_iter().enumerate() {
            sum[i] = sum[i].saturating_add(f[idx]);
        }
    }
    if !any {
        return;
    }
    let [rxb, rxp, rxe, rxd, txb, txp, txe, txd] = sum;
    stats.net_rx_bytes = Some(rxb);
    stats.net_rx_packets = Some(rxp);
    stats.net_rx_errors = Some(rxe);
    stats.net_rx_dropped = Some(rxd);
    stats.net_tx_bytes = Some(txb);
    stats.net_tx_packets = Some(txp);
    stats.net_tx_errors = Some(txe);
    stats.net_tx_dropped = Some(txd);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_all_but_loopback() {
        let text = "Inter-|   Receive                                                |  Transmit\n \
             face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    \
             lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0\n  \
             eth0:    1500      10    1    2    0     0          0         0      700       7    3    4    0     0       0          0\n";
        let mut s = ResourceStatistics::default();
        add(text, &mut s);
        assert_eq!(
            (
                s.net_rx_bytes,
                s.net_rx_packets,
                s.net_rx_errors,
                s.net_rx_dropped
            ),
            (Some(1500), Some(10), Some(1), Some(2))
        );
        assert_eq!(
            (
                s.net_tx_bytes,
                s.net_tx_packets,
                s.net_tx_errors,
                s.net_tx_dropped
            ),
            (Some(700), Some(7), Some(3), Some(4))
        );
        let mut none = ResourceStatistics::default();
        add(
            &text.lines().take(3).collect::<Vec<_>>().join("\n"),
            &mut none,
        );
        assert_eq!(none.net_rx_bytes, None, "loopback only: nothing to report");
    }
}
