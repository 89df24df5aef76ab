//! Benchmark (prints figures; passes or fails nothing): decoding a list of 100 issues into `Vec<types::Issue>`,
//! the body of `issues().list_for_repo(..)`, as the client does after each page arrives.
//!
//! Run with `cargo run --release -p tests --example bench_decode`. The same file compiles against earlier versions
//! of the generated crate, so the cost of a change in the types (typed timestamps) is measured by running it on both.

use github_rest::types::Issue;
use std::time::Instant;

fn main() {
    let one: serde_json::Value = tests::fixture("issue.json");
    let list: Vec<serde_json::Value> = (0..100)
        .map(|i| {
            let mut v = one.clone();
            v["number"] = (1000 + i).into();
            v["created_at"] = format!("2011-04-{:02}T20:09:31Z", 1 + i % 28).into();
            v["updated_at"] = format!("2014-03-{:02}T12:00:00+01:00", 1 + i % 28).into();
            v
        })
        .collect();
    let body = serde_json::to_vec(&list).unwrap();
    let rounds = 2_000;
    let mut samples = Vec::new();
    for _ in 0..7 {
        let start = Instant::now();
        for _ in 0..rounds {
            let issues: Vec<Issue> = serde_json::from_slice(std::hint::black_box(&body)).unwrap();
            std::hint::black_box(issues);
        }
        samples.push(start.elapsed().as_secs_f64() * 1e6 / rounds as f64);
    }
    samples.sort_by(f64::total_cmp);
    println!(
        "decode 100 issues ({} KB): median {:.1} µs per list (min {:.1}, max {:.1}; 7 runs of {rounds})",
        body.len() / 1024,
        samples[3],
        samples[0],
        samples[6]
    );
}
