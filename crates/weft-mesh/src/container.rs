//! Containers run from images: the runtime that runs them, their
//! environment and volumes as typed values, and the checks a container
//! service must pass in the file. Whether the runtime is installed, the
//! image present and a volume's host path there is for the executor to ask
//! the host (see `docs/mesh-file.md`).

use crate::error::MeshError;
use crate::schema::{Kind, ServiceSpec};
use serde::{Deserialize, Serialize};
use std::fmt;
use weft_model::error::shown;

/// The container runtime that runs a service's image on its host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    /// Joins the namespace weft made (`--network ns:PATH`).
    Podman,
    /// Starts with `--network none`; weft then attaches the container's own
    /// namespace (Docker cannot join one made beforehand).
    Docker,
}

impl Runtime {
    /// The runtime's command on the host.
    pub fn command(self) -> &'static str {
        match self {
            Runtime::Podman => "podman",
            Runtime::Docker => "docker",
        }
    }

    /// The runtime a service without `runtime:` gets: Podman where it is
    /// installed, else Docker. `None` when the host has neither.
    pub fn default_for(installed: &[Runtime]) -> Option<Runtime> {
        [Runtime::Podman, Runtime::Docker]
            .into_iter()
            .find(|r| installed.contains(r))
    }
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.command())
    }
}

/// `host path:container path[:ro]` of the file, read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    #[serde(rename = "host_path")]
    pub host_path: String,
    #[serde(rename = "container_path")]
    pub container_path: String,
    #[serde(rename = "read_only")]
    pub read_only: bool,
}

impl Volume {
    /// Read `HOST:CONTAINER[:ro|:rw]`; both paths absolute.
    pub fn parse(text: &str) -> Result<Volume, String> {
        let parts: Vec<&str> = text.split(':').collect();
        let (host, container, read_only) = match parts.as_slice() {
            [host, container] => (*host, *container, false),
            [host, container, "ro"] => (*host, *container, true),
            [host, container, "rw"] => (*host, *container, false),
            [_, _, option] => {
                return Err(format!(
                    "{}: unknown option {} (give ro or rw)",
                    shown(text),
                    shown(option)
                ));
            }
            _ => {
                return Err(format!(
                    "{} is not host-path:container-path[:ro]",
                    shown(text)
                ));
            }
        };
        for (what, path) in [("host", host), ("container", container)] {
            if !path.starts_with('/') {
                return Err(format!(
                    "{}: the {what} path {} is not absolute",
                    shown(text),
                    shown(path)
                ));
            }
        }
        Ok(Volume {
            host_path: host.to_owned(),
            container_path: container.to_owned(),
            read_only,
        })
    }

    /// As the runtimes take it (`-v`).
    pub fn to_arg(&self) -> String {
        let ro = if self.read_only { ":ro" } else { "" };
        format!("{}:{}{ro}", self.host_path, self.container_path)
    }
}

/// The key of a `KEY=VALUE` environment entry, or why it is not one.
pub fn env_key(entry: &str) -> Result<&str, String> {
    let Some((key, _)) = entry.split_once('=') else {
        // What follows a name may be a secret (`PASSWORD:hunter2`): only
        // the name it starts with is repeated.
        let name: String = entry
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        return Err(match name.len() {
            0 => "an entry that does not start with a variable name is not KEY=VALUE".into(),
            n if n == entry.len() => format!("{} is not KEY=VALUE", shown(entry)),
            _ => format!(
                "an entry starting {} (the rest not shown) is not KEY=VALUE",
                shown(&name)
            ),
        });
    };
    let mut chars = key.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(format!(
            "{} is not a variable name (letters, digits and _, not starting with a digit)",
            shown(key)
        ));
    }
    Ok(key)
}

/// The longest image reference taken: a registry, a repository path of
/// up to 255 characters (the distribution spec's limit), a tag and a digest.
pub const MAX_IMAGE_CHARS: usize = 512;

/// Whether `image` can be an image reference; why not. It reaches the
/// runtime's command line as an argument of its own, so it must not look
/// like an option (`--help`, `-v…`): a runtime would take it as one.
fn check_image(image: &str) -> Result<(), String> {
    if image.is_empty() {
        return Err("is not an image name: it is empty".into());
    }
    if image.chars().count() > MAX_IMAGE_CHARS {
        return Err(format!(
            "is not an image name: longer than {MAX_IMAGE_CHARS} characters"
        ));
    }
    if image.starts_with('-') {
        return Err(
            "is not an image name: it starts with '-' and a container runtime would take it as an option"
                .into(),
        );
    }
    if image.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("is not an image name: it holds spaces or control characters".into());
    }
    Ok(())
}

/// The container-only keys of service `i`: refused on other kinds, and on
/// a container without `image` (a namespace to join, nothing to run).
pub(crate) fn check(i: usize, svc: &ServiceSpec) -> Result<(), MeshError> {
    let at = |key: &str| format!("services[{i}].{key}");
    let refuse = |key: &str, message: String| Err(MeshError::at(at(key), message));
    let given: Vec<&str> = [
        ("image", svc.image.is_some()),
        ("env", !svc.env.is_empty()),
        ("volumes", !svc.volumes.is_empty()),
        ("runtime", svc.runtime.is_some()),
    ]
    .into_iter()
    .filter(|(_, set)| *set)
    .map(|(key, _)| key)
    .collect();
    if svc.kind != Kind::Container {
        if let Some(key) = given.first() {
            return refuse(
                key,
                format!("only a container takes `{key}`, and this is a {}", svc.kind),
            );
        }
        return Ok(());
    }
    let Some(image) = &svc.image else {
        if svc.command.is_some() {
            return refuse(
                "command",
                "a container runs a command only from an image: give `image` (without one, the container is a namespace to join)".into(),
            );
        }
        if let Some(key) = given.first() {
            return refuse(
                key,
                format!(
                    "`{key}` needs `image` (without one, the container is a namespace to join)"
                ),
            );
        }
        return Ok(());
    };
    if let Err(why) = check_image(image) {
        return refuse("image", format!("{} {why}", shown(image)));
    }
    if let Some(argv) = &svc.command
        && (argv.is_empty() || argv[0].is_empty())
    {
        return refuse("command", "the command must not be empty".into());
    }
    for (k, entry) in svc.env.iter().enumerate() {
        let key = env_key(entry).map_err(|e| MeshError::at(at(&format!("env[{k}]")), e))?;
        if let Some(j) = svc.env[..k]
            .iter()
            .position(|e| env_key(e).is_ok_and(|other| other == key))
        {
            return refuse(
                &format!("env[{k}]"),
                format!("{key} is already set by env[{j}]"),
            );
        }
    }
    for (k, text) in svc.volumes.iter().enumerate() {
        let volume =
            Volume::parse(text).map_err(|e| MeshError::at(at(&format!("volumes[{k}]")), e))?;
        if let Some(j) = svc.volumes[..k].iter().position(|other| {
            Volume::parse(other).is_ok_and(|o| o.container_path == volume.container_path)
        }) {
            return refuse(
                &format!("volumes[{k}]"),
                format!(
                    "{} is already mounted by volumes[{j}]",
                    volume.container_path
                ),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
