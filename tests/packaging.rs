//! What operators install: the systemd unit (it must verify, and an agent restart must never kill containers),
//! the sample agent config (it must start an agent), shell completions and man pages generated from the CLI.

use std::path::Path;
use std::process::Command;

use crate::agent::support::Agent;
use crate::common::UCR;

const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_systemd_unit_verifies_and_only_the_agent_is_stopped() {
    let unit = std::fs::read_to_string(Path::new(REPO).join("contrib/ucr-agent.service"))
        .expect("contrib/ucr-agent.service");
    let service: Vec<&str> = unit
        .lines()
        .skip_while(|l| l.trim() != "[Service]")
        .take_while(|l| !l.starts_with("[Install]"))
        .collect();
    for needed in ["KillMode=process", "Delegate=yes"] {
        assert!(service.contains(&needed), "[Service] lacks {needed}");
    }
    // systemd checks it with the ExecStart binary present: this build's.
    let d = tempfile::tempdir().expect("tempdir");
    let copy = d.path().join("ucr-agent.service");
    std::fs::write(&copy, unit.replace("/usr/local/bin/ucr", UCR)).expect("write");
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&copy)
        .output()
        .expect("systemd-analyze (package systemd)");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_sample_config_starts_an_agent_and_the_command_line_wins() {
    let conf = Path::new(REPO).join("contrib/agent.toml");
    let conf = conf.to_str().expect("utf-8");
    // The file says /var/lib/ucr, /run/ucr and 127.0.0.1:5051; the test's root, runtime dir and port win.
    let a = Agent::start(&["--config", conf]);
    a.wait_ready();
    let f = a.call(r#"{"type":"GET_FLAGS"}"#).json();
    let flag = |name: &str| {
        f["get_flags"]["flags"]
            .as_array()
            .and_then(|v| v.iter().find(|x| x["name"] == name))
            .map(|x| x["value"].as_str().unwrap_or_default().to_string())
            .unwrap_or_default()
    };
    assert_eq!(flag("work_dir"), a.c.root().display().to_string(), "{f}");
    let listen = flag("listen");
    assert!(
        listen.contains(&format!("127.0.0.1:{}", a.port)) && !listen.contains(":5051"),
        "{listen}"
    );
}

#[test]
fn completions_load_in_bash_and_name_every_command() {
    let bash = run(Command::new(UCR).args(["completions", "bash"]));
    for cmd in ["agent", "run", "launch", "pull", "completions", "man"] {
        assert!(bash.contains(cmd), "bash completions lack {cmd}");
    }
    assert!(
        !bash.contains("__supervise"),
        "the hidden command is not offered"
    );
    let d = tempfile::tempdir().expect("tempdir");
    let file = d.path().join("ucr.bash");
    std::fs::write(&file, &bash).expect("write");
    let loaded = run(Command::new("bash")
        .arg("-c")
        .arg(format!(". {} && complete -p ucr", file.display())));
    assert!(loaded.contains("-F _ucr"), "{loaded}");
    for shell in ["zsh", "fish"] {
        let out = run(Command::new(UCR).args(["completions", shell]));
        assert!(out.contains("agent"), "{shell}");
    }
    let bad = Command::new(UCR)
        .args(["completions", "tcsh"])
        .output()
        .expect("spawn");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("'tcsh'"));
}

#[test]
fn man_pages_one_per_command() {
    let page = run(Command::new(UCR).arg("man"));
    assert!(page.contains(".TH ucr 1"), "{page}");
    let d = tempfile::tempdir().expect("tempdir");
    run(Command::new(UCR).args(["man", "--dir"]).arg(d.path()));
    let agent = std::fs::read_to_string(d.path().join("ucr-agent.1")).expect("ucr-agent.1");
    assert!(agent.contains(".TH ucr-agent 1"), "{agent}");
    assert!(
        agent.contains("http\\-credentials"),
        "the agent's options are documented"
    );
    for absent in ["ucr-help.1", "ucr-__supervise.1"] {
        assert!(!d.path().join(absent).exists(), "{absent}");
    }
    let pages = std::fs::read_dir(d.path()).expect("dir").count();
    assert!(pages >= 20, "{pages} pages");
}
