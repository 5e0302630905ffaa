//! arbour's attribute macros, re-exported by `arbour` (use them from there).
//!
//! `#[arbour::message(tag = "examples.fib.v1", reply = u64)]` on a struct or
//! enum declares a remote message in one place: its wire tag, its reply
//! type, and its (MessagePack) encoding. It expands to what took three
//! declarations before: actix's `Message` (with the reply type), serde's
//! `Serialize` and `Deserialize` (through arbour's re-export, so the crate
//! need not depend on serde), and `arbour::RemoteMessage` with the tag.

use proc_macro::TokenStream;
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::{parse_macro_input, DeriveInput, Ident, LitStr, Token, Type};

/// The macro's arguments: `tag = "…"` and `reply = Type` (default `()`).
struct Args {
    tag: LitStr,
    reply: Type,
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut tag = None;
        let mut reply = None;
        while !input.is_empty() {
            let key: Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            match key.to_string().as_str() {
                "tag" => tag = Some(input.parse::<LitStr>()?),
                "reply" => reply = Some(input.parse::<Type>()?),
                other => {
                    return Err(syn::Error::new(
                        key.span(),
                        format!("unknown argument `{other}`: expected `tag` or `reply`"),
                    ))
                }
            }
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        let tag = tag.ok_or_else(|| {
            input.error("missing `tag = \"…\"`: the message's stable wire tag, e.g. \"app.fib.v1\"")
        })?;
        if tag.value().is_empty() {
            return Err(syn::Error::new(tag.span(), "the tag must not be empty"));
        }
        Ok(Self {
            tag,
            reply: reply.unwrap_or_else(|| syn::parse_quote!(())),
        })
    }
}

/// Declares a remote message: `#[arbour::message(tag = "app.fib.v1", reply = u64)]`.
///
/// The tag is the message's stable name on the wire (bump its version when
/// its fields change); `reply` is what an ask of it answers (default `()`).
#[proc_macro_attribute]
pub fn message(attr: TokenStream, item: TokenStream) -> TokenStream {
    let args = parse_macro_input!(attr as Args);
    let input = parse_macro_input!(item as DeriveInput);
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let (tag, reply) = (&args.tag, &args.reply);
    // a generic message is remote for the parameters it encodes with
    let mut remote_generics = input.generics.clone();
    remote_generics
        .make_where_clause()
        .predicates
        .push(syn::parse_quote!(
            Self: ::arbour::__private::serde::Serialize
                + ::arbour::__private::serde::de::DeserializeOwned
        ));
    let remote_where = &remote_generics.where_clause;
    quote! {
        #[derive(::arbour::__private::serde::Serialize, ::arbour::__private::serde::Deserialize)]
        #[serde(crate = "::arbour::__private::serde")]
        #input

        impl #impl_generics ::arbour::__private::actix::Message for #name #ty_generics #where_clause {
            type Result = #reply;
        }

        impl #impl_generics ::arbour::RemoteMessage for #name #ty_generics #remote_where {
            const TAG: &'static str = #tag;
        }
    }
    .into()
}
