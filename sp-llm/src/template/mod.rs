//! Chat templates as their authors wrote them: the GGUF's `tokenizer.chat_template` rendered
//! as Jinja (minijinja with Python-compatible methods), the way Hugging Face transformers
//! renders it — `trim_blocks`, `lstrip_blocks`, loop controls, a `tojson` that writes like
//! Python's `json.dumps`, `raise_exception` and `strftime_now`.

mod chat_template;
mod pyjson;

pub use chat_template::ChatTemplate;
pub(crate) use chat_template::python_json;
