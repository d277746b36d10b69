//! Go's text forms of `metav1.Time` (RFC 3339, seconds), `metav1.MicroTime` (microseconds) and
//! `metav1.Duration` (`time.Duration.String`: `1h2m3.5s`, `1.5ms`), for the protobuf decoder.

/// Go normalizes `time.Unix(seconds, nanos)`: nanos outside 0..1e9 carry into seconds. The
/// whole seconds (floored) and the nanoseconds after them.
fn timestamp(seconds: i64, nanos: i64) -> Result<(jiff::Timestamp, i64), String> {
    let total = i128::from(seconds) * 1_000_000_000 + i128::from(nanos);
    let seconds = i64::try_from(total.div_euclid(1_000_000_000))
        .map_err(|_| format!("time {total}ns is out of range"))?;
    let nanos = i64::try_from(total.rem_euclid(1_000_000_000)).unwrap_or(0);
    // Go's RFC 3339 marshalling refuses years outside 0..=9999.
    if !(-62_167_219_200..=253_402_300_799).contains(&seconds) {
        return Err(format!("time {seconds}s is outside the years 0 to 9999"));
    }
    let t = jiff::Timestamp::from_second(seconds).map_err(|e| e.to_string())?;
    Ok((t, nanos))
}

/// A `metav1.Time`: `2006-01-02T15:04:05Z`.
pub fn time(seconds: i64, nanos: i64) -> Result<String, String> {
    let (t, _) = timestamp(seconds, nanos)?;
    Ok(t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// A `metav1.MicroTime`: `2006-01-02T15:04:05.000000Z` (truncated, not rounded, as Go does).
pub fn micro_time(seconds: i64, nanos: i64) -> Result<String, String> {
    let (t, nanos) = timestamp(seconds, nanos)?;
    let micros = nanos / 1000;
    Ok(format!("{}.{micros:06}Z", t.strftime("%Y-%m-%dT%H:%M:%S")))
}

/// `v` with `prec` of its decimal digits as a fraction, trailing zeros (and a bare dot)
/// dropped: Go's `fmtFrac` and `fmtInt` together.
fn frac(v: u64, prec: u32) -> String {
    let scale = 10u64.pow(prec);
    let (whole, part) = (v / scale, v % scale);
    if part == 0 {
        return whole.to_string();
    }
    let digits = format!("{part:0width$}", width = prec as usize);
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// Go's `time.Duration.String()` of `nanos` nanoseconds.
pub fn duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_string();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let u = nanos.unsigned_abs();
    let text = if u < 1_000_000_000 {
        // Under a second: the largest unit below it that keeps a whole part.
        let (prec, unit) = match u {
            0..1_000 => (0, "ns"),
            1_000..1_000_000 => (3, "µs"),
            _ => (6, "ms"),
        };
        format!("{}{unit}", frac(u, prec))
    } else {
        let seconds = frac(u % 60_000_000_000, 9);
        let minutes = u / 60_000_000_000;
        match (minutes / 60, minutes % 60) {
            (0, 0) => format!("{seconds}s"),
            (0, m) => format!("{m}m{seconds}s"),
            (h, m) => format!("{h}h{m}m{seconds}s"),
        }
    };
    format!("{sign}{text}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_go_prints_them() {
        for (nanos, text) in [
            (0, "0s"),
            (1, "1ns"),
            (1_100, "1.1µs"),
            (2_200_000, "2.2ms"),
            (1_500_000_000, "1.5s"),
            (60_000_000_000, "1m0s"),
            (3_600_000_000_000, "1h0m0s"),
            (3_723_000_000_000, "1h2m3s"),
            (-90_000_000_000, "-1m30s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
        ] {
            assert_eq!(duration(nanos), text, "{nanos}");
        }
    }

    #[test]
    fn times_read_as_go_prints_them() {
        assert_eq!(time(0, 0).unwrap(), "1970-01-01T00:00:00Z");
        assert_eq!(time(1_700_000_000, 0).unwrap(), "2023-11-14T22:13:20Z");
        assert_eq!(
            micro_time(1_700_000_000, 123_456_789).unwrap(),
            "2023-11-14T22:13:20.123456Z"
        );
        assert_eq!(micro_time(0, -1).unwrap(), "1969-12-31T23:59:59.999999Z");
        assert!(time(i64::MAX, 0).is_err());
        assert!(time(253_402_300_800, 0).is_err());
    }
}
