use super::*;

fn script_of(shell: Shell) -> String {
    let mut out = vec![];
    script(shell, &mut out);
    String::from_utf8(out).unwrap()
}

/// Whether `text`, a script for `shell`, completes subcommand `name` of
/// `parent` (`weft`, or `weft network` as `weft__subcmd__network`).
fn offers(shell: Shell, text: &str, parent: &str, name: &str) -> bool {
    match shell {
        Shell::Bash => text.contains(&format!("{parent},{name})")),
        Shell::Zsh => text.contains(&format!("({name})\n")),
        Shell::Fish => text.contains(&format!("-a \"{name}\"")),
        _ => unreachable!(),
    }
}

#[test]
fn the_scripts_complete_every_visible_command_and_no_hidden_one() {
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let text = script_of(shell);
        for (parent, name) in [
            ("weft", "network"),
            ("weft__subcmd__network", "create"),
            ("weft", "attach"),
            ("weft", "completions"),
            ("weft__subcmd__control__subcmd__token", "create"),
        ] {
            assert!(offers(shell, &text, parent, name), "{shell}: no {name}");
        }
        for flag in [
            "subnet",
            "netns",
            "socket",
            "enroll-rate-per-address",
            "version",
        ] {
            assert!(text.contains(flag), "{shell}: no --{flag}");
        }
        for hidden in ["service-run", "service-stop", "service-status"] {
            assert!(!text.contains(hidden), "{shell}: completes {hidden}");
        }
        assert!(
            !offers(shell, &text, "weft", "man"),
            "{shell}: completes man"
        );
    }
}

#[test]
fn the_help_says_where_each_script_goes() {
    let mut cmd = crate::cli::command();
    let help = cmd
        .find_subcommand_mut("completions")
        .unwrap()
        .render_long_help()
        .to_string();
    for place in [
        "bash-completion/completions/weft",
        "site-functions/_weft",
        "fish/completions/weft.fish",
    ] {
        assert!(help.contains(place), "no {place} in\n{help}");
    }
}
