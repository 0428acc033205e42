#[stefuna::activity(arn = "arn:aws:states:us-east-1:123456789012:stateMachine:hello", main = false)]
async fn hello(input: serde_json::Value) -> Result<(), stefuna::TaskError> { let _ = input; Ok(()) }

fn main() {}
