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
