//! Bounds on the mesh file's free text: paths, arguments, environment
//! entries and kernel command lines reach a file system or a command line,
//! and the kernel refuses what is longer than it takes — better said at
//! the key that holds it than half-way through an `up`.

use crate::error::MeshError;
use crate::schema::ServiceSpec;
use weft_model::error::shown;

type Result<T = ()> = std::result::Result<T, MeshError>;

fn err<T>(path: impl Into<String>, message: impl Into<String>) -> Result<T> {
    Err(MeshError::at(path, message))
}

/// The longest path a file system takes (Linux's PATH_MAX, less its NUL).
pub(crate) const MAX_PATH_BYTES: usize = 4095;
/// The longest single argument or environment entry `exec` takes (Linux's
/// MAX_ARG_STRLEN).
const MAX_ARG_BYTES: usize = 131_072;
/// The longest kernel command line (x86's COMMAND_LINE_SIZE, less its NUL).
const MAX_CMDLINE_BYTES: usize = 2047;

/// Free text that reaches a file system or a command line: refused when
/// the kernel would refuse it later, half-way through an `up`.
pub(crate) fn check_text(at: String, value: &str, max: usize, what: &str) -> Result {
    if value.len() > max {
        return err(
            at,
            format!(
                "{} is longer than {max} bytes, the most {what} can be",
                shown(value)
            ),
        );
    }
    if value.contains('\0') {
        return err(
            at,
            format!("{} holds a NUL byte, which {what} cannot", shown(value)),
        );
    }
    Ok(())
}

/// Every free-text value of service `svc` (`services[i]`), bounded.
pub(crate) fn check_service_texts(i: usize, svc: &ServiceSpec) -> Result {
    let at = |key: &str| format!("services[{i}].{key}");
    for (key, path) in [
        ("binary", &svc.binary),
        ("kernel", &svc.kernel),
        ("initrd", &svc.initrd),
        ("disk", &svc.disk),
    ] {
        if let Some(path) = path {
            check_text(at(key), path, MAX_PATH_BYTES, "a path")?;
        }
    }
    if let Some(cmdline) = &svc.cmdline {
        check_text(
            at("cmdline"),
            cmdline,
            MAX_CMDLINE_BYTES,
            "a kernel command line",
        )?;
    }
    for (k, arg) in svc.command.iter().flatten().enumerate() {
        check_text(
            at(&format!("command[{k}]")),
            arg,
            MAX_ARG_BYTES,
            "an argument",
        )?;
    }
    for (k, entry) in svc.env.iter().enumerate() {
        // Only its length is told: an entry is often a secret.
        if entry.len() > MAX_ARG_BYTES || entry.contains('\0') {
            return err(
                at(&format!("env[{k}]")),
                format!(
                    "an entry of {} bytes{}: an environment entry is at most {MAX_ARG_BYTES} bytes, without NUL",
                    entry.len(),
                    if entry.contains('\0') {
                        " with a NUL byte"
                    } else {
                        ""
                    }
                ),
            );
        }
    }
    Ok(())
}
