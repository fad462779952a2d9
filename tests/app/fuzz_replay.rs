//! The fuzz corpora (`fuzz/corpus/<target>/`) and every crash the fuzzer found
//! (`fuzz/regressions/<target>/`) replayed through the same entry points as ordinary tests.

use std::path::Path;

use understory::fuzzing;

fn replay(target: &str, run: fn(&[u8])) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut count = 0;
    for dir in [root.join("corpus").join(target), root.join("regressions").join(target)] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let input = std::fs::read(entry.path()).unwrap();
            let outcome = std::panic::catch_unwind(|| run(&input));
            assert!(outcome.is_ok(), "{target}: {} panics", entry.path().display());
            count += 1;
        }
    }
    count
}

#[test]
fn every_corpus_input_runs_without_a_panic() {
    for (target, run) in [
        ("activity", fuzzing::activity as fn(&[u8])),
        ("signature_header", fuzzing::signature_header),
        ("webfinger_resource", fuzzing::webfinger_resource),
        ("sanitize", fuzzing::sanitize),
    ] {
        assert!(replay(target, run) >= 3, "{target} has a seed corpus");
    }
}
