#[stefuna::activity(arn = "arn:aws:states:us-east-1:123456789012:activity:sink", main = false)]
async fn sink(input: serde_json::Value, _ctx: &stefuna::Context) -> Result<(), stefuna::TaskError> {
    if input.get("fail").is_some() {
        return Err(stefuna::TaskError::new("Sink.Failed", "asked to"));
    }
    Ok(())
}

include!("../run.rs");

fn main() {
    assert_eq!(run(Sink, r#"{"anything": [1, 2]}"#).unwrap(), "{}");
    let err = run(Sink, r#"{"fail": true}"#).unwrap_err();
    assert_eq!((err.error(), err.cause()), ("Sink.Failed", "asked to"));
}
