//! The `#[stefuna::activity]` attribute.
use proc_macro::TokenStream;

/// Turns a function into a Step Functions activity.
#[proc_macro_attribute]
pub fn activity(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}
