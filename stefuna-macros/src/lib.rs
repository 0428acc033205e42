//! The `#[stefuna::activity]` attribute. Use it through the `stefuna` crate, which documents it.

use proc_macro::TokenStream;

mod activity;

/// Turns a function into a Step Functions activity (see the `stefuna` crate's documentation).
#[proc_macro_attribute]
pub fn activity(args: TokenStream, item: TokenStream) -> TokenStream {
    activity::expand(args.into(), item.into()).into()
}
