//! The config language: the bad-input corpus, the examples, the validated model, and secrets.

use std::path::{Path, PathBuf};

use scimform::config::{self, Config, Endpoint, LoadOptions, Managed, Style};
use secrecy::ExposeSecret;

use crate::support::{root, run, scimform};

const INVALID: &str = "tests/fixtures/invalid";

/// Every broken config in the corpus: a file, or a folder of files.
fn corpus() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join(INVALID))
        .expect("the corpus exists")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn corpus_covers_the_required_cases() {
    let names = corpus();
    assert!(names.len() >= 15, "only {} broken configs", names.len());
    for required in [
        "syntax-error.yaml",
        "unknown-key-top.yaml",
        "unknown-key-provider.yaml",
        "unknown-key-user.yaml",
        "unknown-key-name.yaml",
        "unknown-key-email.yaml",
        "unknown-key-group.yaml",
        "unknown-key-role.yaml",
        "wrong-types.yaml",
        "duplicate-username-case.yaml",
        "duplicate-group.yaml",
        "unknown-target.yaml",
        "role-not-allowed.yaml",
        "malformed-email.yaml",
        "unknown-provider.yaml",
        "unsupported-version.yaml",
        "missing-url.yaml",
        "alias-bomb.yaml",
        "empty.yaml",
        "folder-duplicate",
        "tombstoned-member.yaml",
        "literal-token-anchor.yaml",
        "literal-token-block.yaml",
        "literal-token-flow.yaml",
        "literal-token-json.yaml",
        "literal-token-mixed.yaml",
        "literal-token-next-line.yaml",
        "literal-token-quoted.yaml",
        "literal-token-syntax-error.yaml",
    ] {
        assert!(names.iter().any(|n| n == required), "missing {required}");
    }
}

/// Each broken config fails `validate` with exit code 1 and messages that name the file, the
/// line and the column, and say what to do. The exact text is snapshotted.
#[test]
fn corpus_messages() {
    for name in corpus() {
        let path = format!("{INVALID}/{name}");
        let out = run(scimform().args(["validate", "-f", &path]));
        assert_eq!(out.code, Some(1), "{name}: exit code\n{}", out.stderr);
        assert_eq!(out.stdout, "", "{name}: nothing on stdout");
        let errors = out.stderr.matches("  × ").count();
        assert!(errors >= 1, "{name}: no error\n{}", out.stderr);
        assert_eq!(
            out.stderr.matches("╭─[").count(),
            errors,
            "{name}: every error points into a file\n{}",
            out.stderr
        );
        assert_eq!(
            out.stderr.matches("  help: ").count(),
            errors,
            "{name}: every error says what to do\n{}",
            out.stderr
        );
        for location in out.stderr.lines().filter_map(|l| l.split_once("╭─[")) {
            let location = location.1.trim_end_matches(']');
            let mut parts = location.rsplitn(3, ':');
            let (column, line, file) = (parts.next(), parts.next(), parts.next());
            assert!(
                column.is_some_and(|c| c.parse::<u32>().is_ok())
                    && line.is_some_and(|l| l.parse::<u32>().is_ok())
                    && file.is_some_and(|f| f.starts_with(&path)),
                "{name}: `{location}` is not {path}…:LINE:COLUMN"
            );
        }
        insta::assert_snapshot!(name.as_str(), out.stderr);
    }
}

/// A literal token is never shown, whatever its YAML spelling (plain, quoted, on the next
/// line, a block scalar, flow style, JSON, through an anchor, under a misspelt key, as a
/// number, mixed with a reference, in a file that does not parse): the corpus's
/// `literal-token*` files all hold the same secret, or a number.
#[test]
fn literal_tokens_are_never_shown() {
    let names: Vec<String> = corpus()
        .into_iter()
        .filter(|name| name.starts_with("literal-token"))
        .collect();
    assert!(names.len() >= 10, "{names:?}");
    for name in names {
        let path = format!("{INVALID}/{name}");
        let text = std::fs::read_to_string(root().join(&path)).unwrap();
        assert!(
            text.contains("s3cr3t-t0k3n-") || text.contains("5336353530323033"),
            "{name} holds the secret"
        );
        let out = run(scimform().args(["validate", "-f", &path]));
        assert_eq!(out.code, Some(1), "{name}\n{}", out.stderr);
        for part in ["s3cr3t", "t0k3n", "do-not-print", "53363535"] {
            assert!(
                !out.stdout.contains(part) && !out.stderr.contains(part),
                "{name} shows `{part}`:\n{}",
                out.stderr
            );
        }
        assert!(
            out.stderr.contains("*****"),
            "{name}: masked\n{}",
            out.stderr
        );
    }
}

/// Every example, file or folder, is valid, with no environment variables set: `validate`
/// needs no secrets.
#[test]
fn examples_are_valid() {
    let mut checked = 0;
    for entry in std::fs::read_dir(root().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        // Hidden entries are local state, such as the quickstart's embedded store.
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        // examples/github-actions holds CI workflows, not config: tests/it/gitops.rs checks them.
        let workflows = path.file_name().is_some_and(|n| n == "github-actions");
        let is_config = !hidden
            && !workflows
            && (path.is_dir() || path.extension().is_some_and(|e| e == "yaml" || e == "yml"));
        if !is_config {
            continue;
        }
        let relative = path.strip_prefix(root()).unwrap();
        let out = run(scimform()
            .args(["validate", "-f"])
            .arg(relative)
            .env_remove("TONKEAN_SCIM_TOKEN")
            .env_remove("STAGING_SCIM_URL"));
        assert_eq!(out.code, Some(0), "{}:\n{}", relative.display(), out.stderr);
        assert!(out.stdout.contains(" is valid: "), "{}", out.stdout);
        checked += 1;
    }
    assert!(checked >= 3, "examples: quickstart, tonkean and a folder");
}

#[test]
fn folder_files_are_merged() {
    let config = load(&root().join("examples/folder")).unwrap();
    assert_eq!(config.providers().len(), 2);
    assert_eq!(config.users().len(), 3);
    assert_eq!(config.groups().len(), 2);
    let linus = config.user("linus@example.com").unwrap();
    assert_eq!(linus.providers.iter().collect::<Vec<_>>(), ["local"]);
    assert_eq!(
        linus.roles("local").unwrap().iter().collect::<Vec<_>>(),
        ["PROCESS_CONTRIBUTOR"]
    );
}

#[test]
fn insecure_http_is_allowed_by_the_flag() {
    let path = format!("{INVALID}/insecure-http.yaml");
    let out = run(scimform().args(["validate", "--allow-insecure-http", "-f", &path]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
}

fn load(path: &Path) -> Result<Config, config::Errors> {
    config::load(path, &LoadOptions::default())
}

/// Writes `text` as `scimform.yaml` in a fresh folder and loads it.
fn load_text(text: &str) -> (tempfile::TempDir, Config) {
    let (dir, path) = write(text);
    let config = load(&path).unwrap_or_else(|e| {
        panic!("{}", config::render(&e.0, Style::Plain));
    });
    (dir, config)
}

fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scimform.yaml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

const TWO_PROVIDERS: &str = "
version: 1
providers:
  tonkean:
    url: https://${TONKEAN_HOST}/scim/v2
    token: ${TONKEAN_TOKEN}
    preset: tonkean
  plain:
    url: embedded:store
users:
  - userName: Ada@Example.com
    nickName: null
    title: Analyst
  - userName: grace@example.com
  - userName: alan@example.com
    providers: [tonkean]
groups:
  - displayName: Process Owners
    members: [ADA@example.COM, grace@example.com]
roles:
  SYSTEM_USER:
    users: [alan@EXAMPLE.com]
  PROCESS_CONTRIBUTOR:
    users: [ada@example.com]
    groups: [process owners]
";

#[test]
fn user_names_match_case_insensitively_and_keep_their_spelling() {
    let (_dir, config) = load_text(TWO_PROVIDERS);
    let ada = config.user("ADA@EXAMPLE.COM").unwrap();
    assert_eq!(ada.user_name, "Ada@Example.com");
    assert_eq!(ada.key.as_str(), "ada@example.com");
    let group = config.group("PROCESS OWNERS").unwrap();
    assert_eq!(group.display_name, "Process Owners");
    let Managed::Set(members) = &group.members else {
        panic!("members are declared");
    };
    let members: Vec<&str> = members
        .iter()
        .map(|&i| config.users()[i].key.as_str())
        .collect();
    assert_eq!(members, ["ada@example.com", "grace@example.com"]);
}

#[test]
fn effective_roles_are_direct_and_via_groups_per_provider() {
    let (_dir, config) = load_text(TWO_PROVIDERS);
    let roles = |user: &str, provider: &str| {
        config
            .user(user)
            .unwrap()
            .roles(provider)
            .map(|r| r.iter().cloned().collect::<Vec<_>>())
    };
    // Direct and via the group, counted once.
    assert_eq!(
        roles("ada@example.com", "tonkean"),
        Some(vec!["PROCESS_CONTRIBUTOR".into()])
    );
    // Via the group only.
    assert_eq!(
        roles("grace@example.com", "tonkean"),
        Some(vec!["PROCESS_CONTRIBUTOR".into()])
    );
    assert_eq!(
        roles("alan@example.com", "tonkean"),
        Some(vec!["SYSTEM_USER".into()])
    );
    // A provider without a role definition keeps no roles.
    assert_eq!(roles("ada@example.com", "plain"), None);
    // A provider the user is not on.
    assert_eq!(roles("alan@example.com", "plain"), None);
    assert_eq!(config.users_for("plain").count(), 2);
    assert_eq!(
        config
            .provider("tonkean")
            .unwrap()
            .role_definition()
            .unwrap()
            .path(),
        "urn:scim:tonkean:tonkeanRoles"
    );
}

#[test]
fn attributes_are_unmanaged_removed_or_set() {
    let (_dir, config) = load_text(TWO_PROVIDERS);
    let ada = config.user("ada@example.com").unwrap();
    assert_eq!(ada.title, Managed::Set("Analyst".into()));
    assert_eq!(*ada.nick_name(), Managed::Remove);
    assert_eq!(ada.display_name, Managed::Unmanaged);
    assert_eq!(ada.emails, Managed::Unmanaged);
}

#[test]
fn provider_defaults_and_preset() {
    let (_dir, config) = load_text(TWO_PROVIDERS);
    let tonkean = config.provider("tonkean").unwrap();
    assert_eq!(tonkean.auth_scheme(), "token");
    assert!(!tonkean.prune());
    assert_eq!(tonkean.deprovision(), config::Deprovision::Deactivate);
    assert_eq!(tonkean.max_changes().delete_percent, 10);
    let plain = config.provider("plain").unwrap();
    assert_eq!(plain.auth_scheme(), "Bearer");
    assert!(plain.is_embedded());
}

#[test]
fn request_limits_are_read_from_the_provider() {
    let (_dir, config) = load_text(
        "version: 1\nproviders:\n  corp:\n    url: https://scim.example.com/scim/v2\n    \
         token: ${T}\n    rate_limit: 600/min\n    retry: {attempts: 3, deadline: 1m 30s}\n  \
         fast:\n    url: https://fast.example.com/scim/v2\n    token: ${T}\n    \
         rate_limit: 12.5/s\n",
    );
    let corp = config.provider("corp").unwrap().request_limits();
    assert_eq!(corp.rate_limit, Some(10.0));
    assert_eq!(corp.attempts, Some(3));
    assert_eq!(corp.deadline, Some(std::time::Duration::from_secs(90)));
    let fast = config.provider("fast").unwrap().request_limits();
    assert_eq!(fast.rate_limit, Some(12.5));
    assert_eq!(fast.attempts, None, "the client's default");
}

#[test]
fn urls_resolve_lazily_with_located_errors() {
    let (dir, config) = load_text(TWO_PROVIDERS);
    let tonkean = config.provider("tonkean").unwrap();
    let endpoint = tonkean
        .resolve_url_with(
            |name| (name == "TONKEAN_HOST").then(|| "t.example.com".into()),
            false,
        )
        .unwrap();
    assert_eq!(
        endpoint,
        Endpoint::Http("https://t.example.com/scim/v2".parse().unwrap())
    );

    let missing = tonkean.resolve_url_with(|_| None, false).unwrap_err();
    assert_eq!(
        missing.message(),
        "provider `tonkean`: environment variable `TONKEAN_HOST` is not set"
    );
    assert!(missing.location().unwrap().ends_with("scimform.yaml:5:18"));
    let rendered = config::render(&[missing], Style::Plain);
    assert!(rendered.contains("${TONKEAN_HOST}"), "{rendered}");
    assert!(rendered.contains("export TONKEAN_HOST="), "{rendered}");

    // The embedded store is relative to the config file's folder.
    let plain = config.provider("plain").unwrap();
    match plain.resolve_url_with(|_| None, false).unwrap() {
        Endpoint::Embedded(path) => {
            assert_eq!(path, std::path::absolute(dir.path()).unwrap().join("store"));
        }
        other @ Endpoint::Http(_) => panic!("{other:?}"),
    }
}

#[test]
fn plain_http_after_interpolation_needs_the_flag() {
    let (_dir, config) =
        load_text("version: 1\nproviders:\n  p:\n    url: ${URL}\n    token: ${TOKEN}\n");
    let p = config.provider("p").unwrap();
    let http = |_: &str| Some("http://scim.example.com/scim/v2".to_owned());
    let err = p.resolve_url_with(http, false).unwrap_err();
    assert!(err.message().contains("plain http://"), "{}", err.message());
    assert!(p.resolve_url_with(http, true).is_ok());
    let loopback = |_: &str| Some("http://127.0.0.1:8080/scim/v2".to_owned());
    assert!(p.resolve_url_with(loopback, false).is_ok());
}

const SECRET: &str = "tok-3f9a1c-very-secret";

#[test]
fn tokens_never_appear_in_debug_output() {
    let (dir, config) = load_text(
        "version: 1\nproviders:\n  env:\n    url: https://a.example.com/scim/v2\n    token: ${SCIMFORM_TEST_TOKEN}\n  file:\n    url: https://b.example.com/scim/v2\n    token_file: secret.token\n",
    );
    std::fs::write(dir.path().join("secret.token"), format!("{SECRET}\n")).unwrap();

    let env = config.provider("env").unwrap();
    let token = env
        .resolve_token_with(|name| (name == "SCIMFORM_TEST_TOKEN").then(|| SECRET.into()))
        .unwrap()
        .unwrap();
    assert_eq!(token.expose_secret(), SECRET);
    let from_file = config
        .provider("file")
        .unwrap()
        .resolve_token()
        .unwrap()
        .unwrap();
    assert_eq!(from_file.expose_secret(), SECRET);

    for debug in [
        format!("{config:?}"),
        format!("{env:?}"),
        format!("{token:?}"),
        format!("{from_file:?}"),
    ] {
        assert!(!debug.contains(SECRET), "{debug}");
    }
}

#[test]
fn tokens_never_appear_in_validate_output() {
    // A valid config with the token in the environment.
    let (_dir, path) = write(
        "version: 1\nproviders:\n  p:\n    url: https://a.example.com/scim/v2\n    token: ${SCIMFORM_TEST_TOKEN}\nusers:\n  - userName: ada@example.com\n    emails: [not-an-email]\n",
    );
    let out = run(scimform()
        .args(["validate", "-f"])
        .arg(&path)
        .env("SCIMFORM_TEST_TOKEN", SECRET));
    assert_eq!(out.code, Some(1));
    assert!(!out.stdout.contains(SECRET) && !out.stderr.contains(SECRET));

    // A literal token is an error whose snippet masks it.
    let (_dir, path) = write(&format!(
        "version: 1\nproviders:\n  p:\n    url: https://a.example.com/scim/v2\n    token: {SECRET}\n    tokn: x\n"
    ));
    let out = run(scimform().args(["validate", "-f"]).arg(&path));
    assert_eq!(out.code, Some(1));
    assert!(!out.stderr.contains(SECRET), "{}", out.stderr);
    assert!(out.stderr.contains("token: *****"), "{}", out.stderr);
}

#[test]
fn validate_needs_no_secret_and_reports_success_on_stdout() {
    let out = run(scimform()
        .args(["validate", "-f", "examples/tonkean.yaml"])
        .env_remove("TONKEAN_SCIM_TOKEN"));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "examples/tonkean.yaml is valid: 1 provider, 2 users, 1 group, 1 role assignment\n"
    );
    assert_eq!(out.stderr, "");
}

#[test]
fn a_missing_path_is_an_error() {
    let out = run(scimform().args(["validate", "-f", "no/such/scimform.yaml"]));
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("cannot read no/such/scimform.yaml"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_huge_file_fails_fast() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.yaml");
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(config::load::MAX_FILE_BYTES + 1).unwrap();
    let err = load(&path).unwrap_err();
    assert!(
        err.0[0].message().contains("larger than 16 MiB"),
        "{}",
        err.0[0]
    );
}

/// The annotated example of the README's config reference is a valid config.
#[test]
fn readme_example_is_valid() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = &readme[readme
        .find("### An annotated example")
        .expect("the section exists")..];
    let start = section.find("```yaml\n").expect("a yaml block") + "```yaml\n".len();
    let end = start + section[start..].find("```").expect("the block ends");
    let (_dir, path) = write(&section[start..end]);
    if let Err(errors) = load(&path) {
        panic!("{}", config::render(&errors.0, Style::Plain));
    }
}

/// The plan engine moves the config and its errors across tasks.
#[test]
fn config_and_errors_are_send_and_sync() {
    fn send_sync<T: Send + Sync + 'static>() {}
    send_sync::<Config>();
    send_sync::<config::Diagnostic>();
    send_sync::<config::Errors>();
}

/// A group's members on a provider are those of its members the provider holds (README,
/// Groups): here a user on one provider in a group on every provider.
#[test]
fn group_members_per_provider() {
    let (_dir, config) = load_text(
        "version: 1
providers:
  tonkean: { url: 'https://t.example.com/scim/v2', token: '${T}', preset: tonkean }
  sandbox: { url: 'embedded:.scimform/sandbox' }
users:
  - userName: ada@example.com
    providers: [tonkean]
  - userName: grace@example.com
groups:
  - displayName: Process Owners
    members: [ada@example.com, grace@example.com]
roles:
  SYSTEM_USER:
    groups: [Process Owners]
",
    );
    let group = config.group("Process Owners").unwrap();
    let names = |provider: &str| {
        config
            .members_on(group, provider)
            .unwrap()
            .map(|u| u.user_name.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(names("tonkean"), ["ada@example.com", "grace@example.com"]);
    assert_eq!(names("sandbox"), ["grace@example.com"]);
    let ada = config.user("ada@example.com").unwrap();
    assert_eq!(
        ada.roles("tonkean").unwrap().iter().collect::<Vec<_>>(),
        ["SYSTEM_USER"]
    );
}

/// The errors `validate` prints: each one's first line (its message, or the start of it) and
/// its `file:line:column`.
fn reported(stderr: &str) -> Vec<(String, String)> {
    let mut errors: Vec<(String, String)> = Vec::new();
    let mut message = None;
    for line in stderr.lines() {
        if let Some(text) = line.strip_prefix("  × ") {
            message = Some(text.to_owned());
        } else if let Some((_, location)) = line.split_once("╭─[")
            && let Some(message) = message.take()
        {
            errors.push((message, location.trim_end_matches(']').to_owned()));
        }
    }
    errors
}

/// Whether one of `errors` says `text` at `location` (`LINE:COLUMN`).
fn has(errors: &[(String, String)], text: &str, location: &str) -> bool {
    errors
        .iter()
        .any(|(m, l)| m.contains(text) && l.ends_with(&format!(":{location}")))
}

/// `${...}` is expanded in a provider's `url` and `token` only; anywhere else each one is an
/// error at its own line and column, whichever YAML reader reads the file.
#[test]
fn references_outside_url_and_token_are_errors_where_they_are_written() {
    let path = root().join(INVALID).join("unexpanded-variables.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let expected = [
        ("`${SCHEME}` is not expanded here", "7:18"),
        ("`${DOMAIN}` is not expanded here", "10:19"),
        ("`${FAMILY}` is not expanded here", "11:42"),
        ("`${MAIL_DOMAIN}` is not expanded here", "12:19"),
        ("`${EMPLOYEE}` is not expanded here", "15:26"),
        ("`${TEAM}` is not expanded here", "18:18"),
        ("`${LEAD}` is not expanded here", "19:16"),
    ];
    // The file as it is, and with an anchor, which only the full YAML reader reads.
    let anchored = text.replace(
        "  - userName: grace@example.com",
        "  - userName: &g grace@example.com",
    );
    assert_ne!(anchored, text);
    for text in [text, anchored] {
        let (_dir, path) = write(&text);
        let out = run(scimform().args(["validate", "-f"]).arg(&path));
        assert_eq!(out.code, Some(1), "{}", out.stderr);
        let errors = reported(&out.stderr);
        for (message, location) in expected {
            assert!(
                has(&errors, message, location),
                "no `{message}` at {location}:\n{}",
                out.stderr
            );
        }
        assert_eq!(errors.len(), expected.len(), "{}", out.stderr);
        assert!(
            out.stderr
                .contains("variables are read only in a provider's `url` and `token`"),
            "{}",
            out.stderr
        );
        // The references a provider's URL and token hold are read, not reported.
        assert!(
            !out.stderr.contains("${CORP_HOST}` is not")
                && !out.stderr.contains("${CORP_TOKEN}` is not"),
            "{}",
            out.stderr
        );
    }
}

/// A `${...}` in a comment is no value; `$` without `{` is ordinary text; a URL and a token
/// made of references are valid without the variables set (`validate` reads no secret).
#[test]
fn references_in_url_and_token_still_expand() {
    let (_dir, path) = write(
        "version: 1
# the host comes from ${SCIM_HOST}
providers:
  corp:
    url: https://${SCIMFORM_TEST_HOST}/scim/v2
    token: ${SCIMFORM_TEST_TOKEN}
users:
  - userName: ada@example.com
    displayName: Ada $ Lovelace
    title: '$5 {analyst}'
",
    );
    let out = run(scimform()
        .args(["validate", "-f"])
        .arg(&path)
        .env_remove("SCIMFORM_TEST_HOST")
        .env_remove("SCIMFORM_TEST_TOKEN"));
    assert_eq!(out.code, Some(0), "{}", out.stderr);

    let config = load(&path).unwrap();
    let corp = &config.providers()[0];
    let lookup = |name: &str| match name {
        "SCIMFORM_TEST_HOST" => Some("scim.example.com".to_owned()),
        "SCIMFORM_TEST_TOKEN" => Some("t0k3n".to_owned()),
        _ => None,
    };
    assert_eq!(
        corp.resolve_url_with(lookup, true).unwrap(),
        Endpoint::Http("https://scim.example.com/scim/v2".parse().unwrap())
    );
}

/// The file of issue 13: a literal token makes provider `corp` an error, but `corp` is still
/// known, so its users are not blamed for what follows from the token. Only the real mistakes
/// are reported, with a suggestion only where a name is one edit away.
#[test]
fn a_provider_with_an_error_is_still_known() {
    let path = format!("{INVALID}/provider-error-still-known.yaml");
    let out = run(scimform().args(["validate", "-f", &path]));
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    let errors = reported(&out.stderr);
    let messages: Vec<&str> = errors.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(
        messages,
        [
            "provider `corp`: the token is written into the config file",
            "user `bob@acme.io` names provider `corpp`, which is not declared",
            "`bobb@acme.io` is named as member of group `eng` but no user has that userName",
        ],
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("help: did you mean `corp`?"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("help: did you mean `bob@acme.io`?"),
        "{}",
        out.stderr
    );
    for cascade in [
        "none of the group's providers",
        "keeps roles",
        "`Ada@acme.io`",
    ] {
        assert!(!out.stderr.contains(cascade), "{cascade}:\n{}", out.stderr);
    }
    assert!(out.stderr.contains("3 errors found"), "{}", out.stderr);
}

/// A user and a group with errors (an unknown key among them) have every error reported, and
/// are still known to the groups and roles that name them: no "no user has that userName"
/// for them, and suggestions among them.
#[test]
fn a_user_or_group_with_an_error_is_still_known() {
    let path = format!("{INVALID}/errored-declarations-still-known.yaml");
    let out = run(scimform().args(["validate", "-f", &path]));
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    let errors = reported(&out.stderr);
    for (message, location) in [
        ("unknown key `titel`", "8:5"),
        ("`ada-at-example.com` is not an email address", "9:14"),
        ("unknown key `colour`", "13:5"),
        (
            "`bob@exmple.com` is named as member of group `Owners`",
            "14:32",
        ),
        (
            "`Ownrs` is named as a target of role `PROCESS_CONTRIBUTOR`",
            "20:14",
        ),
    ] {
        assert!(
            has(&errors, message, location),
            "no `{message}` at {location}:\n{}",
            out.stderr
        );
    }
    assert_eq!(errors.len(), 5, "{}", out.stderr);
    assert!(out.stderr.contains("did you mean `bob@example.com`?"));
    assert!(out.stderr.contains("did you mean `Owners`?"));
    assert!(
        !out.stderr.contains("`ada@example.com` is named"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("`Owners` is named"), "{}", out.stderr);
}

/// Suggestions are offered only for a name one edit away: never another user's name.
#[test]
fn no_suggestion_for_a_name_that_is_not_close() {
    let (_dir, path) = write(
        "version: 1
providers:
  local: { url: embedded:store, preset: tonkean }
users:
  - userName: Ada@acme.io
groups:
  - displayName: eng
    members: [bob@acme.io]
roles:
  SYSTEM_USR:
    users: [Ada@acme.io]
  ADMIN:
    users: [Ada@acme.io]
",
    );
    let out = run(scimform().args(["validate", "-f"]).arg(&path));
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("no user has that userName"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("did you mean `Ada@acme.io`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("did you mean `SYSTEM_USER`?"),
        "{}",
        out.stderr
    );
    assert_eq!(
        out.stderr.matches("did you mean").count(),
        1,
        "{}",
        out.stderr
    );
}

/// A config with a `${...}` where nothing is expanded never reaches a server: `plan` and
/// `apply` refuse it before any request, and fixed, the same config plans against the
/// embedded server with its URL and token read from the environment.
#[test]
fn a_reference_outside_url_and_token_is_never_sent() {
    let config = |user_name: &str| {
        format!(
            "version: 1
providers:
  corp:
    url: ${{SCIMFORM_TEST_URL}}
    token: ${{SCIMFORM_TEST_TOKEN}}
  local:
    url: embedded:store/scim.db
users:
  - userName: {user_name}
"
        )
    };
    // A listener that no request may reach.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}/scim/v2", listener.local_addr().unwrap());
    let (dir, path) = write(&config("ada@${DOMAIN}"));
    for args in [&["plan"][..], &["apply", "--auto-approve"]] {
        let out = run(scimform()
            .args(args)
            .arg("-f")
            .arg(&path)
            .env("SCIMFORM_TEST_URL", &url)
            .env("SCIMFORM_TEST_TOKEN", "test-token-0123456789")
            .env("DOMAIN", "acme.io"));
        assert_eq!(out.code, Some(1), "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("`${DOMAIN}` is not expanded here"),
            "{args:?}: {}",
            out.stderr
        );
        assert!(!out.stdout.contains("ada@"), "{args:?}: {}", out.stdout);
        assert!(
            matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "{args:?}: a request reached the server"
        );
        assert!(
            !dir.path().join("store").exists(),
            "{args:?}: the embedded store was opened"
        );
    }

    let serve = crate::support::serve::Serve::start();
    let (_dir, path) = write(&config("ada@acme.io"));
    let out = run(scimform()
        .args(["plan", "--provider", "corp", "-f"])
        .arg(&path)
        .env("SCIMFORM_TEST_URL", &serve.base)
        .env("SCIMFORM_TEST_TOKEN", &serve.token));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("ada@acme.io"), "{}", out.stdout);
}

/// A file of a folder that does not parse hides what it declares, not the other files'
/// errors: names that may be declared in it are not reported as naming nobody, and a user
/// declared twice still has its own mistakes reported.
#[test]
fn a_file_that_does_not_parse_does_not_make_its_names_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("1-providers.yaml"),
        "version: 1\nproviders:\n  local: { url: embedded:store, preset: tonkean }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("2-users.yaml"),
        "version: 1\nusers:\n  - userName: ada@example.com\n    title: [unclosed\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("3-groups.yaml"),
        "version: 1
users:
  - userName: grace@example.com
  - userName: Grace@example.com
    emails: [grace-at-example.com]
groups:
  - displayName: Owners
    members: [ada@example.com, grace@example.com]
roles:
  SYSTEM_USER:
    users: [ada@example.com]
    groups: [Owners]
",
    )
    .unwrap();
    let out = run(scimform().args(["validate", "-f"]).arg(dir.path()));
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    let errors = reported(&out.stderr);
    let messages: Vec<&str> = errors.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(messages.len(), 3, "{}", out.stderr);
    assert!(messages[0].starts_with("invalid YAML"), "{}", out.stderr);
    assert!(messages[1].contains("declared twice"), "{}", out.stderr);
    assert!(
        messages[2].contains("`grace-at-example.com` is not an email address"),
        "{}",
        out.stderr
    );
}

/// A config with two errors in two places, one of whose messages spans lines.
fn two_errors() -> (tempfile::TempDir, PathBuf) {
    write(
        "version: 1\nproviders:\n  corp:\n    url: https://scim.example.com/scim/v2\n    \
         token: ${CORP_TOKEN}\nusers:\n  - userName: ada@example.com\n    bogus: 1\n\
         groups:\n  - displayName: Eng\n    members: [ada@example.com, nobody@example.com]\n",
    )
}

#[test]
fn validate_reports_errors_as_json_with_where_and_why() {
    let (_dir, path) = two_errors();
    let out = run(scimform()
        .args(["validate", "--format", "json", "-f"])
        .arg(&path)
        .env_remove("GITHUB_ACTIONS"));
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["valid"], false);
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{report}");
    assert_eq!(errors[0]["line"], 8);
    assert_eq!(errors[0]["column"], 5);
    assert!(errors[0]["message"].as_str().unwrap().contains("bogus"));
    assert_eq!(errors[0]["file"], path.display().to_string());
    assert_eq!(errors[1]["line"], 11);
    assert!(
        errors[1]["message"]
            .as_str()
            .unwrap()
            .contains("nobody@example.com")
    );

    let out = run(scimform()
        .args([
            "validate",
            "--format",
            "json",
            "-f",
            "examples/tonkean.yaml",
        ])
        .env_remove("TONKEAN_SCIM_TOKEN"));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["valid"], true);
    assert_eq!(report["errors"], serde_json::json!([]));
    assert_eq!(report["counts"]["users"], 2);
}

#[test]
fn validate_writes_github_annotations_on_the_lines_of_the_errors() {
    let (_dir, path) = two_errors();
    let out = run(scimform()
        .args(["validate", "--format", "github", "-f"])
        .arg(&path));
    assert_eq!(out.code, Some(1));
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines.len(),
        2,
        "one line per error, whatever it holds: {}",
        out.stdout
    );
    let file = path
        .display()
        .to_string()
        .replace(':', "%3A")
        .replace(',', "%2C");
    assert!(
        lines[0].starts_with(&format!(
            "::error file={file},line=8,col=5,title=scimform::"
        )),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].contains("%0Ahelp: "),
        "help on the same line: {}",
        lines[0]
    );
    assert!(lines[1].contains(",line=11,"), "{}", lines[1]);
    assert!(
        out.stderr.contains("unknown key `bogus`"),
        "the text too: {}",
        out.stderr
    );

    // Inside GitHub Actions, every command that loads a config annotates its errors.
    let out = run(scimform()
        .args(["plan", "-f"])
        .arg(&path)
        .env("GITHUB_ACTIONS", "true"));
    assert_eq!(out.code, Some(1));
    assert_eq!(
        out.stdout.matches("::error file=").count(),
        2,
        "{}",
        out.stdout
    );
    let out = run(scimform()
        .args(["plan", "-f"])
        .arg(&path)
        .env_remove("GITHUB_ACTIONS"));
    assert!(!out.stdout.contains("::error"), "{}", out.stdout);
}
