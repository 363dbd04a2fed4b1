//! Constrained decoding: before each token is picked, the tokens a grammar does not allow next
//! are masked out of the logits, and after it is picked the grammar advances by it. JSON
//! Schema, regular expressions and Lark grammars go through llguidance (an Earley parser with
//! a token trie: tens of microseconds a token, `$ref`, `anyOf`, `pattern`); GBNF grammars go
//! through llama.cpp's own grammar sampler, so they mean exactly what they mean to
//! llama-server.

mod compile;
pub(crate) mod tools;
pub(crate) use compile::Compiler;

mod masks;
pub(crate) use masks::Constraint;
