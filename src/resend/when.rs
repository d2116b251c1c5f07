//! `scheduled_at` as Resend takes it: an ISO 8601 date and time, or natural
//! language such as `in 1 min` (Resend's docs; measured live in 2026-09).
//!
//! The natural forms read here: `now`; `in N unit` or `in a/an unit`, with
//! units from seconds to weeks in their usual spellings (`30s`, `5 mins`,
//! `2 hours`, `1 day`); `tomorrow`, optionally `at 9`, `at 9am`, `at 14:30`
//! (UTC). Anything else is refused, never guessed at.

use time::format_description::well_known::{Iso8601, Rfc3339};
use time::{Duration, OffsetDateTime, PrimitiveDateTime, Time};

/// The instant `text` names, relative to `now`; `None` when it names none.
pub fn parse(text: &str, now: OffsetDateTime) -> Option<OffsetDateTime> {
    let t = text.trim();
    if let Ok(at) = OffsetDateTime::parse(t, &Rfc3339) {
        return Some(at);
    }
    if let Ok(at) = OffsetDateTime::parse(t, &Iso8601::DEFAULT) {
        return Some(at);
    }
    // ISO 8601 without an offset is read as UTC.
    if let Ok(at) = PrimitiveDateTime::parse(t, &Iso8601::DEFAULT) {
        return Some(at.assume_utc());
    }
    natural(&t.to_ascii_lowercase(), now)
}

fn natural(t: &str, now: OffsetDateTime) -> Option<OffsetDateTime> {
    let words: Vec<&str> = t.split_whitespace().collect();
    match words.as_slice() {
        ["now"] => Some(now),
        ["in", amount, unit] => Some(now + span(count(amount)?, unit)?),
        // `in 30s`, `in 5min`: the number and unit in one word.
        ["in", joined] => {
            let split = joined.find(|c: char| !c.is_ascii_digit())?;
            let (n, unit) = joined.split_at(split);
            Some(now + span(n.parse().ok()?, unit)?)
        }
        ["tomorrow"] => Some(now + Duration::days(1)),
        ["tomorrow", "at", clock] => {
            let day = (now + Duration::days(1)).date();
            Some(PrimitiveDateTime::new(day, clock_time(clock)?).assume_utc())
        }
        ["tomorrow", "at", clock, ampm @ ("am" | "pm")] => {
            let day = (now + Duration::days(1)).date();
            let joined = format!("{clock}{ampm}");
            Some(PrimitiveDateTime::new(day, clock_time(&joined)?).assume_utc())
        }
        _ => None,
    }
}

fn count(word: &str) -> Option<i64> {
    match word {
        "a" | "an" | "one" => Some(1),
        n => n.parse().ok().filter(|n| *n >= 0),
    }
}

fn span(n: i64, unit: &str) -> Option<Duration> {
    let secs = match unit {
        "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600,
        "d" | "day" | "days" => 86_400,
        "w" | "week" | "weeks" => 604_800,
        _ => return None,
    };
    // Beyond a year is no schedule Resend takes; it also keeps the sum in range.
    (n <= 366 * 86_400 / secs).then(|| Duration::seconds(n * secs))
}

/// `9`, `9am`, `9pm`, `14:30`, `9:15am`.
fn clock_time(word: &str) -> Option<Time> {
    let (digits, pm) = match word.strip_suffix("pm") {
        Some(d) => (d, Some(true)),
        None => match word.strip_suffix("am") {
            Some(d) => (d, Some(false)),
            None => (word, None),
        },
    };
    let (h, m) = match digits.split_once(':') {
        Some((h, m)) => (h.parse::<u8>().ok()?, m.parse::<u8>().ok()?),
        None => (digits.parse::<u8>().ok()?, 0),
    };
    let h = match pm {
        Some(pm) if (1..=12).contains(&h) => (h % 12) + if pm { 12 } else { 0 },
        Some(_) => return None,
        None => h,
    };
    Time::from_hms(h, m, 0).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> OffsetDateTime {
        OffsetDateTime::parse("2026-09-01T10:00:00Z", &Rfc3339).unwrap()
    }

    fn at(s: &str) -> Option<String> {
        parse(s, now()).map(|t| t.format(&Rfc3339).unwrap())
    }

    #[test]
    fn iso_and_natural_forms() {
        let cases = [
            ("2026-09-02T08:00:00.000Z", Some("2026-09-02T08:00:00Z")),
            (
                "2026-09-02T08:00:00+02:00",
                Some("2026-09-02T08:00:00+02:00"),
            ),
            ("2026-09-02T08:00:00", Some("2026-09-02T08:00:00Z")),
            ("in 1 min", Some("2026-09-01T10:01:00Z")),
            ("In 1 Minute", Some("2026-09-01T10:01:00Z")),
            ("in 30s", Some("2026-09-01T10:00:30Z")),
            ("in an hour", Some("2026-09-01T11:00:00Z")),
            ("in 2 days", Some("2026-09-03T10:00:00Z")),
            ("now", Some("2026-09-01T10:00:00Z")),
            ("tomorrow", Some("2026-09-02T10:00:00Z")),
            ("tomorrow at 9am", Some("2026-09-02T09:00:00Z")),
            ("tomorrow at 9 pm", Some("2026-09-02T21:00:00Z")),
            ("tomorrow at 14:30", Some("2026-09-02T14:30:00Z")),
            ("in 1 fortnight", None),
            ("in -5 min", None),
            ("in 999999999999 weeks", None),
            ("tomorrow at 13pm", None),
            ("someday", None),
            ("", None),
        ];
        for (input, want) in cases {
            assert_eq!(at(input).as_deref(), want, "{input:?}");
        }
    }
}
