//! trybuild UI tests of `#[stefuna::activity]`: pass cases compile and run (checking the
//! generated `Activity` impl), fail cases match the committed `.stderr` snapshots.

#[test]
fn activity_attribute_ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
