//! Policy files in JSON (`PolicySet::from_json`). A set that loads must write itself as JSON
//! and as YAML, and both must load back to the same policies.
#![no_main]

use inframind_core::healing::PolicySet;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(set) = PolicySet::from_json(text) {
        inframind_fuzz::policy::assert_round_trips(&set);
    }
});
