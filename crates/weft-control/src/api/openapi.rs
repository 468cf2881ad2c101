//! The OpenAPI 3.1 document at `/v1/openapi.json`, made from the route
//! table (paths, methods, security) and the schemas below. A test checks
//! that every route is in it and every schema it names exists.

use super::{Policy, routes};
use axum::Json;
use serde_json::{Map, Value, json};

fn schemas() -> Value {
    let string = json!({ "type": "string" });
    let int = json!({ "type": "integer" });
    let block = json!({
        "type": "object",
        "properties": { "host": string, "block": string },
        "required": ["host", "block"]
    });
    let network = json!({
        "type": "object",
        "properties": {
            "name": string, "subnet": string, "mode": { "enum": ["wireguard", "vxlan"] },
            "internal": { "type": "boolean" }, "domain": string,
            "block_prefix": int, "created_at": int,
            "blocks": { "type": "array", "items": block }
        },
        "required": ["name", "subnet", "mode", "internal", "domain", "block_prefix", "created_at", "blocks"]
    });
    let host = json!({
        "type": "object",
        "properties": {
            "id": string, "name": string, "created_at": int,
            "state": { "enum": ["online", "offline", "never"], "description": "online: reported within the last 30 s" },
            "endpoint": { "type": ["string", "null"] },
            "version": { "type": ["string", "null"] },
            "last_seen": { "type": ["integer", "null"], "description": "Unix time of its last report (heartbeat)" },
            "peer_health": { "type": "object", "additionalProperties": int, "description": "its peers by health state: healthy, degraded, unhealthy, disconnected" },
            "site": { "type": ["string", "null"], "description": "the site it is in" },
            "blocks": { "type": "array", "items": {
                "type": "object",
                "properties": { "network": string, "block": string }
            } },
            "keys": { "type": "array", "description": "its public key on each network it made, with the key's age", "items": {
                "type": "object",
                "properties": {
                    "network": string, "public_key": string,
                    "since": { "type": ["integer", "null"], "description": "Unix time the host first reported this key (null: before ages were kept); a rotation starts it again" }
                }
            } },
            "links": { "type": "array", "description": "its peer links as last reported", "items": {
                "type": "object",
                "properties": {
                    "network": string,
                    "peer": { "type": ["string", "null"], "description": "the peer host's id (null: a key no host of the tenant reported)" },
                    "public_key": string,
                    "health": { "enum": ["healthy", "degraded", "unhealthy", "disconnected"] },
                    "last_handshake": { "type": ["integer", "null"], "description": "Unix time of the last handshake" },
                    "rx_bytes": int, "tx_bytes": int,
                    "endpoint": { "type": ["string", "null"] }
                }
            } }
        },
        "required": ["id", "name", "state", "created_at", "blocks", "keys", "links"]
    });
    let mut all = json!({
        "Error": {
            "type": "object",
            "properties": { "error": string },
            "required": ["error"]
        },
        "Empty": { "description": "no body" },
        "TokenList": { "type": "array", "items": {
            "type": "object",
            "properties": {
                "id": string, "created_at": int, "expires_at": int, "uses_left": int,
                "site": { "type": ["string", "null"] },
                "state": { "enum": ["valid", "expired", "used up"] }
            },
            "required": ["id", "created_at", "expires_at", "uses_left", "state"]
        } },
        "Html": { "type": "string", "description": "an HTML page" },
        "Asset": { "type": "string", "description": "a script or style sheet of the dashboard" },
        "Event": { "type": "string", "description": "text/event-stream: `event: change` with data {\"revision\": N}; `:` comments keep it alive" },
        "OpenApi": { "type": "object" },
        "CreateNetwork": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "name": { "type": "string", "maxLength": 32, "description": "lowercase letters, digits, '-'" },
                "subnet": { "type": "string", "description": "CIDR, e.g. 10.42.0.0/16; must not overlap the tenant's other networks" },
                "mode": { "enum": ["wireguard"], "default": "wireguard" },
                "internal": { "type": "boolean", "default": false },
                "domain": { "type": "string", "default": "mesh.local" },
                "block_prefix": { "type": "integer", "description": "each host's block, default /24 (/64 for IPv6)" }
            },
            "required": ["name", "subnet"]
        },
        "Network": network,
        "NetworkList": { "type": "array", "items": { "$ref": "#/components/schemas/Network" } },
        "NetworkHosts": {
            "type": "object",
            "properties": {
                "network": string,
                "all": { "type": "boolean", "description": "every host of the tenant, those enrolled later too" },
                "hosts": { "type": "array", "items": block }
            },
            "required": ["network", "all", "hosts"]
        },
        "SetNetworkHosts": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "all": { "type": "boolean", "description": "true: every host of the tenant (the default of a new network)" },
                "hosts": { "type": "array", "items": string, "description": "exactly these hosts (ids); not with all" }
            }
        },
        "Host": host,
        "HostList": { "type": "array", "items": { "$ref": "#/components/schemas/Host" } },
        "CreateToken": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "ttl_seconds": { "type": "integer", "minimum": 1, "maximum": super::tokens::MAX_TOKEN_TTL_SECS, "default": super::tokens::DEFAULT_TOKEN_TTL_SECS },
                "uses": { "type": "integer", "minimum": 1, "maximum": super::tokens::MAX_TOKEN_USES, "default": 1 },
                "site": { "type": "string", "description": "the site the hosts it enrolls join (must exist)" }
            }
        },
        "TokenCreated": {
            "type": "object",
            "properties": { "id": string, "token": string, "expires_at": int, "uses": int, "site": { "type": ["string", "null"] } },
            "required": ["id", "token", "expires_at", "uses"]
        },
        "CreateSite": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "name": { "type": "string", "maxLength": 63, "description": "lowercase letters, digits, '-'" },
                "labels": { "type": "object", "additionalProperties": { "type": "string", "maxLength": 63 }, "maxProperties": crate::model::MAX_LABELS, "description": "keys: letters, digits, '-', '_', '.', '/'" }
            },
            "required": ["name"]
        },
        "Site": {
            "type": "object",
            "properties": {
                "name": string,
                "labels": { "type": "object", "additionalProperties": string },
                "created_at": int
            },
            "required": ["name", "labels", "created_at"]
        },
        "SiteList": { "type": "array", "items": { "$ref": "#/components/schemas/Site" } },
        "CreateVxlanNetwork": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "name": { "type": "string", "maxLength": 32, "description": "lowercase letters, digits, '-'; unique among the tenant's networks" },
                "subnet": { "type": "string", "description": "CIDR; must not overlap the tenant's other networks" },
                "vni": { "type": "integer", "minimum": 1, "maximum": weft_model::network::VNI_MAX, "description": "unique among the site's networks; default: the lowest free from 10000" },
                "mtu": { "type": "integer", "minimum": weft_model::network::MIN_VXLAN_MTU, "description": "default: the largest the underlay carries (1450; 1370 over WireGuard)" },
                "over": { "type": "string", "description": "a WireGuard network of the tenant to ride in, encrypted" },
                "internal": { "type": "boolean", "default": false },
                "domain": { "type": "string", "default": "mesh.local" },
                "block_prefix": { "type": "integer", "description": "each host's block, default /24" }
            },
            "required": ["name", "subnet"]
        },
        "VxlanNetwork": {
            "type": "object",
            "properties": {
                "id": string, "name": string, "site": string, "subnet": string, "vni": int,
                "mtu": { "type": ["integer", "null"] }, "over": { "type": ["string", "null"] },
                "internal": { "type": "boolean" }, "domain": string, "block_prefix": int, "created_at": int,
                "blocks": { "type": "array", "items": block }
            },
            "required": ["id", "name", "site", "subnet", "vni", "internal", "domain", "block_prefix", "created_at", "blocks"]
        },
        "VxlanNetworkList": { "type": "array", "items": { "$ref": "#/components/schemas/VxlanNetwork" } },
        "UpdateHost": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "site": { "type": ["string", "null"], "description": "the site to move the host into; null: out of any" }
            },
            "required": ["site"]
        },
        "LogRecord": {
            "type": "object",
            "description": "one line of the answer (JSON lines); secrets and key material are cut from the text",
            "properties": {
                "seq": { "type": "integer", "description": "the host's sequence number (use as after=)" },
                "time_ms": { "type": "integer", "description": "Unix time in milliseconds, as the agent stamped it" },
                "level": { "enum": ["error", "warn", "info", "debug", "trace"] },
                "target": { "type": "string", "description": "the module that logged it" },
                "message": { "type": "string", "description": "the message and its fields (key=value)" }
            },
            "required": ["seq", "time_ms", "level", "target", "message"]
        },
        "Status": {
            "type": "object",
            "properties": {
                "tenant": string, "revision": int,
                "networks": { "$ref": "#/components/schemas/NetworkList" },
                "hosts": { "$ref": "#/components/schemas/HostList" },
                "revoked_hosts": { "type": "integer", "description": "the tenant's hosts deleted (certificates revoked) and not yet purged" }
            }
        }
    });
    if let (Some(all), Value::Object(vms)) = (all.as_object_mut(), vm_schemas()) {
        all.extend(vms);
    }
    all
}

/// The VMs' schemas (a second `json!`: one would pass the macro's
/// recursion limit).
fn vm_schemas() -> Value {
    let string = json!({ "type": "string" });
    let int = json!({ "type": "integer" });
    json!({
        "CreateVm": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "id": { "type": "string", "maxLength": 63, "description": "lowercase letters, digits, '-'; unique among the tenant's VMs; its workload id and DNS name on the host" },
                "host": { "type": "string", "description": "the host's id or name (a live host of the tenant)" },
                "nics": { "type": "array", "maxItems": crate::model::MAX_NICS, "items": { "$ref": "#/components/schemas/AttachVmNic" }, "description": "in guest order: eth0 first (the default route), one per network" },
                "run": { "$ref": "#/components/schemas/VmRun" }
            },
            "required": ["id", "host"]
        },
        "VmRun": {
            "type": "object",
            "additionalProperties": false,
            "description": "have the host run the VM once its NICs exist (needs a NIC); paths are the host's, absolute, without commas, in a directory of the agent's --vm-files",
            "properties": {
                "kernel": string,
                "initrd": string,
                "rootfs": { "type": "string", "description": "a disk image" },
                "cmdline": { "type": "string", "description": "the kernel's command line" },
                "memory": { "type": "integer", "minimum": 16, "maximum": 1_048_576, "default": 512, "description": "MiB" },
                "vcpus": { "type": "integer", "minimum": 1, "maximum": 255, "default": 1 },
                "hypervisor": { "enum": ["auto", "qemu", "cloud-hypervisor", "firecracker"], "default": "auto", "description": "auto: chosen on the host (Cloud Hypervisor, then Firecracker, with KVM; else QEMU)" }
            },
            "required": ["kernel"]
        },
        "AttachVmNic": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "network": { "type": "string", "description": "a network of the tenant the VM's host is in" },
                "ip": { "type": "string", "description": "an address of the host's block there; default: the lowest free" }
            },
            "required": ["network"]
        },
        "Vm": {
            "type": "object",
            "properties": {
                "id": string, "host": string, "host_name": { "type": ["string", "null"] }, "created_at": int,
                "nics": { "type": "array", "items": {
                    "type": "object",
                    "properties": {
                        "network": string,
                        "ip": { "type": ["string", "null"], "description": "the address asked for" },
                        "state": { "enum": ["made", "pending"], "description": "made: the host reported the NIC" },
                        "ifname": { "type": ["string", "null"], "description": "in the guest: eth0, eth1, …" },
                        "tap": { "type": ["string", "null"] },
                        "mac": { "type": ["string", "null"] },
                        "address": { "type": ["string", "null"], "description": "the guest's address with its prefix" }
                    },
                    "required": ["network", "state"]
                } },
                "config": {
                    "type": ["object", "null"],
                    "description": "once every NIC is made: what weft vm config prints",
                    "properties": {
                        "cloud_hypervisor": { "type": "array", "items": string },
                        "firecracker": { "type": "array", "items": {
                            "type": "object",
                            "properties": { "method": string, "path": string, "body": { "type": "object" } }
                        } },
                        "firecracker_error": { "type": ["string", "null"] },
                        "qemu": { "type": "array", "items": string },
                        "kernel_ip": { "type": ["string", "null"] },
                        "cloud_init": string
                    }
                },
                "run": {
                    "type": ["object", "null"],
                    "description": "the run as asked (VmRun's fields), with the host's word on it",
                    "properties": {
                        "state": { "type": "string", "description": "pending (the host has not reported), starting, running, exited N, killed by signal N, failed" },
                        "chosen": { "type": ["string", "null"], "description": "the hypervisor started" },
                        "why": { "type": ["string", "null"], "description": "why that one (auto: every hypervisor's reason)" },
                        "error": { "type": ["string", "null"], "description": "why it failed, or the hypervisor's last words" }
                    }
                }
            },
            "required": ["id", "host", "created_at", "nics"]
        },
        "VmList": { "type": "array", "items": { "$ref": "#/components/schemas/Vm" } }
    })
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

pub fn build() -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for r in routes() {
        let mut op = json!({
            "summary": r.summary,
            "responses": {
                r.response.1.to_string(): {
                    "description": "success",
                    "content": { r.content: { "schema": schema_ref(r.response.0) } }
                },
                "default": {
                    "description": "error",
                    "content": { "application/json": { "schema": schema_ref("Error") } }
                }
            }
        });
        if r.policy == Policy::Public {
            op["security"] = json!([]);
        }
        if let Some(req) = r.request {
            op["requestBody"] = json!({
                "required": true,
                "content": { "application/json": { "schema": schema_ref(req) } }
            });
        }
        let params: Vec<Value> = r
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
            .chain(r.query.iter().map(|(name, about)| {
                json!({ "name": name, "in": "query", "required": false, "description": about, "schema": { "type": "string" } })
            }))
            .collect();
        if !params.is_empty() {
            op["parameters"] = Value::Array(params);
        }
        let entry = paths.entry(r.path.to_string()).or_insert_with(|| json!({}));
        entry[r.method.as_str().to_ascii_lowercase()] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "weft control plane",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Networks and hosts of a tenant. Authenticate with Authorization: Bearer <API key>."
        },
        "security": [{ "apiKey": [] }],
        "paths": paths,
        "components": {
            "securitySchemes": { "apiKey": { "type": "http", "scheme": "bearer" } },
            "schemas": schemas()
        }
    })
}

pub async fn document() -> Json<Value> {
    Json(build())
}
