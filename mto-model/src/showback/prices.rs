//! Prices: OpenCost's defaults, or the IntegrationConfig's
//! `components.showbackOpts.custom` (MTO's field names: `CPU`, `RAM`,
//! `GPU`, `storage`, `spotCPU`, `spotRAM`, …), read from decimal text into
//! integer pico-units per unit-hour, never through floats.

use serde_json::Value;

/// Prices in pico-units of the currency per unit-hour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prices {
    /// Per core-hour.
    pub cpu: i128,
    /// Per GiB-hour of memory.
    pub ram: i128,
    /// Per GPU-hour.
    pub gpu: i128,
    /// Per GiB-hour of persistent volume.
    pub storage: i128,
}

impl Default for Prices {
    /// OpenCost's defaults, in USD: CPU 0.031611 per core-hour, RAM
    /// 0.004237 per GiB-hour, GPU 0.95 per GPU-hour, storage 0.00005479452
    /// per GiB-hour.
    fn default() -> Prices {
        Prices {
            cpu: 31_611_000_000,
            ram: 4_237_000_000,
            gpu: 950_000_000_000,
            storage: 54_794_520,
        }
    }
}

/// Why a price does not read; names the field and the fix.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "components.showbackOpts.custom.{field}: {problem} (fix: write a decimal price per unit-hour, such as \"0.031611\")"
)]
pub struct PriceError {
    /// The field.
    pub field: String,
    /// What is wrong.
    pub problem: String,
}

/// Decimal text (`"0.031611"`, `"2"`, `"1.5e-3"` is refused) as pico-units.
fn pico(text: &str) -> Result<i128, String> {
    let text = text.trim();
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() && fraction.is_empty()
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !fraction.chars().all(|c| c.is_ascii_digit())
    {
        return Err(format!("{text:?} is not a decimal number"));
    }
    if fraction.len() > 12 {
        return Err(format!("{text:?} has more than 12 decimal places"));
    }
    let whole: i128 = if whole.is_empty() {
        0
    } else {
        whole
            .parse()
            .map_err(|_| format!("{text:?} is too large"))?
    };
    let fraction: i128 = format!("{fraction:0<12}")
        .parse()
        .map_err(|_| format!("{text:?} is not a decimal number"))?;
    whole
        .checked_mul(1_000_000_000_000)
        .and_then(|w| w.checked_add(fraction))
        .ok_or_else(|| format!("{text:?} is too large"))
}

impl Prices {
    /// The prices `custom` (MTO's `showbackOpts.custom`) sets over
    /// OpenCost's defaults. Numbers and decimal strings are read; fields
    /// mto does not price (`spotCPU`, `zoneNetworkEgress`, …) are kept by
    /// the config and left alone here.
    pub fn from_custom(custom: Option<&Value>) -> Result<Prices, PriceError> {
        let mut prices = Prices::default();
        let Some(Value::Object(fields)) = custom else {
            return Ok(prices);
        };
        for (field, slot) in [
            ("CPU", &mut prices.cpu),
            ("RAM", &mut prices.ram),
            ("GPU", &mut prices.gpu),
            ("storage", &mut prices.storage),
        ] {
            let Some(value) = fields.get(field) else {
                continue;
            };
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                other => {
                    return Err(PriceError {
                        field: field.into(),
                        problem: format!("{other} is not a price"),
                    });
                }
            };
            *slot = pico(&text).map_err(|problem| PriceError {
                field: field.into(),
                problem,
            })?;
        }
        Ok(prices)
    }
}
