use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Input {
    name: String,
}

#[derive(Serialize)]
struct Output {
    message: String,
}

#[stefuna::activity(
    arn = "arn:aws:states:us-east-1:123456789012:activity:hello",
    heartbeat = 120,
    concurrency = 4,
    main = false
)]
async fn hello(input: Input) -> Result<Output, stefuna::TaskError> {
    Ok(Output { message: format!("Hello {}", input.name) })
}

include!("../run.rs");

fn main() {
    use stefuna::Activity;
    assert_eq!(Hello.name(), "hello");
    let d = Hello.defaults();
    assert_eq!(d.arn.as_deref(), Some("arn:aws:states:us-east-1:123456789012:activity:hello"));
    assert_eq!(d.heartbeat, Some(120));
    assert_eq!(d.concurrency, Some(4));
    assert!(matches!(
        std::sync::Arc::new(Hello).invoke("{}".into(), stefuna::Context::builder().build()),
        stefuna::Invocation::Async(_)
    ));
    assert_eq!(run(Hello, r#"{"name":"World"}"#).unwrap(), r#"{"message":"Hello World"}"#);
    let err = run(Hello, r#"{"nom":"World"}"#).unwrap_err();
    assert_eq!(err.error(), "Stefuna.InvalidInput");
    // the function itself stays callable
    let out = futures::executor::block_on(hello(Input { name: "x".into() })).ok().unwrap();
    assert_eq!(out.message, "Hello x");
}
