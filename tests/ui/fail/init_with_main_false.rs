async fn setup(_ctx: stefuna::InitContext) -> Result<u32, std::io::Error> {
    Ok(1)
}

#[stefuna::activity(
    arn = "arn:aws:states:us-east-1:123456789012:activity:hello",
    main = false,
    init = setup
)]
async fn hello(input: serde_json::Value) -> Result<(), stefuna::TaskError> {
    let _ = input;
    Ok(())
}

fn main() {}
