#[stefuna::activity(arn = "arn:aws:states:us-east-1:123456789012:activity:hello", isolation = "fork", main = false)]
async fn hello(input: serde_json::Value) -> Result<serde_json::Value, stefuna::TaskError> {
    Ok(input)
}

fn main() {}
