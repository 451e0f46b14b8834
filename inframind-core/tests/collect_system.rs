//! [`SystemSampler`] on this machine's `/proc`: two samples, read through the public API.
#![cfg(all(target_os = "linux", feature = "collect"))]

use inframind_core::collect::SystemSampler;

#[test]
fn real_sampler_reads_plausible_values() {
    let mut s = SystemSampler::new().unwrap();
    let a = s.sample().unwrap();
    let b = s.sample().unwrap();
    assert!(a.cpu_count >= 1);
    assert!(a.mem_total_bytes > 0 && a.mem_used_bytes <= a.mem_total_bytes);
    assert!((0.0..=1.0).contains(&b.cpu_usage_ratio));
    assert!(b.cpu_seconds_total >= a.cpu_seconds_total);
    assert!(b.io_read_bytes_total >= a.io_read_bytes_total);
    assert!(b.io_write_bytes_total >= a.io_write_bytes_total);
}
