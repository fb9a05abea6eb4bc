//! `-q` means quiet everywhere: a command whose output reports what it did (init, tag, untag, gc,
//! fsck, pull, push, sync, copy, export, import, rm, serve) prints nothing on success, on stdout or
//! stderr; a command whose output is the answer asked for (ls, resolve, inspect, tags, du) prints
//! exactly what it prints without `-q`, and nothing on stderr. `--json` is asked-for output and is
//! printed under `-q` too. The table covers every subcommand `ocilayout --help` lists, so a new one
//! fails here until it has a row.

use std::io::Read;
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ocilayout::Layout;

use crate::support::registry::{make_image, Registry};
use crate::support::{bin, run, Run};

/// The subcommands `ocilayout --help` lists (the clap definitions' own list).
fn subcommands() -> Vec<String> {
    let help = run(["--help"]).ok().to_string();
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        // A command's own line, not the continuation of a long description.
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|c| c != "help")
        .collect()
}

/// What `-q` leaves of a command's output.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Quiet {
    /// The output reports what was done: nothing is printed.
    Silent,
    /// The output is the answer: printed as without `-q`.
    Answer,
}

#[track_caller]
fn quiet_ok(args: &[&str]) -> Run {
    let mut all = vec!["-q"];
    all.extend_from_slice(args);
    let r = run(&all);
    assert_eq!(r.code, 0, "{args:?}: {r:#?}");
    assert_eq!(r.stderr, "", "{args:?}: -q prints only errors: {r:#?}");
    r
}

/// `serve -q`: nothing on stdout or stderr while it serves, and after SIGTERM.
fn quiet_serve(dir: &str) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = Command::new(bin())
        .args(["-q", "serve", dir, "--addr", &addr])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut stream = loop {
        if let Ok(s) = TcpStream::connect(&addr) {
            break s;
        }
        assert!(Instant::now() < deadline, "serve did not listen");
        assert!(child.try_wait().unwrap().is_none(), "serve exited");
        std::thread::sleep(Duration::from_millis(50));
    };
    use std::io::Write;
    stream
        .write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
}

/// `login -q` and `logout -q` against `registry`: nothing printed, and the auth file says they ran.
fn quiet_login(command: &str, registry: &str, auth_file: &str) {
    let args = match command {
        "login" => vec![
            "-q",
            "login",
            "--plain-http",
            "--username",
            "joe",
            "--password-stdin",
            "--auth-file",
            auth_file,
            registry,
        ],
        _ => vec!["-q", "logout", "--auth-file", auth_file, registry],
    };
    let r = crate::support::run_with_stdin(&args, b"s3cret\n");
    assert_eq!(r.code, 0, "{args:?}: {r:#?}");
    assert_eq!(
        (r.stdout.as_str(), r.stderr.as_str()),
        ("", ""),
        "{args:?}: {r:#?}"
    );
    let saved = std::fs::read_to_string(auth_file).unwrap();
    assert_eq!(saved.contains(registry), command == "login", "{saved}");
}

#[test]
fn quiet_means_quiet_for_every_command() {
    let Some(reg) = Registry::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let path = |name: &str| tmp.path().join(name).to_str().unwrap().to_string();
    let (lay, gone, out, copied, archive, imported, fresh) = (
        path("lay"),
        path("gone"),
        path("out"),
        path("copied"),
        path("x.tar"),
        path("imported"),
        path("fresh"),
    );
    for dir in [&lay, &gone] {
        let layout = Layout::init(dir).unwrap();
        make_image(&layout, "docker.io/library/app:1", 7, &[100, 2000]);
    }
    let (app, mirror, on_reg) = (reg.at("app:1"), reg.addr.clone(), reg.at("app"));
    let copied_url = format!("oci-layout://{copied}:1");
    use Quiet::*;
    // In order: push before what reads the registry.
    let cases: Vec<(&str, Vec<&str>, Quiet)> = vec![
        ("init", vec![&fresh], Silent),
        ("ls", vec![&lay], Answer),
        ("resolve", vec![&lay, "app:1"], Answer),
        ("tag", vec![&lay, "app:1", "app:9"], Silent),
        ("untag", vec![&lay, "app:9"], Silent),
        ("gc", vec!["--dry-run", &lay], Silent),
        ("gc", vec![&lay], Silent),
        ("fsck", vec![&lay], Silent),
        ("push", vec!["--plain-http", &lay, "app:1", &app], Silent),
        ("sync", vec!["--plain-http", &lay, &mirror], Silent),
        ("pull", vec!["--plain-http", &app, &out], Silent),
        ("copy", vec!["--plain-http", &app, &copied_url], Silent),
        ("export", vec![&lay, &archive], Silent),
        ("import", vec![&archive, &imported], Silent),
        ("inspect", vec![&lay, "app:1"], Answer),
        ("inspect", vec!["--plain-http", &app], Answer),
        ("tags", vec!["--plain-http", &on_reg], Answer),
        ("du", vec![&lay], Answer),
        ("rm", vec![&gone, "app:1"], Silent),
        ("serve", vec![], Silent),
        ("login", vec![], Silent),
        ("logout", vec![], Silent),
    ];
    for (command, args, quiet) in &cases {
        let mut all = vec![*command];
        all.extend_from_slice(args);
        if *command == "serve" {
            quiet_serve(&lay);
            continue;
        }
        if *command == "login" || *command == "logout" {
            quiet_login(command, &mirror, &path("auth.json"));
            continue;
        }
        let loud = (*quiet == Answer).then(|| run(&all).ok().to_string());
        let r = quiet_ok(&all);
        match loud {
            None => assert_eq!(r.stdout, "", "{all:?} prints under -q: {r:#?}"),
            Some(loud) => {
                assert!(!loud.is_empty(), "{all:?}");
                assert_eq!(r.stdout, loud, "{all:?}: the answer is the same under -q");
            }
        }
    }
    let covered: Vec<&str> = cases.iter().map(|(c, _, _)| *c).collect();
    for command in subcommands() {
        assert!(
            covered.contains(&command.as_str()),
            "no -q case for `{command}`: add it to this table and to docs/cli.md"
        );
    }
    // --json is output asked for: printed under -q.
    let json_cases: [&[&str]; 3] = [
        &["copy", "--json", "--plain-http", &app, &copied_url],
        &["rm", "--json", "--dry-run", &lay, "app:1"],
        &["gc", "--json", &lay],
    ];
    for args in json_cases {
        let r = quiet_ok(args);
        let v: serde_json::Value =
            serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {r:#?}"));
        assert!(v.is_object(), "{args:?}: {v}");
    }
}
