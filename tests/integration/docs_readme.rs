//! The README states figures that the tree can check: keep them true.

use std::path::Path;

/// The number of compile-fail cases: `tests/ui/<topic>/fail/*.rs`.
fn compile_fail_cases() -> usize {
    let ui = Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
    let mut count = 0;
    for topic in std::fs::read_dir(&ui).expect("tests/ui exists") {
        let fail = topic.expect("readable entry").path().join("fail");
        let Ok(cases) = std::fs::read_dir(&fail) else {
            continue;
        };
        count += cases
            .filter_map(|case| case.ok())
            .filter(|case| case.path().extension().is_some_and(|ext| ext == "rs"))
            .count();
    }
    count
}

#[test]
fn readme_counts_the_compile_fail_cases() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .expect("README.md is readable");
    let marker = "cases in `tests/ui/*/fail/`";
    let at = readme
        .find(marker)
        .expect("README.md says how many compile-fail cases there are");
    let stated: usize = readme[..at]
        .split_whitespace()
        .last()
        .and_then(|word| word.parse().ok())
        .expect("a number stands right before the marker");
    assert_eq!(
        stated,
        compile_fail_cases(),
        "README.md's count of compile-fail cases is off: update the number before `{marker}`"
    );
}
