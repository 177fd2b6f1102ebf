//! Cron expressions, as crontab(5) writes them: five fields — minute, hour, day of month,
//! month, day of week — each `*`, a number, a range `a-b`, a step `*/n` or `a-b/n`, or a list
//! of those; or `@hourly`, `@daily`, `@weekly`, `@monthly`. Times are UTC (the relay's
//! clock). When both the day of month and the day of week are restricted, either matching is
//! enough, as in cron.

use serde::{Deserialize, Serialize};

/// An expression that does not parse, with the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{expr}` is not a cron expression: {why} (five fields: minute hour day-of-month month day-of-week, e.g. '0 3 * * *' for 03:00 UTC every day)"
)]
pub struct InvalidCron {
    pub expr: String,
    pub why: String,
}

/// A parsed cron expression: which minutes, hours, days, months and weekdays match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cron {
    text: String,
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    any_day: bool,
    any_weekday: bool,
}

const FIELDS: [(&str, u32, u32); 5] = [
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
];

fn field(text: &str, (name, lo, hi): (&str, u32, u32)) -> Result<u64, String> {
    let mut bits = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s
                    .parse()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("the {name} step `{s}` is not a positive number"))?;
                (r, step)
            }
            None => (part, 1),
        };
        let number = |s: &str| -> Result<u32, String> {
            s.parse::<u32>()
                .ok()
                .filter(|n| (lo..=hi).contains(n))
                .ok_or_else(|| format!("the {name} `{s}` is not a number from {lo} to {hi}"))
        };
        let (from, to) = match range {
            "*" => (lo, hi),
            r => match r.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (number(a)?, number(b)?);
                    if a > b {
                        return Err(format!("the {name} range `{r}` runs backwards"));
                    }
                    (a, b)
                }
                None if step > 1 => (number(r)?, hi),
                None => {
                    let n = number(r)?;
                    (n, n)
                }
            },
        };
        let mut n = from;
        while n <= to {
            bits |= 1 << n;
            n += step;
        }
    }
    Ok(bits)
}

impl Cron {
    pub fn parse(expr: &str) -> Result<Cron, InvalidCron> {
        let text = expr.split_whitespace().collect::<Vec<_>>().join(" ");
        let expanded = match text.as_str() {
            "@hourly" => "0 * * * *",
            "@daily" | "@midnight" => "0 0 * * *",
            "@weekly" => "0 0 * * 0",
            "@monthly" => "0 0 1 * *",
            other => other,
        }
        .to_owned();
        let bad = |why: String| InvalidCron {
            expr: expr.trim().to_owned(),
            why,
        };
        let parts: Vec<&str> = expanded.split(' ').collect();
        if parts.len() != 5 {
            return Err(bad(format!("it has {} fields, not 5", parts.len())));
        }
        let mut bits = [0u64; 5];
        for (i, part) in parts.iter().enumerate() {
            bits[i] = field(part, FIELDS[i]).map_err(bad)?;
        }
        // Sunday is 0 or 7.
        if bits[4] & (1 << 7) != 0 {
            bits[4] |= 1;
        }
        Ok(Cron {
            text,
            minutes: bits[0],
            hours: bits[1],
            days: bits[2],
            months: bits[3],
            weekdays: bits[4],
            any_day: parts[2] == "*",
            any_weekday: parts[4] == "*",
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the minute starting at `ms` (Unix milliseconds, UTC) matches.
    pub fn matches(&self, ms: i64) -> bool {
        let t = Utc::of(ms);
        let bit = |set: u64, n: i64| set & (1 << n) != 0;
        let day = bit(self.days, t.day);
        let weekday = bit(self.weekdays, t.weekday);
        let day_ok = match (self.any_day, self.any_weekday) {
            (true, true) => true,
            (false, true) => day,
            (true, false) => weekday,
            (false, false) => day || weekday,
        };
        bit(self.minutes, t.minute)
            && bit(self.hours, t.hour)
            && bit(self.months, t.month)
            && day_ok
    }

    /// The start of the first matching minute after `ms` (within a little over four years:
    /// `None` for an expression that never matches, like the 31st of February).
    pub fn next_after(&self, ms: i64) -> Option<i64> {
        let mut minute = ms.div_euclid(60_000) + 1;
        let end = minute + 4 * 366 * 24 * 60 + 1;
        while minute < end {
            let at = minute * 60_000;
            let t = Utc::of(at);
            // Skip whole hours and days that cannot match.
            if self.months & (1 << t.month) == 0 || self.hours & (1 << t.hour) == 0 {
                minute += 60 - t.minute;
                continue;
            }
            if self.matches(at) {
                return Some(at);
            }
            minute += 1;
        }
        None
    }
}

impl TryFrom<String> for Cron {
    type Error = InvalidCron;
    fn try_from(s: String) -> Result<Cron, InvalidCron> {
        Cron::parse(&s)
    }
}

impl From<Cron> for String {
    fn from(c: Cron) -> String {
        c.text
    }
}

impl std::fmt::Display for Cron {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// A command the relay runs on schedule in a fresh container made like an app's serving one
/// (`berth cron add`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CronJob {
    pub app: String,
    /// The job's name, unique per app (`nightly`).
    pub name: String,
    pub schedule: Cron,
    pub command: Vec<String>,
}

/// A UTC time's calendar fields.
pub struct Utc {
    pub year: i64,
    pub month: i64,
    pub day: i64,
    pub hour: i64,
    pub minute: i64,
    pub second: i64,
    /// 0 = Sunday.
    pub weekday: i64,
}

impl Utc {
    pub fn of(ms: i64) -> Utc {
        let secs = ms.div_euclid(1000);
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        // Days since 1970-01-01 → civil date (Howard Hinnant's algorithm).
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        Utc {
            year: yoe + era * 400 + i64::from(month <= 2),
            month,
            day,
            hour: rem / 3600,
            minute: (rem / 60) % 60,
            second: rem % 60,
            // 1970-01-01 was a Thursday.
            weekday: (days + 4).rem_euclid(7),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-12-07 03:00:00 UTC, a Monday.
    const MON_0300: i64 = 1_796_612_400_000;

    #[test]
    fn fields_match_as_crontab_says() {
        let daily = Cron::parse("0 3 * * *").expect("parse");
        assert!(daily.matches(MON_0300));
        assert!(!daily.matches(MON_0300 + 60_000));
        assert_eq!(daily.next_after(MON_0300), Some(MON_0300 + 86_400_000));
        let weekdays = Cron::parse("*/15 2-4 * * 1-5").expect("parse");
        assert!(weekdays.matches(MON_0300 + 15 * 60_000));
        assert!(!weekdays.matches(MON_0300 + 5 * 60_000));
        // Sunday as 7; the 6th was one.
        let sunday = Cron::parse("0 3 * * 7").expect("parse");
        assert!(sunday.matches(MON_0300 - 86_400_000));
        assert!(!sunday.matches(MON_0300));
        // Day of month or day of week, when both are given.
        let either = Cron::parse("0 3 1 * 1").expect("parse");
        assert!(either.matches(MON_0300));
        assert_eq!(Cron::parse("@daily").expect("parse").as_str(), "@daily");
        assert_eq!(
            Cron::parse("  0  3 * *  * ").expect("parse").as_str(),
            "0 3 * * *"
        );
        assert_eq!(
            Cron::parse("0 0 31 2 *")
                .expect("parse")
                .next_after(MON_0300),
            None
        );
        let every = Cron::parse("* * * * *").expect("parse");
        assert_eq!(every.next_after(MON_0300 + 1), Some(MON_0300 + 60_000));
    }

    #[test]
    fn what_does_not_parse_says_why() {
        let e = |s: &str| Cron::parse(s).expect_err(s).why;
        assert_eq!(e("0 3 * *"), "it has 4 fields, not 5");
        assert_eq!(
            e("60 * * * *"),
            "the minute `60` is not a number from 0 to 59"
        );
        assert_eq!(e("0 5-2 * * *"), "the hour range `5-2` runs backwards");
        assert_eq!(
            e("*/0 * * * *"),
            "the minute step `0` is not a positive number"
        );
        assert_eq!(
            e("0 3 * * mon"),
            "the day of week `mon` is not a number from 0 to 7"
        );
        assert!(
            Cron::parse("nonsense")
                .expect_err("x")
                .to_string()
                .contains("'0 3 * * *'")
        );
    }

    #[test]
    fn utc_fields() {
        let t = Utc::of(MON_0300);
        assert_eq!(
            (t.year, t.month, t.day, t.hour, t.weekday),
            (2026, 12, 7, 3, 1)
        );
    }
}
