//! Docker's size and CPU formats: `-m 512m` (`units.RAMInBytes`), `--cpus 1.5`, and sizes shown
//! to people (`units.HumanSizeWithPrecision`, decimal units).

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
    if n < 0.0 || !(n * mult).is_finite() || n * mult > i64::MAX as f64 {
        return Err(err());
    }
    Ok((n * mult) as i64)
}

/// `--cpus 1.5` → nano CPUs.
pub fn parse_cpus(s: &str) -> Result<i64, String> {
    let n: f64 = s.trim().parse().map_err(|_| {
        format!("invalid value {s:?} for --cpus: expected a number of CPUs like 0.5 or 2")
    })?;
    if n.is_nan() || n < 0.0 || !n.is_finite() || n * 1e9 > i64::MAX as f64 {
        return Err(format!(
            "invalid value {s:?} for --cpus: expected a positive number of CPUs"
        ));
    }
    Ok((n * 1e9).round() as i64)
}

/// docker's `units.HumanSizeWithPrecision`: decimal units (kB, MB, …), `precision` significant
/// digits (`HumanSize` is precision 4; `docker images` uses 3).
pub fn human_size(bytes: u64, precision: usize) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1000.0 && i < UNITS.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    format!("{}{}", significant(v, precision), UNITS[i])
}

/// Go's `%.Ng`: `precision` significant digits, trailing zeros dropped.
fn significant(v: f64, precision: usize) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let digits = v.abs().log10().floor() as i64 + 1;
    let decimals = (precision as i64 - digits).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
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
        assert!(parse_size("-m", "99999999999t").is_err());
    }

    #[test]
    fn cpus_parse_to_nano_cpus() {
        assert_eq!(parse_cpus("1.5").unwrap(), 1_500_000_000);
        assert!(parse_cpus("x").is_err());
        assert!(parse_cpus("-1").is_err());
        assert!(parse_cpus("1e300").is_err());
    }

    #[test]
    fn human_sizes_read_like_docker() {
        assert_eq!(human_size(0, 4), "0B");
        assert_eq!(human_size(999, 4), "999B");
        assert_eq!(human_size(1_234_567, 3), "1.23MB");
        assert_eq!(human_size(4_261_000, 4), "4.261MB");
        assert_eq!(human_size(2_000_000_000, 3), "2GB");
        assert_eq!(human_size(123_456, 3), "123kB");
    }
}
