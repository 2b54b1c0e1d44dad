//! Registry authorization: `WWW-Authenticate` challenges (Bearer tokens,
//! anonymous or with credentials, and Basic), the scopes a request needs
//! (`repository:NAME:pull`, `pull,push`, several repositories for a mount),
//! and a per-process cache of tokens and `Authorization` values.
//!
//! Which credentials go where: a registry's credentials go to the registry
//! itself, and to the token service its challenge names only when that
//! service is reached over HTTPS, or over plain HTTP on the registry's own
//! host when the registry itself is plain HTTP (loopback, `--plain-http`).
//! Anywhere else the token is asked for anonymously, and `--debug` says why
//! the credentials were withheld.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Mutex;

use super::credentials::{Credentials, Found, Sources};
use super::http::{Authorization, Http, Payload, Request, header, host_name, host_of, said};
use crate::error::{Error, Kind, Result, Untrusted};

/// The largest token answer read.
const MAX_TOKEN_ANSWER: u64 = 1 << 20;

/// What a request needs access to: `repository:NAME:ACTIONS` entries,
/// sorted, each repository once.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Scope(Vec<(String, Vec<String>)>);

impl Scope {
    /// Pulling from `repository`.
    pub fn pull(repository: &str) -> Scope {
        Scope::default().with(repository, &["pull"])
    }

    /// Pulling from and pushing to `repository`.
    pub fn push(repository: &str) -> Scope {
        Scope::default().with(repository, &["pull", "push"])
    }

    /// This scope and `actions` on `repository` too (a mount from it).
    pub fn with(mut self, repository: &str, actions: &[&str]) -> Scope {
        match self.0.iter_mut().find(|(r, _)| r == repository) {
            Some((_, have)) => {
                for a in actions {
                    if !have.iter().any(|h| h == a) {
                        have.push(a.to_string());
                    }
                }
                have.sort();
            }
            None => {
                let mut actions: Vec<String> = actions.iter().map(|a| a.to_string()).collect();
                actions.sort();
                self.0.push((repository.to_string(), actions));
                self.0.sort();
            }
        }
        self
    }

    /// The repository the scope is first about, for messages.
    pub fn repository(&self) -> &str {
        self.0.first().map_or("", |(r, _)| r.as_str())
    }

    /// `host/repository`, or `host` for a scope of no repository.
    pub fn object(&self, host: &str) -> String {
        match self.repository() {
            "" => host.to_string(),
            r => format!("{host}/{r}"),
        }
    }

    /// The `scope` values of a token request: ours, and those of the
    /// challenge (`a b` separated by spaces), each once.
    fn with_challenge(&self, challenge: Option<&str>) -> Vec<String> {
        let mut out: Vec<String> = self
            .0
            .iter()
            .map(|(r, a)| format!("repository:{r}:{}", a.join(",")))
            .collect();
        for s in challenge.unwrap_or("").split(' ').filter(|s| !s.is_empty()) {
            if !out.iter().any(|o| o == s) {
                out.push(s.to_string());
            }
        }
        out
    }
}

/// One parsed challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Challenge {
    pub scheme: String,
    pub params: HashMap<String, String>,
}

/// What this process knows: `Authorization` values per host and scope,
/// tokens per (realm, service, scopes), credentials per host.
pub(crate) struct Auth {
    sources: Sources,
    headers: Mutex<HashMap<(String, Scope), Authorization>>,
    tokens: Mutex<HashMap<String, String>>,
    found: Mutex<HashMap<String, Option<Found>>>,
    /// Hosts whose credentials were kept from their token service: the
    /// service, and why.
    withheld: Mutex<HashMap<String, (String, &'static str)>>,
}

/// Who a request goes to: a host, as the registry itself or as a mirror of
/// another. What one earns (credentials, tokens, headers) is never used
/// for the other: a mirror gets the credentials the files hold for it,
/// never those given for the registries it mirrors.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Party<'a> {
    pub host: &'a str,
    pub mirror: bool,
}

impl Party<'_> {
    /// The key of what this process keeps for it.
    fn key(&self) -> String {
        match self.mirror {
            true => format!("{} as a mirror", self.host),
            false => self.host.to_string(),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Auth {
    pub fn new(sources: Sources) -> Auth {
        Auth {
            sources,
            headers: Mutex::default(),
            tokens: Mutex::default(),
            found: Mutex::default(),
            withheld: Mutex::default(),
        }
    }

    /// The `Authorization` to send to `to` for `scope`, if one is known.
    pub fn header(&self, to: Party<'_>, scope: &Scope) -> Option<Authorization> {
        lock(&self.headers).get(&(to.key(), scope.clone())).cloned()
    }

    /// The credentials for `to`, looked up once.
    pub fn credentials(&self, http: &Http, to: Party<'_>) -> Result<Option<Found>> {
        let host = to.host;
        if let Some(found) = lock(&self.found).get(&to.key()) {
            return Ok(found.clone());
        }
        let found = self.sources.lookup(host, !to.mirror)?;
        http.debug(|| match &found {
            Some(f) => format!(
                "credentials for {host}: {} from {}",
                f.credentials.describe(),
                f.source
            ),
            None => format!("credentials for {host}: none found"),
        });
        lock(&self.found).insert(to.key(), found.clone());
        Ok(found)
    }

    /// Answers the challenge of a 401 from `host` for `scope`: fetches a
    /// token (or takes Basic credentials) and remembers the header.
    pub fn authorize(
        &self,
        http: &Http,
        to: Party<'_>,
        scheme: &str,
        scope: &Scope,
        challenge: &str,
    ) -> Result<Authorization> {
        let host = to.host;
        let challenges = parse_challenges(challenge);
        let found = self.credentials(http, to)?;
        let value = if let Some(c) = challenges.iter().find(|c| c.scheme == "bearer") {
            format!("Bearer {}", self.token(http, to, scope, c, found.as_ref())?)
        } else if challenges.iter().any(|c| c.scheme == "basic") {
            match found.as_ref().and_then(|f| f.credentials.basic()) {
                Some(basic) => basic,
                None => return Err(no_credentials(host, scope)),
            }
        } else {
            return Err(Error::new(
                Kind::Unauthenticated,
                format!(
                    "{}: unauthenticated (registry said 401 without a challenge dist knows: {})",
                    scope.object(host),
                    Untrusted(challenge)
                ),
            ));
        };
        let auth = Authorization {
            host: host.to_string(),
            scheme: scheme.to_string(),
            value,
        };
        lock(&self.headers).insert((to.key(), scope.clone()), auth.clone());
        Ok(auth)
    }

    /// The error for a registry that still answers 401 once authorized:
    /// which credentials were tried, and from where.
    pub fn refused(&self, to: Party<'_>, status: Error) -> Error {
        let host = to.host;
        let withheld = lock(&self.withheld).get(&to.key()).cloned();
        let who = match (
            lock(&self.found).get(&to.key()).cloned().flatten(),
            withheld,
        ) {
            (Some(f), Some((realm, why))) => format!(
                " to an anonymous token: the credentials for {host} ({} from {}) were not sent to its token service {}: {why}",
                f.credentials.describe(),
                f.source,
                Untrusted(&realm)
            ),
            (Some(f), None) => format!(" to {} from {}", f.credentials.describe(), f.source),
            (None, _) => format!(
                " to an anonymous request: no credentials for {host} (dist-login, --creds or --authfile)"
            ),
        };
        Error::new(status.kind(), format!("{}{who}", status.message()))
    }

    /// A token for `scope` from the service `challenge` names.
    fn token(
        &self,
        http: &Http,
        to: Party<'_>,
        scope: &Scope,
        challenge: &Challenge,
        found: Option<&Found>,
    ) -> Result<String> {
        let host = to.host;
        let realm = challenge.params.get("realm").ok_or_else(|| {
            Error::new(
                Kind::Unauthenticated,
                format!("{host}: the Bearer challenge has no realm"),
            )
        })?;
        if !(realm.starts_with("https://") || realm.starts_with("http://")) {
            return Err(Error::new(
                Kind::Unauthenticated,
                format!(
                    "{host}: the token service {} is not an http or https URL",
                    Untrusted(realm)
                ),
            ));
        }
        let service = challenge.params.get("service").cloned().unwrap_or_default();
        let scopes = scope.with_challenge(challenge.params.get("scope").map(String::as_str));
        // Whose credentials a token was made with is part of it: a token
        // earned for the registry never goes to a mirror that asks for it.
        let key = format!("{} {realm} {service} {}", to.key(), scopes.join(" "));
        if let Some(t) = lock(&self.tokens).get(&key) {
            return Ok(t.clone());
        }
        let sent = match found {
            Some(f) => match may_send(http, host, realm) {
                Ok(()) => Some(f),
                Err(why) => {
                    lock(&self.withheld).insert(to.key(), (realm.clone(), why));
                    http.debug(|| {
                        format!(
                            "credentials for {host} ({} from {}) withheld from the token service {}: {why}",
                            f.credentials.describe(),
                            f.source,
                            Untrusted(realm)
                        )
                    });
                    None
                }
            },
            None => None,
        };
        let resp = self.ask(http, realm, &service, &scopes, sent)?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(token_refused(http, host, scope, realm, found, sent, resp));
        }
        let token = read_token(realm, resp)?;
        lock(&self.tokens).insert(key, token.clone());
        Ok(token)
    }

    /// Asks `realm` for a token, with the credentials `sent` (or none).
    fn ask(
        &self,
        http: &Http,
        realm: &str,
        service: &str,
        scopes: &[String],
        sent: Option<&Found>,
    ) -> Result<ureq::http::Response<ureq::Body>> {
        let mut query = Vec::new();
        if !service.is_empty() {
            query.push(format!("service={}", url_encode(service)));
        }
        for s in scopes {
            query.push(format!("scope={}", url_encode(s)));
        }
        let realm_host = host_of(realm).unwrap_or_default();
        http.debug(|| {
            format!(
                "token for {} from {} {}",
                scopes.join(" "),
                Untrusted(realm),
                match sent {
                    Some(f) => format!("with {} from {}", f.credentials.describe(), f.source),
                    None => "anonymously".to_string(),
                }
            )
        });
        match sent.map(|f| &f.credentials) {
            Some(Credentials::Identity(refresh)) => {
                query.extend([
                    "grant_type=refresh_token".to_string(),
                    "client_id=dist".to_string(),
                    format!("refresh_token={}", url_encode(refresh)),
                ]);
                let form = query.join("&");
                let mut req = Request::new(ureq::http::Method::POST, realm.to_string());
                req.headers.push((
                    "content-type",
                    "application/x-www-form-urlencoded".to_string(),
                ));
                req.body = Some(Payload::Bytes(form.as_bytes()));
                http.send(&req, None)
            }
            Some(c) => {
                let req = Request::new(ureq::http::Method::GET, with_query(realm, &query));
                let auth = Authorization {
                    host: realm_host,
                    scheme: realm.split("://").next().unwrap_or("").to_string(),
                    value: c.basic().unwrap_or_default(),
                };
                http.send(&req, Some(&auth))
            }
            None => {
                let req = Request::new(ureq::http::Method::GET, with_query(realm, &query));
                http.send(&req, None)
            }
        }
    }
}

/// Whether the credentials of registry `host` may go to `realm`: over
/// HTTPS, or over plain HTTP to the registry's own host when the registry
/// itself is plain HTTP (loopback, or `--plain-http`). The reason when not.
fn may_send(http: &Http, host: &str, realm: &str) -> std::result::Result<(), &'static str> {
    if realm.starts_with("https://") {
        return Ok(());
    }
    let realm_host = host_of(realm).unwrap_or_default();
    if host_name(&realm_host) != host_name(host) {
        return Err("it is plain HTTP on another host (credentials go there only over HTTPS)");
    }
    if !http.is_plain(host) {
        return Err(
            "it is plain HTTP and the registry is not (credentials go there only over HTTPS)",
        );
    }
    Ok(())
}

/// The error for a token service that said no.
fn token_refused(
    http: &Http,
    host: &str,
    scope: &Scope,
    realm: &str,
    found: Option<&Found>,
    sent: Option<&Found>,
    resp: ureq::http::Response<ureq::Body>,
) -> Error {
    let status = resp.status().as_u16();
    let realm = Untrusted(realm);
    let (kind, said) = said(resp);
    if !(status == 401 || status == 403) {
        return Error::new(
            kind,
            format!("token service {realm}: {} ({said})", kind.name()),
        );
    }
    let why = match (found, sent) {
        (_, Some(f)) => format!(
            "refused the credentials ({} from {})",
            f.credentials.describe(),
            f.source
        ),
        (Some(f), None) => format!(
            "wants credentials; those for {host} ({} from {}) were not sent to it: {}",
            f.credentials.describe(),
            f.source,
            may_send(http, host, &realm.to_string()).err().unwrap_or("")
        ),
        (None, None) => format!(
            "requires credentials and none are configured for {host} (dist-login, --creds or --authfile)"
        ),
    };
    Error::new(
        Kind::Unauthenticated,
        format!(
            "{}: unauthenticated: the token service {realm} {why} ({said})",
            scope.object(host)
        ),
    )
}

/// The token of a token service's answer.
fn read_token(realm: &str, mut resp: ureq::http::Response<ureq::Body>) -> Result<String> {
    let realm = Untrusted(realm);
    let _ = header(&resp, "content-type");
    let mut body = Vec::new();
    resp.body_mut()
        .as_reader()
        .take(MAX_TOKEN_ANSWER)
        .read_to_end(&mut body)
        .map_err(|e| Error::io(&e).context(format!("token service {realm}")))?;
    let v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
        Error::new(
            Kind::Unauthenticated,
            format!("token service {realm}: not JSON ({e})"),
        )
    })?;
    v.get("token")
        .or_else(|| v.get("access_token"))
        .and_then(|t| t.as_str())
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .ok_or_else(|| {
            Error::new(
                Kind::Unauthenticated,
                format!("token service {realm}: no token in its answer"),
            )
        })
}

fn no_credentials(host: &str, scope: &Scope) -> Error {
    Error::new(
        Kind::Unauthenticated,
        format!(
            "{}: unauthenticated: the registry wants credentials and none are configured \
             for {host} (dist-login, --creds or --authfile)",
            scope.object(host)
        ),
    )
}

fn with_query(url: &str, query: &[String]) -> String {
    if query.is_empty() {
        return url.to_string();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{}", query.join("&"))
}

/// Percent-encodes everything but unreserved characters.
pub(crate) fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Parses a `WWW-Authenticate` value: one or more `Scheme k=v, k="v"` challenges.
pub(crate) fn parse_challenges(value: &str) -> Vec<Challenge> {
    let mut out: Vec<Challenge> = Vec::new();
    let mut rest = value.trim();
    while !rest.is_empty() {
        // A token followed by '=' is a parameter of the current challenge;
        // otherwise it starts a new challenge.
        let token_end = rest
            .find(|c: char| c == '=' || c == ',' || c.is_whitespace())
            .unwrap_or(rest.len());
        let token = &rest[..token_end];
        let after = rest[token_end..].trim_start();
        if let (Some(stripped), false) = (after.strip_prefix('='), out.is_empty()) {
            let (val, remain) = parse_value(stripped.trim_start());
            if let Some(c) = out.last_mut() {
                c.params.insert(token.to_ascii_lowercase(), val);
            }
            rest = remain.trim_start().trim_start_matches(',').trim_start();
        } else if token.is_empty() {
            rest = after.trim_start_matches(',').trim_start();
        } else {
            out.push(Challenge {
                scheme: token.to_ascii_lowercase(),
                params: HashMap::new(),
            });
            rest = after.trim_start_matches(',').trim_start();
        }
    }
    out
}

fn parse_value(s: &str) -> (String, &str) {
    if let Some(body) = s.strip_prefix('"') {
        let mut val = String::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, n)) = chars.next() {
                        val.push(n);
                    }
                }
                '"' => return (val, &body[i + 1..]),
                _ => val.push(c),
            }
        }
        (val, "")
    } else {
        let end = s
            .find(|c: char| c == ',' || c.is_whitespace())
            .unwrap_or(s.len());
        (s[..end].to_string(), &s[end..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse() {
        let c = parse_challenges(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/redis:pull""#,
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "bearer");
        assert_eq!(c[0].params["realm"], "https://auth.docker.io/token");
        assert_eq!(c[0].params["scope"], "repository:library/redis:pull");
        let c = parse_challenges(r#"Basic realm="a \"quoted\" realm", Bearer realm=x,service=y"#);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].params["realm"], r#"a "quoted" realm"#);
        assert_eq!(
            (
                c[1].params["realm"].as_str(),
                c[1].params["service"].as_str()
            ),
            ("x", "y")
        );
        assert!(parse_challenges("").is_empty());
        assert_eq!(parse_challenges("Basic")[0].scheme, "basic");
    }

    #[test]
    fn scopes_merge_repositories_and_actions() {
        let s = Scope::push("team/app").with("library/base", &["pull"]);
        assert_eq!(
            s.with_challenge(Some("repository:team/app:pull,push registry:catalog:*")),
            [
                "repository:library/base:pull",
                "repository:team/app:pull,push",
                "registry:catalog:*"
            ]
        );
        assert_eq!(
            Scope::pull("a").with("a", &["push"]),
            Scope::push("a"),
            "one entry per repository"
        );
        assert_eq!(Scope::pull("x/y").repository(), "x/y");
    }

    #[test]
    fn tokens_are_asked_with_escaped_scopes() {
        assert_eq!(
            url_encode("repository:a/b:pull,push"),
            "repository%3Aa%2Fb%3Apull%2Cpush"
        );
        assert_eq!(
            with_query("https://a/t?x=1", &["s=1".into()]),
            "https://a/t?x=1&s=1"
        );
    }
}
