//! Storage rules that hold on both databases.

use std::collections::BTreeSet;

#[test]
fn migrations_pair_up_across_backends() {
    let names = |dir: &str| -> BTreeSet<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    };
    let sqlite = names("migrations/sqlite");
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, names("migrations/postgres"));
    for name in &sqlite {
        let (number, rest) = name.split_once('_').unwrap();
        assert_eq!(number.len(), 4, "{name}: NNNN_name.sql");
        assert!(
            number.chars().all(|c| c.is_ascii_digit()) && rest.ends_with(".sql"),
            "{name}"
        );
    }
}
