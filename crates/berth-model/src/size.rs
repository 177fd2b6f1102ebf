//! Parsing of resource sizes as a user types them: `256m`, `1g`, `0.5` CPUs.

/// Parses a memory size such as `256m`, `1.5g`, `512MiB` or `1073741824` into bytes.
/// Units are binary (k = 1024), as in `docker run --memory`.
pub fn parse_memory(input: &str) -> Result<u64, String> {
    let s = input.trim().to_ascii_lowercase();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("memory `{input}` is not a size like 256m or 1g"))?;
    let mult: u64 = match unit.trim() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        other => {
            return Err(format!(
                "memory `{input}` has an unknown unit `{other}` (use k, m, g or t)"
            ));
        }
    };
    let bytes = value * mult as f64;
    // Docker refuses limits below 6 MiB; say so before a deploy fails on it.
    if bytes < (6 << 20) as f64 {
        return Err(format!("memory `{input}` is below Docker's minimum of 6m"));
    }
    Ok(bytes as u64)
}

/// Renders bytes the way `parse_memory` reads them back (`256m`, `1g`, `1536m`).
pub fn format_memory(bytes: u64) -> String {
    for (unit, mult) in [
        ("t", 1u64 << 40),
        ("g", 1 << 30),
        ("m", 1 << 20),
        ("k", 1 << 10),
    ] {
        if bytes >= mult && bytes.is_multiple_of(mult) {
            return format!("{}{unit}", bytes / mult);
        }
    }
    format!("{bytes}b")
}

/// Parses a CPU count such as `0.5` or `2`.
pub fn parse_cpus(input: &str) -> Result<f64, String> {
    let v: f64 = input
        .trim()
        .parse()
        .map_err(|_| format!("cpus `{input}` is not a number like 0.5 or 2"))?;
    if !(v > 0.0 && v <= 1024.0) {
        return Err(format!("cpus `{input}` must be greater than 0"));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes() {
        assert_eq!(parse_memory("256m"), Ok(256 << 20));
        assert_eq!(parse_memory("1g"), Ok(1 << 30));
        assert_eq!(parse_memory("1.5G"), Ok(1536 << 20));
        assert_eq!(parse_memory("512MiB"), Ok(512 << 20));
        assert!(parse_memory("lots").is_err());
        assert!(parse_memory("10x").unwrap_err().contains("unknown unit"));
        assert!(parse_memory("1m").unwrap_err().contains("minimum"));
        assert_eq!(format_memory(256 << 20), "256m");
        assert_eq!(format_memory(1536 << 20), "1536m");
        assert_eq!(format_memory(1 << 30), "1g");
    }

    #[test]
    fn cpus() {
        assert_eq!(parse_cpus("0.5"), Ok(0.5));
        assert!(parse_cpus("0").is_err());
        assert!(parse_cpus("half").is_err());
    }
}
