//! Calendar time as DNS writes it: `YYYYMMDDHHmmSS` in UTC, the form of RRSIG validity times in
//! presentation format (RFC 4034 §3.2) and of the timing metadata in BIND's key files, and the
//! proleptic Gregorian day arithmetic under it (H. Hinnant's `days_from_civil` and
//! `civil_from_days`), which certificate dates use too.

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date (year, month, day) `days` after 1970-01-01.
pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `YYYYMMDDHHmmSS` (exactly 14 digits, a real date and time, not before 1970) as Unix seconds.
pub(crate) fn parse_timestamp(text: &[u8]) -> Option<u64> {
    parse_civil(text).and_then(|seconds| u64::try_from(seconds).ok())
}

/// `YYYYMMDDHHmmSS` (exactly 14 digits, a real date and time) as seconds from the Unix epoch,
/// negative before it.
pub(crate) fn parse_civil(text: &[u8]) -> Option<i64> {
    if text.len() != 14 || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let field = |range: std::ops::Range<usize>| {
        text[range]
            .iter()
            .fold(0i64, |acc, &d| acc * 10 + i64::from(d - b'0'))
    };
    let (year, month, day) = (field(0..4), field(4..6), field(6..8));
    let (hour, minute, second) = (field(8..10), field(10..12), field(12..14));
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&month)
        || day < 1
        || day > month_days[(month - 1) as usize]
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

/// Unix seconds as `YYYYMMDDHHmmSS` (UTC).
pub(crate) fn timestamp(seconds: u64) -> String {
    let seconds = seconds as i64;
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    let rem = seconds.rem_euclid(86_400);
    format!(
        "{year:04}{month:02}{day:02}{:02}{:02}{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Unix seconds as `2026-12-07 11:49:10 UTC`, for people.
pub(crate) fn utc(seconds: u64) -> String {
    let t = timestamp(seconds);
    format!(
        "{}-{}-{} {}:{}:{} UTC",
        &t[0..4],
        &t[4..6],
        &t[6..8],
        &t[8..10],
        &t[10..12],
        &t[12..14]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip() {
        // RFC 4034 §3.3's example.
        assert_eq!(parse_timestamp(b"20030322173103"), Some(1_048_354_263));
        assert_eq!(parse_timestamp(b"19700101000000"), Some(0));
        assert_eq!(parse_timestamp(b"21060207062816"), Some(1 << 32));
        assert!(parse_timestamp(b"20000229000000").is_some());
        for bad in [
            &b"20010229000000"[..],
            b"20031322173103",
            b"19691231235959",
            b"20030322243103",
            b"2003032217310",
            b"2003032217310x",
        ] {
            assert_eq!(
                parse_timestamp(bad),
                None,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        for t in [
            0,
            1,
            86_399,
            951_782_400,
            1_796_644_150,
            u64::from(u32::MAX) + 7,
        ] {
            assert_eq!(parse_timestamp(timestamp(t).as_bytes()), Some(t));
        }
        assert_eq!(timestamp(1_048_354_263), "20030322173103");
        assert_eq!(parse_civil(b"19691231235959"), Some(-1));
    }

    #[test]
    fn days_round_trip() {
        for days in [-719_468, -1, 0, 1, 11_016, 20_000, 50_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
