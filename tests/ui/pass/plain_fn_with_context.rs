use stefuna::Context;

#[stefuna::activity(arn = "arn:aws:states:eu-west-1:123456789012:activity:resize", name = "resizer", main = false)]
pub fn resize_image(input: u32, ctx: &Context) -> Result<u32, String> {
    let _ = ctx.worker_name();
    if input == 0 {
        return Err("zero".to_string());
    }
    Ok(input * 2)
}

include!("../run.rs");

fn main() {
    use stefuna::Activity;
    assert_eq!(ResizeImage.name(), "resizer");
    assert_eq!(ResizeImage.defaults().heartbeat, None);
    assert!(matches!(
        std::sync::Arc::new(ResizeImage).invoke("1".into(), stefuna::Context::builder().build()),
        stefuna::Invocation::Blocking(_)
    ));
    assert_eq!(run(ResizeImage, "21").unwrap(), "42");
    let err = run(ResizeImage, "0").unwrap_err();
    assert_eq!(err.cause(), "zero");
}
