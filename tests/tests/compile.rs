//! Misuse does not compile; correct use does.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("ui/pass_calls.rs");
    t.compile_fail("ui/missing_path_parameter.rs");
    t.compile_fail("ui/wrong_parameter_type.rs");
    t.compile_fail("ui/feature_off.rs");
    t.compile_fail("ui/missing_required_body_field.rs");
}
