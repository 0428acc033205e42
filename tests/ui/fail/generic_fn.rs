#[stefuna::activity(arn = "arn:aws:states:us-east-1:123456789012:activity:hello", main = false)]
async fn hello<T: serde::de::DeserializeOwned>(input: T) -> Result<(), stefuna::TaskError> { let _ = input; Ok(()) }

fn main() {}
