//! dist-login and dist-logout: credentials checked against the registry
//! (Basic and token), saved where docker and skopeo read them (mode 0600,
//! other entries kept), used by the other programs, removed; --creds and
//! --authfile on every program that talks to a registry; refusals that say
//! which credentials were tried and from where.

use crate::image::{Format, image, layer};
use crate::registry::{self, Auth, PASSWORD, Registry, USER};
use crate::util::*;
use serde_json::Value;
use std::fs;
use std::os::unix::fs::PermissionsExt;

fn pushed(reg: &Registry) -> String {
    let img = image(Format::Oci, "linux", "amd64", vec![layer(&[("a", b"a")])]);
    reg.push_image("private/app", "v1", &img);
    format!("{}/private/app:v1", reg.host())
}

#[test]
fn login_checks_saves_and_logout_removes_for_basic_and_token_registries() {
    for auth in [Auth::Basic, Auth::Token] {
        let env = Env::new(&format!("login-{auth:?}"));
        let reg = Registry::start(auth);
        let name = pushed(&reg);
        let config = env.dir.join("docker");
        fs::create_dir(&config).unwrap();
        fs::write(
            config.join("config.json"),
            r#"{"auths":{"other.example":{"auth":"eDp5"}},"credsStore":""}"#,
        )
        .unwrap();
        let login = |password: &str| {
            env.dist("login")
                .args(["-u", USER, "--password-stdin", &reg.host()])
                .env("DOCKER_CONFIG", &config)
                .stdin(format!("{password}\n"))
        };
        // Refused: the message names the user and where the credentials came from.
        let out = login("wrong").fails(7);
        out.clone_check(|o| {
            assert!(
                o.stderr.contains(&format!("user {USER} from dist-login")),
                "{o:?}"
            )
        });
        let saved: Value =
            serde_json::from_slice(&fs::read(config.join("config.json")).unwrap()).unwrap();
        assert!(
            saved["auths"].get(reg.host()).is_none(),
            "refused credentials saved"
        );
        // Accepted: saved, mode 0600, the other entry kept.
        login(PASSWORD)
            .ok()
            .stderr_has(&format!("user {USER} for {} saved in", reg.host()));
        let file = config.join("config.json");
        let mode = fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let saved: Value = serde_json::from_slice(&fs::read(&file).unwrap()).unwrap();
        assert_eq!(
            saved["auths"][reg.host()]["auth"],
            registry::base64(format!("{USER}:{PASSWORD}").as_bytes())
        );
        assert_eq!(saved["auths"]["other.example"]["auth"], "eDp5");
        // The other programs use them.
        env.dist("pull")
            .args(["--no-unpack", &name])
            .env("DOCKER_CONFIG", &config)
            .ok();
        // skopeo reads the same file.
        let skopeo = std::process::Command::new("skopeo")
            .args(["inspect", "--tls-verify=false", "--raw"])
            .arg(format!("docker://{name}"))
            .env("REGISTRY_AUTH_FILE", &file)
            .output()
            .unwrap();
        assert!(
            skopeo.status.success(),
            "{}",
            String::from_utf8_lossy(&skopeo.stderr)
        );
        env.dist("logout")
            .arg(reg.host())
            .env("DOCKER_CONFIG", &config)
            .ok();
        let saved: Value = serde_json::from_slice(&fs::read(&file).unwrap()).unwrap();
        assert!(saved["auths"].get(reg.host()).is_none());
        assert_eq!(saved["auths"]["other.example"]["auth"], "eDp5");
        env.dist("logout")
            .arg(reg.host())
            .env("DOCKER_CONFIG", &config)
            .fails(3)
            .stderr_has(&format!("no credentials for {}", reg.host()));
        env.dist("resolve")
            .arg(&name)
            .env("DOCKER_CONFIG", &config)
            .fails(7)
            .stderr_has("(dist-login, --creds or --authfile)");
    }
}

#[test]
fn creds_and_authfile_work_on_every_registry_program_and_refusals_say_whose() {
    let env = Env::new("login-flags");
    let reg = Registry::start(Auth::Token);
    let name = pushed(&reg);
    let creds = format!("{USER}:{PASSWORD}");
    let empty = env.dir.join("empty-config");
    fs::create_dir(&empty).unwrap();
    env.dist("resolve")
        .args(["--creds", &creds, &name])
        .env("DOCKER_CONFIG", &empty)
        .ok();
    env.dist("fetch")
        .args(["--creds", &creds, &name])
        .env("DOCKER_CONFIG", &empty)
        .ok();
    env.dist("resolve")
        .args(["--creds", &format!("{USER}:nope"), &name])
        .fails(7)
        .stderr_has(&format!(
            "refused the credentials (user {USER} from --creds)"
        ));
    // --authfile: that file only, wherever it is.
    let authfile = env.dir.join("ci-auth.json");
    env.dist("login")
        .args(["--authfile", authfile.to_str().unwrap(), "-u", USER])
        .args(["--password-stdin", &reg.host()])
        .stdin(PASSWORD)
        .ok();
    env.dist("pull")
        .args([
            "--no-unpack",
            "--authfile",
            authfile.to_str().unwrap(),
            &name,
        ])
        .env("DOCKER_CONFIG", &empty)
        .ok();
    let wrong = env.file(
        "wrong.json",
        format!(
            r#"{{"auths":{{"{}":{{"auth":"{}"}}}}}}"#,
            reg.host(),
            registry::base64(b"alice:wrong")
        )
        .as_bytes(),
    );
    env.dist("resolve")
        .args(["--authfile", wrong.to_str().unwrap(), &name])
        .fails(7)
        .stderr_has(&format!("(user {USER} from {})", wrong.display()));
    env.dist("resolve")
        .args(["--authfile", "/no/such/file.json", &name])
        .fails(3)
        .stderr_has("/no/such/file.json");
    // --debug says where credentials came from, never the secret.
    let out = env
        .dist("resolve")
        .args(["--debug", "--authfile", authfile.to_str().unwrap(), &name])
        .ok();
    out.clone_check(|o| {
        assert!(
            o.stderr.contains(&format!(
                "credentials for {}: user {USER} from {}",
                reg.host(),
                authfile.display()
            )),
            "{o:?}"
        );
        assert!(
            !o.stderr.contains(PASSWORD),
            "a secret in the debug output: {o:?}"
        );
    });
}

#[test]
fn login_without_a_terminal_or_password_says_how() {
    let env = Env::new("login-notty");
    let reg = Registry::start(Auth::Basic);
    env.sh(&format!(
        "setsid dist-login -u {USER} {} < /dev/null",
        reg.host()
    ))
    .fails(2)
    .stderr_has("no terminal to ask on");
}
