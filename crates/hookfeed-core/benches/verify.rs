//! Native cost of verifying one delivery, against a bare HMAC-SHA256 of the same bytes.
//!
//! For every scheme and a 1 KiB and a 64 KiB body this times, interleaved round by round so
//! that the machine's noise hits all three alike:
//!
//! - `verify`: the scheme's signature check alone (`scheme.implementation().verify`);
//! - `bare`: the baseline, HMAC-SHA256 over the same signed content with the `hmac` and
//!   `sha2` crates (key set up per delivery, as `verify` does) plus a constant-time compare;
//! - `delivery`: the full `verify_delivery` (signature, replay window, JSON event).
//!
//! It prints the medians as a markdown table; the ratio is the median of the per-round
//! ratios `verify / bare`, so a noisy round moves both sides of it together. Target:
//! ratio ≤ 1.1 (the scheme adds at most 10 % to the MAC it must compute anyway).
//!
//! Run: `cargo bench -p hookfeed-core --bench verify [-- SCHEME… SIZE…]`. Environment:
//! `BENCH_ROUNDS` (default 9), `BENCH_ROUND_MS` (time per round per case, default 60),
//! `BENCH_JSON` (a file to which one JSON object per case is appended).

use std::fmt::Write as _;
use std::hint::black_box;
use std::io::Write as _;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use hookfeed_core::samples;
use hookfeed_core::signature::{ReplayWindow, SigningInput};
use hookfeed_core::source::{load_sources, Source};
use hookfeed_core::{verify_delivery, BuiltinScheme, UnixTime};
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The signing time and the verifier's `now`: fixed, so every run signs the same bytes.
const NOW_SECS: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z
const SIZES: [usize; 2] = [1024, 64 * 1024];
const EVENT_ID: &str = "evt_bench_0001";

/// The secret a source of `scheme` is configured with, as its provider hands it out.
fn configured_secret(scheme: BuiltinScheme) -> &'static str {
    scheme.implementation().example_secret()
}

/// One signed delivery and everything the three measured functions need.
struct Case {
    scheme: BuiltinScheme,
    size: usize,
    source: Source,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// The signed content, in the pieces the scheme MACs (header text, `.`, body).
    prefix: Vec<u8>,
    /// The MAC the provider sent.
    expected: [u8; 32],
}

/// A valid event body of `scheme` and its event type, padded with a `padding` string to
/// exactly `size` bytes.
fn body_of(scheme: BuiltinScheme, size: usize, created: UnixTime) -> (&'static str, Vec<u8>) {
    let sample = samples::all().find(|s| s.scheme == scheme).expect("every scheme has a sample");
    let render = |pad: usize| {
        sample
            .render(EVENT_ID, created, &[("padding".to_owned(), Value::from("x".repeat(pad)))])
            .expect("sample renders")
    };
    let bare = render(0).len();
    assert!(bare <= size, "{scheme} sample is {bare} bytes, more than {size}");
    let body = render(size - bare);
    assert_eq!(body.len(), size);
    (sample.event_type, body)
}

fn case(scheme: BuiltinScheme, size: usize) -> Case {
    let now = UnixTime::from_secs(NOW_SECS);
    let (event_type, body) = body_of(scheme, size, now);
    let secret = scheme.parse_secret(configured_secret(scheme)).expect("valid secret");
    let input = SigningInput { body: &body, timestamp: now, event_id: EVENT_ID, event_type };
    let mut headers = scheme.implementation().sign(&input, std::slice::from_ref(&secret));
    headers.push(("Content-Type".to_owned(), "application/json".to_owned()));
    headers.push(("User-Agent".to_owned(), "hookfeed-bench/1".to_owned()));
    // Through the configuration path the Worker uses (HOOKFEED_SOURCES + SECRET_<NAME>).
    let config = format!(r#"[{{"name":"{0}","scheme":"{0}"}}]"#, scheme.name());
    let source = load_sources(&config, &|_| Some(configured_secret(scheme).to_owned()))
        .expect("valid source")
        .pop()
        .expect("one source");
    // What the baseline MACs and compares with, read through the scheme (setup only: not
    // timed), so the bench knows no scheme's header format.
    let window = ReplayWindow { now, tolerance_secs: source.tolerance_secs };
    let content = scheme.implementation().signed_content(&headers, window).expect("the signed headers read");
    let prefix = content.prefix();
    let expected = content.mac(&secret, &body).as_bytes().try_into().expect("an HMAC-SHA256 tag");
    Case { scheme, size, source, headers, body, prefix, expected }
}

impl Case {
    fn window(&self) -> ReplayWindow {
        ReplayWindow { now: UnixTime::from_secs(NOW_SECS), tolerance_secs: self.source.tolerance_secs }
    }

    fn verify(&self, body: &[u8]) -> bool {
        self.scheme
            .implementation()
            .verify(black_box(&self.headers), black_box(body), &self.source.secrets, self.window())
            .is_ok()
    }

    fn verify_delivery(&self, body: &[u8]) -> bool {
        verify_delivery(&self.source, black_box(&self.headers), black_box(body), UnixTime::from_secs(NOW_SECS)).is_ok()
    }

    /// The baseline: the HMAC the scheme must compute anyway, and one compare.
    fn bare(&self, body: &[u8]) -> bool {
        let key = black_box(self.source.secrets[0].expose());
        let mut mac = <Hmac<Sha256>>::new_from_slice(key).expect("any key length");
        mac.update(black_box(&self.prefix));
        mac.update(black_box(body));
        let tag: [u8; 32] = mac.finalize().into_bytes().into();
        tag.ct_eq(black_box(&self.expected)).into()
    }
}

/// Iterations of `f` that take about `target`, found by doubling (this also warms up).
fn calibrate(target: Duration, f: &mut dyn FnMut() -> bool) -> u64 {
    let mut iters = 1u64;
    loop {
        let start = Instant::now();
        for _ in 0..iters {
            black_box(f());
        }
        let took = start.elapsed();
        if took >= target / 4 {
            let per = took.as_secs_f64() / iters as f64;
            return ((target.as_secs_f64() / per).ceil() as u64).max(1);
        }
        iters *= 2;
    }
}

fn ns_per_op(iters: u64, f: &mut dyn FnMut() -> bool) -> f64 {
    let start = Instant::now();
    for _ in 0..iters {
        black_box(f());
    }
    start.elapsed().as_nanos() as f64 / iters as f64
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).filter(|&n| n > 0).unwrap_or(default)
}

struct Measured {
    scheme: BuiltinScheme,
    size: usize,
    verify: f64,
    bare: f64,
    ratio: f64,
    delivery: f64,
    delivery_ratio: f64,
}

fn measure(case: &Case, rounds: usize, round: Duration) -> Measured {
    // Correctness first: each side accepts the delivery and refuses it tampered.
    let mut tampered = case.body.clone();
    // One byte inside the padding string: still valid JSON, only the MAC can tell.
    let at = tampered.windows(16).position(|w| w == b"xxxxxxxxxxxxxxxx").expect("padding") + 8;
    tampered[at] = b'y';
    for (name, ok) in [
        ("verify", case.verify(&case.body)),
        ("verify_delivery", case.verify_delivery(&case.body)),
        ("bare HMAC", case.bare(&case.body)),
        ("verify (tampered)", !case.verify(&tampered)),
        ("verify_delivery (tampered)", !case.verify_delivery(&tampered)),
        ("bare HMAC (tampered)", !case.bare(&tampered)),
    ] {
        assert!(ok, "{} {} B: {name} gave the wrong answer", case.scheme, case.size);
    }

    let body = case.body.as_slice();
    let mut fns: [Box<dyn FnMut() -> bool + '_>; 3] = [
        Box::new(move || case.verify(body)),
        Box::new(move || case.bare(body)),
        Box::new(move || case.verify_delivery(body)),
    ];
    let iters: Vec<u64> = fns.iter_mut().map(|f| calibrate(round, f.as_mut())).collect();
    let mut samples: [Vec<f64>; 3] = Default::default();
    for r in 0..rounds {
        // Rotate which one goes first, so none always runs on a cold or hot moment.
        for k in 0..3 {
            let i = (r + k) % 3;
            samples[i].push(ns_per_op(iters[i], fns[i].as_mut()));
        }
    }
    let mut ratios: Vec<f64> = samples[0].iter().zip(&samples[1]).map(|(v, b)| v / b).collect();
    let mut delivery_ratios: Vec<f64> = samples[2].iter().zip(&samples[1]).map(|(d, b)| d / b).collect();
    let [mut v, mut b, mut d] = samples;
    Measured {
        scheme: case.scheme,
        size: case.size,
        verify: median(&mut v),
        bare: median(&mut b),
        ratio: median(&mut ratios),
        delivery: median(&mut d),
        delivery_ratio: median(&mut delivery_ratios),
    }
}

fn size_label(size: usize) -> String {
    format!("{} KiB", size / 1024)
}

fn main() {
    let rounds = env_number("BENCH_ROUNDS", 9) as usize;
    let round = Duration::from_millis(env_number("BENCH_ROUND_MS", 60));
    eprintln!(
        "native: {} schemes × {} sizes, {rounds} interleaved rounds of ~{} ms per function",
        BuiltinScheme::ALL.len(),
        SIZES.len(),
        round.as_millis()
    );
    // `cargo bench -p hookfeed-core --bench verify -- stripe 1024`: only the named schemes
    // and sizes (cargo itself passes `--bench`, skipped).
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let wanted = |scheme: BuiltinScheme, size: usize| {
        let (names, sizes): (Vec<&String>, Vec<&String>) = filters.iter().partition(|f| f.parse::<usize>().is_err());
        (names.is_empty() || names.iter().any(|n| *n == scheme.name()))
            && (sizes.is_empty() || sizes.iter().any(|s| s.parse() == Ok(size)))
    };
    let mut results = Vec::new();
    for scheme in BuiltinScheme::ALL {
        for size in SIZES {
            if !wanted(scheme, size) {
                continue;
            }
            let case = case(scheme, size);
            let result = measure(&case, rounds, round);
            eprintln!(
                "  {:<17} {:>6}: verify {:>9.0} ns, bare HMAC {:>9.0} ns, ratio {:.3}",
                scheme.name(),
                size_label(size),
                result.verify,
                result.bare,
                result.ratio
            );
            results.push(result);
        }
    }

    let mut table = String::new();
    let _ = writeln!(table, "\nNative (cargo bench profile), median of {rounds} interleaved rounds:\n");
    let _ = writeln!(table, "| scheme | size | verify ns/op | bare HMAC ns/op | ratio verify/bare | target ≤1.1× | verify_delivery ns/op | ratio delivery/bare |");
    let _ = writeln!(table, "|---|---|---:|---:|---:|---|---:|---:|");
    for r in &results {
        let _ = writeln!(
            table,
            "| {} | {} | {:.0} | {:.0} | {:.3} | {} | {:.0} | {:.2} |",
            r.scheme.name(),
            size_label(r.size),
            r.verify,
            r.bare,
            r.ratio,
            if r.ratio <= 1.1 { "met" } else { "missed" },
            r.delivery,
            r.delivery_ratio
        );
    }
    print!("{table}");

    if let Ok(path) = std::env::var("BENCH_JSON") {
        if !path.is_empty() {
            let mut lines = String::new();
            for r in &results {
                let line = serde_json::json!({
                    "bench": "native",
                    "profile": "bench",
                    "scheme": r.scheme.name(),
                    "size": r.size,
                    "rounds": rounds,
                    "verify_ns": r.verify,
                    "bare_hmac_ns": r.bare,
                    "ratio_verify_bare": r.ratio,
                    "verify_delivery_ns": r.delivery,
                    "ratio_delivery_bare": r.delivery_ratio,
                    "target_ratio": 1.1,
                    "target_met": r.ratio <= 1.1,
                });
                let _ = writeln!(lines, "{line}");
            }
            let written = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .and_then(|mut f| f.write_all(lines.as_bytes()));
            match written {
                Ok(()) => eprintln!("native: JSON lines appended to {path}"),
                Err(e) => eprintln!("native: cannot write {path}: {e}"),
            }
        }
    }
}
