//! Both APIs score bit-identically to the native model, contributions come
//! back by feature name, and malformed requests cost only themselves.

use edgescore_models::Model;
use serde_json::{Value, json};

use crate::{Fixture, quickstart_model, quickstart_rows, row_objects};

#[test]
fn both_apis_score_bit_identically_to_the_native_model() {
    let fixture = Fixture::start("", |_, _| {});
    let server = &fixture.server;
    let model =
        Model::from_bytes(&std::fs::read(quickstart_model()).expect("model"), None).expect("loads");
    let (header, rows) = quickstart_rows();
    let width = header.len();
    let native = model.score(&rows).expect("native scores");

    // The simple API: named features, missing keys for missing values.
    let (status, body) = server.post_json(
        "/v1/models/fraud/score",
        &json!({ "rows": row_objects(&header, &rows) }),
    );
    assert_eq!(status, 200, "{body}");
    let results = body["results"].as_array().expect("results");
    assert_eq!(results.len(), native.len());
    for (i, (result, expected)) in results.iter().zip(&native).enumerate() {
        let got = result["score"].as_f64().expect("score");
        assert_eq!(
            got.to_bits(),
            expected.to_bits(),
            "row {i}: {got} vs {expected}"
        );
        assert_eq!(result["version"], 1);
    }

    // Open Inference Protocol, binary tensor data (NaN travels as bits).
    let json_header = json!({
        "inputs": [{
            "name": "features",
            "shape": [native.len(), width],
            "datatype": "FP32",
            "parameters": { "binary_data_size": rows.len() * 4 },
        }],
        "outputs": [{ "name": "score", "parameters": { "binary_data": true } }],
    })
    .to_string();
    let mut body = json_header.clone().into_bytes();
    // The quickstart values are float32 values, so FP32 carries them exactly.
    body.extend(rows.iter().flat_map(|&v| (v as f32).to_le_bytes()));
    let mut request = ureq::http::Request::builder()
        .method("POST")
        .uri(server.url("/v2/models/fraud/infer"))
        .header("inference-header-content-length", json_header.len())
        .body(body)
        .expect("request");
    request.headers_mut().insert(
        "content-type",
        "application/octet-stream".parse().expect("header"),
    );
    // The response's binary part and headers: ureq itself, not the harness.
    let mut response = ureq::Agent::new_with_defaults()
        .run(request)
        .expect("binary infer");
    assert_eq!(response.status().as_u16(), 200);
    let header_len: usize = response
        .headers()
        .get("inference-header-content-length")
        .expect("binary response header")
        .to_str()
        .expect("ascii")
        .parse()
        .expect("number");
    let bytes = response.body_mut().read_to_vec().expect("body");
    let head: Value = serde_json::from_slice(&bytes[..header_len]).expect("json header");
    assert_eq!(head["model_version"], "1");
    let scores: Vec<f32> = bytes[header_len..]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    assert_eq!(scores.len(), native.len());
    for (i, (got, expected)) in scores.iter().zip(&native).enumerate() {
        assert_eq!(got.to_bits(), (*expected as f32).to_bits(), "row {i}");
    }

    // Open Inference Protocol, JSON: rows without missing values.
    let complete: Vec<usize> = (0..native.len())
        .filter(|&r| rows[r * width..(r + 1) * width].iter().all(|v| !v.is_nan()))
        .collect();
    let data: Vec<f64> = complete
        .iter()
        .flat_map(|&r| rows[r * width..(r + 1) * width].to_vec())
        .collect();
    let (status, body) = server.post_json(
        "/v2/models/fraud/versions/1/infer",
        &json!({ "id": "abc", "inputs": [{
            "name": "x", "shape": [complete.len(), width], "datatype": "FP32", "data": data,
        }]}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], "abc");
    let data = body["outputs"][0]["data"].as_array().expect("data");
    for (&r, got) in complete.iter().zip(data) {
        let got = got.as_f64().expect("number") as f32;
        assert_eq!(got.to_bits(), (native[r] as f32).to_bits(), "row {r}");
    }
}

#[test]
fn contributions_come_back_by_feature_name_and_equal_the_native_ones() {
    let fixture = Fixture::start("", |_, _| {});
    let model =
        Model::from_bytes(&std::fs::read(quickstart_model()).expect("model"), None).expect("loads");
    let (header, rows) = quickstart_rows();
    let width = header.len();
    let native = model.contributions(&rows).expect("native contributions");
    let (status, body) = fixture.server.post_json(
        "/v1/models/fraud/score",
        &json!({ "rows": row_objects(&header, &rows), "contributions": true }),
    );
    assert_eq!(status, 200, "{body}");
    let results = body["results"].as_array().expect("results");
    for (r, result) in results.iter().enumerate() {
        let contributions = result["contributions"].as_object().expect("contributions");
        assert_eq!(contributions.len(), width + 1, "row {r}");
        let expected = &native[r * (width + 1)..(r + 1) * (width + 1)];
        for (name, want) in header
            .iter()
            .map(String::as_str)
            .chain(["bias"])
            .zip(expected)
        {
            let got = contributions[name].as_f64().expect("number");
            assert_eq!(got.to_bits(), want.to_bits(), "row {r}, {name}");
        }
    }
}

/// One malformed request: what it is, method, path, headers, body.
type BadRequest<'a> = (&'a str, &'a str, String, Vec<(&'a str, &'a str)>, Vec<u8>);

#[test]
fn malformed_requests_get_4xx_json_errors_and_cost_only_themselves() {
    let fixture = Fixture::start(
        "max_body_bytes = 65536\nbody_timeout_ms = 2000\n",
        |_, _| {},
    );
    let server = &fixture.server;
    let row = "[1,2,3,4,5,6,7,8,9,10,11,12]";
    let infer = |input: &str| format!(r#"{{"inputs":[{input}]}}"#);
    let good_input = format!(r#"{{"name":"x","shape":[1,12],"datatype":"FP32","data":{row}}}"#);
    let auth = ("authorization", "Bearer wrong-token");
    let json_ct = ("content-type", "application/json");
    let big = vec![b' '; 70_000];

    let corpus: Vec<BadRequest<'_>> = vec![
        ("not json", "POST", "/v2/models/fraud/infer".into(), vec![json_ct], b"{not json".to_vec()),
        ("empty body", "POST", "/v2/models/fraud/infer".into(), vec![], vec![]),
        ("json array", "POST", "/v2/models/fraud/infer".into(), vec![], b"[]".to_vec()),
        ("no inputs", "POST", "/v2/models/fraud/infer".into(), vec![], br#"{"inputs":[]}"#.to_vec()),
        ("two inputs", "POST", "/v2/models/fraud/infer".into(), vec![], infer(&format!("{good_input},{good_input}")).into_bytes()),
        ("wrong width", "POST", "/v2/models/fraud/infer".into(), vec![], infer(r#"{"name":"x","shape":[1,3],"datatype":"FP32","data":[1,2,3]}"#).into_bytes()),
        ("1-d shape", "POST", "/v2/models/fraud/infer".into(), vec![], infer(&format!(r#"{{"name":"x","shape":[12],"datatype":"FP32","data":{row}}}"#)).into_bytes()),
        ("negative rows", "POST", "/v2/models/fraud/infer".into(), vec![], infer(&format!(r#"{{"name":"x","shape":[-1,12],"datatype":"FP32","data":{row}}}"#)).into_bytes()),
        ("data shorter than shape", "POST", "/v2/models/fraud/infer".into(), vec![], infer(&format!(r#"{{"name":"x","shape":[2,12],"datatype":"FP32","data":{row}}}"#)).into_bytes()),
        ("INT64 datatype", "POST", "/v2/models/fraud/infer".into(), vec![], infer(&format!(r#"{{"name":"x","shape":[1,12],"datatype":"INT64","data":{row}}}"#)).into_bytes()),
        ("BYTES datatype", "POST", "/v2/models/fraud/infer".into(), vec![], infer(r#"{"name":"x","shape":[1,12],"datatype":"BYTES","data":["a"]}"#).into_bytes()),
        ("string in data", "POST", "/v2/models/fraud/infer".into(), vec![], infer(r#"{"name":"x","shape":[1,12],"datatype":"FP32","data":[1,2,3,4,5,6,7,8,9,10,11,"x"]}"#).into_bytes()),
        ("null in data", "POST", "/v2/models/fraud/infer".into(), vec![], infer(r#"{"name":"x","shape":[1,12],"datatype":"FP32","data":[1,2,3,4,5,6,7,8,9,10,11,null]}"#).into_bytes()),
        ("NaN literal", "POST", "/v2/models/fraud/infer".into(), vec![], infer(r#"{"name":"x","shape":[1,12],"datatype":"FP32","data":[1,2,3,4,5,6,7,8,9,10,11,NaN]}"#).into_bytes()),
        ("overflowing float32", "POST", "/v2/models/fraud/infer".into(), vec![], infer(r#"{"name":"x","shape":[1,12],"datatype":"FP32","data":[1e300,2,3,4,5,6,7,8,9,10,11,12]}"#).into_bytes()),
        ("no data", "POST", "/v2/models/fraud/infer".into(), vec![], infer(r#"{"name":"x","shape":[1,12],"datatype":"FP32"}"#).into_bytes()),
        ("unknown output", "POST", "/v2/models/fraud/infer".into(), vec![], format!(r#"{{"inputs":[{good_input}],"outputs":[{{"name":"probability"}}]}}"#).into_bytes()),
        ("unknown field", "POST", "/v2/models/fraud/infer".into(), vec![], format!(r#"{{"inputs":[{good_input}],"extra":1}}"#).into_bytes()),
        ("binary size mismatch", "POST", "/v2/models/fraud/infer".into(), vec![("inference-header-content-length", "91")], br#"{"inputs":[{"name":"x","shape":[1,12],"datatype":"FP32","parameters":{"binary_data_size":48}}]}"#.iter().copied().chain([0u8; 8]).collect()),
        ("header length past the body", "POST", "/v2/models/fraud/infer".into(), vec![("inference-header-content-length", "9999")], b"{}".to_vec()),
        ("header length not a number", "POST", "/v2/models/fraud/infer".into(), vec![("inference-header-content-length", "abc")], b"{}".to_vec()),
        ("body over the limit", "POST", "/v2/models/fraud/infer".into(), vec![], big.clone()),
        ("unknown model", "POST", "/v2/models/nope/infer".into(), vec![], infer(&good_input).into_bytes()),
        ("unknown version", "POST", "/v2/models/fraud/versions/7/infer".into(), vec![], infer(&good_input).into_bytes()),
        ("version not a number", "POST", "/v2/models/fraud/versions/latest/infer".into(), vec![], infer(&good_input).into_bytes()),
        ("version zero", "GET", "/v2/models/fraud/versions/0".into(), vec![], vec![]),
        ("path traversal", "GET", "/v2/models/..%2F..%2Fetc/ready".into(), vec![], vec![]),
        ("unknown route", "GET", "/v3/anything".into(), vec![], vec![]),
        ("v1 not json", "POST", "/v1/models/fraud/score".into(), vec![], b"rows".to_vec()),
        ("v1 rows not a list", "POST", "/v1/models/fraud/score".into(), vec![], br#"{"rows":{}}"#.to_vec()),
        ("v1 unknown feature", "POST", "/v1/models/fraud/score".into(), vec![], br#"{"rows":[{"amout":5}]}"#.to_vec()),
        ("v1 string value", "POST", "/v1/models/fraud/score".into(), vec![], br#"{"rows":[{"amount":"5"}]}"#.to_vec()),
        ("v1 value beyond float64", "POST", "/v1/models/fraud/score".into(), vec![], br#"{"rows":[{"amount":1e400}]}"#.to_vec()),
        ("v1 unknown model", "POST", "/v1/models/nope/score".into(), vec![], br#"{"rows":[]}"#.to_vec()),
        ("v1 body over the limit", "POST", "/v1/models/fraud/score".into(), vec![], big),
        ("load without token", "POST", "/v2/repository/models/fraud/load".into(), vec![], vec![]),
        ("unload with a wrong token", "POST", "/v2/repository/models/fraud/unload".into(), vec![auth], vec![]),
        ("routing without token", "POST", "/admin/models/fraud/routing".into(), vec![], br#"{"primary":1}"#.to_vec()),
        ("routing to a missing version", "POST", "/admin/models/fraud/routing".into(), vec![("authorization", "Bearer test-admin-token")], br#"{"canary":{"version":9,"percent":10}}"#.to_vec()),
        ("routing over 100 percent", "POST", "/admin/models/fraud/routing".into(), vec![("authorization", "Bearer test-admin-token")], br#"{"canary":{"version":1,"percent":101}}"#.to_vec()),
        ("routing not json", "POST", "/admin/models/fraud/routing".into(), vec![("authorization", "Bearer test-admin-token")], b"nine".to_vec()),
        ("promote without a canary", "POST", "/admin/models/fraud/promote".into(), vec![("authorization", "Bearer test-admin-token")], vec![]),
        ("rollback with nothing below", "POST", "/admin/models/fraud/rollback".into(), vec![("authorization", "Bearer test-admin-token")], vec![]),
        ("wrong method", "GET", "/v2/models/fraud/infer".into(), vec![], vec![]),
    ];
    assert!(corpus.len() >= 30);
    for (what, method, path, headers, body) in corpus {
        let (status, text) = server.request(method, &path, &headers, body);
        assert!(
            (400..500).contains(&status),
            "{what}: status {status}, body {text}"
        );
        let error: Value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{what}: error body is not JSON: {text}"));
        assert!(
            error["error"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: {text}"
        );
    }
    // Every one cost only itself.
    let (status, body) = server.post_json(
        "/v2/models/fraud/infer",
        &serde_json::from_str(&infer(&good_input)).expect("json"),
    );
    assert_eq!(status, 200, "{body}");
    let metrics = server.metrics();
    assert!(
        metrics.contains("edgescore_errors_total{kind=\"bad_request\"}"),
        "{metrics}"
    );
}
