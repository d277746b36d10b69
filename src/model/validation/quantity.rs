//! `resource.Quantity`: parsing, comparison and the canonical form, as apimachinery's
//! `pkg/api/resource` does them.

use super::formats::QUANTITY_ERR;

// ---------------------------------------------------------------------------------------------
// Quantities
// ---------------------------------------------------------------------------------------------

/// How a quantity was written; determines its canonical form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuantityFormat {
    /// `Ki`, `Mi`, ... suffixes.
    BinarySI,
    /// `m`, `k`, `M`, ... (or no) suffix.
    DecimalSI,
    /// `e3`, `E6`, ... suffixes.
    DecimalExponent,
}

/// A parsed `resource.Quantity`, held exactly in units of 10^-9 (rounded up), saturating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedQuantity {
    /// Value multiplied by 10^9.
    pub nanos: i128,
    /// Format used for the canonical rendering.
    pub format: QuantityFormat,
}

pub(super) const NANO: i128 = 1_000_000_000;

fn pow10(e: u32) -> Option<i128> {
    10i128.checked_pow(e)
}

/// Parses a Kubernetes quantity string (`resource.ParseQuantity`).
pub fn parse_quantity(s: &str) -> Result<ParsedQuantity, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err(QUANTITY_ERR.to_string());
    }
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut negative = false;
    if bytes[0] == b'+' || bytes[0] == b'-' {
        negative = bytes[0] == b'-';
        i = 1;
    }
    let num_start = i;
    while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
        i += 1;
    }
    let num = &s[num_start..i];
    let suffix = &s[i..];
    let (int_part, frac_part) = match num.split_once('.') {
        Some((a, b)) => (a, b),
        None => (num, ""),
    };
    if frac_part.contains('.') || (int_part.is_empty() && frac_part.is_empty()) {
        return Err(QUANTITY_ERR.to_string());
    }
    // (base, exponent): value = mantissa * base^exponent
    let (base, exp, format): (i128, i32, QuantityFormat) = match suffix {
        "" => (10, 0, QuantityFormat::DecimalSI),
        "n" => (10, -9, QuantityFormat::DecimalSI),
        "u" => (10, -6, QuantityFormat::DecimalSI),
        "m" => (10, -3, QuantityFormat::DecimalSI),
        "k" => (10, 3, QuantityFormat::DecimalSI),
        "M" => (10, 6, QuantityFormat::DecimalSI),
        "G" => (10, 9, QuantityFormat::DecimalSI),
        "T" => (10, 12, QuantityFormat::DecimalSI),
        "P" => (10, 15, QuantityFormat::DecimalSI),
        "E" => (10, 18, QuantityFormat::DecimalSI),
        "Ki" => (2, 10, QuantityFormat::BinarySI),
        "Mi" => (2, 20, QuantityFormat::BinarySI),
        "Gi" => (2, 30, QuantityFormat::BinarySI),
        "Ti" => (2, 40, QuantityFormat::BinarySI),
        "Pi" => (2, 50, QuantityFormat::BinarySI),
        "Ei" => (2, 60, QuantityFormat::BinarySI),
        _ => {
            let rest = suffix
                .strip_prefix('e')
                .or_else(|| suffix.strip_prefix('E'))
                .ok_or_else(|| QUANTITY_ERR.to_string())?;
            let digits = rest
                .strip_prefix('+')
                .or_else(|| rest.strip_prefix('-'))
                .unwrap_or(rest);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(QUANTITY_ERR.to_string());
            }
            let e: i32 = rest.parse().map_err(|_| QUANTITY_ERR.to_string())?;
            (10, e, QuantityFormat::DecimalExponent)
        }
    };
    // mantissa = digits (int+frac) * 10^-len(frac)
    let digits: String = format!("{int_part}{frac_part}");
    let digits = digits.trim_start_matches('0');
    let frac_len = frac_part.len() as i64;
    let sat = |neg: bool| if neg { i128::MIN + 1 } else { i128::MAX };
    if digits.is_empty() {
        return Ok(ParsedQuantity { nanos: 0, format });
    }
    if digits.len() > 36 {
        return Ok(ParsedQuantity {
            nanos: sat(negative),
            format,
        });
    }
    let mantissa: i128 = digits.parse().map_err(|_| QUANTITY_ERR.to_string())?;
    // Value in nanos = mantissa * base^exp * 10^(9 - frac_len)
    let mut num: i128 = mantissa;
    let mut den: i128 = 1;
    let dec_exp: i64 = 9 - frac_len + if base == 10 { exp as i64 } else { 0 };
    let overflow = || ParsedQuantity {
        nanos: sat(negative),
        format,
    };
    if base == 2 {
        num = match num.checked_mul(1i128 << exp) {
            Some(v) => v,
            None => return Ok(overflow()),
        };
    }
    if dec_exp >= 0 {
        let m = match u32::try_from(dec_exp).ok().and_then(pow10) {
            Some(m) => m,
            None => return Ok(overflow()),
        };
        num = match num.checked_mul(m) {
            Some(v) => v,
            None => return Ok(overflow()),
        };
    } else {
        den = u32::try_from(-dec_exp)
            .ok()
            .and_then(pow10)
            .unwrap_or(i128::MAX);
    }
    // Round up (towards +inf for positive amounts, away from zero overall as Go does for nano scale).
    let mut nanos = num / den + i128::from(num % den != 0);
    if negative {
        nanos = -nanos;
    }
    Ok(ParsedQuantity { nanos, format })
}

const DECIMAL_SUFFIXES: [(i32, &str); 10] = [
    (18, "E"),
    (15, "P"),
    (12, "T"),
    (9, "G"),
    (6, "M"),
    (3, "k"),
    (0, ""),
    (-3, "m"),
    (-6, "u"),
    (-9, "n"),
];

const BINARY_SUFFIXES: [(u32, &str); 7] = [
    (60, "Ei"),
    (50, "Pi"),
    (40, "Ti"),
    (30, "Gi"),
    (20, "Mi"),
    (10, "Ki"),
    (0, ""),
];

impl ParsedQuantity {
    /// The canonical string form (`Quantity.String()`).
    pub fn canonical(&self) -> String {
        if self.nanos == 0 {
            return "0".to_string();
        }
        let sign = if self.nanos < 0 { "-" } else { "" };
        let abs = self.nanos.unsigned_abs();
        let mut format = self.format;
        if format == QuantityFormat::BinarySI
            && (abs < 1024 * NANO as u128 || !abs.is_multiple_of(NANO as u128))
        {
            format = QuantityFormat::DecimalSI;
        }
        match format {
            QuantityFormat::BinarySI => {
                let whole = abs / NANO as u128;
                for (shift, suffix) in BINARY_SUFFIXES {
                    let unit = 1u128 << shift;
                    if whole.is_multiple_of(unit) {
                        return format!("{sign}{}{suffix}", whole / unit);
                    }
                }
                format!("{sign}{whole}")
            }
            QuantityFormat::DecimalSI | QuantityFormat::DecimalExponent => {
                for (exp, suffix) in DECIMAL_SUFFIXES {
                    let unit = 10u128.pow((exp + 9) as u32);
                    if abs.is_multiple_of(unit) {
                        let mant = abs / unit;
                        return if format == QuantityFormat::DecimalExponent {
                            if exp == 0 {
                                format!("{sign}{mant}")
                            } else {
                                format!("{sign}{mant}e{exp}")
                            }
                        } else {
                            format!("{sign}{mant}{suffix}")
                        };
                    }
                }
                format!("{sign}{abs}n")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantity_parse_and_canonical() {
        let cases = [
            ("1024Mi", "1Gi"),
            ("0.5", "500m"),
            ("1.5Gi", "1536Mi"),
            ("2000", "2k"),
            ("100m", "100m"),
            ("1e3", "1e3"),
            ("0.0001", "100u"),
            ("1536", "1536"),
            ("1.5Ki", "1536"),
            ("0", "0"),
            ("-1Mi", "-1Mi"),
            ("128974848", "128974848"),
            ("129e6", "129e6"),
            ("129M", "129M"),
            ("123Mi", "123Mi"),
            ("+1", "1"),
            (".5", "500m"),
            ("1E", "1E"),
        ];
        for (input, want) in cases {
            let q = parse_quantity(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(q.canonical(), want, "{input}");
        }
        for bad in ["", "abc", "1.2.3", "1K", "1Gb", "e3", "1e", "--1"] {
            assert!(parse_quantity(bad).is_err(), "{bad} should not parse");
        }
        assert!(parse_quantity("1Gi").unwrap().nanos > parse_quantity("1G").unwrap().nanos);
    }
}
