mod reexport {
    pub use stefuna as sf;
}

#[stefuna::activity(
    arn = "arn:aws:states:us-east-1:123456789012:activity:echo",
    main = false,
    crate = "crate::reexport::sf"
)]
fn echo(input: String) -> Result<String, stefuna::TaskError> {
    Ok(input)
}

include!("../run.rs");

fn main() {
    assert_eq!(run(Echo, r#""hi""#).unwrap(), r#""hi""#);
}
