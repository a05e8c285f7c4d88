//! The value syntaxes of runc's flags, which are Go's: durations as `time.ParseDuration` reads them
//! (`5s`, `1m30s`, `250ms`) and sizes as docker's `units.RAMInBytes` (`64m`, `1g`, `512KiB`: powers of 1024).

use std::time::Duration;

pub fn duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?}: not a duration (e.g. 5s, 1m30s, 250ms)");
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let value: f64 = rest[..n].parse().map_err(|_| bad())?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..u] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += value * scale;
        rest = &rest[u..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad())
}

pub fn ram_bytes(text: &str) -> Result<u64, String> {
    let bad = || format!("{text:?}: not a size (e.g. 64m, 1g, 512k)");
    let t = text.trim();
    let n = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let value: f64 = t[..n].parse().map_err(|_| bad())?;
    let unit = t[n..].trim().to_ascii_lowercase();
    let unit = unit
        .strip_suffix("ib")
        .or_else(|| unit.strip_suffix('b'))
        .unwrap_or(&unit);
    let power = match unit {
        "" => 0,
        "k" => 1,
        "m" => 2,
        "g" => 3,
        "t" => 4,
        "p" => 5,
        _ => return Err(bad()),
    };
    let bytes = value * 1024f64.powi(power);
    match bytes.is_finite() && bytes < u64::MAX as f64 {
        true => Ok(bytes as u64),
        false => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(duration("1.5h"), Ok(Duration::from_secs(5400)));
        for bad in ["", "5", "s", "5x", "-1s"] {
            assert!(duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn docker_ram_sizes_are_powers_of_1024() {
        assert_eq!(ram_bytes("64m"), Ok(64 << 20));
        assert_eq!(ram_bytes("1G"), Ok(1 << 30));
        assert_eq!(ram_bytes("512KiB"), Ok(512 << 10));
        assert_eq!(ram_bytes("100"), Ok(100));
        assert_eq!(ram_bytes("2mb"), Ok(2 << 20));
        for bad in ["", "m", "12q", "1e999g"] {
            assert!(ram_bytes(bad).is_err(), "{bad}");
        }
    }
}
