//! Parsing and expansion of `#[activity(...)]`.
//!
//! Arguments are parsed in two stages, as tokio-macros does: first each value is collected with
//! its span, then combinations and values are checked. Every problem becomes a `compile_error!`
//! pointed at the user's tokens; the function itself is always emitted, so IDEs keep working.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, LitBool, LitInt, LitStr, Pat, ReturnType, Type};

const ARGUMENTS: &str =
    "`arn`, `heartbeat`, `name`, `concurrency`, `isolation`, `main`, `init`, `crate`";

/// One argument as written, with its span.
struct Arg<T> {
    value: T,
    span: Span,
}

/// Stage one: what the user wrote.
#[derive(Default)]
struct RawArgs {
    arn: Option<Arg<LitStr>>,
    heartbeat: Option<Arg<LitInt>>,
    name: Option<Arg<LitStr>>,
    concurrency: Option<Arg<LitInt>>,
    isolation: Option<Arg<LitStr>>,
    main: Option<Arg<LitBool>>,
    init: Option<Arg<syn::Path>>,
    krate: Option<Arg<LitStr>>,
}

/// Stage two: checked values.
struct Args {
    arn: Option<String>,
    heartbeat: Option<u64>,
    name: Option<String>,
    concurrency: Option<usize>,
    /// `thread` or `process`.
    isolation: Option<String>,
    main: bool,
    /// The init hook the generated `main` registers.
    init: Option<syn::Path>,
    krate: syn::Path,
}

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(e) => {
            let msg = syn::Error::new(
                e.span(),
                "`#[stefuna::activity]` goes on a function: `async fn name(input: T) -> Result<U, E>`",
            )
            .to_compile_error();
            return quote!(#item #msg);
        }
    };
    let raw = parse_args(args, &mut errors);
    let args = check_args(raw, &mut errors);
    let sig = check_signature(&func, &mut errors);
    generate(&func, &args, sig.as_ref(), errors)
}

#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, span: Span, msg: impl std::fmt::Display) {
        let e = syn::Error::new(span, msg);
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }
}

fn parse_args(args: TokenStream, errors: &mut Errors) -> RawArgs {
    let mut raw = RawArgs::default();
    let parser = syn::meta::parser(|meta| {
        let key = meta
            .path
            .get_ident()
            .map(|i| i.to_string())
            .unwrap_or_else(|| {
                let path = &meta.path;
                quote!(#path).to_string().replace(' ', "")
            });
        let span = meta.path.span();
        let input = meta.value().map_err(|_| {
            syn::Error::new(
                span,
                format!("argument `{key}` needs a value: `{key} = ...`"),
            )
        })?;
        macro_rules! once {
            ($field:ident, $ty:ty, $what:literal) => {{
                // Parse any expression first, so a badly typed value is reported and the
                // arguments after it (`main = false` among them) are still read.
                let expr: syn::Expr = input.parse()?;
                let Ok(value) = syn::parse2::<$ty>(expr.to_token_stream()) else {
                    errors.push(expr.span(), format!("`{key}` takes {}", $what));
                    return Ok(());
                };
                if raw.$field.is_some() {
                    errors.push(span, format!("argument `{key}` is given more than once"));
                } else {
                    raw.$field = Some(Arg {
                        span: value.span(),
                        value,
                    });
                }
            }};
        }
        match key.as_str() {
            "arn" => once!(
                arn,
                LitStr,
                "a string: `arn = \"arn:aws:states:REGION:ACCOUNT:activity:NAME\"`"
            ),
            "heartbeat" => once!(
                heartbeat,
                LitInt,
                "a positive integer number of seconds: `heartbeat = 60`"
            ),
            "name" => once!(name, LitStr, "a string: `name = \"resize\"`"),
            "concurrency" => once!(concurrency, LitInt, "a positive integer: `concurrency = 8`"),
            "isolation" => once!(
                isolation,
                LitStr,
                "a string: `isolation = \"process\"` or `isolation = \"thread\"`"
            ),
            "main" => once!(main, LitBool, "`true` or `false`"),
            "init" => once!(
                init,
                syn::Path,
                "the path of an async function: `init = setup`, where \
                 `async fn setup(ctx: stefuna::InitContext) -> Result<State, E>`"
            ),
            "crate" => once!(
                krate,
                LitStr,
                "a path in a string: `crate = \"my_reexport::stefuna\"`"
            ),
            _ => {
                // Consume the value so the remaining arguments are still checked.
                let _: syn::Expr = input.parse()?;
                errors.push(
                    span,
                    format!("unknown argument `{key}`; expected one of {ARGUMENTS}"),
                );
            }
        }
        Ok(())
    });
    if let Err(e) = syn::parse::Parser::parse2(parser, args) {
        errors.push(e.span(), e);
    }
    raw
}

fn check_args(raw: RawArgs, errors: &mut Errors) -> Args {
    let arn = raw.arn.map(|a| {
        let v = a.value.value();
        if let Err(why) = check_arn(&v) {
            errors.push(a.span, format!("malformed activity ARN `{v}`: {why}; expected `arn:aws:states:REGION:ACCOUNT:activity:NAME`"));
        }
        v
    });
    let heartbeat = raw
        .heartbeat
        .and_then(|a| positive::<u64>(&a, "heartbeat", "seconds between heartbeats", errors));
    let concurrency = raw
        .concurrency
        .and_then(|a| positive::<usize>(&a, "concurrency", "tasks run at once", errors));
    let name = raw.name.map(|a| {
        let v = a.value.value();
        if v.is_empty() || v.chars().count() > 80 {
            errors.push(a.span, "`name` must be 1 to 80 characters");
        }
        v
    });
    let krate = match raw.krate {
        Some(a) => a.value.parse::<syn::Path>().unwrap_or_else(|_| {
            errors.push(
                a.span,
                format!(
                    "`crate` must be a path such as `\"::stefuna\"`; found `{}`",
                    a.value.value()
                ),
            );
            syn::parse_quote!(::stefuna)
        }),
        None => syn::parse_quote!(::stefuna),
    };
    let isolation = raw.isolation.map(|a| {
        let v = a.value.value();
        if v != "thread" && v != "process" {
            errors.push(
                a.span,
                format!("unknown isolation `{v}`; expected `\"thread\"` or `\"process\"`"),
            );
        }
        v
    });
    let main = raw.main.as_ref().is_none_or(|a| a.value.value);
    if let (Some(init), false) = (&raw.init, main) {
        errors.push(
            init.span,
            "`init` registers the hook in the generated `main`, and `main = false` turns that \
             off; call `.init(setup)` on `stefuna::Server::builder()` instead",
        );
    }
    Args {
        arn,
        heartbeat,
        name,
        concurrency,
        isolation,
        main,
        init: raw.init.map(|a| a.value),
        krate,
    }
}

fn positive<T>(a: &Arg<LitInt>, key: &str, what: &str, errors: &mut Errors) -> Option<T>
where
    T: std::str::FromStr + PartialEq + Default,
    T::Err: std::fmt::Display,
{
    match a.value.base10_parse::<T>() {
        Ok(v) if v != T::default() => Some(v),
        Ok(_) => {
            errors.push(
                a.span,
                format!("`{key}` must be a positive integer ({what}); found 0"),
            );
            None
        }
        Err(_) => {
            errors.push(
                a.span,
                format!(
                    "`{key}` must be a positive integer ({what}); found `{}`",
                    a.value
                ),
            );
            None
        }
    }
}

/// Checks `arn:PARTITION:states:REGION:ACCOUNT:activity:NAME`.
pub(crate) fn check_arn(arn: &str) -> Result<(), String> {
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() != 7 {
        return Err(format!("it has {} `:`-separated parts, not 7", parts.len()));
    }
    let [arn_, partition, service, region, account, kind, name] = parts[..] else {
        unreachable!("length checked above")
    };
    if arn_ != "arn" {
        return Err("it does not start with `arn:`".into());
    }
    if partition.is_empty() || !partition.starts_with("aws") {
        return Err(format!("partition `{partition}` is not an AWS partition"));
    }
    if service != "states" {
        return Err(format!("service `{service}` is not `states`"));
    }
    if region.is_empty() {
        return Err("the region is empty".into());
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("account `{account}` is not 12 digits"));
    }
    if kind != "activity" {
        return Err(format!("it names a `{kind}`, not an `activity`"));
    }
    if name.is_empty() || name.chars().count() > 80 {
        return Err("the activity name must be 1 to 80 characters".into());
    }
    Ok(())
}

/// What the generated code needs to know about the function.
struct Signature {
    input_ty: Type,
    takes_context: bool,
}

fn check_signature(func: &ItemFn, errors: &mut Errors) -> Option<Signature> {
    let sig = &func.sig;
    let before = errors.0.is_some();
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.push(
            sig.generics.span(),
            "activity functions cannot be generic: the worker must know the input and output types; use concrete types",
        );
    }
    let mut inputs = Vec::new();
    for arg in &sig.inputs {
        match arg {
            FnArg::Receiver(r) => errors.push(
                r.span(),
                "activity functions cannot take `self`; write a free function, or implement `stefuna::Activity` by hand",
            ),
            FnArg::Typed(t) => inputs.push(t),
        }
    }
    let found = sig.inputs.len();
    if found == 0 || found > 2 {
        let span = if found == 0 {
            sig.paren_token.span.join()
        } else {
            sig.inputs.span()
        };
        errors.push(
            span,
            format!(
                "activity functions take the task input and optionally `&Context`; found {found} parameter{}",
                if found == 1 { "" } else { "s" }
            ),
        );
    }
    if let Some(first) = inputs.first()
        && is_context(&first.ty).is_some()
    {
        errors.push(
            first.ty.span(),
            "the first parameter is the task input (any `serde::Deserialize` type); `&Context` comes second",
        );
    }
    let mut takes_context = false;
    if let Some(second) = inputs.get(1) {
        match (&*second.ty, is_context(&second.ty)) {
            (Type::Reference(r), Some(())) if r.mutability.is_none() => takes_context = true,
            (Type::Reference(r), Some(())) => errors.push(
                r.span(),
                "take the context as a shared reference: `ctx: &Context`",
            ),
            (_, Some(())) => errors.push(
                second.ty.span(),
                "take the context by reference: `ctx: &Context`",
            ),
            (_, None) => errors.push(
                second.ty.span(),
                "the second parameter must be `&stefuna::Context`; the task input is the first and only other one",
            ),
        }
    }
    if let Some(first) = inputs.first() {
        if let Type::Reference(r) = &*first.ty
            && is_context(&first.ty).is_none()
        {
            errors.push(
                r.span(),
                "the task input is taken by value (an owned `serde::Deserialize` type), not by reference",
            );
        }
        if let Pat::Ident(p) = &*first.pat
            && p.by_ref.is_some()
        {
            errors.push(p.span(), "the task input cannot be bound by `ref`");
        }
    }
    match &sig.output {
        ReturnType::Default => errors.push(
            sig.paren_token.span.close(),
            "activity functions return `Result<T, E>` (`T: Serialize`, `E: Into<stefuna::TaskError>`); found no return type",
        ),
        ReturnType::Type(_, ty) => {
            if !is_result(ty) {
                errors.push(
                    ty.span(),
                    format!(
                        "activity functions return `Result<T, E>` (`T: Serialize`, `E: Into<stefuna::TaskError>`); found `{}`",
                        quote!(#ty).to_string().replace(" < ", "<").replace(" >", ">").replace(" ,", ",")
                    ),
                );
            }
        }
    }
    if errors.0.is_some() != before || inputs.is_empty() {
        return None;
    }
    Some(Signature {
        input_ty: (*inputs[0].ty).clone(),
        takes_context,
    })
}

/// `Some(())` when the type is `Context`, `&Context`, `stefuna::Context`, ...
fn is_context(ty: &Type) -> Option<()> {
    let ty = match ty {
        Type::Reference(r) => &*r.elem,
        other => other,
    };
    match ty {
        Type::Path(p) if p.qself.is_none() => {
            (p.path.segments.last()?.ident == "Context").then_some(())
        }
        _ => None,
    }
}

fn is_result(ty: &Type) -> bool {
    match ty {
        Type::Path(p) if p.qself.is_none() => {
            p.path.segments.last().is_some_and(|s| s.ident == "Result")
        }
        Type::Group(g) => is_result(&g.elem),
        Type::Paren(p) => is_result(&p.elem),
        _ => false,
    }
}

/// `resize_image` → `ResizeImage`.
pub(crate) fn camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.trim_start_matches("r#").chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    if out.is_empty() {
        "Activity".into()
    } else {
        out
    }
}

fn generate(func: &ItemFn, args: &Args, sig: Option<&Signature>, errors: Errors) -> TokenStream {
    let fn_name = &func.sig.ident;
    let vis = &func.vis;
    let span = fn_name.span();
    let struct_name = format_ident!("{}", camel_case(&fn_name.to_string()), span = span);
    let krate = &args.krate;
    let main_fn = if args.main {
        if sig.is_some() && errors.0.is_none() {
            match &args.init {
                None => quote_spanned! {span=>
                    #krate::__global_allocator!();
                    fn main() -> ::std::process::ExitCode {
                        #krate::__private::run_main(#struct_name)
                    }
                },
                Some(init) => {
                    // Spanned at the user's path, so a hook of the wrong shape is reported there.
                    let with_init = quote_spanned!(init.span()=> .init(#init));
                    quote_spanned! {span=>
                        #krate::__global_allocator!();
                        fn main() -> ::std::process::ExitCode {
                            #krate::__private::Server::builder()
                                .activity(#struct_name)
                                #with_init
                                .run_main()
                        }
                    }
                }
            }
        } else {
            // Keeps "main not found" out of the way of the real error.
            quote!(
                fn main() {}
            )
        }
    } else {
        quote!()
    };
    let doc = format!(
        "The `{fn_name}` activity, generated by `#[stefuna::activity]` from the function of that name."
    );
    let strukt = quote! {
        #[doc = #doc]
        #[derive(Clone, Copy, Debug, Default)]
        #vis struct #struct_name;
    };
    let Some(sig) = sig.filter(|_| errors.0.is_none()) else {
        let errs = errors.0.map(|e| e.to_compile_error());
        return quote!(#func #strukt #errs #main_fn);
    };
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| fn_name.to_string().trim_start_matches("r#").to_string());
    let opt_str = |v: &Option<String>| match v {
        Some(s) => quote!(::core::option::Option::Some(#krate::__private::String::from(#s))),
        None => quote!(::core::option::Option::None),
    };
    let arn = opt_str(&args.arn);
    let heartbeat = match args.heartbeat {
        Some(h) => quote!(::core::option::Option::Some(#h)),
        None => quote!(::core::option::Option::None),
    };
    let concurrency = match args.concurrency {
        Some(c) => quote!(::core::option::Option::Some(#c)),
        None => quote!(::core::option::Option::None),
    };
    let isolation = args.isolation.as_ref().map(|i| quote!(.with_isolation(#i)));
    let input_ty = &sig.input_ty;
    let call_args = if sig.takes_context {
        quote!(input, &ctx)
    } else {
        quote!(input)
    };
    let body = if func.sig.asyncness.is_some() {
        quote! {
            #krate::__private::Invocation::Async(#krate::__private::Box::pin(async move {
                let input: #input_ty = #krate::__private::decode_input(&input)?;
                #krate::__private::finish(#fn_name(#call_args).await)
            }))
        }
    } else {
        quote! {
            #krate::__private::Invocation::Blocking(#krate::__private::Box::new(move || {
                let input: #input_ty = #krate::__private::decode_input(&input)?;
                #krate::__private::finish(#fn_name(#call_args))
            }))
        }
    };
    let unused_ctx = if sig.takes_context {
        quote!()
    } else {
        quote!(let _ = &ctx;)
    };
    quote! {
        #func
        #strukt
        const _: () = {
            impl #krate::__private::Activity for #struct_name {
                fn name(&self) -> &str {
                    #name
                }
                fn defaults(&self) -> #krate::__private::ActivityDefaults {
                    #krate::__private::ActivityDefaults::new(#arn, #heartbeat, #concurrency)#isolation
                }
                fn invoke(
                    self: #krate::__private::Arc<Self>,
                    input: #krate::__private::String,
                    ctx: #krate::__private::Context,
                ) -> #krate::__private::Invocation {
                    #unused_ctx
                    #body
                }
            }
        };
        #main_fn
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_str(args: &str, item: &str) -> String {
        expand(args.parse().unwrap(), item.parse().unwrap()).to_string()
    }

    #[test]
    fn camel_case_names() {
        assert_eq!(camel_case("hello"), "Hello");
        assert_eq!(camel_case("resize_image"), "ResizeImage");
        assert_eq!(camel_case("r#type"), "Type");
        assert_eq!(camel_case("_x__y"), "XY");
    }

    #[test]
    fn arn_checks_name_the_part_that_is_wrong() {
        assert!(check_arn("arn:aws:states:us-east-1:123456789012:activity:hello").is_ok());
        assert!(check_arn("arn:aws-cn:states:cn-north-1:123456789012:activity:x").is_ok());
        assert!(
            check_arn("arn:aws:states:us-east-1:123456789012:stateMachine:x")
                .unwrap_err()
                .contains("`stateMachine`")
        );
        assert!(
            check_arn("arn:aws:lambda:us-east-1:123456789012:activity:x")
                .unwrap_err()
                .contains("`lambda`")
        );
        assert!(
            check_arn("arn:aws:states:us-east-1:1234:activity:x")
                .unwrap_err()
                .contains("12 digits")
        );
        assert!(
            check_arn("hello")
                .unwrap_err()
                .contains("1 `:`-separated parts")
        );
        assert!(
            check_arn("arn:aws:states::123456789012:activity:x")
                .unwrap_err()
                .contains("region")
        );
    }

    #[test]
    fn async_fn_expands_to_an_async_invocation_and_main() {
        let out = expand_str(
            r#"arn = "arn:aws:states:us-east-1:123456789012:activity:hello", heartbeat = 120"#,
            "async fn hello(input: Input) -> Result<Output, stefuna::TaskError> { todo!() }",
        );
        assert!(out.contains("struct Hello"), "{out}");
        assert!(out.contains("Invocation :: Async"), "{out}");
        assert!(out.contains("Some (120u64)"), "{out}");
        assert!(out.contains("fn main ()"), "{out}");
        assert!(out.contains("run_main (Hello)"), "{out}");
        assert!(
            out.contains(":: stefuna :: __global_allocator ! ()"),
            "{out}"
        );
        assert!(!out.contains("compile_error"), "{out}");
    }

    #[test]
    fn plain_fn_with_context_runs_blocking_and_passes_ctx() {
        let out = expand_str(
            "main = false",
            "fn resize(input: serde_json::Value, ctx: &Context) -> Result<(), String> { todo!() }",
        );
        assert!(out.contains("Invocation :: Blocking"), "{out}");
        assert!(out.contains("resize (input , & ctx)"), "{out}");
        assert!(!out.contains("fn main"), "{out}");
        assert!(!out.contains("__global_allocator"), "{out}");
    }

    #[test]
    fn custom_crate_path_is_used() {
        let out = expand_str(
            r#"crate = "my::stefuna", main = false"#,
            "async fn a(i: u8) -> Result<u8, String> { Ok(i) }",
        );
        assert!(
            out.contains("my :: stefuna :: __private :: Activity"),
            "{out}"
        );
        assert!(
            !out.contains(":: stefuna :: __private :: Activity for")
                || out.contains("my :: stefuna"),
            "{out}"
        );
    }

    #[test]
    fn all_errors_are_reported_together_with_the_function() {
        let out = expand_str(
            "heartbeet = 3, heartbeat = 0",
            "async fn a(x: u8, y: u8, z: u8) -> u8 { x }",
        );
        assert!(out.contains("unknown argument `heartbeet`"), "{out}");
        assert!(
            out.contains("`heartbeat` must be a positive integer"),
            "{out}"
        );
        assert!(out.contains("found 3 parameters"), "{out}");
        assert!(out.contains("found `u8`"), "{out}");
        assert!(out.contains("async fn a"), "the function is kept: {out}");
    }

    #[test]
    fn repeated_argument_is_an_error() {
        let out = expand_str(
            r#"name = "a", name = "b""#,
            "async fn a(i: u8) -> Result<u8, String> { Ok(i) }",
        );
        assert!(
            out.contains("argument `name` is given more than once"),
            "{out}"
        );
    }
}
