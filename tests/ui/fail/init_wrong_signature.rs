fn setup(retries: u32) -> u32 {
    retries
}

#[stefuna::activity(arn = "arn:aws:states:us-east-1:123456789012:activity:hello", init = setup)]
async fn hello(input: serde_json::Value) -> Result<(), stefuna::TaskError> {
    let _ = input;
    Ok(())
}
