struct MyError;

#[stefuna::activity(arn = "arn:aws:states:us-east-1:123456789012:activity:hello", main = false)]
async fn hello(input: u32) -> Result<u32, MyError> {
    if input == 0 {
        return Err(MyError);
    }
    Ok(input)
}

fn main() {}
