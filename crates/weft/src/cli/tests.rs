use super::*;

/// clap's own consistency checks (conflicts and requirements naming
/// existing arguments, no duplicate flags, …) over the whole tree.
#[test]
fn the_command_line_is_consistent() {
    command().debug_assert();
}

/// Every command and every flag or argument, hidden ones included, says
/// what it is for in `--help` (and so in the man pages and completions),
/// and none shows an empty default.
#[test]
fn every_command_and_flag_explains_itself() {
    fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
        if path != "weft" && cmd.get_about().is_none() && cmd.get_long_about().is_none() {
            missing.push(format!("{path}: no about"));
        }
        for arg in cmd.get_arguments() {
            let name = match arg.get_long() {
                Some(long) => format!("--{long}"),
                None => arg.get_id().to_string().to_uppercase(),
            };
            if arg.get_help().is_none() && arg.get_long_help().is_none() {
                missing.push(format!("{path} {name}: no help"));
            }
            // `default_value = ""` stands for "not given"; `[default: ]`
            // says nothing, the help text says what happens instead.
            if arg.get_default_values() == [""] && !arg.is_hide_default_value_set() {
                missing.push(format!("{path} {name}: shows `[default: ]`"));
            }
        }
        for sub in cmd.get_subcommands() {
            walk(sub, &format!("{path} {}", sub.get_name()), missing);
        }
    }
    let mut cmd = command();
    cmd.build();
    let mut missing = vec![];
    walk(&cmd, "weft", &mut missing);
    assert!(
        missing.is_empty(),
        "explain each of (a doc comment; `hide_default_value` for an empty default):\n  {}",
        missing.join("\n  ")
    );
}

/// The environment variables of the command a unit runs: each one the
/// units set (`Environment=`) or the package's env file offers (commented
/// or not) must be read by a flag of that command, or the setting is
/// silently ignored (an agent told `WEFT_CA_FINGERPRINT` that no flag read
/// could not enroll).
#[test]
fn every_variable_the_units_and_env_file_set_is_read_by_their_command() {
    fn env_of(cmd: &clap::Command, path: &[&str]) -> Vec<String> {
        let mut cmd = cmd.clone();
        for name in path {
            cmd = cmd.find_subcommand(name).unwrap().clone();
        }
        cmd.get_arguments()
            .filter_map(|a| a.get_env())
            .map(|e| e.to_string_lossy().into_owned())
            .collect()
    }
    /// `WEFT_…=` assignments in `text`, commented out or not.
    fn assigned(text: &str) -> Vec<String> {
        text.lines()
            .map(|l| l.trim_start_matches(['#', ' ']))
            .map(|l| l.strip_prefix("Environment=").unwrap_or(l))
            .filter(|l| l.starts_with("WEFT_"))
            .filter_map(|l| l.split_once('=').map(|(k, _)| k.to_string()))
            .collect()
    }
    let mut cmd = command();
    cmd.build();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let read = |path: &str| std::fs::read_to_string(repo.join(path)).unwrap();
    let agent = env_of(&cmd, &["agent"]);
    let control = env_of(&cmd, &["control", "serve"]);
    for (file, readers) in [
        ("contrib/deb/agent.env", &agent),
        ("contrib/systemd/weft-agent.service", &agent),
        ("contrib/systemd/weft-control.service", &control),
    ] {
        let vars = assigned(&read(file));
        assert!(!vars.is_empty(), "{file} sets no WEFT_ variable");
        for var in vars {
            assert!(
                readers.contains(&var),
                "{file} sets {var}, which no flag of its command reads"
            );
        }
    }
    // The agent's env file names every variable joining a control plane needs.
    let offered = assigned(&read("contrib/deb/agent.env"));
    for var in ["WEFT_CONTROL", "WEFT_CA_FINGERPRINT", "WEFT_ENROLL_TOKEN"] {
        assert!(offered.iter().any(|v| v == var), "agent.env lacks {var}");
    }
}
