#[stefuna::activity(arn = "arn:aws:states:us-east-1:123456789012:activity:hello", main = false)]
async fn hello(input: u32) -> u32 { input }

fn main() {}
