// The configuration structs are #[non_exhaustive]: a new key must not break users, so they are
// built with `Default` and field assignment, never with a struct literal.
fn main() {
    let _config = stefuna::Config {
        heartbeat: 30,
        ..stefuna::Config::default()
    };
    let _cli = stefuna::config::Cli {
        heartbeat: Some(30),
        ..Default::default()
    };
    let mut ok = stefuna::Config::default();
    ok.heartbeat = 30;
}
