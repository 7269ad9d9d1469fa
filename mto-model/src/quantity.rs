//! Kubernetes resource quantities (`500m`, `2Gi`, `1e3`), exact to the nano.
//!
//! The apiserver rewrites quantities into a canonical form (`1000m` comes
//! back as `1`), so mto compares quantities by value, never by text.

use std::fmt;

/// A quantity in nano-units: `1` is stored as `1_000_000_000`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Quantity(i128);

/// Why a quantity string does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a quantity: {reason} (examples: 500m, 2, 1.5Gi, 10M, 1e3)")]
pub struct QuantityError {
    /// The text that failed.
    pub text: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

const NANO: i128 = 1_000_000_000;

impl Quantity {
    /// Zero.
    pub const ZERO: Quantity = Quantity(0);

    /// Parses a Kubernetes quantity. Precision below a nano-unit rounds up,
    /// as the apiserver does.
    pub fn parse(text: &str) -> Result<Quantity, QuantityError> {
        let err = |reason| QuantityError {
            text: text.to_owned(),
            reason,
        };
        let s = text.trim();
        let (negative, s) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let number_end = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let (number, suffix) = s.split_at(number_end);
        if number.is_empty() || number == "." {
            return Err(err("it does not start with a number"));
        }
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if fraction.contains('.') {
            return Err(err("it has more than one decimal point"));
        }
        // (multiplier numerator, power of ten) applied to the number.
        let (binary, exponent): (i128, i32) = match suffix {
            "" => (1, 0),
            "n" => (1, -9),
            "u" => (1, -6),
            "m" => (1, -3),
            "k" => (1, 3),
            "M" => (1, 6),
            "G" => (1, 9),
            "T" => (1, 12),
            "P" => (1, 15),
            "E" => (1, 18),
            "Ki" => (1 << 10, 0),
            "Mi" => (1 << 20, 0),
            "Gi" => (1 << 30, 0),
            "Ti" => (1 << 40, 0),
            "Pi" => (1 << 50, 0),
            "Ei" => (1 << 60, 0),
            other if other.starts_with(['e', 'E']) => {
                let exp: i32 = other[1..]
                    .parse()
                    .map_err(|_| err("its exponent is not a whole number"))?;
                if !(-30..=30).contains(&exp) {
                    return Err(err("its exponent is out of range"));
                }
                (1, exp)
            }
            _ => {
                return Err(err(
                    "its suffix is not one of n u m k M G T P E Ki Mi Gi Ti Pi Ei or an exponent",
                ));
            }
        };
        if whole.len() + fraction.len() > 30 {
            return Err(err("it has too many digits"));
        }
        // At most 30 decimal digits (checked above): they fit an i128.
        let digits: i128 = whole
            .bytes()
            .chain(fraction.bytes())
            .fold(0, |value, digit| value * 10 + i128::from(digit - b'0'));
        // value = digits * 10^(exponent - fraction.len()) * binary, in nano-units.
        let scale = exponent - fraction.len() as i32 + 9;
        let overflow = || err("it is too large");
        let scaled = if scale >= 0 {
            digits
                .checked_mul(10i128.checked_pow(scale as u32).ok_or_else(overflow)?)
                .and_then(|v| v.checked_mul(binary))
                .ok_or_else(overflow)?
        } else {
            let divisor = 10i128.checked_pow((-scale) as u32).ok_or_else(overflow)?;
            let product = digits.checked_mul(binary).ok_or_else(overflow)?;
            // Round up what cannot be represented (without adding first: a
            // product near the top of i128 would overflow).
            product / divisor + i128::from(product % divisor != 0)
        };
        if scaled > NANO * 10i128.pow(21) {
            return Err(overflow());
        }
        Ok(Quantity(if negative { -scaled } else { scaled }))
    }

    /// From a count of nano-units.
    #[must_use]
    pub const fn from_nanos(nanos: i128) -> Quantity {
        Quantity(nanos)
    }

    /// From whole units.
    #[must_use]
    pub const fn from_units(units: i64) -> Quantity {
        Quantity(units as i128 * NANO)
    }

    /// The value in nano-units.
    #[must_use]
    pub const fn nanos(self) -> i128 {
        self.0
    }

    /// This quantity split `parts` ways in steps of `granularity`, the
    /// parts summing to exactly the whole: every part holds the same whole
    /// number of steps, the first parts one step more until the remainder
    /// is spent, and what is left below one step goes to the first part.
    /// So `2` split 7 ways is `[1, 1, 0, 0, 0, 0, 0]`: both units stay
    /// usable, where an even split rounded down would leave none.
    #[must_use]
    pub fn split(self, parts: u32, granularity: Granularity) -> Vec<Quantity> {
        let Some(count) = usize::try_from(parts).ok().filter(|&c| c > 0) else {
            return Vec::new();
        };
        if self.0 <= 0 {
            // Nothing to hand out (or a negative quota, refused by
            // validation): every part holds the whole, as written.
            return vec![self; count];
        }
        let step = granularity.nanos();
        let steps = self.0 / step;
        let below_step = self.0 % step;
        let each = steps / i128::from(parts);
        let mut extra = steps % i128::from(parts);
        (0..count)
            .map(|i| {
                let mut part = each * step;
                if extra > 0 {
                    part += step;
                    extra -= 1;
                }
                if i == 0 {
                    part += below_step;
                }
                Quantity(part)
            })
            .collect()
    }

    /// Checked addition.
    #[must_use]
    pub fn checked_add(self, other: Quantity) -> Option<Quantity> {
        self.0.checked_add(other.0).map(Quantity)
    }
}

/// The smallest step a share of a resource is rounded to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Granularity {
    /// Thousandths (CPU).
    Milli,
    /// Whole units (object counts).
    Unit,
    /// Whole mebibytes (memory and storage), so shares read as `5461Mi`.
    Mebi,
}

impl Granularity {
    /// The granularity for a ResourceQuota resource name: CPU splits into
    /// millicores, memory and storage into mebibytes, counts into units.
    #[must_use]
    pub fn for_resource(resource: &str) -> Granularity {
        if resource == "cpu" || resource.ends_with(".cpu") {
            Granularity::Milli
        } else if resource.contains("memory") || resource.contains("storage") {
            Granularity::Mebi
        } else {
            Granularity::Unit
        }
    }

    fn nanos(self) -> i128 {
        match self {
            Granularity::Milli => NANO / 1000,
            Granularity::Unit => NANO,
            Granularity::Mebi => NANO << 20,
        }
    }
}

impl fmt::Display for Quantity {
    /// The shortest exact form: binary suffixes for whole multiples of
    /// 1024, `m` for millis, else a plain or nano count.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        if v % NANO == 0 {
            let units = v / NANO;
            for (suffix, size) in [
                ("Ei", 1i128 << 60),
                ("Pi", 1 << 50),
                ("Ti", 1 << 40),
                ("Gi", 1 << 30),
                ("Mi", 1 << 20),
                ("Ki", 1 << 10),
            ] {
                if units != 0 && units % size == 0 {
                    return write!(f, "{}{suffix}", units / size);
                }
            }
            return write!(f, "{units}");
        }
        if v % (NANO / 1000) == 0 {
            return write!(f, "{}m", v / (NANO / 1000));
        }
        write!(f, "{v}n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn parses_the_forms_kubernetes_accepts() {
        assert_eq!(q("1"), Quantity::from_units(1));
        assert_eq!(q("1000m"), q("1"));
        assert_eq!(q("0.5"), q("500m"));
        assert_eq!(q("1Gi"), Quantity::from_units(1 << 30));
        assert_eq!(q("1e3"), q("1k"));
        assert_eq!(q("1.5Gi"), q("1536Mi"));
        assert_eq!(q("-2"), Quantity::from_units(-2));
        assert_eq!(q("1n"), Quantity::from_nanos(1));
        assert_eq!(q("0.1n"), Quantity::from_nanos(1), "rounds up below a nano");
    }

    /// The rounding used to add before dividing: 29 digits times 2^60
    /// overflowed i128, a panic in debug builds and a negative quantity in
    /// release, from a Quota or an observed ResourceQuota.
    #[test]
    fn a_huge_binary_quantity_with_many_fraction_digits_is_refused_not_wrapped() {
        let text = "0.0000000147573952589676412927Ei";
        match Quantity::parse(text) {
            Ok(q) => assert!(q.nanos() > 0, "{text} became {q:?}"),
            Err(e) => assert!(e.to_string().contains(text), "{e}"),
        }
        assert_eq!(q("0.5Ei"), Quantity::from_units(1 << 59));
    }

    #[test]
    fn refuses_what_kubernetes_refuses() {
        for bad in ["", "abc", "1.2.3", "1Xi", "1e", "m", "1 Gi", "1e99"] {
            assert!(Quantity::parse(bad).is_err(), "{bad:?} parsed");
        }
        let e = Quantity::parse("10GB").unwrap_err();
        assert!(e.to_string().contains("10GB"));
    }

    fn shown(parts: Vec<Quantity>) -> Vec<String> {
        parts.into_iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn splits_hand_out_the_remainder_first_come_first_served() {
        assert_eq!(
            shown(q("2").split(7, Granularity::Unit)),
            ["1", "1", "0", "0", "0", "0", "0"]
        );
        assert_eq!(
            shown(q("10").split(7, Granularity::Unit)),
            ["2", "2", "2", "1", "1", "1", "1"]
        );
        assert_eq!(
            shown(q("1").split(3, Granularity::Milli)),
            ["334m", "333m", "333m"]
        );
        assert_eq!(
            shown(q("32Gi").split(6, Granularity::Mebi)),
            ["5462Mi", "5462Mi", "5461Mi", "5461Mi", "5461Mi", "5461Mi"]
        );
        // Below one step: to the first part, so nothing is lost.
        let parts = q("1G").split(2, Granularity::Mebi);
        assert_eq!(parts[0].nanos() + parts[1].nanos(), q("1G").nanos());
        assert!(q("3").split(0, Granularity::Unit).is_empty());
    }

    #[test]
    fn displays_canonically() {
        assert_eq!(q("1024Mi").to_string(), "1Gi");
        assert_eq!(q("0.5").to_string(), "500m");
        assert_eq!(q("3").to_string(), "3");
    }

    proptest! {
        #[test]
        fn a_decimal_is_its_whole_and_fraction_in_nanos(
            whole in "[0-9]{1,20}",
            fraction in "[0-9]{0,9}",
        ) {
            let text = format!("{whole}.{fraction}");
            let padded = format!("{fraction:0<9}");
            let expected = whole.parse::<i128>().unwrap_or_default() * NANO
                + padded.parse::<i128>().unwrap_or_default();
            prop_assert_eq!(Quantity::parse(&text), Ok(Quantity::from_nanos(expected)));
        }

        #[test]
        fn display_round_trips(nanos in -(1i128 << 80)..(1i128 << 80)) {
            let v = Quantity::from_nanos(nanos);
            prop_assert_eq!(Quantity::parse(&v.to_string()), Ok(v));
        }

        #[test]
        fn splits_sum_to_the_whole_and_differ_by_at_most_one_step(
            nanos in 0i128..(1i128 << 70),
            parts in 1u32..500,
            pick in 0usize..3,
        ) {
            let g = [Granularity::Milli, Granularity::Unit, Granularity::Mebi][pick];
            let whole = Quantity::from_nanos(nanos);
            let split = whole.split(parts, g);
            prop_assert_eq!(split.len(), parts as usize);
            prop_assert_eq!(split.iter().map(|p| p.nanos()).sum::<i128>(), whole.nanos());
            let whole_steps = |p: &Quantity| p.nanos() / g.nanos();
            let most = split.iter().map(whole_steps).max().unwrap_or_default();
            let least = split.iter().map(whole_steps).min().unwrap_or_default();
            prop_assert!(most - least <= 1, "{:?}", split);
            prop_assert!(split.windows(2).all(|w| w[0] >= w[1]), "larger parts first");
        }
    }
}
