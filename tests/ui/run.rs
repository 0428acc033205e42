// Shared by the pass cases: runs an activity's invocation to its result.
#[allow(dead_code)]
fn run<A: stefuna::Activity>(activity: A, input: &str) -> Result<String, stefuna::TaskError> {
    let ctx = stefuna::Context::builder().build();
    match std::sync::Arc::new(activity).invoke(input.to_string(), ctx) {
        stefuna::Invocation::Async(fut) => futures::executor::block_on(fut),
        stefuna::Invocation::Blocking(f) => f(),
    }
}
