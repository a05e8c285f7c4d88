//! Mesos's byte-size flags (`2GB`, `512MB`, `100KB`, `4096B`; stout's `Bytes::parse`): a whole number and one
//! unit, powers of 1024. A bare number is bytes.

pub fn parse(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?}: expected a number and a unit (e.g. 2GB)"))?;
    let shift = match unit {
        "" | "B" => 0,
        "KB" => 10,
        "MB" => 20,
        "GB" => 30,
        "TB" => 40,
        other => {
            return Err(format!(
                "{text:?}: unknown unit {other:?} (B, KB, MB, GB, TB)"
            ))
        }
    };
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("{text:?}: out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mesos_sizes() {
        assert_eq!(parse("2GB"), Ok(2 << 30));
        assert_eq!(parse("512MB"), Ok(512 << 20));
        assert_eq!(parse("4096B"), Ok(4096));
        assert_eq!(parse("77"), Ok(77));
        assert!(parse("1.5GB").is_err());
        assert!(parse("2gb").is_err());
        assert!(parse("99999999TB").is_err());
    }
}
