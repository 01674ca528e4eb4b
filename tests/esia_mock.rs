//! The ESIA mock as a relying party meets it: real HTTPS on an ephemeral port, reqwest
//! trusting the mock's generated CA, redirects not followed. Client secrets are real
//! GOST R 34.10-2012 signatures made by `openssl` with the GOST engine, or the Ed25519
//! demo signature. Stories: a full round trip each way, every ESIA error code provoked,
//! code reuse and expiry (manual clock), Bearer refusals, SSO and logout, each fault.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, FixedOffset, TimeDelta, Utc};
use esia_gateway::clock::{Clock, ManualClock};
use esia_gateway::standins::esia_mock::{
    self as mock, ClientRegistration, Delay, Faults, MockConfig, RunningMock, Status, Switch, Times,
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::StatusCode;
use serde_json::Value;

const CLIENT: &str = "DNEVNIK";
const REDIRECT: &str = "https://gw.test/esia/callback";
const REDIRECT_2: &str = "https://gw.test/esia/callback-2";
const LOGOUT_TO: &str = "https://gw.test/";
const SCOPE: &str = "openid fullname birthdate gender snils id_doc contacts";
const ISSUER: &str = "http://esia.gosuslugi.ru/";
const CONFIRMED_OID: u64 = 1000299681;

// ---------------------------------------------------------------- relying-party side

#[derive(Clone)]
enum Key {
    Gost {
        key: PathBuf,
    },
    /// PKCS#8 of an Ed25519 key.
    Ed(Vec<u8>),
}

/// The gateway's half of the protocol, as small as a test can make it.
#[derive(Clone)]
struct Rp {
    client_id: String,
    redirect_uri: String,
    scope: String,
    key: Key,
    cert_pem: String,
    hash: String,
    _dir: Arc<tempfile::TempDir>,
}

async fn openssl(args: &[&str], stdin: &[u8]) -> Vec<u8> {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new("openssl")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin).await.unwrap();
    drop(input);
    let out = child.wait_with_output().await.unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

impl Rp {
    /// A GOST R 34.10-2012 256 key and certificate, made the way the brief documents.
    async fn gost() -> Rp {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.pem");
        let cert = dir.path().join("cert.pem");
        let (k, c) = (key.to_str().unwrap(), cert.to_str().unwrap());
        openssl(
            &[
                "genpkey",
                "-engine",
                "gost",
                "-algorithm",
                "gost2012_256",
                "-pkeyopt",
                "paramset:A",
                "-out",
                k,
            ],
            b"",
        )
        .await;
        openssl(
            &[
                "req",
                "-engine",
                "gost",
                "-new",
                "-x509",
                "-key",
                k,
                "-subj",
                "/CN=test-rp",
                "-days",
                "30",
                "-out",
                c,
            ],
            b"",
        )
        .await;
        let cert_pem = std::fs::read_to_string(&cert).unwrap();
        let der = openssl(&["x509", "-in", c, "-outform", "der"], b"").await;
        Rp::new(Key::Gost { key }, cert_pem, &der, dir)
    }

    /// The built-in demo signer: an Ed25519 key in an rcgen certificate.
    fn ed25519() -> Rp {
        let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let cert = rcgen::CertificateParams::new(Vec::<String>::new())
            .unwrap()
            .self_signed(&kp)
            .unwrap();
        Rp::new(
            Key::Ed(kp.serialize_der()),
            cert.pem(),
            cert.der(),
            tempfile::tempdir().unwrap(),
        )
    }

    fn new(key: Key, cert_pem: String, der: &[u8], dir: tempfile::TempDir) -> Rp {
        Rp {
            client_id: CLIENT.into(),
            redirect_uri: REDIRECT.into(),
            scope: SCOPE.into(),
            key,
            cert_pem,
            hash: mock::certificate_hash(der),
            _dir: Arc::new(dir),
        }
    }

    async fn sign(&self, message: &str) -> String {
        let raw = match &self.key {
            Key::Gost { key } => {
                let k = key.to_str().unwrap();
                openssl(
                    &["dgst", "-engine", "gost", "-md_gost12_256", "-sign", k],
                    message.as_bytes(),
                )
                .await
            }
            Key::Ed(pkcs8) => ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
                .unwrap()
                .sign(message.as_bytes())
                .as_ref()
                .to_vec(),
        };
        URL_SAFE_NO_PAD.encode(raw)
    }

    fn registration(&self) -> ClientRegistration {
        let mut reg = ClientRegistration::with_certificate_pem(
            self.client_id.clone(),
            vec![REDIRECT.into(), REDIRECT_2.into()],
            self.cert_pem.clone(),
        );
        reg.logout_redirect_urls = vec![LOGOUT_TO.into()];
        reg
    }

    async fn ac_params(&self, state: &str, ts: &str) -> Vec<(String, String)> {
        let msg = format!(
            "{}{}{}{ts}{state}{}",
            self.client_id, self.scope, "", self.redirect_uri
        );
        let secret = self.sign(&msg).await;
        pairs(&[
            ("client_id", &self.client_id),
            ("client_secret", &secret),
            ("client_certificate_hash", &self.hash),
            ("redirect_uri", &self.redirect_uri),
            ("scope", &self.scope),
            ("scope_org", ""),
            ("response_type", "code"),
            ("state", state),
            ("timestamp", ts),
            ("access_type", "online"),
        ])
    }

    async fn te_params(&self, code: &str, state: &str, ts: &str) -> Vec<(String, String)> {
        let msg = format!(
            "{}{}{ts}{state}{}{code}",
            self.client_id, self.scope, self.redirect_uri
        );
        let secret = self.sign(&msg).await;
        pairs(&[
            ("client_id", &self.client_id),
            ("code", code),
            ("grant_type", "authorization_code"),
            ("client_certificate_hash", &self.hash),
            ("client_secret", &secret),
            ("state", state),
            ("redirect_uri", &self.redirect_uri),
            ("scope", &self.scope),
            ("scope_org", ""),
            ("timestamp", ts),
            ("token_type", "Bearer"),
        ])
    }
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn without(p: &[(String, String)], name: &str) -> Vec<(String, String)> {
    p.iter().filter(|(k, _)| k != name).cloned().collect()
}

fn with(p: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| {
            (
                k.clone(),
                if k == name {
                    value.to_string()
                } else {
                    v.clone()
                },
            )
        })
        .collect()
}

fn esia_ts(at: DateTime<Utc>) -> String {
    let msk = FixedOffset::east_opt(3 * 3600).unwrap();
    at.with_timezone(&msk)
        .format("%Y.%m.%d %H:%M:%S %z")
        .to_string()
}

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

// ---------------------------------------------------------------- environment

struct Env {
    mock: RunningMock,
    /// One browser with a cookie jar (keeps the mock's SSO cookie).
    http: reqwest::Client,
    ca: reqwest::Certificate,
    rp: Rp,
    clock: Arc<ManualClock>,
}

async fn env(rp: Rp, tweak: impl FnOnce(&mut MockConfig)) -> Env {
    let clock = ManualClock::new(Utc::now());
    let mut cfg = MockConfig::ephemeral();
    cfg.clients = vec![rp.registration()];
    cfg.accept_demo_signatures = true;
    cfg.clock = clock.clone();
    tweak(&mut cfg);
    let mock = mock::start(cfg).await.unwrap();
    let ca = reqwest::Certificate::from_pem(mock.ca_pem().unwrap().as_bytes()).unwrap();
    let http = browser(&ca);
    Env {
        mock,
        http,
        ca,
        rp,
        clock,
    }
}

/// A browser: trusts the mock's CA, keeps cookies, does not follow redirects.
fn browser(ca: &reqwest::Certificate) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(ca.clone())
        .tls_built_in_root_certs(false)
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap()
}

fn location(resp: &reqwest::Response) -> url::Url {
    let loc = resp
        .headers()
        .get("location")
        .expect("a redirect")
        .to_str()
        .unwrap();
    url::Url::parse(loc).unwrap()
}

fn query(url: &url::Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

impl Env {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.mock.base_url())
    }

    fn ts(&self) -> String {
        esia_ts(self.clock.now())
    }

    async fn ac(&self, params: &[(String, String)]) -> reqwest::Response {
        self.ac_in(&self.http, params).await
    }

    async fn ac_in(&self, b: &reqwest::Client, params: &[(String, String)]) -> reqwest::Response {
        b.get(self.url(mock::AC_PATH))
            .query(params)
            .send()
            .await
            .unwrap()
    }

    async fn signed_ac(&self, state: &str) -> reqwest::Response {
        let p = self.rp.ac_params(state, &self.ts()).await;
        self.ac(&p).await
    }

    async fn post_login(&self, pending: &str, persona: &str) -> reqwest::Response {
        self.post_login_in(&self.http, pending, persona).await
    }

    async fn post_login_in(
        &self,
        b: &reqwest::Client,
        pending: &str,
        persona: &str,
    ) -> reqwest::Response {
        b.post(self.url(mock::LOGIN_PATH))
            .form(&[("pending", pending), ("persona", persona)])
            .send()
            .await
            .unwrap()
    }

    /// /ac → login page → persona → the redirect back (asserted to go to redirect_uri),
    /// in a fresh browser so that no SSO session skips the login page.
    async fn login_as(&self, persona: &str, state: &str) -> HashMap<String, String> {
        self.login_in(&browser(&self.ca), persona, state).await
    }

    async fn login_in(
        &self,
        b: &reqwest::Client,
        persona: &str,
        state: &str,
    ) -> HashMap<String, String> {
        let p = self.rp.ac_params(state, &self.ts()).await;
        let page = self.ac_in(b, &p).await;
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        let pending = mock::pending_from_login_page(&html).expect("a login form");
        let back = self.post_login_in(b, &pending, persona).await;
        assert_eq!(back.status(), StatusCode::FOUND);
        let loc = location(&back);
        assert!(loc.as_str().starts_with(&self.rp.redirect_uri), "{loc}");
        query(&loc)
    }

    async fn code_for(&self, persona: &str) -> (String, String) {
        let state = uuid();
        let q = self.login_as(persona, &state).await;
        assert_eq!(q.get("state"), Some(&state));
        (q["code"].clone(), state)
    }

    async fn te(&self, form: &[(String, String)]) -> reqwest::Response {
        self.http
            .post(self.url(mock::TE_PATH))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    async fn exchange(&self, code: &str) -> (reqwest::Response, String) {
        let state = uuid();
        let form = self.rp.te_params(code, &state, &self.ts()).await;
        (self.te(&form).await, state)
    }

    async fn tokens_for(&self, persona: &str) -> Value {
        let (code, _) = self.code_for(persona).await;
        let (resp, state) = self.exchange(&code).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["state"], state.as_str());
        body
    }

    async fn rs(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.http.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    async fn decoding_key(&self) -> DecodingKey {
        let pem = self
            .http
            .get(self.url(mock::TOKEN_CERT_PATH))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(pem, self.mock.token_cert_pem());
        decoding_key_from_cert(&pem)
    }
}

fn decoding_key_from_cert(pem: &str) -> DecodingKey {
    use rustls::pki_types::pem::PemObject;
    let der = rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    DecodingKey::from_rsa_der(&cert.public_key().subject_public_key.data)
}

fn header_json(jwt: &str) -> Value {
    let h = jwt.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap()
}

fn verify_access(token: &str, key: &DecodingKey) -> jsonwebtoken::errors::Result<Value> {
    let mut v = Validation::new(Algorithm::RS256);
    v.set_issuer(&[ISSUER]);
    v.validate_aud = false;
    v.leeway = 60;
    jsonwebtoken::decode::<Value>(token, key, &v).map(|d| d.claims)
}

fn verify_id(token: &str, key: &DecodingKey) -> jsonwebtoken::errors::Result<Value> {
    let mut v = Validation::new(Algorithm::RS256);
    v.set_issuer(&[ISSUER]);
    v.set_audience(&[CLIENT]);
    v.leeway = 60;
    jsonwebtoken::decode::<Value>(token, key, &v).map(|d| d.claims)
}

fn assert_error_redirect(
    resp: &reqwest::Response,
    code: &str,
    oauth: &str,
    state: Option<&str>,
) -> String {
    assert_eq!(
        resp.status(),
        StatusCode::FOUND,
        "expected a redirect for {code}"
    );
    let loc = location(resp);
    assert!(loc.as_str().starts_with(REDIRECT), "{loc}");
    let q = query(&loc);
    assert!(!q.contains_key("code"));
    assert_eq!(q.get("error").map(String::as_str), Some(oauth), "{loc}");
    let desc = q.get("error_description").cloned().unwrap_or_default();
    assert_eq!(desc.get(..11), Some(code), "{desc}");
    assert_eq!(q.get("state").map(String::as_str), state);
    desc
}

async fn assert_error_page(resp: reqwest::Response, code: &str) {
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.headers().get("location").is_none());
    let html = resp.text().await.unwrap();
    assert!(html.contains(code), "{html}");
    assert!(html.contains("Ошибка"));
}

async fn assert_te_error(resp: reqwest::Response, code: &str, oauth: &str) -> Value {
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], oauth, "{body}");
    let desc = body["error_description"].as_str().unwrap_or_default();
    assert_eq!(desc.get(..11), Some(code), "{body}");
    body
}

// ---------------------------------------------------------------- round trips

#[tokio::test]
async fn gost_round_trip_gives_verifiable_tokens_and_person_data() {
    let e = env(Rp::gost().await, |c| c.accept_demo_signatures = false).await;
    // The mock's hash is OpenSSL's Streebog-256 over the DER.
    let cert = e.rp._dir.path().join("cert.pem");
    let der = openssl(
        &["x509", "-in", cert.to_str().unwrap(), "-outform", "der"],
        b"",
    )
    .await;
    let digest = String::from_utf8(
        openssl(&["dgst", "-engine", "gost", "-md_gost12_256", "-r"], &der).await,
    )
    .unwrap();
    assert!(digest.starts_with(&e.rp.hash), "{digest} vs {}", e.rp.hash);

    let tokens = e.tokens_for("confirmed").await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    assert!(
        tokens["refresh_token"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    let key = e.decoding_key().await;

    let access = tokens["access_token"].as_str().unwrap();
    let h = header_json(access);
    assert_eq!(
        (h["alg"].as_str(), h["typ"].as_str(), h["sbt"].as_str()),
        (Some("RS256"), Some("JWT"), Some("access"))
    );
    assert_eq!(h["ver"], 1);
    let a = verify_access(access, &key).unwrap();
    assert_eq!(a["iss"], ISSUER);
    assert_eq!(a["client_id"], CLIENT);
    assert_eq!(a["urn:esia:sbj_id"], CONFIRMED_OID);
    assert!(a.get("aud").is_none());
    assert!(a["urn:esia:sid"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(
        a["scope"]
            .as_str()
            .unwrap()
            .starts_with("openid fullname?oid=1000299681 ")
    );
    for claim in ["nbf", "iat", "exp"] {
        assert!(a[claim].is_i64(), "{claim}");
    }

    let id = tokens["id_token"].as_str().unwrap();
    assert_eq!(header_json(id)["sbt"], "id");
    let i = verify_id(id, &key).unwrap();
    assert_eq!(i["sub"], CONFIRMED_OID);
    assert_eq!(i["amr"], "PWD");
    assert!(i["auth_time"].is_i64());
    assert_eq!(i["urn:esia:sid"], a["urn:esia:sid"]);
    let sbj = &i["urn:esia:sbj"];
    assert_eq!(sbj["urn:esia:sbj:typ"], "P");
    assert_eq!(sbj["urn:esia:sbj:oid"], CONFIRMED_OID);
    assert_eq!(sbj["urn:esia:sbj:is_tru"], true);
    assert_eq!(sbj["urn:esia:sbj:lvl"], "PR");

    let p: Value = e
        .rs(&format!("/rs/prns/{CONFIRMED_OID}"), Some(access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            p["lastName"].as_str(),
            p["firstName"].as_str(),
            p["middleName"].as_str()
        ),
        (Some("Иванова"), Some("Мария"), Some("Ивановна"))
    );
    assert_eq!(p["trusted"], true);
    assert_eq!(p["status"], "REGISTERED");
    assert_eq!(p["birthDate"], "14.03.1984");
    assert_eq!(p["snils"], "112-233-445 95");
    assert!(p["eTag"].is_string() && p["verifying"].is_boolean());

    let docs: Value = e
        .rs(
            &format!("/rs/prns/{CONFIRMED_OID}/docs?embed=(elements)"),
            Some(access),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(docs["stateFacts"][0], "hasSize");
    assert_eq!(docs["size"], 1);
    assert_eq!(docs["elements"][0]["id"], p["rIdDoc"]);
    assert_eq!(docs["elements"][0]["type"], "RF_PASSPORT");
    assert_eq!(docs["elements"][0]["vrfStu"], "VERIFIED");
    let ctts: Value = e
        .rs(
            &format!("/rs/prns/{CONFIRMED_OID}/ctts?embed=(elements)"),
            Some(access),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ctts["size"], 2);
    assert_eq!(ctts["elements"][0]["type"], "EML");
    assert!(ctts["elements"][1]["value"].is_string());

    let s = e.mock.state();
    assert_eq!((s.codes_issued, s.tokens_issued), (1, 1));
    assert!(s.errors.is_empty(), "{:?}", s.errors);
}

#[tokio::test]
async fn demo_signature_round_trip_gives_standard_level_signals() {
    let e = env(Rp::ed25519(), |_| {}).await;
    let tokens = e.tokens_for("standard").await;
    let key = e.decoding_key().await;
    let i = verify_id(tokens["id_token"].as_str().unwrap(), &key).unwrap();
    assert_eq!(i["urn:esia:sbj"]["urn:esia:sbj:is_tru"], false);
    assert_eq!(i["urn:esia:sbj"]["urn:esia:sbj:lvl"], "P");
    let oid = i["sub"].as_u64().unwrap();
    let access = tokens["access_token"].as_str().unwrap();

    let p: Value = e
        .rs(&format!("/rs/prns/{oid}"), Some(access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(p["trusted"], false);
    let rid = p["rIdDoc"].as_u64().unwrap();
    // Without embed the collection lists absolute URLs; each URL answers the item.
    let docs: Value = e
        .rs(&format!("/rs/prns/{oid}/docs"), Some(access))
        .await
        .json()
        .await
        .unwrap();
    let first = docs["elements"][0].as_str().unwrap();
    assert_eq!(
        first,
        format!("{}/rs/prns/{oid}/docs/{rid}", e.mock.base_url())
    );
    let item: Value = e
        .http
        .get(first)
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            item["id"].as_u64(),
            item["type"].as_str(),
            item["vrfStu"].as_str()
        ),
        (Some(rid), Some("RF_PASSPORT"), Some("VERIFIED"))
    );
}

#[tokio::test]
async fn child_simplified_and_deleted_personas_carry_their_signals() {
    let e = env(Rp::ed25519(), |_| {}).await;
    let key = e.decoding_key().await;
    let child = e.tokens_for("child").await;
    let i = verify_id(child["id_token"].as_str().unwrap(), &key).unwrap();
    assert_eq!(i["urn:esia:sbj"]["urn:esia:sbj:lvl"], "KD");

    let simple = e.tokens_for("simplified").await;
    let i = verify_id(simple["id_token"].as_str().unwrap(), &key).unwrap();
    let oid = i["sub"].as_u64().unwrap();
    let access = simple["access_token"].as_str().unwrap();
    let p: Value = e
        .rs(&format!("/rs/prns/{oid}"), Some(access))
        .await
        .json()
        .await
        .unwrap();
    assert!(p.get("rIdDoc").is_none());
    let docs: Value = e
        .rs(&format!("/rs/prns/{oid}/docs"), Some(access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(docs["size"], 0);

    // The mock still issues tokens for a deleted account; refusing is the gateway's job.
    let deleted = e.tokens_for("deleted").await;
    let i = verify_id(deleted["id_token"].as_str().unwrap(), &key).unwrap();
    let oid = i["sub"].as_u64().unwrap();
    let p: Value = e
        .rs(&format!("/rs/prns/{oid}"), deleted["access_token"].as_str())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(p["status"], "DELETED");
}

// ---------------------------------------------------------------- /ac refusals

#[tokio::test]
async fn unknown_client_and_unregistered_redirect_get_an_error_page_not_a_redirect() {
    let e = env(Rp::ed25519(), |_| {}).await;
    let p = e.rp.ac_params(&uuid(), &e.ts()).await;
    assert_error_page(
        e.ac(&with(&p, "client_id", "STRANGER")).await,
        "ESIA-007002",
    )
    .await;
    assert_error_page(
        e.ac(&with(&p, "redirect_uri", "https://evil.test/cb"))
            .await,
        "ESIA-007023",
    )
    .await;
    // Near misses of a registered URL are not registered either.
    for near in [
        "https://gw.test/esia/callback/",
        "https://gw.test/esia/callback?x=1",
        "http://gw.test/esia/callback",
        "https://GW.test/esia/callbac",
    ] {
        assert_error_page(e.ac(&with(&p, "redirect_uri", near)).await, "ESIA-007023").await;
    }
    assert_error_page(e.ac(&without(&p, "client_id")).await, "ESIA-007014").await;
    assert_error_page(e.ac(&without(&p, "redirect_uri")).await, "ESIA-007014").await;
    let mut dup = p.clone();
    dup.push(("state".into(), uuid()));
    assert_error_page(e.ac(&dup).await, "ESIA-007003").await;
    assert_eq!(e.mock.state().login_pages, 0);
}

#[tokio::test]
async fn each_missing_parameter_is_refused_with_007014_naming_it() {
    let e = env(Rp::ed25519(), |_| {}).await;
    let state = uuid();
    let p = e.rp.ac_params(&state, &e.ts()).await;
    for name in [
        "client_secret",
        "client_certificate_hash",
        "scope",
        "response_type",
        "timestamp",
        "access_type",
    ] {
        let resp = e.ac(&without(&p, name)).await;
        let desc = assert_error_redirect(&resp, "ESIA-007014", "invalid_request", Some(&state));
        assert!(desc.contains(&format!("[{name}]")), "{desc}");
        let resp = e.ac(&with(&p, name, "")).await;
        assert_error_redirect(&resp, "ESIA-007014", "invalid_request", Some(&state));
    }
    let resp = e.ac(&without(&p, "state")).await;
    assert_error_redirect(&resp, "ESIA-007014", "invalid_request", None);
}

#[tokio::test]
async fn bad_values_are_refused_before_the_signature_is_checked() {
    let e = env(Rp::ed25519(), |_| {}).await;
    let state = uuid();
    let p = e.rp.ac_params(&state, &e.ts()).await;
    let s = Some(state.as_str());
    assert_error_redirect(
        &e.ac(&with(&p, "response_type", "token")).await,
        "ESIA-007012",
        "unsupported_response_type",
        s,
    );
    assert_error_redirect(
        &e.ac(&with(&p, "access_type", "forever")).await,
        "ESIA-007003",
        "invalid_request",
        s,
    );
    assert_error_redirect(
        &e.ac(&with(&p, "scope", "fullname")).await,
        "ESIA-007006",
        "invalid_scope",
        s,
    );
    assert_error_redirect(
        &e.ac(&with(&p, "state", "not-a-uuid")).await,
        "ESIA-007003",
        "invalid_request",
        Some("not-a-uuid"),
    );
}

#[tokio::test]
async fn unknown_certificate_hash_is_007005() {
    let e = env(Rp::ed25519(), |_| {}).await;
    let state = uuid();
    let p = e.rp.ac_params(&state, &e.ts()).await;
    let other = Rp::ed25519();
    for hash in [other.hash.as_str(), "00", "zz"] {
        let resp = e.ac(&with(&p, "client_certificate_hash", hash)).await;
        assert_error_redirect(&resp, "ESIA-007005", "unauthorized_client", Some(&state));
    }
    // The hash is compared case-insensitively.
    let upper = e
        .ac(&with(
            &p,
            "client_certificate_hash",
            &e.rp.hash.to_uppercase(),
        ))
        .await;
    assert_eq!(upper.status(), StatusCode::OK);
}

#[tokio::test]
async fn timestamps_outside_the_window_or_format_are_007015() {
    let e = env(Rp::ed25519(), |_| {}).await;
    let now = e.clock.now();
    for ts in [
        esia_ts(now - TimeDelta::minutes(6)),
        esia_ts(now + TimeDelta::minutes(6)),
        now.format("%Y-%m-%d %H:%M:%S %z").to_string(),
        esia_ts(now).replace('+', " "),
        "yesterday".to_string(),
    ] {
        let state = uuid();
        // Signed correctly over the bad timestamp: only the time is wrong.
        let p = e.rp.ac_params(&state, &ts).await;
        assert_error_redirect(
            &e.ac(&p).await,
            "ESIA-007015",
            "invalid_request",
            Some(&state),
        );
    }
    let state = uuid();
    let p =
        e.rp.ac_params(&state, &esia_ts(now - TimeDelta::minutes(4)))
            .await;
    assert_eq!(e.ac(&p).await.status(), StatusCode::OK, "inside the window");
}

#[tokio::test]
async fn client_secret_must_verify_over_the_exact_string() {
    let e = env(Rp::ed25519(), |_| {}).await;
    let state = uuid();
    let ts = e.ts();
    let p = e.rp.ac_params(&state, &ts).await;
    let s = Some(state.as_str());
    // Tampered: the signature was made for another state.
    let other = e.rp.ac_params(&uuid(), &ts).await;
    let stolen = other
        .iter()
        .find(|(k, _)| k == "client_secret")
        .unwrap()
        .1
        .clone();
    assert_error_redirect(
        &e.ac(&with(&p, "client_secret", &stolen)).await,
        "ESIA-007053",
        "invalid_client",
        s,
    );
    // Changing a signed value after signing.
    assert_error_redirect(
        &e.ac(&with(&p, "scope", "openid fullname")).await,
        "ESIA-007053",
        "invalid_client",
        s,
    );
    assert_error_redirect(
        &e.ac(&with(&p, "scope_org", "x")).await,
        "ESIA-007053",
        "invalid_client",
        s,
    );
    // Wrong key: an impostor signs with its own key but sends our hash.
    let impostor = Rp::ed25519();
    let forged = impostor.ac_params(&state, &ts).await;
    let forged_secret = forged
        .iter()
        .find(|(k, _)| k == "client_secret")
        .unwrap()
        .1
        .clone();
    assert_error_redirect(
        &e.ac(&with(&p, "client_secret", &forged_secret)).await,
        "ESIA-007053",
        "invalid_client",
        s,
    );
    // Garbage and wrong lengths.
    for junk in [
        "***",
        "AAAA",
        &URL_SAFE_NO_PAD.encode([0u8; 64]),
        &URL_SAFE_NO_PAD.encode([7u8; 65]),
    ] {
        assert_error_redirect(
            &e.ac(&with(&p, "client_secret", junk)).await,
            "ESIA-007053",
            "invalid_client",
            s,
        );
    }
    // Padded base64url and standard base64 of the right signature are accepted.
    let good = p
        .iter()
        .find(|(k, _)| k == "client_secret")
        .unwrap()
        .1
        .clone();
    let raw = URL_SAFE_NO_PAD.decode(&good).unwrap();
    for enc in [
        base64::engine::general_purpose::URL_SAFE.encode(&raw),
        base64::engine::general_purpose::STANDARD.encode(&raw),
    ] {
        assert_eq!(
            e.ac(&with(&p, "client_secret", &enc)).await.status(),
            StatusCode::OK,
            "{enc}"
        );
    }
}

#[tokio::test]
async fn gost_signature_over_a_tampered_string_is_007053() {
    let e = env(Rp::gost().await, |_| {}).await;
    let state = uuid();
    let ts = e.ts();
    let p = e.rp.ac_params(&state, &ts).await;
    assert_error_redirect(
        &e.ac(&with(&p, "redirect_uri", REDIRECT_2)).await,
        "ESIA-007053",
        "invalid_client",
        Some(&state),
    );
    let other = e.rp.ac_params(&uuid(), &ts).await;
    let stolen = other
        .iter()
        .find(|(k, _)| k == "client_secret")
        .unwrap()
        .1
        .clone();
    assert_error_redirect(
        &e.ac(&with(&p, "client_secret", &stolen)).await,
        "ESIA-007053",
        "invalid_client",
        Some(&state),
    );
    assert_eq!(e.ac(&p).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn demo_signature_is_refused_unless_the_config_accepts_it() {
    let e = env(Rp::ed25519(), |c| c.accept_demo_signatures = false).await;
    let state = uuid();
    let resp = e.signed_ac(&state).await;
    assert_error_redirect(&resp, "ESIA-007053", "invalid_client", Some(&state));
}

#[tokio::test]
async fn declining_returns_007004_and_unconfirmed_accounts_can_be_refused_with_007055() {
    let e = env(Rp::ed25519(), |c| c.clients[0].require_confirmed = true).await;
    let state = uuid();
    let html = e.signed_ac(&state).await.text().await.unwrap();
    assert!(
        html.contains("Вход")
            && html.contains("для портала Госуслуг")
            && html.contains("Отказаться")
    );
    let pending = mock::pending_from_login_page(&html).unwrap();
    let resp = e.post_login(&pending, "decline").await;
    assert_error_redirect(&resp, "ESIA-007004", "access_denied", Some(&state));
    // The pending authorization is used up.
    let again = e.post_login(&pending, "confirmed").await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);

    for persona in ["simplified", "standard", "child"] {
        let state = uuid();
        let html = e.signed_ac(&state).await.text().await.unwrap();
        let pending = mock::pending_from_login_page(&html).unwrap();
        let resp = e.post_login(&pending, persona).await;
        assert_error_redirect(&resp, "ESIA-007055", "access_denied", Some(&state));
        e.http
            .get(e.url(mock::LOGOUT_PATH))
            .query(&[("client_id", CLIENT)])
            .send()
            .await
            .unwrap();
    }
    let (code, _) = e.code_for("confirmed").await;
    assert!(!code.is_empty());
}

#[tokio::test]
async fn the_login_form_trusts_nothing_but_the_pending_id() {
    let e = env(Rp::ed25519(), |_| {}).await;
    let html = e.signed_ac(&uuid()).await.text().await.unwrap();
    let pending = mock::pending_from_login_page(&html).unwrap();
    assert_eq!(
        e.post_login("forged", "confirmed").await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        e.post_login(&pending, "nobody").await.status(),
        StatusCode::BAD_REQUEST
    );
    // A redirect_uri smuggled into the form is ignored.
    let resp = e
        .http
        .post(e.url(mock::LOGIN_PATH))
        .form(&[
            ("pending", pending.as_str()),
            ("persona", "confirmed"),
            ("redirect_uri", "https://evil.test/"),
        ])
        .send()
        .await
        .unwrap();
    assert!(location(&resp).as_str().starts_with(REDIRECT));
    assert_eq!(e.mock.state().codes_issued, 1);
}

// ---------------------------------------------------------------- /te refusals

#[tokio::test]
async fn a_code_is_single_use() {
    let e = env(Rp::ed25519(), |_| {}).await;
    let (code, _) = e.code_for("confirmed").await;
    let (first, _) = e.exchange(&code).await;
    assert_eq!(first.status(), StatusCode::OK);
    let (second, state) = e.exchange(&code).await;
    let body = assert_te_error(second, "ESIA-007011", "invalid_grant").await;
    assert_eq!(body["state"], state.as_str());
    let (unknown, _) = e.exchange("eyJhbGciOiJSUzI1NiJ9.e30.forged").await;
    assert_te_error(unknown, "ESIA-007011", "invalid_grant").await;
}

#[tokio::test]
async fn a_code_expires_after_240_seconds() {
    let e = env(Rp::ed25519(), |_| {}).await;
    let (code, _) = e.code_for("confirmed").await;
    e.clock.advance(TimeDelta::seconds(239));
    let (fresh, _) = e.exchange(&code).await;
    assert_eq!(fresh.status(), StatusCode::OK, "still valid at 239 s");

    let (code, _) = e.code_for("confirmed").await;
    e.clock.advance(TimeDelta::seconds(241));
    let (late, _) = e.exchange(&code).await;
    assert_te_error(late, "ESIA-007011", "invalid_grant").await;
}

#[tokio::test]
async fn a_code_is_bound_to_its_client_redirect_uri_and_scope() {
    let mut other_rp = Rp::ed25519();
    other_rp.client_id = "OTHER".into();
    let other_reg = other_rp.registration();
    let e = env(Rp::ed25519(), move |c| c.clients.push(other_reg)).await;

    let (code, _) = e.code_for("confirmed").await;
    let state = uuid();
    let form = other_rp.te_params(&code, &state, &e.ts()).await;
    assert_te_error(e.te(&form).await, "ESIA-007011", "invalid_grant").await;

    let (code, _) = e.code_for("confirmed").await;
    // Same client and key, but the redirect_uri differs from the one in /ac.
    let rp2 = Rp {
        redirect_uri: REDIRECT_2.into(),
        ..e.rp.clone()
    };
    let form = rp2.te_params(&code, &uuid(), &e.ts()).await;
    assert_te_error(e.te(&form).await, "ESIA-007011", "invalid_grant").await;

    let (code, _) = e.code_for("confirmed").await;
    let rp3 = Rp {
        scope: "openid fullname".into(),
        ..e.rp.clone()
    };
    let form = rp3.te_params(&code, &uuid(), &e.ts()).await;
    assert_te_error(e.te(&form).await, "ESIA-007011", "invalid_grant").await;
}

#[tokio::test]
async fn te_checks_every_parameter_and_answers_json_400() {
    let e = env(Rp::ed25519(), |_| {}).await;
    let (code, _) = e.code_for("confirmed").await;
    let state = uuid();
    let form = e.rp.te_params(&code, &state, &e.ts()).await;
    for name in [
        "code",
        "grant_type",
        "client_certificate_hash",
        "client_secret",
        "state",
        "redirect_uri",
        "scope",
        "timestamp",
        "token_type",
    ] {
        let body = assert_te_error(
            e.te(&without(&form, name)).await,
            "ESIA-007014",
            "invalid_request",
        )
        .await;
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains(&format!("[{name}]")),
            "{body}"
        );
    }
    assert_te_error(
        e.te(&without(&form, "client_id")).await,
        "ESIA-007014",
        "invalid_request",
    )
    .await;
    assert_te_error(
        e.te(&with(&form, "client_id", "STRANGER")).await,
        "ESIA-007002",
        "invalid_client",
    )
    .await;
    assert_te_error(
        e.te(&with(&form, "grant_type", "password")).await,
        "ESIA-007012",
        "unsupported_response_type",
    )
    .await;
    assert_te_error(
        e.te(&with(&form, "token_type", "Mac")).await,
        "ESIA-007003",
        "invalid_request",
    )
    .await;
    assert_te_error(
        e.te(&with(&form, "redirect_uri", "https://evil.test/"))
            .await,
        "ESIA-007023",
        "invalid_request",
    )
    .await;
    assert_te_error(
        e.te(&with(&form, "client_certificate_hash", &"0".repeat(64)))
            .await,
        "ESIA-007005",
        "unauthorized_client",
    )
    .await;
    let old = esia_ts(e.clock.now() - TimeDelta::minutes(10));
    let stale = e.rp.te_params(&code, &state, &old).await;
    assert_te_error(e.te(&stale).await, "ESIA-007015", "invalid_request").await;
    // The secret of /te covers the code: a secret made for another code fails.
    let other = e.rp.te_params("another-code", &state, &e.ts()).await;
    let secret = other
        .iter()
        .find(|(k, _)| k == "client_secret")
        .unwrap()
        .1
        .clone();
    let body = assert_te_error(
        e.te(&with(&form, "client_secret", &secret)).await,
        "ESIA-007053",
        "invalid_client",
    )
    .await;
    assert_eq!(body["state"], state.as_str());
    let mut dup = form.clone();
    dup.push(("code".into(), code.clone()));
    assert_te_error(e.te(&dup).await, "ESIA-007003", "invalid_request").await;
    // None of the refusals above used the code up.
    assert_eq!(e.te(&form).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn te_wants_a_fresh_state_not_the_one_from_ac() {
    let e = env(Rp::ed25519(), |_| {}).await;
    let (code, ac_state) = e.code_for("confirmed").await;
    let form = e.rp.te_params(&code, &ac_state, &e.ts()).await;
    let body = assert_te_error(e.te(&form).await, "ESIA-007003", "invalid_request").await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("fresh")
    );
}

#[tokio::test]
async fn te_verifies_gost_secrets_over_the_string_with_the_code() {
    let e = env(Rp::gost().await, |_| {}).await;
    let (code, _) = e.code_for("standard").await;
    let state = uuid();
    let form = e.rp.te_params(&code, &state, &e.ts()).await;
    // The same signature with a different code in the form no longer verifies.
    assert_te_error(
        e.te(&with(&form, "code", "x")).await,
        "ESIA-007053",
        "invalid_client",
    )
    .await;
    assert_eq!(e.te(&form).await.status(), StatusCode::OK);
}

// ---------------------------------------------------------------- Bearer

#[tokio::test]
async fn person_endpoints_want_a_live_token_for_that_person_and_scope() {
    let mut narrow = Rp::ed25519();
    narrow.scope = "openid fullname".into();
    let e = env(narrow, |_| {}).await;
    let tokens = e.tokens_for("confirmed").await;
    let access = tokens["access_token"].as_str().unwrap();
    let me = format!("/rs/prns/{CONFIRMED_OID}");
    assert_eq!(e.rs(&me, Some(access)).await.status(), StatusCode::OK);

    let no_token = e.rs(&me, None).await;
    assert_eq!(no_token.status(), StatusCode::UNAUTHORIZED);
    assert!(no_token.headers().get("www-authenticate").is_some());
    assert_eq!(
        e.rs(&me, Some("garbage")).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let mut tampered = access.to_string();
    tampered.push('x');
    assert_eq!(
        e.rs(&me, Some(&tampered)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let basic = e
        .http
        .get(e.url(&me))
        .header("authorization", format!("Basic {access}"))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);

    assert_eq!(
        e.rs("/rs/prns/1000299682", Some(access)).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        e.rs(&format!("{me}/docs"), Some(access)).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        e.rs(&format!("{me}/ctts?embed=(elements)"), Some(access))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        e.rs(&format!("{me}/kids/x/y"), Some(access)).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        e.rs("/rs/prns/not-a-number", Some(access)).await.status(),
        StatusCode::NOT_FOUND
    );

    e.clock.advance(TimeDelta::seconds(3601));
    assert_eq!(
        e.rs(&me, Some(access)).await.status(),
        StatusCode::UNAUTHORIZED,
        "expired"
    );
}

#[tokio::test]
async fn email_scope_shows_only_email_contacts() {
    let mut rp = Rp::ed25519();
    rp.scope = "openid email".into();
    let e = env(rp, |_| {}).await;
    let tokens = e.tokens_for("confirmed").await;
    let access = tokens["access_token"].as_str();
    let me = format!("/rs/prns/{CONFIRMED_OID}");
    let ctts: Value = e
        .rs(&format!("{me}/ctts?embed=(elements)"), access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ctts["size"], 1);
    assert_eq!(ctts["elements"][0]["type"], "EML");
    // No person scope was asked for: the record itself is forbidden.
    assert_eq!(e.rs(&me, access).await.status(), StatusCode::FORBIDDEN);
}

// ---------------------------------------------------------------- SSO and logout

#[tokio::test]
async fn logout_ends_the_sso_session_and_redirects_only_to_registered_urls() {
    let e = env(Rp::ed25519(), |_| {}).await;
    e.login_in(&e.http, "confirmed", &uuid()).await;
    assert_eq!(e.mock.state().sso_sessions, 1);
    // A second /ac from the same browser gets its code at once.
    let state = uuid();
    let resp = e.signed_ac(&state).await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    let q = query(&location(&resp));
    assert!(q.contains_key("code"));
    assert_eq!(q.get("state"), Some(&state));

    let bye = e
        .http
        .get(e.url(mock::LOGOUT_PATH))
        .query(&[("client_id", CLIENT), ("redirect_url", LOGOUT_TO)])
        .send()
        .await
        .unwrap();
    assert_eq!(bye.status(), StatusCode::FOUND);
    assert_eq!(location(&bye).as_str(), LOGOUT_TO);
    let s = e.mock.state();
    assert_eq!((s.logouts, s.sso_sessions), (1, 0));
    assert_eq!(
        s.last_logout
            .unwrap()
            .get("redirect_url")
            .map(String::as_str),
        Some(LOGOUT_TO)
    );
    // Signed out: the login page again.
    assert_eq!(e.signed_ac(&uuid()).await.status(), StatusCode::OK);

    for (client, target, code) in [
        (CLIENT, "https://evil.test/", "ESIA-007023"),
        (CLIENT, "https://gw.test", "ESIA-007023"),
        ("STRANGER", LOGOUT_TO, "ESIA-007002"),
    ] {
        let resp = e
            .http
            .get(e.url(mock::LOGOUT_PATH))
            .query(&[("client_id", client), ("redirect_url", target)])
            .send()
            .await
            .unwrap();
        assert_error_page(resp, code).await;
    }
    // A registered redirect_uri is also a valid logout target.
    let resp = e
        .http
        .get(e.url(mock::LOGOUT_PATH))
        .query(&[("client_id", CLIENT), ("redirect_url", REDIRECT)])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&resp).as_str(), REDIRECT);
}

#[tokio::test]
async fn a_refused_logout_still_ends_the_session() {
    let e = env(Rp::ed25519(), |_| {}).await;
    e.login_in(&e.http, "confirmed", &uuid()).await;
    let resp = e
        .http
        .get(e.url(mock::LOGOUT_PATH))
        .query(&[
            ("client_id", CLIENT),
            ("redirect_url", "https://evil.test/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(e.mock.state().sso_sessions, 0);
}

// ---------------------------------------------------------------- faults

fn once() -> Option<Switch> {
    Some(Switch {
        times: Times::Next(1),
    })
}

#[tokio::test]
async fn te_5xx_fault_leaves_the_code_usable_and_wears_off() {
    let e = env(Rp::ed25519(), |c| {
        c.faults.te_status = Some(Status {
            status: 503,
            times: Times::Next(1),
        });
    })
    .await;
    let (code, _) = e.code_for("confirmed").await;
    let (first, _) = e.exchange(&code).await;
    assert_eq!(first.status(), StatusCode::SERVICE_UNAVAILABLE);
    let (second, _) = e.exchange(&code).await;
    assert_eq!(second.status(), StatusCode::OK);
}

#[tokio::test]
async fn te_delay_fault_makes_an_impatient_client_time_out() {
    let e = env(Rp::ed25519(), |_| {}).await;
    e.mock.set_faults(Faults {
        te_delay: Some(Delay {
            ms: 30_000,
            times: Times::Next(1),
        }),
        ..Faults::default()
    });
    let (code, _) = e.code_for("confirmed").await;
    let form = e.rp.te_params(&code, &uuid(), &e.ts()).await;
    let err = e
        .http
        .post(e.url(mock::TE_PATH))
        .form(&form)
        .timeout(std::time::Duration::from_millis(300))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert_eq!(e.mock.state().te_requests, 1);
}

#[tokio::test]
async fn malformed_json_and_wrong_state_faults_show_in_the_te_answer() {
    let e = env(Rp::ed25519(), |_| {}).await;
    e.mock.set_faults(Faults {
        te_malformed_json: once(),
        ..Faults::default()
    });
    let (code, _) = e.code_for("confirmed").await;
    let (resp, _) = e.exchange(&code).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(serde_json::from_str::<Value>(&resp.text().await.unwrap()).is_err());

    e.mock.set_faults(Faults {
        wrong_state: once(),
        ..Faults::default()
    });
    let (code, _) = e.code_for("confirmed").await;
    let (resp, state) = e.exchange(&code).await;
    let body: Value = resp.json().await.unwrap();
    assert_ne!(body["state"], state.as_str());
    // Worn off: the next exchange echoes the right state.
    let tokens = e.tokens_for("confirmed").await;
    assert!(tokens["access_token"].is_string());
}

#[tokio::test]
async fn token_faults_break_exactly_the_check_they_target() {
    let e = env(Rp::ed25519(), |_| {}).await;
    let key = e.decoding_key().await;
    use jsonwebtoken::errors::ErrorKind;

    e.mock.set_faults(Faults {
        expired_tokens: once(),
        ..Faults::default()
    });
    let t = e.tokens_for("confirmed").await;
    let err = verify_id(t["id_token"].as_str().unwrap(), &key).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::ExpiredSignature);
    let access = t["access_token"].as_str();
    assert_eq!(
        e.rs(&format!("/rs/prns/{CONFIRMED_OID}"), access)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );

    e.mock.set_faults(Faults {
        bad_token_signature: once(),
        ..Faults::default()
    });
    let t = e.tokens_for("confirmed").await;
    let err = verify_access(t["access_token"].as_str().unwrap(), &key).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::InvalidSignature);

    e.mock.set_faults(Faults {
        wrong_iss: once(),
        ..Faults::default()
    });
    let t = e.tokens_for("confirmed").await;
    let err = verify_id(t["id_token"].as_str().unwrap(), &key).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::InvalidIssuer);

    e.mock.set_faults(Faults {
        wrong_aud: once(),
        ..Faults::default()
    });
    let t = e.tokens_for("confirmed").await;
    let err = verify_id(t["id_token"].as_str().unwrap(), &key).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::InvalidAudience);

    e.mock.set_faults(Faults {
        alg_none: once(),
        ..Faults::default()
    });
    let t = e.tokens_for("confirmed").await;
    let id = t["id_token"].as_str().unwrap();
    assert_eq!(header_json(id)["alg"], "none");
    assert!(id.ends_with('.'));
    assert!(verify_id(id, &key).is_err());

    // All worn off.
    let t = e.tokens_for("confirmed").await;
    verify_id(t["id_token"].as_str().unwrap(), &key).unwrap();
    verify_access(t["access_token"].as_str().unwrap(), &key).unwrap();
}

#[tokio::test]
async fn rs_faults_show_on_person_requests() {
    let e = env(Rp::ed25519(), |_| {}).await;
    let t = e.tokens_for("confirmed").await;
    let access = t["access_token"].as_str();
    let me = format!("/rs/prns/{CONFIRMED_OID}");
    e.mock.set_faults(Faults {
        rs_status: Some(Status {
            status: 502,
            times: Times::Next(1),
        }),
        rs_malformed_json: once(),
        ..Faults::default()
    });
    assert_eq!(e.rs(&me, access).await.status(), StatusCode::BAD_GATEWAY);
    let broken = e.rs(&me, access).await;
    assert_eq!(broken.status(), StatusCode::OK);
    assert!(serde_json::from_str::<Value>(&broken.text().await.unwrap()).is_err());
    assert_eq!(e.rs(&me, access).await.status(), StatusCode::OK);

    e.mock.set_faults(Faults {
        rs_delay: Some(Delay {
            ms: 30_000,
            times: Times::Always,
        }),
        ..Faults::default()
    });
    let err = e
        .http
        .get(e.url(&me))
        .bearer_auth(access.unwrap())
        .timeout(std::time::Duration::from_millis(300))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
}

#[tokio::test]
async fn control_api_sets_faults_and_reports_state_only_when_enabled() {
    let e = env(Rp::ed25519(), |c| c.control_api = true).await;
    let resp = e
        .http
        .post(e.url("/mock/faults"))
        .body(r#"{"te_status":{"status":500,"times":1}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let (code, _) = e.code_for("confirmed").await;
    let (resp, _) = e.exchange(&code).await;
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let (resp, _) = e.exchange(&code).await;
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "the outage did not use the code up"
    );
    let bad = e
        .http
        .post(e.url("/mock/faults"))
        .body(r#"{"no_such_fault":{}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let state: Value = e
        .http
        .get(e.url("/mock/state"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["codes_issued"], 1);
    assert_eq!(state["te_requests"], 2);
    assert_eq!(state["last_te"]["grant_type"], "authorization_code");

    let closed = env(Rp::ed25519(), |_| {}).await;
    assert_eq!(
        closed
            .http
            .get(closed.url("/mock/state"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    let resp = closed
        .http
        .post(closed.url("/mock/faults"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_mock_starts_from_a_config_file_and_shuts_down() {
    let dir = tempfile::tempdir().unwrap();
    let rp = Rp::ed25519();
    std::fs::write(dir.path().join("rp.pem"), &rp.cert_pem).unwrap();
    let toml = format!(
        "listen = \"127.0.0.1:0\"\naccept_demo_signatures = true\nca_out = \"ca.pem\"\ntoken_cert_out = \"token.pem\"\n\
[[client]]\nclient_id = \"{CLIENT}\"\nredirect_uris = [\"{REDIRECT}\"]\ncertificates = [\"rp.pem\"]\n"
    );
    let path = dir.path().join("esia-mock.toml");
    std::fs::write(&path, toml).unwrap();
    let cfg = MockConfig::load(&path).unwrap();
    let m = mock::start(cfg).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("token.pem")).unwrap(),
        m.token_cert_pem()
    );
    let ca = std::fs::read_to_string(dir.path().join("ca.pem")).unwrap();
    assert_eq!(Some(ca.as_str()), m.ca_pem());
    let addr = m.addr();
    m.shutdown().await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "listener closed"
    );

    std::fs::write(&path, "[[client]]\nclient_id = \"X\"\nredirect_uris = [\"https://a/\"]\ncertificates = [\"missing.pem\"]\n").unwrap();
    let err = mock::start(MockConfig::load(&path).unwrap())
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("missing.pem"), "{err}");
}

// ---------------------------------------------------------------- hostile input table

#[tokio::test]
async fn hostile_ac_requests_from_the_data_file_are_refused_as_listed() {
    let e = env(Rp::ed25519(), |_| {}).await;
    let table = include_str!("data/esia_mock/ac_hostile.tsv");
    let mut checked = 0;
    for line in table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let cols: Vec<&str> = line.split('\t').collect();
        let [name, value, expected] = cols[..] else {
            panic!("bad line: {line:?}")
        };
        let (how, code) = expected.split_once(' ').unwrap();
        let state = uuid();
        let good = e.rp.ac_params(&state, &e.ts()).await;
        let params = match value {
            "<absent>" => without(&good, name),
            "<empty>" => with(&good, name, ""),
            v => with(&good, name, v),
        };
        let resp = e.ac(&params).await;
        match how {
            "page" => assert_error_page(resp, code).await,
            "back" => {
                let sent_state = params
                    .iter()
                    .find(|(k, _)| k == "state")
                    .map(|(_, v)| v.as_str());
                assert_error_redirect(&resp, code, oauth_for(code), sent_state);
            }
            other => panic!("unknown refusal kind {other:?}"),
        }
        checked += 1;
    }
    assert!(checked >= 40, "{checked}");
    assert_eq!(e.mock.state().login_pages, 0);
}

fn oauth_for(code: &str) -> &'static str {
    match code {
        "ESIA-007002" | "ESIA-007053" => "invalid_client",
        "ESIA-007004" | "ESIA-007055" => "access_denied",
        "ESIA-007005" => "unauthorized_client",
        "ESIA-007006" => "invalid_scope",
        "ESIA-007011" => "invalid_grant",
        "ESIA-007012" => "unsupported_response_type",
        _ => "invalid_request",
    }
}

#[tokio::test]
async fn hostile_te_requests_from_the_data_file_are_refused_as_listed() {
    let e = env(Rp::ed25519(), |_| {}).await;
    let (code, _) = e.code_for("confirmed").await;
    let table = include_str!("data/esia_mock/te_hostile.tsv");
    let mut checked = 0;
    for line in table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let cols: Vec<&str> = line.split('\t').collect();
        let [name, value, expected] = cols[..] else {
            panic!("bad line: {line:?}")
        };
        let good = e.rp.te_params(&code, &uuid(), &e.ts()).await;
        let form = match value {
            "<absent>" => without(&good, name),
            "<empty>" => with(&good, name, ""),
            v => with(&good, name, v),
        };
        let body = assert_te_error(e.te(&form).await, expected, oauth_for(expected)).await;
        let sent_state = form
            .iter()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.as_str());
        assert_eq!(
            body["state"].as_str(),
            Some(sent_state.unwrap_or("")),
            "{line}"
        );
        checked += 1;
    }
    assert!(checked >= 25, "{checked}");
    let (resp, _) = e.exchange(&code).await;
    assert_eq!(resp.status(), StatusCode::OK, "no refusal used the code up");
}
