//! Mesos's duration flags (`60secs`, `2mins`, `500ms`, `1hrs`; stout's `Duration::parse`): a number and one
//! unit, `ns us ms secs mins hrs days weeks`. A bare number is seconds.

use std::time::Duration;

pub fn parse(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: f64 = number
        .parse()
        .map_err(|_| format!("{text:?}: expected a number and a unit (e.g. 60secs)"))?;
    let secs = match unit {
        "ns" => 1e-9,
        "us" => 1e-6,
        "ms" => 1e-3,
        "" | "secs" => 1.0,
        "mins" => 60.0,
        "hrs" => 3600.0,
        "days" => 86_400.0,
        "weeks" => 604_800.0,
        other => {
            return Err(format!(
                "{text:?}: unknown unit {other:?} (ns, us, ms, secs, mins, hrs, days, weeks)"
            ))
        }
    };
    Duration::try_from_secs_f64(n * secs).map_err(|_| format!("{text:?}: out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mesos_units() {
        assert_eq!(parse("60secs"), Ok(Duration::from_secs(60)));
        assert_eq!(parse("2mins"), Ok(Duration::from_secs(120)));
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("1.5hrs"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("7"), Ok(Duration::from_secs(7)));
        assert!(parse("10s").is_err_and(|e| e.contains("unknown unit")));
        assert!(parse("mins").is_err());
    }
}
