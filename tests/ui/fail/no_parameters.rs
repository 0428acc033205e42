#[stefuna::activity(arn = "arn:aws:states:us-east-1:123456789012:activity:hello", main = false)]
async fn hello() -> Result<(), stefuna::TaskError> { Ok(()) }

fn main() {}
