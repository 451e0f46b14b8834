//! Policy files in YAML (`PolicySet::from_yaml`). A set that loads must write itself as JSON
//! and as YAML, and both must load back to the same policies.
#![no_main]

use inframind_core::healing::PolicySet;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(set) = PolicySet::from_yaml(text) {
        inframind_fuzz::policy::assert_round_trips(&set);
    }
});
