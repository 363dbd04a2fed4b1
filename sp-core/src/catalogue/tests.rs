use super::*;

/// The configuration a TOML text gives, or figment's message.
fn parse(toml_text: &str) -> std::result::Result<Config, String> {
    use figment::providers::{Format, Serialized, Toml};
    figment::Figment::from(Serialized::defaults(Config::default()))
        .merge(Toml::string(toml_text))
        .extract()
        .map_err(|err| err.to_string())
}

fn catalogue(toml_text: &str) -> Result<Catalogue> {
    Catalogue::from_config(&parse(toml_text).expect("valid configuration"))
}

#[test]
fn shorthand_and_entries_route_by_name_and_alias_with_one_default_per_kind() {
    let catalogue = catalogue(
        r#"
        [model]
        path = "/m/SmolLM2-135M-Instruct.Q4_1.gguf"
        slots = 2
        [[models]]
        name = "gemma"
        path = "/m/gemma.gguf"
        aliases = ["gemma3", "big"]
        context_per_slot = 1024
        keep_alive = "0"
        [[models]]
        name = "minilm"
        path = "/m/minilm.gguf"
        kind = "embedding"
        "#,
    )
    .unwrap();
    let smol = catalogue.resolve("SmolLM2-135M-Instruct.Q4_1").unwrap();
    assert!(
        smol.pinned,
        "the shorthand model keeps its pre-catalogue residency"
    );
    assert_eq!(
        catalogue.default_for(ModelKind::Chat).unwrap().name,
        smol.name
    );
    let gemma = catalogue.resolve("big").unwrap();
    assert_eq!(
        (gemma.name.as_str(), gemma.slots, gemma.context_per_slot),
        ("gemma", 2, 1024)
    );
    assert!(gemma.keep_alive.is_zero() && !gemma.pinned);
    let minilm = catalogue.default_for(ModelKind::Embedding).unwrap();
    assert_eq!(minilm.name, "minilm");
    assert!(
        minilm.pinned,
        "the default embedder backs the knowledge store"
    );
    assert!(catalogue.default_for(ModelKind::Rerank).is_none());
    match catalogue.resolve("gpt-4").unwrap_err() {
        Error::ModelNotFound { name, available } => {
            assert_eq!(name, "gpt-4");
            assert_eq!(available, ["SmolLM2-135M-Instruct.Q4_1", "gemma", "minilm"]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn clashing_names_two_defaults_and_unknown_keys_are_refused_with_their_key() {
    let err = catalogue(
        r#"
        [[models]]
        name = "a"
        path = "/a.gguf"
        [[models]]
        name = "b"
        path = "/b.gguf"
        aliases = ["a"]
        "#,
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::Config { key, .. } if key == "models[1]"),
        "{err}"
    );
    assert!(
        err.to_string().contains("`a` already names the model `a`"),
        "{err}"
    );
    let err = catalogue(
        r#"
        [[models]]
        name = "a"
        path = "/a.gguf"
        default = true
        [[models]]
        name = "b"
        path = "/b.gguf"
        default = true
        "#,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("both the default chat model"),
        "{err}"
    );
    let err = catalogue("[[models]]\nname = \" \"\npath = \"/a.gguf\"").unwrap_err();
    assert!(
        matches!(&err, Error::Config { key, .. } if key == "models[0]"),
        "{err}"
    );
    let err = catalogue("[[models]]\nname = \"a\"\npath = \"/a.gguf\"\nslots = 0").unwrap_err();
    assert!(
        matches!(&err, Error::Config { key, .. } if key == "models[0].slots"),
        "{err}"
    );
    let err = catalogue("[model]\npath = \"/a.gguf\"\ncontext_per_slot = 0").unwrap_err();
    assert!(
        matches!(&err, Error::Config { key, .. } if key == "model.context_per_slot"),
        "{err}"
    );
    let typo = parse("[[models]]\nname = \"a\"\npath = \"/a\"\npinnned = true");
    assert!(typo.unwrap_err().contains("pinnned"));
}

#[test]
fn an_explicit_default_wins_over_the_first_entry_and_is_pinned() {
    let catalogue = catalogue(
        r#"
        [[models]]
        name = "first"
        path = "/a.gguf"
        [[models]]
        name = "chosen"
        path = "/b.gguf"
        default = true
        "#,
    )
    .unwrap();
    assert_eq!(
        catalogue.default_for(ModelKind::Chat).unwrap().name,
        "chosen"
    );
    assert!(catalogue.resolve("chosen").unwrap().pinned);
    assert!(!catalogue.resolve("first").unwrap().pinned);
    assert_eq!(
        catalogue.resolve("first").unwrap().keep_alive,
        KeepAlive::default()
    );
}
