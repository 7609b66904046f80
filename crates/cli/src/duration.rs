//! Durations on the command line: `90d`, `12h`, `30m`, `45s`, `500ms`.

use anyhow::{bail, Result};

/// Parses a duration into milliseconds.
pub fn parse_ms(text: &str) -> Result<i64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    if digits.is_empty() {
        bail!(
            "invalid duration {text:?}: expected a number and a unit, such as 90d, 12h, 30m, 45s"
        );
    }
    let n: i64 = digits
        .parse()
        .map_err(|_| anyhow::anyhow!("invalid duration {text:?}: number too large"))?;
    let unit_ms: i64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => bail!("invalid duration {text:?}: unknown unit {unit:?} (use ms, s, m, h, d or w)"),
    };
    n.checked_mul(unit_ms)
        .ok_or_else(|| anyhow::anyhow!("invalid duration {text:?}: too large"))
}

#[cfg(test)]
mod tests {
    use super::parse_ms;

    #[test]
    fn units() {
        assert_eq!(parse_ms("90d").unwrap(), 90 * 86_400_000);
        assert_eq!(parse_ms("12h").unwrap(), 12 * 3_600_000);
        assert_eq!(parse_ms("30m").unwrap(), 1_800_000);
        assert_eq!(parse_ms("45s").unwrap(), 45_000);
        assert_eq!(parse_ms("500ms").unwrap(), 500);
        assert_eq!(parse_ms("2w").unwrap(), 14 * 86_400_000);
    }

    #[test]
    fn errors() {
        assert!(parse_ms("").is_err());
        assert!(parse_ms("d").is_err());
        assert!(parse_ms("10y").is_err());
        assert!(parse_ms("99999999999999999999d").is_err());
        assert!(parse_ms("9999999999999d").is_err());
    }
}
