//! Files written by earlier format versions stay readable forever. Each sample under
//! `samples/` is pinned here by its digest and contents.

use rhf_format::*;

fn sample(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../samples")
        .join(name)
}

#[test]
fn format_1_0_sample_reads_and_verifies() {
    let reader = TraceReader::open(sample("synthetic-v1.0.rhf")).unwrap();
    assert_eq!((reader.preamble().major, reader.preamble().minor), (1, 0));
    let verified = verify(&reader).unwrap();
    assert_eq!(
        hex(&verified.digest),
        "1b042c5e4bf0a40ae312df47bda18fda8dc1bdf1d0623acd3a87debb5a59cda1"
    );
    let records: Vec<Record> = reader.records().collect::<Result<_>>().unwrap();
    assert_eq!(records.len(), 5074);
    let syscalls = records
        .iter()
        .filter(|r| matches!(r.body, RecordBody::Syscall(_)))
        .count();
    assert_eq!(syscalls, 5000);
    assert_eq!(reader.header().capture.mode, CaptureMode::Synthetic);
    assert!(reader.chunks().len() > 1);
}
