//! Just enough of the shell to find the commands in a docs' shell block:
//! words with their quotes removed, `\` continuations joined, `#`
//! comments and prompts (`$ `, `A$ `) dropped, redirections skipped, and
//! the line cut into simple commands at `|`, `&&`, `||`, `;`, `&`, `(`,
//! `)`, `$(`. A `|` with no space around it (`auto|kernel`) is a synopsis'
//! alternatives, not a pipe.

/// One word as the command it belongs to sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    /// Any part of it was quoted (so `[`, `]`, `|` in it are literal).
    pub quoted: bool,
}

/// The logical lines of a block: continuations joined, each with the
/// block line it starts on (0-based).
pub fn logical_lines(block: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (n, line) in block.lines().enumerate() {
        let (start, mut text) = current.take().unwrap_or((n, String::new()));
        let trimmed = line.trim_end();
        if let Some(head) = trimmed.strip_suffix('\\') {
            text.push_str(head);
            text.push(' ');
            current = Some((start, text));
        } else {
            text.push_str(trimmed);
            out.push((start, text));
        }
    }
    if let Some(last) = current {
        out.push(last);
    }
    out
}

/// A line without its prompt: `$ weft …`, `A$ weft …`, `h1$ weft …`.
pub fn strip_prompt(line: &str) -> &str {
    let trimmed = line.trim_start();
    if let Some((head, rest)) = trimmed.split_once("$ ")
        && head
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    {
        return rest;
    }
    trimmed
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(Word),
    /// A command separator or grouping.
    Break,
    /// A redirection: the next word is its target, not an argument.
    Redirect,
}

/// Split a line into simple commands (lists of words). `None` when a
/// quote is left open.
pub fn simple_commands(line: &str) -> Option<Vec<Vec<Word>>> {
    let tokens = tokenize(line)?;
    let mut commands = vec![Vec::new()];
    let mut skip_next = false;
    for token in tokens {
        match token {
            Token::Break => commands.push(Vec::new()),
            Token::Redirect => skip_next = true,
            Token::Word(w) => {
                if std::mem::take(&mut skip_next) {
                    continue;
                }
                commands.last_mut().expect("one at least").push(w);
            }
        }
    }
    commands.retain(|c| !c.is_empty());
    Some(commands)
}

fn tokenize(line: &str) -> Option<Vec<Token>> {
    let chars: Vec<char> = line.chars().collect();
    let mut tokens = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut in_word = false;
    let mut i = 0;
    let flush =
        |tokens: &mut Vec<Token>, word: &mut String, quoted: &mut bool, in_word: &mut bool| {
            if *in_word {
                tokens.push(Token::Word(Word {
                    text: std::mem::take(word),
                    quoted: std::mem::take(quoted),
                }));
                *in_word = false;
            }
        };
    while i < chars.len() {
        let c = chars[i];
        let prev_space = i == 0 || chars[i - 1].is_whitespace();
        let next_space = i + 1 >= chars.len() || chars[i + 1].is_whitespace();
        match c {
            '#' if !in_word => break,
            c if c.is_whitespace() => flush(&mut tokens, &mut word, &mut quoted, &mut in_word),
            '\'' => {
                let end = chars[i + 1..].iter().position(|&c| c == '\'')? + i + 1;
                word.extend(&chars[i + 1..end]);
                quoted = true;
                in_word = true;
                i = end;
            }
            '"' => {
                let mut j = i + 1;
                loop {
                    match chars.get(j)? {
                        '"' => break,
                        '\\' if j + 1 < chars.len() => {
                            word.push(chars[j + 1]);
                            j += 2;
                        }
                        &c => {
                            word.push(c);
                            j += 1;
                        }
                    }
                }
                quoted = true;
                in_word = true;
                i = j;
            }
            '\\' if i + 1 < chars.len() => {
                word.push(chars[i + 1]);
                in_word = true;
                i += 1;
            }
            // A pipe between words; `a|b` is a synopsis' alternatives.
            '|' if prev_space || next_space || chars.get(i + 1) == Some(&'|') => {
                flush(&mut tokens, &mut word, &mut quoted, &mut in_word);
                if chars.get(i + 1) == Some(&'|') {
                    i += 1;
                }
                tokens.push(Token::Break);
            }
            '&' if chars.get(i + 1) == Some(&'&') => {
                flush(&mut tokens, &mut word, &mut quoted, &mut in_word);
                tokens.push(Token::Break);
                i += 1;
            }
            '&' if !in_word || word.ends_with('>') => {
                flush(&mut tokens, &mut word, &mut quoted, &mut in_word);
                tokens.push(Token::Break);
            }
            ';' | '(' | ')' | '`' => {
                flush(&mut tokens, &mut word, &mut quoted, &mut in_word);
                tokens.push(Token::Break);
            }
            '$' if chars.get(i + 1) == Some(&'(') => {
                flush(&mut tokens, &mut word, &mut quoted, &mut in_word);
                tokens.push(Token::Break);
                i += 1;
            }
            '<' | '>' if !in_word || word.chars().all(|c| c.is_ascii_digit() || c == '&') => {
                // `<`, `>`, `>>`, `2>`, `&>`; `2>&1` carries its target.
                word.clear();
                in_word = false;
                let mut j = i + 1;
                while chars.get(j).is_some_and(|c| *c == '>' || *c == '&') {
                    j += 1;
                }
                let glued = chars.get(j).is_some_and(|c| !c.is_whitespace());
                if chars.get(j).is_some_and(char::is_ascii_digit) {
                    j += 1;
                    i = j;
                    continue;
                }
                tokens.push(Token::Redirect);
                if glued {
                    // `>/dev/null`: the target follows without a space.
                    i = j;
                    in_word = true;
                    while i < chars.len() && !chars[i].is_whitespace() {
                        word.push(chars[i]);
                        i += 1;
                    }
                    continue;
                }
                i = j;
                continue;
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
        i += 1;
    }
    flush(&mut tokens, &mut word, &mut quoted, &mut in_word);
    Some(tokens)
}

/// The words after the wrappers that run another command: environment
/// assignments, `sudo`, `exec`, `env`, `time`, `nohup`, `ip netns exec
/// NAME`.
pub fn unwrap_command(words: &[Word]) -> &[Word] {
    let mut rest = words;
    loop {
        let Some(first) = rest.first() else {
            return rest;
        };
        let t = first.text.as_str();
        let is_assignment = t.split_once('=').is_some_and(|(name, _)| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        }) && !first.quoted;
        if is_assignment || matches!(t, "sudo" | "exec" | "env" | "time" | "nohup" | "command") {
            rest = &rest[1..];
        } else if t == "ip" && rest.len() > 3 && rest[1].text == "netns" && rest[2].text == "exec" {
            rest = &rest[4..];
        } else {
            return rest;
        }
    }
}
