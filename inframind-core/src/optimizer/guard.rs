//! The guards reported with a suggestion: each safety limit and whether it bound the choice.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::floors::{cpu_floor, CORES_PER_JOB};
use super::rationale::describe;
use super::{Optimizer, Request};
use crate::telemetry::BuildConfig;

/// Which limit a [`Guard`] is. Serialized as its snake-case name (`memory_floor`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum GuardKind {
    /// The least memory the history and context allow, bytes.
    MemoryFloor,
    /// The fewest cores for the suggested jobs ([`CORES_PER_JOB`] each).
    CpuFloor,
    /// How far each resource may move from the last successful config, a ratio.
    ExplorationBound,
    /// The most cores the caller declared.
    CpuCapacity,
    /// The most memory the caller declared, bytes.
    MemoryCapacity,
}

impl GuardKind {
    /// The name as serialized: `memory_floor`, `cpu_floor`, `exploration_bound`,
    /// `cpu_capacity` or `memory_capacity`.
    pub fn as_str(self) -> &'static str {
        match self {
            GuardKind::MemoryFloor => "memory_floor",
            GuardKind::CpuFloor => "cpu_floor",
            GuardKind::ExplorationBound => "exploration_bound",
            GuardKind::CpuCapacity => "cpu_capacity",
            GuardKind::MemoryCapacity => "memory_capacity",
        }
    }
}

impl fmt::Display for GuardKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The unit of a [`Guard`]'s limit. Serialized in lower case (`bytes`, `cores`, `ratio`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Unit {
    /// Bytes of memory.
    Bytes,
    /// CPU cores.
    Cores,
    /// A relative change (0.25 is ±25%).
    Ratio,
}

impl Unit {
    /// The unit as serialized: `bytes`, `cores` or `ratio`.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Bytes => "bytes",
            Unit::Cores => "cores",
            Unit::Ratio => "ratio",
        }
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A safety guard and how it bounded the suggestion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Guard {
    /// Which limit this is (serialized as `name`).
    #[serde(rename = "name")]
    pub kind: GuardKind,
    /// The limit, in `unit`.
    pub limit: f64,
    /// The unit of `limit`.
    pub unit: Unit,
    /// Where the limit comes from.
    pub reason: String,
    /// Whether the suggestion sits on this limit.
    pub binding: bool,
}

impl Optimizer {
    /// The guards around `chosen`: the floors, the exploration bound and any declared capacity,
    /// each marked binding when `chosen` sits within one step of it.
    pub(super) fn guards_for(&self, chosen: &BuildConfig, req: &Request<'_>) -> Vec<Guard> {
        let p = &self.params;
        let mem_floor = req.floors.memory(chosen.concurrency);
        let cpu_floor = cpu_floor(chosen.concurrency);
        let mem_step = p.memory_step_bytes as f64;
        let mut guards = vec![
            Guard {
                kind: GuardKind::MemoryFloor,
                limit: mem_floor,
                unit: Unit::Bytes,
                reason: req.floors.explain_memory(chosen.concurrency),
                binding: (chosen.memory_bytes as f64) < mem_floor + mem_step,
            },
            Guard {
                kind: GuardKind::CpuFloor,
                limit: cpu_floor,
                unit: Unit::Cores,
                reason: format!(
                    "concurrency {} / {}",
                    chosen.concurrency,
                    1.0 / CORES_PER_JOB
                ),
                binding: chosen.cpu_cores < cpu_floor + p.cpu_step,
            },
            Guard {
                kind: GuardKind::ExplorationBound,
                limit: p.bound,
                unit: Unit::Ratio,
                reason: format!(
                    "each resource within ±{:.0}% of {}",
                    p.bound * 100.0,
                    describe(&req.base)
                ),
                binding: !within(chosen, &req.base, p.bound * 0.999),
            },
        ];
        if let Some(c) = req.capacity.cpu_cores {
            guards.push(Guard {
                kind: GuardKind::CpuCapacity,
                limit: c,
                unit: Unit::Cores,
                reason: "declared capacity".into(),
                binding: chosen.cpu_cores + p.cpu_step > c,
            });
        }
        if let Some(m) = req.capacity.memory_bytes {
            guards.push(Guard {
                kind: GuardKind::MemoryCapacity,
                limit: m as f64,
                unit: Unit::Bytes,
                reason: "declared capacity".into(),
                binding: chosen.memory_bytes as f64 + mem_step > m as f64,
            });
        }
        guards
    }
}

/// Whether each resource of `a` is within `bound` (relative) of `b`'s.
fn within(a: &BuildConfig, b: &BuildConfig, bound: f64) -> bool {
    let ok = |x: f64, y: f64| ((x - y) / y.max(1e-9)).abs() <= bound;
    ok(f64::from(a.concurrency), f64::from(b.concurrency))
        && ok(a.cpu_cores, b.cpu_cores)
        && ok(a.memory_bytes as f64, b.memory_bytes as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_units_serialize_as_before() {
        for (kind, name) in [
            (GuardKind::MemoryFloor, "memory_floor"),
            (GuardKind::CpuFloor, "cpu_floor"),
            (GuardKind::ExplorationBound, "exploration_bound"),
            (GuardKind::CpuCapacity, "cpu_capacity"),
            (GuardKind::MemoryCapacity, "memory_capacity"),
        ] {
            assert_eq!(kind.as_str(), name);
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{name}\""));
        }
        for (unit, name) in [
            (Unit::Bytes, "bytes"),
            (Unit::Cores, "cores"),
            (Unit::Ratio, "ratio"),
        ] {
            assert_eq!(unit.as_str(), name);
            assert_eq!(serde_json::to_string(&unit).unwrap(), format!("\"{name}\""));
        }
        let g = Guard {
            kind: GuardKind::CpuFloor,
            limit: 1.5,
            unit: Unit::Cores,
            reason: "concurrency 6 / 4".into(),
            binding: true,
        };
        let text = serde_json::to_string(&g).unwrap();
        assert_eq!(
            text,
            r#"{"name":"cpu_floor","limit":1.5,"unit":"cores","reason":"concurrency 6 / 4","binding":true}"#
        );
        assert_eq!(serde_json::from_str::<Guard>(&text).unwrap(), g);
    }
}
