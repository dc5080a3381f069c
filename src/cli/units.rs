//! Docker's flag value formats: sizes (`-m 512m`), CPU counts (`--cpus 1.5`).

/// docker's `RAMInBytes`: a number with an optional unit b, k, m, g, t (binary multiples), case
/// insensitive, an optional trailing `b` (`512mb`).
pub fn parse_size(flag: &str, s: &str) -> Result<i64, String> {
    let err =
        || format!("invalid value {s:?} for {flag}: expected a size like 512m, 1g or 1048576");
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').filter(|r| !r.is_empty()).unwrap_or(&t);
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| err())?;
    let mult: f64 = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(err()),
    };
    if n < 0.0 {
        return Err(err());
    }
    Ok((n * mult) as i64)
}

/// `--cpus 1.5` → nano CPUs.
pub fn parse_cpus(s: &str) -> Result<i64, String> {
    let n: f64 = s.trim().parse().map_err(|_| {
        format!("invalid value {s:?} for --cpus: expected a number of CPUs like 0.5 or 2")
    })?;
    if n.is_nan() || n < 0.0 || !n.is_finite() {
        return Err(format!(
            "invalid value {s:?} for --cpus: expected a positive number of CPUs"
        ));
    }
    Ok((n * 1e9).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_like_docker() {
        assert_eq!(parse_size("-m", "512m").unwrap(), 512 << 20);
        assert_eq!(parse_size("-m", "1G").unwrap(), 1 << 30);
        assert_eq!(parse_size("-m", "64mb").unwrap(), 64 << 20);
        assert_eq!(parse_size("-m", "1048576").unwrap(), 1 << 20);
        assert!(parse_size("-m", "12zz").unwrap_err().contains("\"12zz\""));
        assert!(parse_size("-m", "").is_err());
        assert!(parse_size("-m", "-1m").is_err());
    }

    #[test]
    fn cpus_parse_to_nano_cpus() {
        assert_eq!(parse_cpus("1.5").unwrap(), 1_500_000_000);
        assert!(parse_cpus("x").is_err());
        assert!(parse_cpus("-1").is_err());
    }
}
