#[stefuna::activity(arn = "arn:aws:states:us-east-1:123456789012:activity:hello", main = false)]
async fn hello(input: u32, ctx: stefuna::Context) -> Result<(), stefuna::TaskError> { let _ = (input, ctx); Ok(()) }

fn main() {}
