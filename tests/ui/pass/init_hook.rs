// `init = setup` registers the hook in the generated `main` (here inside a module, so this test's
// own `main` runs the activity without starting a worker).
mod worker {
    pub struct Greeting(pub String);

    #[derive(serde::Deserialize)]
    struct Settings {
        greeting: String,
    }

    pub async fn setup(ctx: stefuna::InitContext) -> Result<Greeting, stefuna::ConfigError> {
        let s: Settings = ctx.worker_config()?;
        Ok(Greeting(s.greeting))
    }

    #[stefuna::activity(arn = "arn:aws:states:us-east-1:123456789012:activity:greet", init = setup)]
    pub async fn greet(name: String, ctx: &stefuna::Context) -> Result<String, stefuna::TaskError> {
        let greeting = ctx.state::<Greeting>().map_or("Hello", |g| g.0.as_str());
        Ok(format!("{greeting} {name}"))
    }
}

include!("../run.rs");

fn main() {
    assert_eq!(run(worker::Greet, r#""Ada""#).unwrap(), r#""Hello Ada""#);
}
