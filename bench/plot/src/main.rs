//! `keyway-plot [--results DIR] [--out DIR]`: draws the figures of
//! `docs/performance.md` from the benchmarks' results (defaults:
//! `target/bench/results`, `docs/performance`). `bench/plot.sh` runs it.
//! Exits 1 when a figure could not be drawn, after drawing the others.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut results = PathBuf::from("target/bench/results");
    let mut out = PathBuf::from("docs/performance");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = match arg.as_str() {
            "--results" => &mut results,
            "--out" => &mut out,
            _ => {
                eprintln!("usage: keyway-plot [--results DIR] [--out DIR]");
                return ExitCode::from(2);
            }
        };
        match args.next() {
            Some(v) => *value = PathBuf::from(v),
            None => {
                eprintln!("{arg} needs a directory");
                return ExitCode::from(2);
            }
        }
    }
    let drawn = keyway_plot::draw_all(&results, &out);
    for (path, size) in &drawn.written {
        println!("wrote {} ({size} bytes)", path.display());
    }
    for note in &drawn.notes {
        eprintln!("note: {note}");
    }
    for failure in &drawn.failed {
        eprintln!("not drawn: {failure}");
    }
    if drawn.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
