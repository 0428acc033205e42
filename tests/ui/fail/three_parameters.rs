#[stefuna::activity(arn = "arn:aws:states:us-east-1:123456789012:activity:hello", main = false)]
async fn hello(a: u32, b: &stefuna::Context, c: u32) -> Result<(), stefuna::TaskError> { Ok(()) }

fn main() {}
