//! The demo page: `GET /demo/` serves a page that scores transactions with
//! the `edgescore` npm package (built from this source by the build script)
//! and, side by side, with this server's `/v1/pipelines/fraud/score`. Every
//! file is embedded in the binary, so the page works offline;
//! [`site_files`] gives the same files for a static site (`edgescore demo
//! --output DIR`), which scores in the page only.
//!
//! The page's pipeline is the embedded demo (`examples/fraud`), the one
//! `edgescore serve` serves without `--registry`.

use std::borrow::Cow;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;

use super::{DEMO_MODEL, DEMO_PIPELINE, DEMO_TRANSFORM};

/// The page's own files (from `host/serve/demo/`).
const PAGE: &[(&str, &[u8])] = &[
    ("index.html", include_bytes!("../demo/index.html")),
    ("demo.js", include_bytes!("../demo/demo.js")),
    ("demo.css", include_bytes!("../demo/demo.css")),
];

/// The npm package, as the build script made it.
const PACKAGE: &[(&str, &[u8])] = &[
    (
        "pkg/edgescore.js",
        include_bytes!(concat!(env!("OUT_DIR"), "/pkg/edgescore.js")),
    ),
    (
        "pkg/edgescore_bg.wasm",
        include_bytes!(concat!(env!("OUT_DIR"), "/pkg/edgescore_bg.wasm")),
    ),
];

/// The paths of the demo site's files besides the page and the package.
const PIPELINE_FILES: &[&str] = &[
    "pipeline/transform.toml",
    "pipeline/model.json",
    "pipeline/options.json",
    "site.json",
];

/// Every file of the demo site, by path: the page, the package, the
/// pipeline (`pipeline/transform.toml`, `pipeline/model.json` and
/// `pipeline/options.json`, the `pipeline.toml` settings the page needs)
/// and `site.json`, which names the server to compare with (`""`: the
/// page's own origin; `null`: none).
pub fn site_files(server: Option<&str>) -> Vec<(String, Vec<u8>)> {
    PAGE.iter()
        .chain(PACKAGE)
        .map(|(path, _)| *path)
        .chain(PIPELINE_FILES.iter().copied())
        .filter_map(|path| Some((path.to_owned(), site_file(path, server)?.into_owned())))
        .collect()
}

/// One file of the demo site (see [`site_files`]), or `None`.
fn site_file(path: &str, server: Option<&str>) -> Option<Cow<'static, [u8]>> {
    if let Some((_, bytes)) = PAGE.iter().chain(PACKAGE).find(|(p, _)| *p == path) {
        return Some(Cow::Borrowed(bytes));
    }
    Some(match path {
        "pipeline/transform.toml" => Cow::Borrowed(DEMO_TRANSFORM.as_bytes()),
        "pipeline/model.json" => Cow::Borrowed(DEMO_MODEL),
        "pipeline/options.json" => Cow::Owned(demo_options().into_bytes()),
        "site.json" => Cow::Owned(json!({ "server": server }).to_string().into_bytes()),
        _ => return None,
    })
}

/// `Pipeline.load`'s options from the demo's `pipeline.toml`: the
/// thresholds, the reasons' count and the `[events]` rules.
fn demo_options() -> String {
    let spec: toml::Table = toml::from_str(DEMO_PIPELINE).unwrap_or_default();
    let table = |name: &str| {
        spec.get(name)
            .cloned()
            .unwrap_or(toml::Value::Table(Default::default()))
    };
    let decision = table("decision");
    json!({
        "review": decision.get("review").and_then(toml::Value::as_float),
        "block": decision.get("block").and_then(toml::Value::as_float),
        "top": table("reasons").get("top").and_then(toml::Value::as_integer).unwrap_or(3),
        "events": table("events"),
    })
    .to_string()
}

/// `GET /demo`: to `/demo/`, so the page's relative paths resolve.
pub async fn redirect() -> Redirect {
    Redirect::permanent("/demo/")
}

/// `GET /demo/`: the page.
pub async fn index() -> Response {
    file(Path(String::from("index.html"))).await
}

/// `GET /demo/{*path}`: one file of the site.
pub async fn file(Path(path): Path<String>) -> Response {
    let Some(bytes) = site_file(&path, Some("")) else {
        return (StatusCode::NOT_FOUND, "no such file in the demo site").into_response();
    };
    let kind = match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("json") => "application/json",
        _ => "text/plain; charset=utf-8",
    };
    let mut response = bytes.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    response
}
