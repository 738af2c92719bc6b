//! The YAML core and the kustomization decoder on input nobody wrote by hand: random bytes
//! and random mutations of real files, seeded. No input may panic, take more than a second
//! or make the process grow past a few hundred MiB; every input either decodes or is an
//! error.

use crate::generate::Rng;
use deployer::yaml::{self, Documents, Limits};
use std::path::Path;
use std::time::Duration;

const INPUTS: u64 = 5_000;
const SPECIAL: &[&str] = &[
    ":",
    ": ",
    "-",
    "- ",
    "[",
    "]",
    "{",
    "}",
    "&a ",
    "*a",
    "!",
    "!!str ",
    "!!int ",
    "|",
    ">",
    "'",
    "\"",
    "#",
    "%YAML 1.1\n",
    "@",
    "\t",
    "\n",
    "\r\n",
    "---\n",
    "...\n",
    "<<: ",
    "? ",
    "\u{85}",
    "\u{feff}",
    "\\",
    "  ",
    "0x",
    "2024-01-01",
    "~",
    "\u{1F600}",
    "\0",
];

fn seeds_corpus() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/render-fixtures");
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml") {
                out.push(std::fs::read_to_string(&p).unwrap_or_default());
            }
        }
    }
    out.push(crate::generate::tree(1).files[0].1.clone());
    out
}

fn mutate(rng: &mut Rng, base: &str) -> String {
    let mut s: Vec<char> = base.chars().collect();
    for _ in 0..1 + rng.below(8) {
        let at = rng.below(s.len() + 1);
        match rng.below(4) {
            0 if !s.is_empty() => {
                let end = (at + rng.below(20)).min(s.len());
                s.drain(at.min(end)..end);
            }
            1 => {
                let ins: Vec<char> = rng.pick(SPECIAL).chars().collect();
                s.splice(at..at, ins);
            }
            2 if !s.is_empty() => {
                // Duplicate a slice (repeats keys, documents, nesting).
                let end = (at + rng.below(200)).min(s.len());
                let copy: Vec<char> = s[at.min(end)..end].to_vec();
                s.splice(at..at, copy);
            }
            _ => {
                let c = char::from_u32((rng.next() % 0x300) as u32).unwrap_or('x');
                s.insert(at, c);
            }
        }
    }
    s.into_iter().collect()
}

fn random_bytes(rng: &mut Rng) -> String {
    let n = rng.below(300);
    let bytes: Vec<u8> = (0..n)
        .map(|_| {
            if rng.chance(70) {
                *rng.pick(b"abc:-[]{}&*!|>'\"#\n \t0123456789.~?,")
            } else {
                (rng.next() & 0xff) as u8
            }
        })
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Nesting, aliases and documents at and past the limits.
fn adversarial(i: u64) -> String {
    match i % 6 {
        0 => "[".repeat(100_000),
        1 => format!("{}x{}", "- ".repeat(5_000), ""),
        2 => {
            let mut d = String::from("a: &a [x, x, x, x, x, x, x, x]\n");
            for n in 1..40 {
                d.push_str(&format!("b{n}: &b{n} [*a, *a, *a, *a, *a, *a, *a, *a]\n"));
                d = d.replace("*a,", &format!("*b{n},"));
            }
            d
        }
        3 => "---\n".repeat(50_000),
        4 => format!("k: \"{}\"\n", "\\u0085".repeat(10_000)),
        _ => format!("{}: v\n", "x".repeat(200_000)),
    }
}

fn exercise(text: &str) {
    let limits = Limits::default();
    if let Ok(values) = yaml::parse_resources(text, &limits) {
        for mut v in values {
            if yaml::value::normalise_output(&mut v).is_ok() {
                let _ = yaml::emit::to_yaml(&v);
            }
        }
    }
    let _ =
        deployer::render::check_kustomization(Path::new("fuzz/kustomization.yaml"), text, &limits);
    if let Ok(tree) = yaml::parse(text, Documents::First, &limits) {
        for d in tree.documents() {
            let _ = d.entries().count();
        }
    }
}

/// CPU time this thread has used (utime + stime from /proc, in clock ticks of 10 ms): a
/// hang check that other work on the machine cannot trip, unlike wall time.
fn thread_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, a)| a);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // Fields 14 and 15 of stat(5), counted after the command name.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn parsers_survive_arbitrary_input() {
    let corpus = seeds_corpus();
    let mut rng = Rng::new(8);
    let mut slowest = (Duration::ZERO, String::new());
    let count = crate::env_u64("RENDER_FUZZ_PARSER_INPUTS", INPUTS);
    for i in 0..count {
        let text = match i % 10 {
            0..=5 => {
                let base = corpus[rng.below(corpus.len())].clone();
                mutate(&mut rng, &base)
            }
            6..=8 => random_bytes(&mut rng),
            _ => adversarial(i / 10),
        };
        let started = thread_cpu();
        let panicked = std::panic::catch_unwind(|| exercise(&text)).is_err();
        let took = thread_cpu().saturating_sub(started);
        assert!(!panicked, "input {i} panicked:\n{text:?}");
        if took > slowest.0 {
            slowest = (took, text.chars().take(200).collect());
        }
    }
    eprintln!(
        "parsers: {count} inputs, slowest {:?} of CPU ({:?}...), peak RSS {} KiB",
        slowest.0,
        slowest.1,
        peak_rss_kib()
    );
    // A hang check, not a speed target: a debug build on a loaded machine still parses the
    // largest input here in well under a second of CPU.
    assert!(
        slowest.0 < Duration::from_secs(2),
        "an input took {:?} of CPU: {:?}",
        slowest.0,
        slowest.1
    );
    assert!(
        peak_rss_kib() < 512 * 1024,
        "peak RSS {} KiB",
        peak_rss_kib()
    );
}
